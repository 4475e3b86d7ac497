package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// exampleTemplate is the template the template format's golden files use.
const exampleTemplate = "../../contrib/templates/markdown.tpl"

// scanImage scans a corpus image and builds its report, with the target
// reference made relative so golden files do not depend on the checkout.
func scanImage(t *testing.T, image string) *report.Report {
	t.Helper()
	ctx := context.Background()
	target := filepath.Join(analyzetest.Corpus(t), image, "oci")
	img, err := source.Open(ctx, target, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.Image.ConfigName()
	tgt := report.Target{
		Ref: "../shared/corpus/" + image + "/oci", Kind: string(img.Kind), Name: img.Name,
		ManifestDigest: img.ManifestDigest, ConfigDigest: cfg.String(), Platform: "linux/amd64",
		Created: img.Config.Created.UTC().Format("2006-01-02T15:04:05Z07:00"),
	}
	return report.New(report.Tool{Name: "drydock", Version: "test"}, tgt, &res.Inventory)
}

var (
	scannedMu sync.Mutex
	scanned   = map[string]*report.Report{}
)

// scanReport is scanImage, scanning each image once per test binary.
// Callers must not modify the report (copy it first).
func scanReport(t *testing.T, image string) *report.Report {
	t.Helper()
	scannedMu.Lock()
	defer scannedMu.Unlock()
	if r, ok := scanned[image]; ok {
		return r
	}
	r := scanImage(t, image)
	scanned[image] = r
	return r
}

// loadFindings reads the findings fixture: hand-written records modelled
// on real ones (../shared/vulndata and the public advisories they cite)
// for packages of the debian12-app corpus image. It checks that every
// CVSS score is the score of its vector.
func loadFindings(t *testing.T) []finding.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var fs []finding.Finding
	if err := dec.Decode(&fs); err != nil {
		t.Fatalf("testdata/findings.json: %v", err)
	}
	for _, f := range fs {
		for _, c := range f.CVSS {
			s, err := cvss.Parse(c.Vector)
			if err != nil {
				t.Fatalf("%s: %v", f.ID, err)
			}
			if string(s.Version) != c.Version || s.Base != c.Score {
				t.Fatalf("%s: fixture says CVSS %s %.1f for %s, the vector scores %s %.1f", f.ID, c.Version, c.Score, c.Vector, s.Version, s.Base)
			}
		}
	}
	slices.SortStableFunc(fs, finding.Compare)
	return fs
}

// findingsReport is the debian12-app scan with the fixture's findings, a
// HIGH gate computed from them, and fixed database and scan facts.
func findingsReport(t *testing.T) *report.Report {
	t.Helper()
	r := withFindings(t, scanReport(t, "debian12-app"), loadFindings(t))
	// Every finding is about a package the scan really found.
	have := map[string]bool{}
	for _, p := range r.Packages {
		have[p.PURL+" "+p.Path] = true
	}
	for _, f := range r.Vulnerabilities {
		if !have[f.Package.PURL+" "+f.Package.Path] {
			t.Fatalf("fixture finding %s: package %s at %s is not in the debian12-app scan", f.ID, f.Package.PURL, f.Package.Path)
		}
	}
	return r
}

func withFindings(t *testing.T, base *report.Report, fs []finding.Finding) *report.Report {
	t.Helper()
	r := *base
	r.Vulnerabilities = fs
	r.Database = &report.Database{
		SchemaVersion: 1, Built: "2026-11-20T03:00:00Z", Updated: "2026-11-21T03:00:00Z", AgeHours: 27,
		Feeds: []report.DatabaseFeed{
			{Name: "debian-tracker", Updated: "2026-11-21T03:00:00Z", Records: 26217},
			{Name: "kev", Updated: "2026-11-20T03:00:00Z", Records: 1404},
			{Name: "osv/Debian:12", Updated: "2026-11-21T03:00:00Z", Records: 13676},
			{Name: "osv/Go", Updated: "2026-11-20T03:00:00Z", Records: 4291},
			{Name: "osv/PyPI", Updated: "2026-11-20T03:00:00Z", Records: 2661},
		},
	}
	r.Scan = &report.Scan{Started: "2026-11-22T06:10:00Z", DurationMS: 1834}
	r.Gate = &report.Gate{FailOn: finding.High}
	for i := range fs {
		if r.Gate.Fails(&fs[i]) {
			r.Gate.Failing++
		}
	}
	r.Gate.Failed = r.Gate.Failing > 0
	return &r
}

func options(t *testing.T) report.Options {
	t.Helper()
	tpl, err := os.ReadFile(exampleTemplate)
	if err != nil {
		t.Fatal(err)
	}
	return report.Options{Width: 120, Template: string(tpl)}
}

func render(t *testing.T, name string, r *report.Report, o report.Options) []byte {
	t.Helper()
	f, err := report.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf, r, o); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return buf.Bytes()
}

// extension is the golden file extension of each format this file tests;
// html has its own tests (html_test.go).
var extension = map[string]string{
	"table":         "txt",
	"json":          "json",
	"sarif":         "sarif.json",
	"cyclonedx":     "cdx.json",
	"cyclonedx-vex": "vex.cdx.json",
	"spdx-json":     "spdx.json",
	"csv":           "csv",
	"junit":         "junit.xml",
	"gitlab":        "gitlab.json",
	"template":      "template.md",
}

// goldenCases are the reports every format is written from: two real scans
// without a database and the debian12-app scan with findings.
func goldenCases(t *testing.T) map[string]*report.Report {
	return map[string]*report.Report{
		"edge-layers":           scanReport(t, "edge-layers"),
		"debian12-app":          scanReport(t, "debian12-app"),
		"debian12-app-findings": findingsReport(t),
	}
}

func TestEveryFormatHasGolden(t *testing.T) {
	for _, f := range report.Formats() {
		if _, ok := extension[f.Name]; !ok && f.Name != "html" {
			t.Errorf("format %s has no golden file extension in report_test.go", f.Name)
		}
	}
}

func TestGolden(t *testing.T) {
	o := options(t)
	for name, r := range goldenCases(t) {
		for format, ext := range extension {
			t.Run(name+"/"+format, func(t *testing.T) {
				got := render(t, format, r, o)
				golden := filepath.Join("testdata", "golden", name+"."+ext)
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s differs from %s (-want +got):\n%s", format, golden, diff)
				}
			})
		}
	}
}

// schemaCheck checks doc against the JSON schema at path, with every
// schema of its folder registered (by file URL and $id) so references
// resolve offline, and with formats (date-time, uri, iri-reference…)
// asserted as the report checks do.
func schemaCheck(path string, doc []byte) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := c.AddResource("file://"+f, v); err != nil {
			return err
		}
		if m, ok := v.(map[string]any); ok {
			if id, ok := m["$id"].(string); ok && id != "" {
				_ = c.AddResource(id, v)
				base := id[:strings.LastIndex(id, "/")+1]
				_ = c.AddResource(base+filepath.Base(f), v)
			}
		}
	}
	sch, err := c.Compile("file://" + path)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", path, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("document is not JSON: %w", err)
	}
	return sch.Validate(inst)
}

func validate(t *testing.T, path string, doc []byte) {
	t.Helper()
	if err := schemaCheck(path, doc); err != nil {
		t.Errorf("document does not validate against %s:\n%v", path, err)
	}
}

func TestSchemas(t *testing.T) {
	shared := schematest.Dir(t)
	docs, err := filepath.Abs(filepath.Join("..", "..", "docs"))
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]string{
		"json":          filepath.Join(docs, "json-report.schema.json"),
		"sarif":         filepath.Join(shared, "sarif-2.1.0", "sarif-schema-2.1.0.json"),
		"cyclonedx":     filepath.Join(shared, "cyclonedx", "bom-1.6.schema.json"),
		"cyclonedx-vex": filepath.Join(shared, "cyclonedx", "bom-1.6.schema.json"),
		"spdx-json":     filepath.Join(shared, "spdx-2.3", "spdx-schema.json"),
		"gitlab":        filepath.Join(shared, "gitlab", "15.2.1", "container-scanning-report-format.json"),
	}
	o := options(t)
	for name, r := range goldenCases(t) {
		for format, schema := range schemas {
			t.Run(name+"/"+format, func(t *testing.T) {
				validate(t, schema, render(t, format, r, o))
			})
		}
	}
}

// TestSchemasRejectBrokenDocuments makes sure the schema checks can fail:
// each document loses a required part and must be rejected.
func TestSchemasRejectBrokenDocuments(t *testing.T) {
	shared := schematest.Dir(t)
	r := findingsReport(t)
	o := options(t)
	cases := []struct {
		format, schema string
		breakIt        func(map[string]any)
	}{
		{"json", "../../docs/json-report.schema.json", func(m map[string]any) {
			m["vulnerabilities"].([]any)[0].(map[string]any)["undocumented"] = true
		}},
		{"sarif", filepath.Join(shared, "sarif-2.1.0", "sarif-schema-2.1.0.json"), func(m map[string]any) {
			m["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)["level"] = "fatal"
		}},
		{"cyclonedx", filepath.Join(shared, "cyclonedx", "bom-1.6.schema.json"), func(m map[string]any) {
			m["vulnerabilities"].([]any)[0].(map[string]any)["ratings"].([]any)[0].(map[string]any)["severity"] = "severe"
		}},
		// Formats are asserted: a date that is not a date-time, a help
		// link that is not a URI.
		{"cyclonedx", filepath.Join(shared, "cyclonedx", "bom-1.6.schema.json"), func(m map[string]any) {
			m["vulnerabilities"].([]any)[0].(map[string]any)["published"] = "yesterday"
		}},
		{"sarif", filepath.Join(shared, "sarif-2.1.0", "sarif-schema-2.1.0.json"), func(m map[string]any) {
			m["runs"].([]any)[0].(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)[0].(map[string]any)["helpUri"] = "not a uri"
		}},
		{"gitlab", filepath.Join(shared, "gitlab", "15.2.1", "container-scanning-report-format.json"), func(m map[string]any) {
			m["scan"].(map[string]any)["start_time"] = "2026-11-22T06:10:00Z"
		}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i, "-", c.format), func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(render(t, c.format, r, o), &m); err != nil {
				t.Fatal(err)
			}
			ok, _ := json.Marshal(m)
			if err := schemaCheck(c.schema, ok); err != nil {
				t.Fatalf("the unbroken document fails: %v", err)
			}
			c.breakIt(m)
			broken, _ := json.Marshal(m)
			if schemaCheck(c.schema, broken) == nil {
				t.Errorf("a broken %s document passed %s", c.format, c.schema)
			}
		})
	}
}

// TestDeterministic scans the same image twice and writes each format from
// both scans, and from a report whose findings are in reverse order: the
// bytes must be the same.
func TestDeterministic(t *testing.T) {
	a, b := scanImage(t, "debian12-app"), scanImage(t, "debian12-app")
	o := options(t)
	fs := loadFindings(t)
	rev := slices.Clone(fs)
	slices.Reverse(rev)
	withA, withB := withFindings(t, a, fs), withFindings(t, b, rev)
	for format := range extension {
		if !bytes.Equal(render(t, format, a, o), render(t, format, b, o)) {
			t.Errorf("%s: two scans of the same image differ", format)
		}
		first := render(t, format, withA, o)
		if !bytes.Equal(first, render(t, format, withA, o)) {
			t.Errorf("%s: writing the same report twice differs", format)
		}
		if !bytes.Equal(first, render(t, format, withB, o)) {
			t.Errorf("%s: the order of the report's findings changes the output", format)
		}
	}
}
