package report

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// The page's template, script and style sheet. The script and the style
// sheet are inlined into every page, so a report is one file that loads
// nothing.
//
//go:embed html/template.html html/app.js html/style.css
var htmlAssets embed.FS

// WriteHTML writes a self-contained HTML page: image and database facts,
// the gate's verdict, a severity chart drawn server-side and a sortable,
// filterable findings table (or the package inventory when no database
// was used). The report is embedded as JSON for the page's script, which
// sorts, filters and shows each finding's details; without JavaScript the
// page still shows every fact and row. A Content-Security-Policy allows
// only the page's own script and style, so the page makes no request.
func WriteHTML(w io.Writer, r *Report, _ Options) error {
	page, err := htmlAssets.ReadFile("html/template.html")
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	script, err := htmlAssets.ReadFile("html/app.js")
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	style, err := htmlAssets.ReadFile("html/style.css")
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	t, err := template.New("page").Funcs(template.FuncMap{
		"lower": func(s finding.Severity) string { return strings.ToLower(string(normSev(s))) },
		"short": shortDigest,
		"size":  sizeText,
	}).Parse(string(page))
	if err != nil {
		return fmt.Errorf("html report: parsing the page template: %w", err)
	}
	v, err := newHTMLView(r)
	if err != nil {
		return err
	}
	// The script and the style sheet are the embedded assets, trusted
	// text; the policy admits exactly these bytes by their hashes.
	v.Script = template.JS(script)
	v.Style = template.CSS(style)
	v.CSP = "default-src 'none'; script-src " + cspHash(script) + "; style-src " + cspHash(style) +
		"; img-src data:; base-uri 'none'; form-action 'none'"
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

func cspHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// htmlView is what the page template reads.
type htmlView struct {
	R     *Report
	Title string
	OS    string
	// Data is the report as JSON for the page's script; html/template
	// escapes it for the script element it goes into.
	Data   json.RawMessage
	Script template.JS
	Style  template.CSS
	CSP    string

	Verdict  htmlVerdict
	Chart    htmlChart
	Scanned  bool // a database was used: findings, not only inventory
	Findings []htmlFinding
	// Severities are the filter choices with their counts.
	Severities []htmlSeverity
	Total      int
	Suppressed int
	Fixable    int
	Affected   int // packages with at least one finding
	InUse      int // findings in packages a recorded run used
	Packages   []htmlPackage
	DBAge      string
	Duration   string
	// Layers is the layers section; nil leaves it out.
	Layers *htmlLayers
}

type htmlVerdict struct {
	Class, Label, Detail string
}

type htmlSeverity struct {
	Severity finding.Severity
	Count    int
}

type htmlFinding struct {
	*finding.Finding
	Index    int
	Sev      finding.Severity
	Rank     int
	Score    string // highest CVSS score, "" when none
	ScoreKey string // sort key: the score, -1 when none
	Fixed    string
	Target   string
	// Summary is the title, or the description's start when there is none.
	Summary string
	// InUseText says that a recorded run used the package, and the file
	// that showed it (--runtime-events); "" when not.
	InUseText string
}

type htmlPackage struct {
	*inventory.Package
	Index    int
	Licenses string
}

// Chart geometry, in SVG user units.
const (
	chartLabelW = 88
	chartBarW   = 200
	chartCountW = 120
	chartRowH   = 24
	chartBarH   = 16
)

type htmlChart struct {
	Title  string
	Width  int
	Height int
	// BarX is where bars start, BarW their full width, BarH their height.
	BarX, BarW, BarH int
	Bars             []htmlBar
}

type htmlBar struct {
	Label, Class string
	Count        int
	Suppressed   int
	Y, TextY     int
	X2, W, W2    int // the second segment starts at X2, W wide; W2 wide
	CountX       int
}

func newHTMLView(r *Report) (*htmlView, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("html report: encoding the report: %w", err)
	}
	v := &htmlView{R: r, Data: data, Title: r.Target.Ref, Scanned: r.Vulnerabilities != nil}
	if v.Title == "" {
		v.Title = r.Target.Name
	}
	if r.OS != nil {
		v.OS = osString(r)
		if r.OS.Version != "" && r.OS.Version != r.OS.VersionID {
			v.OS += ", version " + r.OS.Version
		}
	}
	v.Verdict = verdictOf(r.Gate)
	v.Layers = newHTMLLayers(r.LayerStats)
	if r.Database != nil {
		v.DBAge = hoursText(r.Database.AgeHours)
	}
	if r.Scan != nil && r.Scan.DurationMS > 0 {
		v.Duration = strconv.FormatFloat(float64(r.Scan.DurationMS)/1000, 'f', 3, 64) + " s"
	}
	for i := range r.Packages {
		p := &r.Packages[i]
		v.Packages = append(v.Packages, htmlPackage{Package: p, Index: i, Licenses: strings.Join(p.Licenses, ", ")})
	}
	if !v.Scanned {
		v.Chart = packageChart(r.Packages)
		return v, nil
	}
	active := map[finding.Severity]int{}
	suppressed := map[finding.Severity]int{}
	all := map[finding.Severity]int{}
	affected := map[string]bool{}
	for i := range r.Vulnerabilities {
		f := &r.Vulnerabilities[i]
		sev := normSev(f.Severity)
		all[sev]++
		if f.Suppression != nil {
			suppressed[sev]++
			v.Suppressed++
		} else {
			active[sev]++
		}
		if len(f.FixedVersions) > 0 {
			v.Fixable++
		}
		affected[f.Package.Type+"\x00"+f.Package.Name+"\x00"+f.Package.Version+"\x00"+f.Package.Path] = true
		row := findingRow(f, i)
		row.InUseText = inUseText(r, f)
		if f.InUse {
			v.InUse++
		}
		v.Findings = append(v.Findings, row)
	}
	v.Total = len(r.Vulnerabilities)
	v.Affected = len(affected)
	var labels []string
	var act, sup []int
	for _, s := range finding.All() {
		v.Severities = append(v.Severities, htmlSeverity{Severity: s, Count: all[s]})
		labels = append(labels, string(s))
		act = append(act, active[s])
		sup = append(sup, suppressed[s])
	}
	v.Chart = barChart("Findings by severity", labels, act, sup, true)
	return v, nil
}

func findingRow(f *finding.Finding, i int) htmlFinding {
	row := htmlFinding{Finding: f, Index: i, Sev: normSev(f.Severity), Rank: f.Severity.Rank(), ScoreKey: "-1", Target: f.Target()}
	best := -1.0
	for _, c := range f.CVSS {
		if c.Score > best {
			best = c.Score
		}
	}
	if best >= 0 {
		row.Score = strconv.FormatFloat(best, 'f', 1, 64)
		row.ScoreKey = row.Score
	}
	row.Summary = f.Title
	if row.Summary == "" {
		row.Summary = summarize(f.Description)
	}
	switch {
	case len(f.FixedVersions) > 0:
		row.Fixed = strings.Join(f.FixedVersions, ", ")
	case f.Status == finding.StatusWillNotFix:
		row.Fixed = "will not fix"
	default:
		row.Fixed = "no fix yet"
	}
	return row
}

// summarize returns a description's first line, cut to 160 characters.
func summarize(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > 160 {
		s = strings.TrimSpace(string(r[:159])) + "…"
	}
	return s
}

func verdictOf(g *Gate) htmlVerdict {
	switch {
	case g == nil:
		return htmlVerdict{Class: "none", Label: "NO GATE", Detail: "no failure threshold was set"}
	case g.Failed:
		n := "findings"
		if g.Failing == 1 {
			n = "finding"
		}
		return htmlVerdict{Class: "fail", Label: "FAIL", Detail: fmt.Sprintf("%d unsuppressed %s at or above %s", g.Failing, n, g.FailOn)}
	default:
		return htmlVerdict{Class: "pass", Label: "PASS", Detail: fmt.Sprintf("no unsuppressed finding at or above %s", g.FailOn)}
	}
}

// packageChart counts the inventory by package type, most first.
func packageChart(pkgs []inventory.Package) htmlChart {
	count := map[string]int{}
	var types []string
	for _, p := range pkgs {
		if count[p.Type] == 0 {
			types = append(types, p.Type)
		}
		count[p.Type]++
	}
	// Stable by count, most first; types come in inventory order, which
	// is sorted by type, so ties keep alphabetical order.
	for i := 1; i < len(types); i++ {
		for j := i; j > 0 && count[types[j]] > count[types[j-1]]; j-- {
			types[j], types[j-1] = types[j-1], types[j]
		}
	}
	var n []int
	for _, t := range types {
		n = append(n, count[t])
	}
	return barChart("Packages by type", types, n, make([]int, len(n)), false)
}

func barChart(title string, labels []string, active, suppressed []int, sevClass bool) htmlChart {
	c := htmlChart{
		Title: title, Width: chartLabelW + chartBarW + chartCountW, Height: len(labels)*chartRowH + 4,
		BarX: chartLabelW, BarW: chartBarW, BarH: chartBarH,
	}
	max := 0
	for i := range labels {
		if t := active[i] + suppressed[i]; t > max {
			max = t
		}
	}
	for i, l := range labels {
		b := htmlBar{Label: l, Count: active[i], Suppressed: suppressed[i], Y: 2 + i*chartRowH + (chartRowH-chartBarH)/2}
		b.TextY = b.Y + chartBarH - 4
		b.Class = "bar"
		if sevClass {
			b.Class = "sev-" + strings.ToLower(l)
		}
		if max > 0 {
			b.W = scale(active[i], max)
			b.W2 = scale(active[i]+suppressed[i], max) - b.W
		}
		b.X2 = chartLabelW + b.W
		b.CountX = chartLabelW + b.W + b.W2 + 6
		c.Bars = append(c.Bars, b)
	}
	return c
}

// scale maps n of max to a bar width; a non-zero count is never drawn
// narrower than 2 units.
func scale(n, max int) int {
	if n == 0 {
		return 0
	}
	w := n * chartBarW / max
	if w < 2 {
		w = 2
	}
	return w
}

func hoursText(h int) string {
	switch {
	case h < 0:
		return "unknown"
	case h < 48:
		return strconv.Itoa(h) + " h"
	default:
		return fmt.Sprintf("%d d %d h", h/24, h%24)
	}
}

// sizeText writes a byte count in binary units ("27.8 MiB").
func sizeText(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}

// shortDigest shortens "sha256:abc…" to its first 12 hex digits.
func shortDigest(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok {
		hex = d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}
