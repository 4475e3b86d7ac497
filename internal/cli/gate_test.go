package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/finding"
)

// jsonReport is the part of the JSON report the gate tests read.
type jsonReport struct {
	Vulnerabilities []finding.Finding `json:"vulnerabilities"`
	Gate            *struct {
		FailOn  string `json:"fail_on"`
		Failed  bool   `json:"failed"`
		Failing int    `json:"failing"`
	} `json:"gate"`
}

// scanJSON scans with the vulnerability scanner only: the gate cases
// here are about vulnerabilities (kinds_test.go gates the other kinds).
func scanJSON(t *testing.T, env map[string]string, args ...string) (int, jsonReport, string) {
	t.Helper()
	code, out, errOut := run(t, env, append(args, "--scanners", "vuln", "-o", "json")...)
	var r jsonReport
	if code != cli.ExitError {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("exit %d, not a JSON report: %v\n%s\n%s", code, err, out, errOut)
		}
	}
	return code, r, errOut
}

// failing returns the unsuppressed findings at or above sev.
func failing(r jsonReport, sev finding.Severity) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Vulnerabilities {
		if f.Suppression == nil && f.Severity.Rank() >= sev.Rank() {
			out = append(out, f)
		}
	}
	return out
}

// TestGate runs the verdict's cases: the exit code follows from the
// findings the report shows, and suppression by ignore entries and VEX
// statements is visible in the report.
func TestGate(t *testing.T) {
	img := corpusImage(t, "debian12-app")
	dir := t.TempDir()

	// The gate is set at the highest severity the scan finds (the corpus
	// data rates few findings), so it is certain to fail without
	// suppressions.
	_, all, errOut := scanJSON(t, nil, "image", img)
	if len(all.Vulnerabilities) == 0 {
		t.Fatalf("debian12-app has no finding; the gate cases need some (stderr %s)", errOut)
	}
	gateSev := finding.Unknown
	for _, f := range all.Vulnerabilities {
		if f.Severity.Rank() > gateSev.Rank() {
			gateSev = f.Severity
		}
	}
	gs := string(gateSev)
	code, base, errOut := scanJSON(t, nil, "image", img, "--fail-on", gs)
	over := failing(base, gateSev)
	if code != cli.ExitPolicy || base.Gate == nil || !base.Gate.Failed || base.Gate.Failing != len(over) {
		t.Fatalf("over the gate: exit %d, gate %+v, want exit 1 with %d failing (stderr %s)", code, base.Gate, len(over), errOut)
	}
	// Severities no failing finding has: showing only those passes.
	var others []string
	for _, sev := range finding.All() {
		if sev.Rank() < gateSev.Rank() {
			others = append(others, string(sev))
		}
	}
	if len(others) == 0 {
		others = []string{string(finding.Critical)}
	}

	// An ignore file naming every failing finding.
	ids := map[string]bool{}
	for _, f := range over {
		ids[f.ID] = true
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	writeIgnore := func(name, expires string) string {
		var b strings.Builder
		b.WriteString("ignore:\n")
		for _, id := range sorted {
			fmt.Fprintf(&b, "  - id: %s\n    reason: accepted risk, tracked in SEC-1\n", id)
			if expires != "" {
				fmt.Fprintf(&b, "    expires: %s\n", expires)
			}
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ignore := writeIgnore("ignore.yaml", "2099-12-31")
	expired := writeIgnore("expired.yaml", "2020-01-01")

	// An OpenVEX document stating not_affected for every failing finding.
	type stmt struct {
		Vulnerability map[string]string   `json:"vulnerability"`
		Products      []map[string]string `json:"products"`
		Status        string              `json:"status"`
		Justification string              `json:"justification"`
	}
	var stmts []stmt
	for _, f := range over {
		stmts = append(stmts, stmt{
			Vulnerability: map[string]string{"name": f.ID},
			Products:      []map[string]string{{"@id": f.Package.PURL}},
			Status:        "not_affected", Justification: "vulnerable_code_not_in_execute_path",
		})
	}
	vexDoc, _ := json.MarshalIndent(map[string]any{
		"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
		"author": "Security Team", "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": stmts,
	}, "", "  ")
	vex := filepath.Join(dir, "app.openvex.json")
	if err := os.WriteFile(vex, vexDoc, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		want       int
		suppressed string // suppression kind every formerly failing finding must carry
		stderr     string
	}{
		{"no gate", []string{"image", img}, cli.ExitOK, "", ""},
		{"over the gate", []string{"image", img, "--fail-on", strings.ToLower(gs)}, cli.ExitPolicy, "", ""},
		{"own exit code", []string{"image", img, "--fail-on", gs, "--exit-code", "7"}, 7, "", ""},
		{"exit code alone fails on any finding", []string{"image", img, "--exit-code", "5"}, 5, "", ""},
		{"gate met through ignore entries", []string{"image", img, "--fail-on", gs, "--ignore-file", ignore}, cli.ExitOK, finding.SuppressedByIgnore, ""},
		{"expired ignore entries", []string{"image", img, "--fail-on", gs, "--ignore-file", expired}, cli.ExitPolicy, "", "expired"},
		{"VEX suppression", []string{"image", img, "--fail-on", gs, "--vex", vex}, cli.ExitOK, finding.SuppressedByVEX, ""},
		{"severity filter hides what fails", []string{"image", img, "--fail-on", gs, "--severity", strings.Join(others, ",")}, cli.ExitOK, "", ""},
		{"bad severity", []string{"image", img, "--fail-on", "SEVERE"}, cli.ExitError, "", "unknown severity"},
		{"exit code 2 is for errors", []string{"image", img, "--exit-code", "2"}, cli.ExitError, "", "reserved"},
		{"missing ignore file", []string{"image", img, "--ignore-file", filepath.Join(dir, "none.yaml")}, cli.ExitError, "", "none.yaml"},
		{"unreadable image", []string{"image", filepath.Join(dir, "ignore.yaml"), "--fail-on", "HIGH"}, cli.ExitError, "", ""},
		{"unreachable registry", []string{"image", "registry:127.0.0.1:1/app:1", "--fail-on", "HIGH"}, cli.ExitError, "", "127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut string
			var code int
			var r jsonReport
			if tc.want == cli.ExitError {
				code, out, errOut = run(t, nil, append(tc.args, "--scanners", "vuln")...)
			} else {
				code, r, errOut = scanJSON(t, nil, tc.args...)
			}
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstderr: %s\n%s", code, tc.want, errOut, out)
			}
			if tc.stderr != "" && !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, errOut)
			}
			if tc.want == cli.ExitError {
				return
			}
			if r.Gate != nil && r.Gate.Failed != (code != cli.ExitOK) {
				t.Errorf("gate.failed %v with exit %d", r.Gate.Failed, code)
			}
			if tc.suppressed != "" {
				n := 0
				for _, f := range r.Vulnerabilities {
					if !ids[f.ID] || f.Severity.Rank() < gateSev.Rank() {
						continue
					}
					n++
					if f.Suppression == nil || f.Suppression.Kind != tc.suppressed || f.Suppression.Justification == "" {
						t.Errorf("%s in %s: suppression %+v, want kind %s with a justification", f.ID, f.Package.Name, f.Suppression, tc.suppressed)
					}
				}
				if n != len(over) {
					t.Errorf("%d suppressed findings kept in the report, want %d (never silently dropped)", n, len(over))
				}
			}
		})
	}
}
