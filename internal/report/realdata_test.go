package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/match"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// TestMain removes the vulnerability database the real-data test imports.
func TestMain(m *testing.M) {
	code := m.Run()
	if realDB.dir != "" {
		os.RemoveAll(realDB.dir)
	}
	os.Exit(code)
}

// realDB is the database imported from ../shared/vulndata, built on first
// use.
var realDB struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// openRealDB opens the imported database read-only, importing it on first
// use.
func openRealDB(t *testing.T) *store.DB {
	t.Helper()
	vulndata := vulndbtest.Dir(t)
	realDB.once.Do(func() {
		realDB.dir, realDB.err = os.MkdirTemp("", "drydock-report-")
		if realDB.err != nil {
			return
		}
		realDB.path = filepath.Join(realDB.dir, "vuln.db")
		realDB.err = vulndbtest.Import(context.Background(), realDB.path, vulndata, realDB.dir)
	})
	if realDB.err != nil {
		t.Fatal(realDB.err)
	}
	db, err := store.Open(context.Background(), realDB.path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Fixed facts of the real-data report, so its golden files do not depend
// on when the database was imported or the scan ran.
const (
	realStarted   = "2026-01-01T00:00:00Z"
	realDBBuilt   = "2025-12-31T00:00:00Z"
	realDBUpdated = "2025-12-31T18:00:00Z"
	realDBAge     = 6
)

// realDatabase is the database's schema, feeds and record counts, with
// fixed times.
func realDatabase(m store.Meta) *report.Database {
	d := &report.Database{SchemaVersion: m.Schema, Built: realDBBuilt, Updated: realDBUpdated, AgeHours: realDBAge}
	for _, f := range m.Feeds {
		feed := report.DatabaseFeed{Name: f.Name, Records: f.Records + f.Enrichments}
		if !f.Updated.IsZero() {
			feed.Updated = realDBUpdated
		}
		d.Feeds = append(d.Feeds, feed)
	}
	return d
}

// findingKey identifies a finding in a report.
type findingKey struct{ ID, PURL, Path, Kind string }

func hasID(f *finding.Finding, id string) bool {
	return strings.EqualFold(f.ID, id) || slices.ContainsFunc(f.Aliases, func(a string) bool { return strings.EqualFold(a, id) })
}

// TestGoldenRealData runs the whole pipeline on real data: the
// debian12-app scan matched against the database imported from
// ../shared/vulndata, an ignore entry for the first Go finding and an
// OpenVEX statement for the first Debian finding, a gate failing on every
// unsuppressed finding. Each format is compared with its golden file, the
// JSON ones are checked against their schemas, and the suppressed findings
// must be kept and marked in the JSON report and SARIF.
func TestGoldenRealData(t *testing.T) {
	ctx := context.Background()
	db := openRealDB(t)
	base := scanReport(t, "debian12-app")
	inv := &inventory.Inventory{OS: base.OS, Packages: base.Packages}
	for _, l := range base.Target.Layers {
		inv.Layers = append(inv.Layers, l.Layer)
	}
	fs, err := match.Match(ctx, db, inv, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}

	// The findings the ignore file and the VEX document are about.
	goIdx := slices.IndexFunc(fs, func(f finding.Finding) bool { return f.Package.Ecosystem == "Go" })
	debIdx := slices.IndexFunc(fs, func(f finding.Finding) bool { return strings.HasPrefix(f.Package.Ecosystem, "Debian") })
	if goIdx < 0 || debIdx < 0 {
		t.Fatalf("want a Go and a Debian finding among the %d findings (Go at %d, Debian at %d)", len(fs), goIdx, debIdx)
	}
	goF, debF := fs[goIdx], fs[debIdx]
	t.Logf("%d findings; ignoring %s in %s, VEX for %s in %s", len(fs), goF.ID, goF.Package.Path, debF.ID, debF.Package.PURL)

	const ignoreSource, vexSource = ".drydock/ignore.yaml", "vex/debian12-app.openvex.json"
	ignoreYAML := fmt.Sprintf("ignore:\n  - id: %q\n    path: %q\n    reason: %q\n    expires: 2026-12-31\n",
		goF.ID, goF.Package.Path, "the vulnerable function is not reachable from the service")
	ignore, err := policy.ParseIgnoreFile([]byte(ignoreYAML), ignoreSource)
	if err != nil {
		t.Fatalf("ignore file:\n%s\n%v", ignoreYAML, err)
	}
	image := packageurl.NewPackageURL(packageurl.TypeOCI, "", "debian12-app", base.Target.ManifestDigest, nil, "").ToString()
	vexDoc, err := json.Marshal(map[string]any{
		"@context":  "https://openvex.dev/ns/v0.2.0",
		"@id":       "https://example.com/vex/debian12-app/1",
		"author":    "Orders team <orders@example.com>",
		"timestamp": "2025-12-15T09:00:00Z",
		"version":   1,
		"statements": []any{map[string]any{
			"vulnerability": map[string]any{"name": debF.ID},
			"products": []any{map[string]any{
				"@id":           image,
				"subcomponents": []any{map[string]any{"@id": debF.Package.PURL}},
			}},
			"status":           "not_affected",
			"justification":    "vulnerable_code_not_in_execute_path",
			"impact_statement": "the service never calls the affected code",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	vex, err := policy.ParseVEX(vexDoc, vexSource)
	if err != nil {
		t.Fatalf("VEX document:\n%s\n%v", vexDoc, err)
	}
	now, _ := time.Parse(time.RFC3339, realStarted)
	shown, warnings := policy.Apply(fs, policy.Options{
		Ignore: ignore, VEX: []*policy.VEX{vex}, Now: now,
		ImageDigests: []string{base.Target.ManifestDigest, base.Target.ConfigDigest},
	})
	if len(warnings) > 0 {
		t.Errorf("policy warnings: %q", warnings)
	}
	if len(shown) != len(fs) {
		t.Fatalf("policy kept %d of %d findings; suppression must not remove any", len(shown), len(fs))
	}

	// What each rule must suppress, worked out from its criteria.
	wantSuppressed := map[findingKey]bool{}
	for i := range fs {
		f := &fs[i]
		switch {
		case hasID(f, debF.ID) && f.Package.PURL == debF.Package.PURL:
			wantSuppressed[findingKey{f.ID, f.Package.PURL, f.Package.Path, finding.SuppressedByVEX}] = true
		case hasID(f, goF.ID) && f.Package.Path == goF.Package.Path:
			wantSuppressed[findingKey{f.ID, f.Package.PURL, f.Package.Path, finding.SuppressedByIgnore}] = true
		}
	}

	r := *base
	r.Vulnerabilities = shown
	r.Database = realDatabase(meta)
	// Ecosystems without data, as the scan reports them.
	have := map[string]bool{}
	for _, f := range meta.Feeds {
		for _, e := range f.Ecosystems {
			have[e] = true
		}
	}
	unchecked := match.Uncovered(inv, func(e string) bool { return have[e] })
	for _, e := range slices.Sorted(maps.Keys(unchecked)) {
		r.Database.Unchecked = append(r.Database.Unchecked, report.Unchecked{Ecosystem: e, Packages: unchecked[e]})
	}
	r.Scan = &report.Scan{Started: realStarted}
	r.Gate = &report.Gate{FailOn: finding.Unknown}
	for i := range shown {
		if r.Gate.Fails(&shown[i]) {
			r.Gate.Failing++
		}
	}
	r.Gate.Failed = r.Gate.Failing > 0
	if want := len(fs) - len(wantSuppressed); r.Gate.Failing != want {
		t.Errorf("gate: %d failing findings, want %d (%d findings, %d suppressed)", r.Gate.Failing, want, len(fs), len(wantSuppressed))
	}

	schemas := map[string]string{
		"json":          filepath.Join("..", "..", "docs", "json-report.schema.json"),
		"sarif":         sharedSchema(t, filepath.Join("sarif-2.1.0", "sarif-schema-2.1.0.json")),
		"cyclonedx":     sharedSchema(t, filepath.Join("cyclonedx", "bom-1.6.schema.json")),
		"cyclonedx-vex": sharedSchema(t, filepath.Join("cyclonedx", "bom-1.6.schema.json")),
		"gitlab":        sharedSchema(t, filepath.Join("gitlab", "15.2.1", "container-scanning-report-format.json")),
	}
	o := options(t)
	out := map[string][]byte{}
	for _, format := range []string{"json", "sarif", "cyclonedx", "cyclonedx-vex", "gitlab", "csv", "junit", "table"} {
		got := render(t, format, &r, o)
		out[format] = got
		t.Run(format, func(t *testing.T) {
			golden := filepath.Join("testdata", "golden", "debian12-app-matched."+extension[format])
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s differs from %s (-want +got):\n%s", format, golden, diff)
				}
			}
			if schema, ok := schemas[format]; ok {
				validate(t, schema, got)
			}
		})
	}

	// The table at a narrow, the default and a wide terminal.
	for _, width := range []int{80, 120, 200} {
		t.Run(fmt.Sprintf("table/%d", width), func(t *testing.T) {
			got := render(t, "table", &r, report.Options{Width: width})
			if width != 120 { // 120 is the default, the golden file above
				compareGolden(t, filepath.Join("testdata", "golden", fmt.Sprintf("debian12-app-matched.w%d.txt", width)), got)
			}
			// Go pseudo-versions (34 characters) in two columns keep some
			// rows from fitting on one line below 200 columns.
			checkTableLayout(t, &r, string(got), width, width >= 200)
		})
	}

	t.Run("suppressed/json", func(t *testing.T) {
		var doc struct {
			Vulnerabilities []finding.Finding `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(out["json"], &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Vulnerabilities) != len(fs) {
			t.Errorf("%d findings in the JSON report, %d matched", len(doc.Vulnerabilities), len(fs))
		}
		got := map[findingKey]bool{}
		for _, f := range doc.Vulnerabilities {
			s := f.Suppression
			if s == nil {
				continue
			}
			got[findingKey{f.ID, f.Package.PURL, f.Package.Path, s.Kind}] = true
			switch s.Kind {
			case finding.SuppressedByVEX:
				if s.Source != vexSource || s.Status != "not_affected" || s.Justification != "vulnerable_code_not_in_execute_path" ||
					s.Statement != "the service never calls the affected code" {
					t.Errorf("%s in %s: VEX suppression %+v", f.ID, f.Package.PURL, *s)
				}
			case finding.SuppressedByIgnore:
				if s.Source != ignoreSource || s.Expires != "2026-12-31" || !strings.Contains(s.Justification, "not reachable") {
					t.Errorf("%s in %s: ignore suppression %+v", f.ID, f.Package.Path, *s)
				}
			}
		}
		if diff := cmp.Diff(wantSuppressed, got); diff != "" {
			t.Errorf("suppressed findings (-want +got):\n%s", diff)
		}
		for _, f := range []finding.Finding{goF, debF} {
			if !got[findingKey{f.ID, f.Package.PURL, f.Package.Path, finding.SuppressedByIgnore}] &&
				!got[findingKey{f.ID, f.Package.PURL, f.Package.Path, finding.SuppressedByVEX}] {
				t.Errorf("%s in %s is not suppressed", f.ID, f.Package.PURL)
			}
		}
	})

	t.Run("suppressed/sarif", func(t *testing.T) {
		var doc sarifDoc
		if err := json.Unmarshal(out["sarif"], &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != len(shown) {
			t.Fatalf("want one run with %d results", len(shown))
		}
		// Results are in report order.
		n := 0
		for i, res := range doc.Runs[0].Results {
			f := &shown[i]
			if res.RuleID != f.ID {
				t.Fatalf("result %d is %s, finding %d is %s", i, res.RuleID, i, f.ID)
			}
			if f.Suppression == nil {
				if len(res.Suppressions) != 0 {
					t.Errorf("%s in %s: unsuppressed finding with SARIF suppressions %+v", f.ID, f.Package.PURL, res.Suppressions)
				}
				continue
			}
			n++
			s := res.Suppressions
			if len(s) != 1 || s[0].Kind != "external" || s[0].Status != "accepted" || !strings.Contains(s[0].Justification, f.Suppression.Justification) {
				t.Errorf("%s in %s: SARIF suppressions %+v for %+v", f.ID, f.Package.PURL, s, *f.Suppression)
			}
		}
		if n != len(wantSuppressed) {
			t.Errorf("%d suppressed SARIF results, want %d", n, len(wantSuppressed))
		}
	})
}
