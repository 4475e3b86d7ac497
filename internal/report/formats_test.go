package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

// hostile is a finding whose text from the image and the database tries to
// break every format: terminal escapes, XML-invalid control characters,
// CSV formulas, Markdown table pipes, a path that is not a clean URI.
func hostile(t *testing.T) finding.Finding {
	t.Helper()
	f := loadFindings(t)[0]
	f.ID = "CVE-2099-0001"
	f.Package.Name = "evil\x1b[31mpkg\x01\u202e"
	f.Package.Path = "/opt/we ird/%41#frag?x:y/pkg.json"
	f.Package.Type = "npm"
	f.Title = "=HYPERLINK(\"http://x\") | **bold** <script>\r\nsecond line"
	f.Description = "a\x00b\x08c]]>d"
	f.PrimaryURL = "javascript:alert(1)"
	f.References = []string{"not a url", "https://example.com/ok"}
	f.Severity = finding.Critical
	f.Suppression = nil
	return f
}

// findingsOf is the report's findings in report order.
func findingsOf(_ *testing.T, r *report.Report) []finding.Finding {
	out := slices.Clone(r.Vulnerabilities)
	slices.SortStableFunc(out, finding.Compare)
	return out
}

func sharedSchema(t *testing.T, rel string) string {
	return filepath.Join(schematest.Dir(t), rel)
}

// --- SARIF ------------------------------------------------------------------

type sarifRule struct {
	ID               string `json:"id"`
	ShortDescription struct {
		Text string `json:"text"`
	} `json:"shortDescription"`
	HelpURI string `json:"helpUri"`
	Help    struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown"`
	} `json:"help"`
	Properties struct {
		Tags             []string `json:"tags"`
		SecuritySeverity *string  `json:"security-severity"`
	} `json:"properties"`
}

type sarifDoc struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string      `json:"name"`
				Rules []sarifRule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Suppressions        []struct {
				Kind, Status, Justification string
			} `json:"suppressions"`
		} `json:"results"`
	} `json:"runs"`
}

// TestSARIFGitHub checks what GitHub code scanning needs beyond the SARIF
// schema, and hand-checked values of the fixture's findings.
func TestSARIFGitHub(t *testing.T) {
	r := findingsReport(t)
	var doc sarifDoc
	if err := json.Unmarshal(render(t, "sarif", r, report.Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 {
		t.Fatalf("version %q, %d runs; want 2.1.0 and one run", doc.Version, len(doc.Runs))
	}
	run := doc.Runs[0]
	rules := run.Tool.Driver.Rules
	fs := findingsOf(t, r)
	if len(run.Results) != len(fs) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(fs))
	}
	ids := map[string]bool{}
	for _, f := range fs {
		ids[f.ID] = true
	}
	if len(rules) != len(ids) {
		t.Errorf("%d rules for %d vulnerability ids", len(rules), len(ids))
	}
	for _, rule := range rules {
		if !slices.Contains(rule.Properties.Tags, "security") {
			t.Errorf("rule %s: no security tag, GitHub ignores security-severity", rule.ID)
		}
		if n := utf8.RuneCountInString(rule.ShortDescription.Text); n == 0 || n > 1024 {
			t.Errorf("rule %s: short description of %d characters", rule.ID, n)
		}
		if ss := rule.Properties.SecuritySeverity; ss != nil {
			v, err := strconv.ParseFloat(*ss, 64)
			if err != nil || v < 0 || v > 10 {
				t.Errorf("rule %s: security-severity %q is not a score", rule.ID, *ss)
			}
		}
	}
	for i, res := range run.Results {
		f := fs[i]
		if res.RuleID != f.ID || rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: rule %s index %d, finding %s", i, res.RuleID, res.RuleIndex, f.ID)
		}
		// One location per place the package was found, the primary
		// one first (GitHub shows the first).
		locs := f.Package.AllLocations()
		if len(res.Locations) != len(locs) {
			t.Fatalf("result %d: %d locations, want %d", i, len(res.Locations), len(locs))
		}
		for j, l := range locs {
			uri := res.Locations[j].PhysicalLocation.ArtifactLocation.URI
			if want := strings.TrimPrefix(l.Path, "/"); uri != want {
				t.Errorf("%s: location %d: uri %q, want %q", f.ID, j, uri, want)
			}
			if res.Locations[j].PhysicalLocation.Region.StartLine != 1 {
				t.Errorf("%s: location %d: region does not start at line 1", f.ID, j)
			}
		}
		if res.Message.Text == "" || res.PartialFingerprints["drydockFinding/v1"] == "" {
			t.Errorf("%s: no message or fingerprint", f.ID)
		}
		if (f.Suppression != nil) != (len(res.Suppressions) == 1) {
			t.Errorf("%s: suppressed %v, SARIF suppressions %v", f.ID, f.Suppression != nil, res.Suppressions)
		}
	}

	// Hand-checked expectations.
	rule := func(id string) int {
		i := slices.IndexFunc(rules, func(r sarifRule) bool { return r.ID == id })
		if i < 0 {
			t.Fatalf("no rule %s", id)
		}
		return i
	}
	sev := func(id string) string {
		if s := rules[rule(id)].Properties.SecuritySeverity; s != nil {
			return *s
		}
		return "(none)"
	}
	for id, want := range map[string]string{
		"CVE-2025-59375": "7.5",    // HIGH from NVD's CVSS 3.1 7.5
		"CVE-2023-45853": "9.8",    // CRITICAL, NVD 9.8
		"CVE-2005-2541":  "0.5",    // Debian: negligible, though NVD's v2 score is 10.0
		"CVE-2026-24515": "(none)", // no rating at all
	} {
		if got := sev(id); got != want {
			t.Errorf("%s: security-severity %s, want %s", id, got, want)
		}
	}
	expat := rules[rule("CVE-2025-59375")]
	if !strings.Contains(expat.Help.Text, "libexpat1 2.5.0-1+deb12u2, fixed in 2.5.0-1+deb12u4") ||
		expat.HelpURI != "https://security-tracker.debian.org/tracker/CVE-2025-59375" {
		t.Errorf("CVE-2025-59375 help %q, link %q", expat.Help.Text, expat.HelpURI)
	}
	if !slices.Contains(rules[rule("CVE-2023-39325")].Properties.Tags, "kev") {
		t.Error("CVE-2023-39325 (KEV) has no kev tag")
	}
	for _, res := range run.Results {
		want := map[string]string{"CVE-2025-59375": "error", "CVE-2021-4189": "warning", "CVE-2011-3374": "note", "CVE-2005-2541": "note"}[res.RuleID]
		if want != "" && res.Level != want {
			t.Errorf("%s: level %s, want %s", res.RuleID, res.Level, want)
		}
		if res.RuleID == "CVE-2021-38561" {
			s := res.Suppressions
			if len(s) != 1 || s[0].Kind != "external" || s[0].Status != "accepted" || !strings.Contains(s[0].Justification, "vulnerable_code_not_in_execute_path") {
				t.Errorf("CVE-2021-38561 suppressions %+v", s)
			}
		}
	}
}

func TestSARIFHostile(t *testing.T) {
	r := withFindings(t, scanReport(t, "debian12-app"), []finding.Finding{hostile(t)})
	out := render(t, "sarif", r, report.Options{})
	validate(t, sharedSchema(t, "sarif-2.1.0/sarif-schema-2.1.0.json"), out)
	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	uri := doc.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI
	if want := "opt/we%20ird/%2541%23frag%3Fx:y/pkg.json"; uri != want {
		t.Errorf("uri %q, want %q", uri, want)
	}
	rule := doc.Runs[0].Tool.Driver.Rules[0]
	if rule.HelpURI != "https://nvd.nist.gov/vuln/detail/CVE-2099-0001" {
		t.Errorf("helpUri %q: a javascript: primary URL must not be used", rule.HelpURI)
	}
	if strings.Contains(rule.Help.Markdown, "| **bold**") || strings.Contains(rule.Help.Markdown, "<script>") {
		t.Errorf("markdown not escaped: %q", rule.Help.Markdown)
	}
}

// --- CycloneDX --------------------------------------------------------------

// cdxComponent is what the tests read of a CycloneDX component.
type cdxComponent struct {
	PURL     string `json:"purl"`
	Evidence *struct {
		Occurrences []struct {
			Location string `json:"location"`
		} `json:"occurrences"`
	} `json:"evidence"`
}

type cdxDoc struct {
	SerialNumber string         `json:"serialNumber"`
	Components   []cdxComponent `json:"components"`
	Vulns        []struct {
		ID      string `json:"id"`
		Ratings []struct {
			Method   string   `json:"method"`
			Severity string   `json:"severity"`
			Score    *float64 `json:"score"`
		} `json:"ratings"`
		Recommendation string `json:"recommendation"`
		Analysis       *struct {
			State         string `json:"state"`
			Justification string `json:"justification"`
			Detail        string `json:"detail"`
		} `json:"analysis"`
		Affects []struct {
			Ref      string `json:"ref"`
			Versions []struct {
				Version string `json:"version"`
				Status  string `json:"status"`
			} `json:"versions"`
		} `json:"affects"`
	} `json:"vulnerabilities"`
}

func TestCycloneDXVulnerabilities(t *testing.T) {
	r := findingsReport(t)
	var bom, vex cdxDoc
	if err := json.Unmarshal(render(t, "cyclonedx", r, report.Options{}), &bom); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(render(t, "cyclonedx-vex", r, report.Options{}), &vex); err != nil {
		t.Fatal(err)
	}
	if len(bom.Vulns) != len(r.Vulnerabilities) {
		t.Errorf("%d vulnerabilities for %d findings (each id once per package here)", len(bom.Vulns), len(r.Vulnerabilities))
	}
	byID := map[string]int{}
	for i, v := range bom.Vulns {
		byID[v.ID] = i
	}
	hb := bom.Vulns[byID["CVE-2021-23369"]]
	// handlebars is found twice in one project (node_modules and the lock
	// file): one component, which the finding affects.
	if len(hb.Affects) != 1 || hb.Affects[0].Ref != "pkg:npm/handlebars@4.7.6" {
		t.Errorf("handlebars affects %+v, want pkg:npm/handlebars@4.7.6", hb.Affects)
	}
	var hbComps []cdxComponent
	for _, c := range bom.Components {
		if c.PURL == "pkg:npm/handlebars@4.7.6" {
			hbComps = append(hbComps, c)
		}
	}
	var where []string
	if len(hbComps) == 1 && hbComps[0].Evidence != nil {
		for _, o := range hbComps[0].Evidence.Occurrences {
			where = append(where, o.Location)
		}
	}
	if want := []string{"/app/node/node_modules/handlebars/package.json", "/app/node/package-lock.json"}; len(hbComps) != 1 || !slices.Equal(where, want) {
		t.Errorf("handlebars: %d components, occurrences %q; want one component found at %q", len(hbComps), where, want)
	}
	if v := hb.Affects[0].Versions; len(v) != 2 || v[0] != (struct {
		Version string `json:"version"`
		Status  string `json:"status"`
	}{"4.7.6", "affected"}) || v[1].Version != "4.7.7" || v[1].Status != "unaffected" {
		t.Errorf("handlebars versions %+v", v)
	}
	if hb.Recommendation != "Upgrade handlebars 4.7.6 to 4.7.7" {
		t.Errorf("recommendation %q", hb.Recommendation)
	}
	if rt := hb.Ratings; len(rt) != 2 || rt[0].Method != "other" || rt[0].Severity != "critical" ||
		rt[1].Method != "CVSSv31" || rt[1].Score == nil || *rt[1].Score != 9.8 {
		t.Errorf("handlebars ratings %+v", rt)
	}
	if a := bom.Vulns[byID["CVE-2021-38561"]].Analysis; a == nil || a.State != "not_affected" || a.Justification != "code_not_reachable" {
		t.Errorf("VEX-suppressed CVE-2021-38561 analysis %+v", a)
	}
	if a := bom.Vulns[byID["CVE-2019-17571"]].Analysis; a == nil || a.State != "" || !strings.HasPrefix(a.Detail, "ignored: ") {
		t.Errorf("ignored CVE-2019-17571 analysis %+v", a)
	}
	if a := bom.Vulns[byID["CVE-2025-59375"]].Analysis; a != nil {
		t.Errorf("unsuppressed CVE-2025-59375 has an analysis %+v", a)
	}
	tar := bom.Vulns[byID["CVE-2005-2541"]]
	if tar.Ratings[0].Severity != "info" || tar.Ratings[1].Method != "CVSSv2" || tar.Ratings[1].Severity != "high" {
		t.Errorf("CVE-2005-2541 ratings %+v (negligible from Debian, CVSS v2 10.0 high)", tar.Ratings)
	}

	// The VEX document has no components; its affects are BOM-Links into
	// the SBOM, by serial number and bom-ref.
	if len(vex.Components) != 0 || len(vex.Vulns) != len(bom.Vulns) || vex.SerialNumber == bom.SerialNumber {
		t.Fatalf("VEX: %d components, %d vulnerabilities, serial %s (SBOM %s)", len(vex.Components), len(vex.Vulns), vex.SerialNumber, bom.SerialNumber)
	}
	link := "urn:cdx:" + strings.TrimPrefix(bom.SerialNumber, "urn:uuid:") + "/1#"
	for i, v := range vex.Vulns {
		for j, a := range v.Affects {
			if !strings.HasPrefix(a.Ref, link) {
				t.Errorf("VEX %s affects %q, want a link into %s", v.ID, a.Ref, link)
			}
			if want := bom.Vulns[i].Affects[j].Ref; !strings.Contains(a.Ref, strings.ReplaceAll(strings.ReplaceAll(want, "%", "%25"), "#", "%23")) {
				t.Errorf("VEX %s affects %q, SBOM %q", v.ID, a.Ref, want)
			}
		}
	}
}

// --- CSV --------------------------------------------------------------------

func TestCSV(t *testing.T) {
	r := findingsReport(t)
	rows, err := csv.NewReader(bytes.NewReader(render(t, "csv", r, report.Options{}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(r.Vulnerabilities) {
		t.Fatalf("%d rows for %d findings and a header", len(rows), len(r.Vulnerabilities))
	}
	head := rows[0]
	col := func(row []string, name string) string { return row[slices.Index(head, name)] }
	fs := findingsOf(t, r)
	failing := 0
	for i, row := range rows[1:] {
		f := fs[i]
		if col(row, "vulnerability") != f.ID || col(row, "package") != f.Package.Name || col(row, "target") != f.Target() {
			t.Errorf("row %d: %v, finding %s %s", i, row, f.ID, f.Package.Name)
		}
		if col(row, "fails_gate") == "true" {
			failing++
		}
	}
	if failing != r.Gate.Failing {
		t.Errorf("%d rows fail the gate, the gate counts %d", failing, r.Gate.Failing)
	}
	stdlib := rows[1+slices.IndexFunc(fs, func(f finding.Finding) bool { return f.ID == "CVE-2023-39325" })]
	if col(stdlib, "kev") != "2023-10-10" || col(stdlib, "fixed_versions") != "1.21.3" || col(stdlib, "aliases") != "GHSA-4374-p667-p6c8; GO-2023-2102" {
		t.Errorf("CVE-2023-39325 row %v", stdlib)
	}

	pkgs, err := csv.NewReader(bytes.NewReader(render(t, "csv", scanReport(t, "debian12-app"), report.Options{}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(scanReport(t, "debian12-app").Packages); len(pkgs) != 1+n {
		t.Errorf("packages-only CSV: %d rows for %d packages", len(pkgs), n)
	}

	hr := withFindings(t, scanReport(t, "debian12-app"), []finding.Finding{hostile(t)})
	rows, err = csv.NewReader(bytes.NewReader(render(t, "csv", hr, report.Options{}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := col(rows[1], "title"); !strings.HasPrefix(got, "'=HYPERLINK") {
		t.Errorf("formula not defused: %q", got)
	}
}

// --- JUnit ------------------------------------------------------------------

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Props    []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func decodeJUnit(t *testing.T, b []byte) junitDoc {
	t.Helper()
	var doc junitDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v", err)
	}
	return doc
}

func TestJUnit(t *testing.T) {
	r := findingsReport(t)
	doc := decodeJUnit(t, render(t, "junit", r, report.Options{}))
	fs := findingsOf(t, r)
	suppressed := 0
	var targets []string
	for _, f := range fs {
		if f.Suppression != nil {
			suppressed++
		}
		if !slices.Contains(targets, f.Target()) {
			targets = append(targets, f.Target())
		}
	}
	if doc.Tests != len(fs) || doc.Failures != r.Gate.Failing || doc.Skipped != suppressed {
		t.Errorf("tests %d failures %d skipped %d, want %d %d %d", doc.Tests, doc.Failures, doc.Skipped, len(fs), r.Gate.Failing, suppressed)
	}
	var names []string
	i := 0
	for _, s := range doc.Suites {
		names = append(names, s.Name)
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s: tests=%d, %d cases", s.Name, s.Tests, len(s.Cases))
		}
		for _, c := range s.Cases {
			f := fs[i]
			i++
			if want := f.Package.Name + "@" + f.Package.Version + " " + f.ID; c.Name != want {
				t.Errorf("case %q, want %q", c.Name, want)
			}
			if (c.Failure != nil) != r.Gate.Fails(&f) || (c.Skipped != nil) != (f.Suppression != nil) {
				t.Errorf("%s: failure %v skipped %v; gate fails %v, suppressed %v", f.ID, c.Failure != nil, c.Skipped != nil, r.Gate.Fails(&f), f.Suppression != nil)
			}
			if c.Failure != nil && (c.Failure.Type != string(f.Severity) || !strings.Contains(c.Failure.Text, f.ID)) {
				t.Errorf("%s: failure %+v", f.ID, c.Failure)
			}
		}
	}
	if diff := cmp.Diff(targets, names); diff != "" {
		t.Errorf("suites are not the targets (-want +got):\n%s", diff)
	}

	// Without a gate every unsuppressed finding fails.
	noGate := *r
	noGate.Gate = nil
	if doc := decodeJUnit(t, render(t, "junit", &noGate, report.Options{})); doc.Failures != len(fs)-suppressed {
		t.Errorf("without a gate: %d failures, want %d", doc.Failures, len(fs)-suppressed)
	}
	// Without a database: one empty suite.
	if doc := decodeJUnit(t, render(t, "junit", scanReport(t, "debian12-app"), report.Options{})); len(doc.Suites) != 1 || doc.Tests != 0 {
		t.Errorf("packages-only JUnit: %d suites, %d tests", len(doc.Suites), doc.Tests)
	}

	// Hostile text stays well-formed XML.
	h := hostile(t)
	hr := withFindings(t, scanReport(t, "debian12-app"), []finding.Finding{h})
	hd := decodeJUnit(t, render(t, "junit", hr, report.Options{}))
	c := hd.Suites[0].Cases[0]
	if !strings.Contains(c.Name, "evil") || c.Failure == nil || !strings.Contains(c.Failure.Text, "second line") {
		t.Errorf("hostile case %+v", c)
	}
}

// --- GitLab -----------------------------------------------------------------

func TestGitLab(t *testing.T) {
	r := findingsReport(t)
	var doc struct {
		Version string `json:"version"`
		Scan    struct {
			Type, Status, StartTime, EndTime string
		} `json:"scan"`
		Vulnerabilities []struct {
			ID          string `json:"id"`
			Severity    string `json:"severity"`
			Solution    string `json:"solution"`
			Identifiers []struct {
				Type, Value string
			} `json:"identifiers"`
			Location struct {
				Dependency struct {
					Package struct{ Name string } `json:"package"`
					Version string                `json:"version"`
				} `json:"dependency"`
				OperatingSystem string `json:"operating_system"`
				Image           string `json:"image"`
			} `json:"location"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(render(t, "gitlab", r, report.Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	var want []finding.Finding
	for _, f := range findingsOf(t, r) {
		if f.Suppression == nil {
			want = append(want, f)
		}
	}
	if doc.Version != "15.2.1" || len(doc.Vulnerabilities) != len(want) {
		t.Fatalf("version %s, %d vulnerabilities; want 15.2.1 and the %d unsuppressed findings", doc.Version, len(doc.Vulnerabilities), len(want))
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	sev := map[finding.Severity]string{finding.Critical: "Critical", finding.High: "High", finding.Medium: "Medium", finding.Low: "Low", finding.Negligible: "Info", finding.Unknown: "Unknown"}
	for i, v := range doc.Vulnerabilities {
		f := want[i]
		if !uuid.MatchString(v.ID) || seen[v.ID] {
			t.Errorf("%s: id %q not a unique UUID", f.ID, v.ID)
		}
		seen[v.ID] = true
		if v.Severity != sev[f.Severity] || v.Identifiers[0].Value != f.ID || v.Location.Dependency.Package.Name != f.Package.Name ||
			v.Location.Dependency.Version != f.Package.Version || v.Location.OperatingSystem != "debian 12" || v.Location.Image != "docker.io/corpus/debian12-app:latest" {
			t.Errorf("%s: %+v", f.ID, v)
		}
		if strings.HasPrefix(f.ID, "CVE-") && v.Identifiers[0].Type != "cve" {
			t.Errorf("%s: identifier type %s", f.ID, v.Identifiers[0].Type)
		}
	}
	if doc.Scan.Type != "container_scanning" || doc.Scan.Status != "success" {
		t.Errorf("scan %+v", doc.Scan)
	}
}

// --- Template ---------------------------------------------------------------

func TestTemplate(t *testing.T) {
	r := findingsReport(t)
	tpl := `{{ severityCount "critical" }} {{ severityCount "HIGH" }} {{ suppressedCount }}|` +
		`{{ range .Vulnerabilities }}{{ if fails . }}{{ .ID }} {{ end }}{{ end }}|` +
		`{{ with index .Vulnerabilities 0 }}{{ join "," .Aliases }}{{ .Target }}{{ end }}|` +
		`{{ upper "a" }}{{ lower "B" }}{{ replace "x" "y" "axa" }}|{{ len targets }}|` +
		`{{ toJSON .Gate }}`
	var failing []string
	counts := map[finding.Severity]int{}
	targets := map[string]bool{}
	suppressed := 0
	for _, f := range findingsOf(t, r) {
		targets[f.Target()] = true
		if f.Suppression != nil {
			suppressed++
			continue
		}
		counts[f.Severity]++
		if r.Gate.Fails(&f) {
			failing = append(failing, f.ID)
		}
	}
	first := findingsOf(t, r)[0]
	gate, _ := json.Marshal(r.Gate)
	want := strconv.Itoa(counts[finding.Critical]) + " " + strconv.Itoa(counts[finding.High]) + " " + strconv.Itoa(suppressed) + "|" +
		strings.Join(failing, " ") + " |" + strings.Join(first.Aliases, ",") + first.Target() + "|Abaya|" + strconv.Itoa(len(targets)) + "|" + string(gate)
	got := render(t, "template", r, report.Options{Template: tpl})
	if string(got) != want {
		t.Errorf("template gave\n%s\nwant\n%s", got, want)
	}
}

func TestTemplateErrors(t *testing.T) {
	pkgsOnly := scanReport(t, "debian12-app")
	r := findingsReport(t)
	cases := []struct {
		name, tpl string
		r         *report.Report
	}{
		{"no template", "", r},
		{"blank template", "  \n", r},
		{"parse error", "{{ .Target.Ref ", r},
		{"unknown function", "{{ nosuch . }}", r},
		{"unknown field", "{{ .Nope }}", r},
		{"nil database", "before {{ .Database.Built }}", pkgsOnly},
		{"index out of range", "{{ index .Vulnerabilities 999 }}", r},
		{"bad severity", `{{ severityCount "awful" }}`, r},
		{"wrong argument type", `{{ fails "CVE-1" }}`, r},
		{"call of a non-function", `{{ toJSON .Gate }}{{ call .Tool.Name }}`, r},
		{"nil finding field", `{{ range .Vulnerabilities }}{{ .KEV.DateAdded }}{{ end }}`, r},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := report.WriteTemplate(&buf, c.r, report.Options{Template: c.tpl})
			if err == nil {
				t.Fatalf("no error; wrote %q", buf.String())
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
			if strings.TrimSpace(c.tpl) == "" && !errors.Is(err, report.ErrNoTemplate) {
				t.Errorf("error %v, want ErrNoTemplate", err)
			}
			if !strings.HasPrefix(err.Error(), "template report: ") && !errors.Is(err, report.ErrNoTemplate) {
				t.Errorf("error %q is not wrapped", err)
			}
		})
	}
}
