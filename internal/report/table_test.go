package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/report"
)

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTableColor: with colour, the table is the plain table plus SGR
// sequences, severities in their colours; without, no escape at all.
func TestTableColor(t *testing.T) {
	r := findingsReport(t)
	plain := string(render(t, "table", r, report.Options{Width: 120}))
	color := string(render(t, "table", r, report.Options{Width: 120, Color: true}))
	if strings.Contains(plain, "\x1b") {
		t.Error("plain table contains an escape sequence")
	}
	if diff := cmp.Diff(plain, sgr.ReplaceAllString(color, "")); diff != "" {
		t.Errorf("coloured table without its colours differs from the plain one (-plain +stripped):\n%s", diff)
	}
	for _, want := range []string{
		"\x1b[1;31mCRITICAL (nvd)\x1b[0m", // zlib1g
		"\x1b[31mHIGH (nvd)\x1b[0m",       // libexpat1
		"\x1b[33mMEDIUM (nvd)\x1b[0m",     // libpython3.11-stdlib
		"\x1b[34mLOW (nvd)\x1b[0m",        // apt
		"\x1b[2mCRITICAL (nvd)\x1b[0m",    // log4j, ignored: dimmed
		"\x1b[1;31mFAILED\x1b[0m",
	} {
		if !strings.Contains(color, want) {
			t.Errorf("coloured table lacks %q", want)
		}
	}
	// Packages only: the package list, never coloured.
	pkgs := scanReport(t, "debian12-app")
	if c := render(t, "table", pkgs, report.Options{Color: true}); strings.Contains(string(c), "\x1b") {
		t.Error("package table is coloured")
	}
}

// TestTableWrap: at every width the table's lines fit, findings stay on
// one line where the columns allow it, nothing is split inside a word and
// titles are cut with an ellipsis; at 80 and 200 columns the fixture's
// table is compared with its golden file (120 is the default one).
func TestTableWrap(t *testing.T) {
	r := findingsReport(t)
	for _, width := range []int{80, 100, 120, 160, 200, 240} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			out := render(t, "table", r, report.Options{Width: width})
			if width == 80 || width == 200 {
				compareGolden(t, filepath.Join("testdata", "golden", fmt.Sprintf("debian12-app-findings.w%d.txt", width)), out)
			}
			// The fixture's rows all fit on one line from 120 columns.
			checkTableLayout(t, r, string(out), width, width >= 120)
		})
	}
	// Default width is 120.
	if d, w := render(t, "table", r, report.Options{}), render(t, "table", r, report.Options{Width: 120}); string(d) != string(w) {
		t.Error("Width 0 does not mean 120")
	}
}

// compareGolden compares got with a golden file, or rewrites it with
// -update.
func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
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
		t.Errorf("differs from %s (-want +got):\n%s", golden, diff)
	}
}

// checkTableLayout checks a finding table written at width:
//   - no line is wider than width or ends in a blank;
//   - every package name, version, id and fix is there with its words
//     whole (a cell wraps only after a space, '/', '-' or ',');
//   - each finding's row begins on a line holding its package (first
//     word), id and the start of its title; a title cut short ends in "…"
//     and is a prefix of the real one;
//   - with oneLine, every finding takes one line (the caller knows its
//     findings fit at that width).
func checkTableLayout(t *testing.T, r *report.Report, out string, width int, oneLine bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, line := range lines {
		if n := utf8.RuneCountInString(line); n > width {
			t.Errorf("line %d has %d characters: %q", i+1, n, line)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d ends in a blank: %q", i+1, line)
		}
	}
	words := func(s, breaks string) []string {
		var out []string
		for _, w := range strings.Fields(s) {
			out = append(out, strings.FieldsFunc(w, func(r rune) bool { return strings.ContainsRune(breaks, r) })...)
		}
		return out
	}
	heads := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "PACKAGE ") {
			heads++
		}
	}
	for _, f := range r.Vulnerabilities {
		cells := []string{f.Package.Name, f.Package.Version, f.ID}
		if f.Suppression == nil {
			cells = append(cells, strings.Join(f.FixedVersions, ", "))
		}
		for _, cell := range cells {
			for _, w := range words(cell, "/-,") {
				if !strings.Contains(out, w) {
					t.Errorf("%s %s: %q split inside a word (%q missing)", f.ID, f.Package.Name, cell, w)
				}
			}
		}
		first := words(f.Package.Name, "/-")[0]
		row := -1
		for i, line := range lines {
			if strings.HasPrefix(line, first) && strings.Contains(line, "  "+f.ID) {
				row = i
				break
			}
		}
		if row < 0 {
			t.Errorf("%s %s: no line starts its row", f.ID, f.Package.Name)
			continue
		}
		head := row
		for head > 0 && !strings.HasPrefix(lines[head], "PACKAGE ") {
			head--
		}
		if titled := strings.HasSuffix(lines[head], "TITLE"); titled && f.Title != "" {
			line := lines[row]
			if !strings.Contains(line, f.Title) {
				i := strings.LastIndex(line, "  ")
				shown := line[i+2:]
				cut, ok := strings.CutSuffix(shown, "…")
				if !ok || !strings.HasPrefix(f.Title, cut) {
					t.Errorf("%s %s: title shown as %q, want %q or a prefix of it ending in …", f.ID, f.Package.Name, shown, f.Title)
				}
			}
		}
	}
	if oneLine {
		// One line per finding: each group is its heading, its column
		// heads and its rows.
		for i, line := range lines {
			if !strings.HasPrefix(line, "PACKAGE ") {
				continue
			}
			n, _ := strconv.Atoi(strings.Fields(lines[i-1][strings.LastIndex(lines[i-1], "): ")+3:])[0])
			rows := 0
			for _, l := range lines[i+1:] {
				if l == "" {
					break
				}
				rows++
			}
			if rows != n {
				t.Errorf("%q: %d findings on %d lines", lines[i-1], n, rows)
			}
		}
	}
	if heads == 0 && len(r.Vulnerabilities) > 0 {
		t.Error("no finding table")
	}
}

func TestTableSummary(t *testing.T) {
	r := findingsReport(t)
	out := string(render(t, "table", r, report.Options{}))
	// Hand-checked from testdata/findings.json: 13 findings, 2 suppressed
	// (one ignored, one VEX); of the 11 others 2 critical, 3 high, 3
	// medium, 1 low, 1 negligible, 1 unknown; 5 at HIGH or above.
	for _, want := range []string{
		fmt.Sprintf("%d packages, 13 findings (2 suppressed)\n", len(r.Packages)),
		"Total: 11 vulnerabilities, 2 suppressed\n",
		"CRITICAL: 2  HIGH: 3  MEDIUM: 3  LOW: 1  NEGLIGIBLE: 1  UNKNOWN: 1\n",
		"Gate: fail on HIGH or above: FAILED (5 failing)\n",
		"Database: schema 1, updated 2026-11-21T03:00:00Z (27 hours old)\n",
		"os-packages (Debian GNU/Linux 12 (bookworm)): 6 findings\n",
		"/app/bin/orders-api (golang): 3 findings (1 suppressed)\n",
		"/app/lib/log4j-1.2.17.jar (maven): 2 findings (1 suppressed)\n",
		"/app/node (npm): 1 finding\n",                       // the npm project
		"/usr/lib/python3/dist-packages (pypi): 1 finding\n", // the Python environment
		"HIGH (nvd) KEV",
		"(ignored until",
		"(VEX not_affected)",
		"(will not fix)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// Targets in order: OS packages first, then the language targets by path.
	var order []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, " ("); i > 0 && strings.Contains(l, "finding") && !strings.Contains(l, "packages,") {
			order = append(order, l[:i])
		}
	}
	want := []string{"os-packages", "/app/bin/orders-api", "/app/lib/log4j-1.2.17.jar", "/app/node", "/usr/lib/python3/dist-packages"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("target order (-want +got):\n%s", diff)
	}

	// A scan with a database and no findings says so.
	clean := withFindings(t, scanReport(t, "debian12-app"), []finding.Finding{})
	if out := string(render(t, "table", clean, report.Options{})); !strings.Contains(out, "No vulnerabilities found.") || !strings.Contains(out, "PASSED") {
		t.Errorf("clean report:\n%s", out)
	}
	// Also when the caller left the findings nil: the database says a
	// vulnerability scan was done.
	clean.Vulnerabilities = nil
	if out := string(render(t, "table", clean, report.Options{})); !strings.Contains(out, "No vulnerabilities found.") {
		t.Errorf("clean report with nil findings:\n%s", out)
	}
}

// TestTableHostile: text from the image cannot drive the terminal.
func TestTableHostile(t *testing.T) {
	h := hostile(t)
	r := withFindings(t, scanReport(t, "debian12-app"), []finding.Finding{h})
	for _, color := range []bool{false, true} {
		out := string(render(t, "table", r, report.Options{Color: color}))
		stripped := sgr.ReplaceAllString(out, "")
		if strings.ContainsAny(stripped, "\x1b\x00\x01\x08\r\u202e") {
			t.Errorf("colour %v: control or bidi characters reach the terminal: %q", color, stripped)
		}
		if !strings.Contains(stripped, "evil\uFFFD[31mpkg") {
			t.Errorf("colour %v: the package name is not shown defused: %q", color, stripped)
		}
	}
}
