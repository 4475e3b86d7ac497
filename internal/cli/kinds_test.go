package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
)

// TestKindsCommandLine runs the kinds flags end to end: a policy file
// that does not compile is an error (exit 2) naming the rule; a fail rule
// that matches fails the scan (exit 1); the config command gates on
// Dockerfile checks.
func TestKindsCommandLine(t *testing.T) {
	img := corpusImage(t, "debian12-app")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.yaml", "rules:\n  - id: broken-rule\n    action: fail\n    when: 'finding.severity =='\n")
	deleted := write("deleted.yaml", "rules:\n  - id: no-shipped-secrets\n    action: fail\n    kind: secret\n    when: 'finding.removed_in_layer_index >= 0'\n")
	dockerfile := write("Dockerfile", "FROM debian:latest\nRUN apt-get update\n")

	code, _, errOut := run(t, nil, "image", img, "--scanners", "secret,config", "--policy", broken)
	if code != cli.ExitError || !strings.Contains(errOut, "broken-rule") || !strings.Contains(errOut, "CEL") {
		t.Errorf("uncompilable policy: exit %d, stderr %s", code, errOut)
	}
	code, out, errOut := run(t, nil, "image", img, "--scanners", "secret,config", "--policy", deleted, "-o", "json")
	var rep struct {
		Scanners []string `json:"scanners"`
		Secrets  []struct {
			ID string `json:"id"`
		} `json:"secrets"`
		Policy *struct {
			Failed     bool              `json:"failed"`
			Violations []json.RawMessage `json:"violations"`
		} `json:"policy"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, errOut)
	}
	if code != cli.ExitPolicy || rep.Policy == nil || !rep.Policy.Failed || len(rep.Policy.Violations) != len(rep.Secrets) || len(rep.Secrets) == 0 {
		t.Errorf("fail rule: exit %d, policy %+v, %d secrets (stderr %s)", code, rep.Policy, len(rep.Secrets), errOut)
	}
	if strings.Join(rep.Scanners, ",") != "secret,config" {
		t.Errorf("scanners %v", rep.Scanners)
	}
	code, _, errOut = run(t, nil, "image", img, "--scanners", "secret", "--fail-on", "CRITICAL", "--ignore-file", write("ignore.yaml",
		"ignore:\n  - path: /root/.aws\n    reason: rotated\n  - path: /app/config/tls.key\n    reason: test key\n"))
	if code != cli.ExitOK {
		t.Errorf("secrets ignored by path: exit %d, stderr %s", code, errOut)
	}
	if code, _, _ = run(t, nil, "image", img, "--scanners", "secret", "--fail-on", "CRITICAL"); code != cli.ExitPolicy {
		t.Errorf("secrets over the gate: exit %d, want 1", code)
	}
	if code, _, errOut = run(t, nil, "config", dockerfile, "--fail-on", "MEDIUM"); code != cli.ExitPolicy {
		t.Errorf("config over the gate: exit %d, stderr %s", code, errOut)
	}
	if code, _, errOut = run(t, nil, "image", img, "--license-deny", "Not-A-Licence"); code != cli.ExitError || !strings.Contains(errOut, "Not-A-Licence") {
		t.Errorf("bad --license-deny: exit %d, stderr %s", code, errOut)
	}
}
