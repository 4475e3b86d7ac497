package report_test

import (
	"fmt"
	"regexp"
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

// TestTableWrap: at every width the table's lines fit, and wrapped cells
// keep all their words.
func TestTableWrap(t *testing.T) {
	r := findingsReport(t)
	for _, width := range []int{80, 100, 120, 160, 240} {
		out := string(render(t, "table", r, report.Options{Width: width}))
		for i, line := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: line %d has %d characters: %q", width, i+1, n, line)
			}
			if strings.HasSuffix(line, " ") {
				t.Errorf("width %d: line %d ends in a blank: %q", width, i+1, line)
			}
		}
		for _, f := range r.Vulnerabilities {
			for _, w := range strings.Fields(f.Title) {
				// A word may be split where it holds '/', '-' or ','
				// (or is longer than its column): check its first part.
				head := strings.FieldsFunc(w, func(r rune) bool { return r == '/' || r == '-' || r == ',' })[0]
				if len(head) > 10 {
					head = head[:10]
				}
				if !strings.Contains(out, head) {
					t.Errorf("width %d: title word %q of %s missing", width, w, f.ID)
				}
			}
		}
	}
	// At 80 columns the os-packages titles need several lines.
	narrow := string(render(t, "table", r, report.Options{Width: 80}))
	if !strings.Contains(narrow, "apt: apt-key") || strings.Contains(narrow, "apt: apt-key does not correctly validate gpg keys with the master keyring") {
		t.Error("the apt title is not wrapped at 80 columns")
	}
	// Default width is 120.
	if d, w := render(t, "table", r, report.Options{}), render(t, "table", r, report.Options{Width: 120}); string(d) != string(w) {
		t.Error("Width 0 does not mean 120")
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
