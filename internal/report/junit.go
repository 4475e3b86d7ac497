package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/drydockscan/drydock/internal/finding"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut *junitText    `xml:"system-out"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes JUnit XML for CI test views: one test suite per target
// (OS packages, each lock file or binary), one test case per finding. A
// finding that breaks the gate (--fail-on) is a failure; without a gate,
// every unsuppressed finding is. A suppressed finding is skipped, with the
// reason. Without findings, one empty suite named after the image says
// what was scanned.
func WriteJUnit(w io.Writer, r *Report, _ Options) error {
	doc := junitOf(r)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	return nil
}

func junitOf(r *Report) *junitSuites {
	doc := &junitSuites{Name: "drydock " + imageName(r), Time: "0"}
	props := junitProperties(r)
	timestamp := ""
	if r.Scan != nil {
		doc.Time = strconv.FormatFloat(float64(r.Scan.DurationMS)/1000, 'f', 3, 64)
		if t := rfc3339(r.Scan.Started); t != "" {
			timestamp = strings.TrimSuffix(t, "Z")
		}
	}
	fs := sortedFindings(r)
	groups := groupByTarget(fs)
	kinds := junitKindSuites(r, timestamp, props)
	defer func() {
		for _, s := range kinds {
			doc.Tests += s.Tests
			doc.Failures += s.Failures
			doc.Skipped += s.Skipped
		}
		doc.Suites = append(doc.Suites, kinds...)
	}()
	if len(groups) == 0 && len(kinds) == 0 {
		doc.Suites = append(doc.Suites, junitSuite{Name: imageName(r), Time: "0", Timestamp: timestamp, Properties: props, Cases: []junitCase{}})
		return doc
	}
	for _, g := range groups {
		s := junitSuite{Name: g.Name, Time: "0", Timestamp: timestamp, Properties: props}
		for i := range g.Findings {
			f := &g.Findings[i]
			c := junitCase{
				Name:      f.Package.Name + "@" + f.Package.Version + " " + f.ID,
				Classname: g.Name,
				Time:      "0",
				SystemOut: &junitText{Text: junitDetails(r, f)},
			}
			switch {
			case f.Suppression != nil:
				c.Skipped = &junitSkipped{Message: suppressionText(f.Suppression)}
				s.Skipped++
			case failsGate(r, f):
				msg := fmt.Sprintf("%s (%s) in %s %s: %s", f.ID, normSev(f.Severity), f.Package.Name, f.Package.Version, statusText(f))
				c.Failure = &junitFailure{Message: msg, Type: string(normSev(f.Severity)), Text: junitDetails(r, f)}
				c.SystemOut = nil
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	return doc
}

func junitProperties(r *Report) []junitProperty {
	var props []junitProperty
	add := func(k, v string) {
		if v != "" {
			props = append(props, junitProperty{Name: k, Value: v})
		}
	}
	add("image", imageName(r))
	add("manifest_digest", r.Target.ManifestDigest)
	add("config_digest", r.Target.ConfigDigest)
	if r.OS != nil {
		add("os", osString(r))
	}
	add("packages", strconv.Itoa(len(r.Packages)))
	if r.Database != nil {
		add("database_updated", r.Database.Updated)
	}
	if r.Gate != nil {
		add("fail_on", string(r.Gate.FailOn))
	}
	if r.Runtime != nil {
		add("runtime_events", r.Runtime.Events)
		add("packages_in_use", strconv.Itoa(len(r.Runtime.Packages)))
	}
	return props
}

func junitDetails(r *Report, f *finding.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Vulnerability: %s\n", f.ID)
	if len(f.Aliases) > 0 {
		fmt.Fprintf(&b, "Aliases: %s\n", strings.Join(f.Aliases, ", "))
	}
	fmt.Fprintf(&b, "Severity: %s", normSev(f.Severity))
	if f.SeveritySource != "" {
		fmt.Fprintf(&b, " (%s)", f.SeveritySource)
	}
	fmt.Fprintf(&b, "\nPackage: %s %s (%s)\nPath: %s\nStatus: %s\n", f.Package.Name, f.Package.Version, f.Package.Type, locationPaths(&f.Package), statusText(f))
	if f.KEV != nil {
		fmt.Fprintf(&b, "Known exploited (CISA KEV) since %s\n", f.KEV.DateAdded)
	}
	if t := inUseText(r, f); t != "" {
		fmt.Fprintf(&b, "Runtime: %s\n", t)
	}
	if f.Title != "" {
		fmt.Fprintf(&b, "Title: %s\n", f.Title)
	}
	fmt.Fprintf(&b, "Link: %s\n", findingURL(f))
	return xmlSafe(b.String())
}

// xmlSafe replaces what XML 1.0 cannot carry (most control characters,
// surrogates, U+FFFE/U+FFFF, invalid UTF-8) with U+FFFD. Attributes are
// escaped by encoding/xml; CDATA text goes through here.
func xmlSafe(s string) string {
	if !strings.ContainsFunc(s, notXMLChar) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if notXMLChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func notXMLChar(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return false
	case r < 0x20:
		return true
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return true
	}
	return false
}
