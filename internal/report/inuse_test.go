package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
)

// inUseReport is the findings report with a recorded run applied: the
// packages of the Go binary in use (evidence: the binary), the findings in
// them marked. It returns the report and how many packages and findings
// (and unsuppressed findings) are marked.
func inUseReport(t *testing.T) (r *report.Report, pkgs, findings, unsuppressed int) {
	t.Helper()
	base := findingsReport(t)
	c := *base
	c.Packages = slices.Clone(base.Packages)
	c.Vulnerabilities = slices.Clone(base.Vulnerabilities)
	c.Runtime = &report.Runtime{Events: "events.jsonl", EventCount: 9, Packages: []report.RuntimePackage{}}
	used := map[string]bool{}
	for i := range c.Packages {
		p := &c.Packages[i]
		if p.Type != inventory.TypeGo {
			continue
		}
		p.InUse = true
		pkgs++
		used[report.InUseKey(p.Type, p.Name, p.Version, p.Path)] = true
		c.Runtime.Packages = append(c.Runtime.Packages, report.RuntimePackage{
			Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL, Path: p.Path, Evidence: p.Path, How: "binary",
		})
	}
	for i := range c.Vulnerabilities {
		f := &c.Vulnerabilities[i]
		if used[report.InUseKey(f.Package.Type, f.Package.Name, f.Package.Version, f.Package.Path)] {
			f.InUse = true
			findings++
			if f.Suppression == nil {
				unsuppressed++
			}
		}
	}
	if pkgs == 0 || findings == 0 || findings == len(c.Vulnerabilities) {
		t.Fatalf("the fixture marks %d packages and %d of %d findings: nothing to tell apart", pkgs, findings, len(c.Vulnerabilities))
	}
	return &c, pkgs, findings, unsuppressed
}

// TestInUseFormats: every format marks the packages and findings a
// recorded run used, and only those; the documents stay valid.
func TestInUseFormats(t *testing.T) {
	r, pkgs, marked, unsuppressed := inUseReport(t)
	o := options(t)

	t.Run("json", func(t *testing.T) {
		b := render(t, "json", r, o)
		validate(t, filepath.Join("..", "..", "docs", "json-report.schema.json"), b)
		var doc struct {
			Packages []struct {
				InUse bool `json:"in_use"`
			} `json:"packages"`
			Vulnerabilities []struct {
				InUse bool `json:"in_use"`
			} `json:"vulnerabilities"`
			Runtime *report.Runtime `json:"runtime"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		np, nf := 0, 0
		for _, p := range doc.Packages {
			if p.InUse {
				np++
			}
		}
		for _, f := range doc.Vulnerabilities {
			if f.InUse {
				nf++
			}
		}
		if np != pkgs || nf != marked || doc.Runtime == nil || len(doc.Runtime.Packages) != pkgs {
			t.Errorf("in_use on %d packages, %d findings, runtime %+v; want %d, %d", np, nf, doc.Runtime, pkgs, marked)
		}
	})
	t.Run("table", func(t *testing.T) {
		out := string(render(t, "table", r, o))
		if n := strings.Count(out, "IN-USE"); n != marked+1 { // +1: the summary line names the marker
			t.Errorf("IN-USE %d times, want %d findings + the summary", n, marked)
		}
		if want := fmt.Sprintf("Runtime: %d packages in use by the run recorded in events.jsonl", pkgs); !strings.Contains(out, want) {
			t.Errorf("no line %q:\n%s", want, out)
		}
		inv := *r
		inv.Vulnerabilities, inv.Database = nil, nil
		out = string(render(t, "table", &inv, o))
		if n := strings.Count(out, " yes\n"); n != pkgs || !strings.Contains(out, "IN USE") {
			t.Errorf("package table: %d packages marked yes, want %d:\n%s", n, pkgs, out)
		}
	})
	t.Run("csv", func(t *testing.T) {
		rows, err := csv.NewReader(bytes.NewReader(render(t, "csv", r, o))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		last := len(rows[0]) - 1
		if rows[0][last] != "in_use" {
			t.Fatalf("last column %q, want in_use", rows[0][last])
		}
		n := 0
		for _, row := range rows[1:] {
			if row[last] == "true" {
				n++
			}
		}
		if n != marked {
			t.Errorf("%d rows in use, want %d", n, marked)
		}
		// Without a recorded run, no such column.
		plain := findingsReport(t)
		rows, _ = csv.NewReader(bytes.NewReader(render(t, "csv", plain, o))).ReadAll()
		if slices.Contains(rows[0], "in_use") {
			t.Errorf("in_use column without a recorded run")
		}
	})
	t.Run("sarif", func(t *testing.T) {
		b := render(t, "sarif", r, o)
		validate(t, sharedSchema(t, "sarif-2.1.0/sarif-schema-2.1.0.json"), b)
		var doc struct {
			Runs []struct {
				Properties struct {
					RuntimeEvents string `json:"runtimeEvents"`
				} `json:"properties"`
				Results []struct {
					Properties struct {
						InUse bool `json:"inUse"`
					} `json:"properties"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, res := range doc.Runs[0].Results {
			if res.Properties.InUse {
				n++
			}
		}
		if n != marked || doc.Runs[0].Properties.RuntimeEvents != "events.jsonl" {
			t.Errorf("%d results inUse (want %d), runtimeEvents %q", n, marked, doc.Runs[0].Properties.RuntimeEvents)
		}
	})
	t.Run("cyclonedx", func(t *testing.T) {
		b := render(t, "cyclonedx", r, o)
		validate(t, sharedSchema(t, "cyclonedx/bom-1.6.schema.json"), b)
		type prop struct{ Name, Value string }
		var doc struct {
			Components []struct {
				BOMRef     string `json:"bom-ref"`
				Properties []prop `json:"properties"`
			} `json:"components"`
			Vulnerabilities []struct {
				Properties []prop `json:"properties"`
			} `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		refs := map[string]bool{}
		for _, c := range doc.Components {
			if slices.Contains(c.Properties, prop{"drydock:package:in_use", "true"}) {
				refs[c.BOMRef] = true
			}
		}
		n := 0
		for _, v := range doc.Vulnerabilities {
			for _, p := range v.Properties {
				if p.Name == "drydock:in_use:ref" {
					n++
					if !refs[p.Value] {
						t.Errorf("in_use ref %q names no component in use", p.Value)
					}
				}
			}
		}
		if len(refs) != pkgs || n != marked {
			t.Errorf("%d components in use (want %d), %d affected refs in use (want %d)", len(refs), pkgs, n, marked)
		}
	})
	t.Run("junit", func(t *testing.T) {
		out := string(render(t, "junit", r, o))
		if n := strings.Count(out, "Runtime: in use at runtime ("); n != marked {
			t.Errorf("%d test cases say in use, want %d", n, marked)
		}
		if !strings.Contains(out, `name="runtime_events" value="events.jsonl"`) {
			t.Errorf("no runtime_events property")
		}
	})
	t.Run("gitlab", func(t *testing.T) {
		b := render(t, "gitlab", r, o)
		validate(t, sharedSchema(t, "gitlab/15.2.1/container-scanning-report-format.json"), b)
		var doc struct {
			Vulnerabilities []struct {
				Details map[string]json.RawMessage `json:"details"`
			} `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range doc.Vulnerabilities {
			if _, ok := v.Details["in_use"]; ok {
				n++
			}
		}
		if n != unsuppressed {
			t.Errorf("%d vulnerabilities in use, want %d (suppressed ones are left out)", n, unsuppressed)
		}
	})
	t.Run("html", func(t *testing.T) {
		out := string(render(t, "html", r, o))
		if n := strings.Count(out, `<span class="badge inuse"`); n != marked+pkgs {
			t.Errorf("%d in-use badges, want %d findings + %d packages", n, marked, pkgs)
		}
		if n := strings.Count(out, ` data-inuse=""`); n != marked {
			t.Errorf("%d rows filterable as in use, want %d", n, marked)
		}
		if !strings.Contains(out, `class="only-inuse"`) {
			t.Errorf("no in-use filter")
		}
		plain := string(render(t, "html", findingsReport(t), o))
		if strings.Contains(plain, `class="only-inuse"`) || strings.Contains(plain, `badge inuse"`) {
			t.Errorf("in-use marks without a recorded run")
		}
	})
}
