package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/testutil/browsertest"
)

// loadHTMLFindings reads the hand-written findings of testdata: real
// vulnerabilities of packages of the debian12-app corpus image (Debian
// records from the bookworm changelogs, Go vulndb, GitHub advisories).
func loadHTMLFindings(t *testing.T) []finding.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "html-findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []finding.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatalf("testdata/html-findings.json: %v", err)
	}
	slices.SortStableFunc(fs, finding.Compare)
	return fs
}

// scannedDebian12App scans the corpus image once for all the HTML tests
// and returns a shallow copy of its report: the tests set only top-level
// fields, and the writers never change a report.
var debian12AppScan struct {
	once sync.Once
	r    *report.Report
}

func scannedDebian12App(t *testing.T) *report.Report {
	t.Helper()
	debian12AppScan.once.Do(func() { debian12AppScan.r = scanReport(t, "debian12-app") })
	if debian12AppScan.r == nil {
		t.Fatal("the scan of debian12-app failed in an earlier test")
	}
	c := *debian12AppScan.r
	return &c
}

// htmlReport is the debian12-app scan report with the testdata findings,
// database facts, scan time and a gate failing on HIGH.
func htmlReport(t *testing.T) *report.Report {
	t.Helper()
	r := scannedDebian12App(t)
	r.Vulnerabilities = loadHTMLFindings(t)
	r.Database = &report.Database{
		SchemaVersion: 1, Built: "2026-11-20T04:12:09Z", Updated: "2026-11-22T06:08:55Z", AgeHours: 30,
		Feeds: []report.DatabaseFeed{
			{Name: "debian-tracker", Updated: "2026-11-22T06:08:55Z", Records: 26217},
			{Name: "kev", Updated: "2026-11-21T18:00:00Z", Records: 1404},
			{Name: "osv/Debian:12", Updated: "2026-11-22T06:08:55Z", Records: 13676},
			{Name: "osv/Go", Updated: "2026-11-22T05:58:31Z", Records: 4291},
		},
	}
	r.Scan = &report.Scan{Started: "2026-11-23T12:00:00Z", DurationMS: 1834}
	g := &report.Gate{FailOn: finding.High}
	for i := range r.Vulnerabilities {
		if g.Fails(&r.Vulnerabilities[i]) {
			g.Failing++
		}
	}
	g.Failed = g.Failing > 0
	r.Gate = g
	return r
}

// htmlInventoryReport is the debian12-app report of a scan without database.
func htmlInventoryReport(t *testing.T) *report.Report {
	t.Helper()
	r := scannedDebian12App(t)
	r.Scan = &report.Scan{Started: "2026-11-23T12:00:00Z"}
	return r
}

// htmlHostile is a finding whose every text field tries to break out of its
// context in the page.
func htmlHostile() finding.Finding {
	return finding.Finding{
		ID:            "CVE-2099-0001<svg onload=alert(3)>",
		Aliases:       []string{"GHSA-</script><script>alert(6)</script>"},
		Records:       []string{"osv/npm:GHSA-x'\"><b>"},
		Package:       finding.Package{Type: "npm", Name: `left-pad"><img src=x onerror=alert(2)>`, Version: "1.0.0<!--", Path: "/app/node/package-lock.json", LayerIndex: 2, Ecosystem: "npm", PURL: "pkg:npm/left-pad@1.0.0"},
		Status:        finding.StatusFixed,
		FixedVersions: []string{"1.0.1]]>"},
		Severity:      finding.Low,
		Title:         `</script><img src=x onerror=alert(1)>`,
		// U+2028 and U+2029 end lines in old JavaScript parsers.
		Description: "line\u2028separator\u2029 and </SCRIPT > and <!-- comment",
		PrimaryURL:  "javascript:alert(4)",
		References:  []string{"javascript:alert(5)", "https://example.org/advisory?a=1&b=<2>"},
	}
}

func writeHTML(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHTMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report func(*testing.T) *report.Report
	}{
		{"html-debian12-app.html", htmlReport},
		{"html-debian12-app-inventory.html", htmlInventoryReport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.report(t)
			got := writeHTML(t, r)
			if again := writeHTML(t, r); !bytes.Equal(got, again) {
				t.Fatal("two renderings of the same report differ")
			}
			golden := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -run HTML -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestHTMLFacts checks the page against facts counted by hand from
// testdata/html-findings.json and the corpus image.
func TestHTMLFacts(t *testing.T) {
	r := htmlReport(t)
	// 3 CRITICAL and 7 unsuppressed HIGH (CVE-2021-4104 in log4j is
	// suppressed by the ignore file).
	if r.Gate.Failing != 10 {
		t.Fatalf("fixture: gate counts %d failing findings, want 10", r.Gate.Failing)
	}
	page := string(writeHTML(t, r))
	for _, want := range []string{
		`<strong>FAIL</strong><span>10 unsuppressed findings at or above HIGH</span>`,
		`<p class="summary">23 findings in 18 packages · 19 fixable · 2 suppressed</p>`,
		`<span class="count" data-count>23 findings</span>`,
		`<input type="checkbox" value="CRITICAL" checked> CRITICAL <span class="n">3</span>`,
		`<input type="checkbox" value="HIGH" checked> HIGH <span class="n">8</span>`,
		`<input type="checkbox" value="MEDIUM" checked> MEDIUM <span class="n">7</span>`,
		`<input type="checkbox" value="NEGLIGIBLE" checked> NEGLIGIBLE <span class="n">3</span>`,
		// The chart: 7 HIGH bars plus 1 suppressed.
		`>7 + 1 suppressed</text>`,
		`<dt>Manifest digest</dt><dd><code class="wrap">` + r.Target.ManifestDigest + `</code></dd>`,
		`<dt>Image ID</dt><dd><code class="wrap">` + r.Target.ConfigDigest + `</code></dd>`,
		`<dt>OS</dt><dd>Debian GNU/Linux 12 (bookworm), version 12.15</dd>`,
		`<dt>Created</dt><dd>2026-11-22T06:04:35Z</dd>`,
		`<dt>Layers</dt><dd>4</dd>`,
		fmt.Sprintf(`<dt>Packages</dt><dd>%d</dd>`, len(r.Packages)),
		`<dt>Age</dt><dd>30 h</dd>`,
		`<tr><td>osv/Go</td><td>2026-11-22T05:58:31Z</td><td class="num">4291</td></tr>`,
		`<dt>Duration</dt><dd>1.834 s</dd>`,
		`<span class="badge">suppressed</span> vex · not_affected: vulnerable_code_not_in_execute_path`,
		`<span class="badge">suppressed</span> ignore: JMSAppender is not configured`,
		`<span class="badge kev" title="in CISA's Known Exploited Vulnerabilities catalogue since 2023-10-10">KEV</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	ir := htmlInventoryReport(t)
	inv := string(writeHTML(t, ir))
	perType := map[string]int{}
	largest := ""
	for _, p := range ir.Packages {
		perType[p.Type]++
		if perType[p.Type] > perType[largest] {
			largest = p.Type
		}
	}
	for _, want := range []string{
		`<strong>NO GATE</strong>`,
		`No vulnerability database was used`,
		fmt.Sprintf(`<span class="count" data-count>%d packages</span>`, len(ir.Packages)),
		`<text class="label" x="0" y="18">` + largest + `</text>`, // the largest type comes first
		// One row per package, its other locations under its path.
		`<td class="path">/app/node/node_modules/handlebars/package.json<div class="sub">/app/node/package-lock.json</div></td>`,
	} {
		if !strings.Contains(inv, want) {
			t.Errorf("inventory page lacks %q", want)
		}
	}
	if strings.Contains(inv, `id="findings"`) {
		t.Error("inventory page has a findings table")
	}
}

func TestHTMLVerdict(t *testing.T) {
	for _, tc := range []struct {
		gate *report.Gate
		want string
	}{
		{nil, `<div class="verdict verdict-none" id="verdict"><strong>NO GATE</strong>`},
		{&report.Gate{FailOn: finding.Critical}, `<div class="verdict verdict-pass" id="verdict"><strong>PASS</strong><span>no unsuppressed finding at or above CRITICAL</span>`},
		{&report.Gate{FailOn: finding.Medium, Failed: true, Failing: 1}, `<strong>FAIL</strong><span>1 unsuppressed finding at or above MEDIUM</span>`},
	} {
		r := &report.Report{Target: report.Target{Ref: "img"}, Vulnerabilities: []finding.Finding{}, Gate: tc.gate}
		page := string(writeHTML(t, r))
		if !strings.Contains(page, tc.want) {
			t.Errorf("gate %+v: page lacks %q", tc.gate, tc.want)
		}
		if !strings.Contains(page, `<p class="empty">No vulnerabilities found.</p>`) {
			t.Errorf("gate %+v: page lacks the empty-table note", tc.gate)
		}
	}
}

var (
	// Every attribute that can make a browser fetch something.
	htmlFetchAttr = regexp.MustCompile(`(?i)\s(src|srcset|href|poster|data|action|formaction|background|xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	htmlCSSURL    = regexp.MustCompile(`(?i)url\(\s*([^)]*)\)|@import|@font-face`)
	htmlDataJSON  = regexp.MustCompile(`(?s)<script type="application/json" id="drydock-data">(.*?)</script>`)
)

// TestHTMLSelfContained checks that nothing in the page loads from
// elsewhere: no script, style, image, font or frame by URL. Links to
// advisories (<a href>) are allowed: they load only when followed.
func TestHTMLSelfContained(t *testing.T) {
	page := string(writeHTML(t, htmlReport(t)))
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-`) {
		t.Error("page lacks its Content-Security-Policy")
	}
	anchors := 0
	for _, m := range htmlFetchAttr.FindAllStringSubmatchIndex(page, -1) {
		attr, val := strings.ToLower(page[m[2]:m[3]]), strings.Trim(page[m[4]:m[5]], `"'`)
		tag := page[strings.LastIndex(page[:m[0]], "<"):m[0]]
		switch {
		case attr == "href" && strings.HasPrefix(tag, "<a"):
			anchors++
		case strings.HasPrefix(val, "data:"), strings.HasPrefix(val, "#"):
		default:
			t.Errorf("page loads %s=%q in %s", attr, val, tag)
		}
	}
	if anchors == 0 {
		t.Error("no advisory links found: the attribute check sees nothing")
	}
	style := page[strings.Index(page, "<style>"):strings.Index(page, "</style>")]
	if strings.Contains(page, " style=") {
		t.Error("page has a style attribute")
	}
	for _, m := range htmlCSSURL.FindAllStringSubmatch(style, -1) {
		if !strings.HasPrefix(strings.Trim(m[1], `"' `), "#") {
			t.Errorf("style loads %q", m[0])
		}
	}
	for _, bad := range []string{"<iframe", "<object", "<embed", "<img", "<link rel=\"stylesheet\"", "<script src"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %s", bad)
		}
	}
}

// TestHTMLEscapesHostileStrings renders a finding whose fields try to
// break out of the HTML, the attributes, the JSON data block and the
// script: none may, and the embedded data must read back unchanged.
func TestHTMLEscapesHostileStrings(t *testing.T) {
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "drydock", Version: "test"},
		Target:        report.Target{Ref: `evil.example/app:</title><script>alert(7)</script>`, Platform: "linux/amd64"},
		Vulnerabilities: []finding.Finding{htmlHostile(), {
			ID: "CVE-2099-0002", Package: finding.Package{Type: "npm", Name: "x", Version: "1"}, Severity: finding.High, Status: finding.StatusUnfixed,
			Suppression: &finding.Suppression{Kind: finding.SuppressedByIgnore, Justification: `<img src=x onerror=alert(8)>`, Source: ".drydockignore"},
		}},
	}
	page := string(writeHTML(t, r))
	for _, bad := range []string{
		"<img", "<svg onload", "<script>alert", "<b>", "onerror=alert(1)>", `href="javascript:`,
		"\u2028", "\u2029", "]]>", "<!--",
	} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("page contains %q unescaped: …%s…", bad, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	// Only the page's own two script elements and the data block end.
	if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
		t.Errorf("page has %d </script, want 2", n)
	}
	if !strings.Contains(page, `&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`) {
		t.Error("the hostile title is not shown as text")
	}
	m := htmlDataJSON.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("page lacks its data block")
	}
	var back report.Report
	if err := json.Unmarshal([]byte(m[1]), &back); err != nil {
		t.Fatalf("data block is not JSON: %v", err)
	}
	if diff := cmp.Diff(*r, back); diff != "" {
		t.Errorf("data block does not read back as the report (-want +got):\n%s", diff)
	}
}

// TestHTMLBrowser loads the page in headless Chromium and uses it as a
// person would: the table's rows, the filter box, a severity box, the
// suppressed toggle, sorting by a column, a finding's details. The page
// must make no request but for its own file and log no error.
func TestHTMLBrowser(t *testing.T) {
	dir := t.TempDir()
	r := htmlReport(t)
	r.Vulnerabilities = append(slices.Clone(r.Vulnerabilities), htmlHostile())
	slices.SortStableFunc(r.Vulnerabilities, finding.Compare)
	findingsPage := filepath.Join(dir, "report.html")
	inventoryPage := filepath.Join(dir, "inventory.html")
	if err := os.WriteFile(findingsPage, writeHTML(t, r), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := htmlInventoryReport(t)
	if err := os.WriteFile(inventoryPage, writeHTML(t, inv), 0o644); err != nil {
		t.Fatal(err)
	}
	fileURL := "file://" + filepath.ToSlash(findingsPage)
	invURL := "file://" + filepath.ToSlash(inventoryPage)

	watch := &browsertest.Watch{}
	ctx := browsertest.Tab(t, 30*time.Second, 1440, watch)
	// Checked last, and also when a step fails: what the page logged
	// often says why.
	defer func() {
		requests, problems := watch.Snapshot()
		for _, p := range problems {
			t.Errorf("page: %s", p)
		}
		if len(requests) == 0 {
			t.Error("no request seen at all: the network watch does not work")
		}
		for _, u := range requests {
			if u != fileURL && u != invURL && !strings.HasPrefix(u, "data:") {
				t.Errorf("page requested %s", u)
			}
		}
	}()

	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	str := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const visible = `document.querySelectorAll('#findings tbody tr.row:not([hidden])').length`
	const count = `document.querySelector('#findings [data-count]').textContent`
	const first = `document.querySelector('#findings tbody tr.row:not([hidden])')`
	expect := func(what string, want int) {
		t.Helper()
		if got := eval(visible); got != want {
			t.Errorf("%s: %d rows shown, want %d", what, got, want)
		}
		wantText := fmt.Sprintf("%d of %d findings shown", want, len(r.Vulnerabilities))
		if got := str(count); got != wantText {
			t.Errorf("%s: count says %q, want %q", what, got, wantText)
		}
	}

	start := time.Now()
	do("load", chromedp.Navigate(fileURL), chromedp.WaitVisible(chromedp.CSS("#findings-filter")))
	t.Logf("browser started and page loaded in %v", time.Since(start).Round(time.Millisecond))

	// 23 findings of the fixture and the hostile one.
	expect("loaded", 24)
	// openssl: CVE-2026-35189 and CVE-2026-54872 in openssl and in libssl3
	// (source package openssl).
	do("filter", chromedp.SendKeys(chromedp.ID("findings-filter"), "openssl"))
	expect("filter openssl", 4)
	do("clear filter", chromedp.Evaluate[chromedp.Void](
		`(f => { f.value = ''; f.dispatchEvent(new Event('input')) })(document.getElementById('findings-filter'))`))
	expect("filter cleared", 24)
	// Three CRITICAL: log4j, snakeyaml, handlebars.
	do("untick CRITICAL", chromedp.Click(chromedp.CSS(`#findings .sevf input[value="CRITICAL"]`)))
	expect("without CRITICAL", 21)
	// Two suppressed, neither CRITICAL.
	do("hide suppressed", chromedp.Click(chromedp.CSS(`#findings input.show-suppressed`)))
	expect("without CRITICAL and suppressed", 19)
	do("tick both again",
		chromedp.Click(chromedp.CSS(`#findings .sevf input[value="CRITICAL"]`)),
		chromedp.Click(chromedp.CSS(`#findings input.show-suppressed`)))
	expect("all again", 24)
	do("fixable only", chromedp.Click(chromedp.CSS(`#findings input.only-fixable`)))
	// All but libc6, libsystemd0 and the two log4j findings.
	expect("fixable only", 20)
	do("all findings", chromedp.Click(chromedp.CSS(`#findings input.only-fixable`)))

	header := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.JSPath(fmt.Sprintf(
			`[...document.querySelectorAll('#findings thead th button')].find(b => b.textContent === %q)`, name)))
	}
	do("sort by package", header("Package"))
	if got := str(first + `.querySelector('td.pkg').dataset.v`); got != "axios" {
		t.Errorf("sorted by package: first row is %q, want axios", got)
	}
	do("sort by package, descending", header("Package"))
	if got := str(first + `.querySelector('td.pkg').dataset.v`); got != "stdlib" {
		t.Errorf("sorted by package descending: first row is %q, want stdlib", got)
	}
	do("sort by severity", header("Severity"))
	if got := str(first + `.querySelector('td.id').dataset.v`); got != "CVE-2019-17571" {
		t.Errorf("sorted by severity: first row is %q, want CVE-2019-17571 (the first CRITICAL in report order)", got)
	}
	if got := str(`document.querySelector('#findings tbody tr.row:last-child td.id').dataset.v`); got != "CVE-2026-109518" {
		t.Errorf("sorted by severity: last row is %q, want CVE-2026-109518 (the only UNKNOWN)", got)
	}

	// Details of the first row, and of every row: building them must not
	// let the hostile finding's strings become markup.
	do("details", chromedp.Click(chromedp.CSS(`#findings tbody tr.row:first-child .expand`)))
	detail := str(`document.querySelector('#findings tbody tr.detail:not([hidden])').textContent`)
	if !strings.Contains(detail, "CVSS 3.1 9.8 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (nvd)") {
		t.Errorf("details of CVE-2019-17571 lack its CVSS vector: %q", detail)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	eval(`document.querySelectorAll('#findings tbody tr.row:not(:first-child) .expand').forEach(b => b.click()), 0`)
	if n := eval(`document.querySelectorAll('#findings tbody tr.detail:not([hidden])').length`); n != 24 {
		t.Errorf("%d detail rows open, want 24", n)
	}
	if n := eval(`document.querySelectorAll('img, iframe, object, embed, [onerror], [onload], a[href^="javascript:" i], script:not(#drydock-data):not(:last-of-type)').length`); n != 0 {
		t.Errorf("the hostile finding injected %d elements", n)
	}
	if got := str(`document.title`); !strings.Contains(got, "debian12-app") {
		t.Errorf("title %q", got)
	}
	// A package found in several places lists them all, the installed
	// copy first.
	found := str(`[...document.querySelectorAll('#findings tbody tr.detail:not([hidden])')].map(d => d.textContent).find(s => s.includes('pkg:npm/handlebars@4.7.6')) || ''`)
	if i, j := strings.Index(found, "/app/node/node_modules/handlebars/package.json, layer 2"), strings.Index(found, "/app/node/package-lock.json, layer 2"); i < 0 || j < i {
		t.Errorf("handlebars details do not list its two locations, the installed one first: %q", found)
	}
	eval(`document.querySelectorAll('#findings tr.detail').forEach(d => d.hidden = true), 0`)

	// The inventory page of a scan without database.
	do("load inventory", chromedp.Navigate(invURL), chromedp.WaitVisible(chromedp.CSS("#packages-filter")))
	const pkgRows = `document.querySelectorAll('#packages tbody tr.row:not([hidden])').length`
	if n := eval(pkgRows); n != len(inv.Packages) {
		t.Errorf("inventory: %d rows, want %d", n, len(inv.Packages))
	}
	// The 16 modules of the Go binary (TRUTH.json go_binaries).
	do("filter inventory", chromedp.SendKeys(chromedp.ID("packages-filter"), "golang"))
	if n := eval(pkgRows); n != 16 {
		t.Errorf("inventory filtered by golang: %d rows, want 16", n)
	}
	if got := str(`document.querySelector('#packages [data-count]').textContent`); got != fmt.Sprintf("16 of %d packages shown", len(inv.Packages)) {
		t.Errorf("inventory count says %q", got)
	}
	do("sort inventory by name descending", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('#packages thead th button')].find(b => b.textContent === 'Name')`)))
	do("sort inventory by name descending", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('#packages thead th button')].find(b => b.textContent === 'Name')`)))
	if got := str(`document.querySelector('#packages tbody tr.row:not([hidden]) td.pkg').dataset.v`); got != "stdlib" {
		t.Errorf("inventory sorted by name descending: first Go module is %q, want stdlib", got)
	}
	invShot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}

	out := browsertest.ArtifactDir(t)
	for _, s := range []struct {
		name string
		png  []byte
	}{{"html-report.png", shot}, {"html-report-inventory.png", invShot}} {
		p := filepath.Join(out, s.name)
		if err := os.WriteFile(p, s.png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
