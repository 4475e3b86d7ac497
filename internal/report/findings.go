package report

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/finding"
)

// sortedFindings returns a copy of the report's findings in finding.Compare
// order, so every writer is deterministic even for a report whose caller
// did not sort.
func sortedFindings(r *Report) []finding.Finding {
	fs := slices.Clone(r.Vulnerabilities)
	slices.SortStableFunc(fs, finding.Compare)
	return fs
}

// withFindings reports whether the report is a vulnerability scan (a
// database was used, or findings are given) rather than an inventory.
func withFindings(r *Report) bool {
	return r.Vulnerabilities != nil || r.Database != nil
}

// targetGroup is the findings of one target (os-packages, a lock file, a
// binary), in report order.
type targetGroup struct {
	Name     string
	Findings []finding.Finding
}

// groupByTarget splits sorted findings by target, keeping their order
// (os-packages first, then the language targets by path).
func groupByTarget(fs []finding.Finding) []targetGroup {
	var groups []targetGroup
	for _, f := range fs {
		t := f.Target()
		if n := len(groups); n > 0 && groups[n-1].Name == t {
			groups[n-1].Findings = append(groups[n-1].Findings, f)
			continue
		}
		groups = append(groups, targetGroup{Name: t, Findings: []finding.Finding{f}})
	}
	return groups
}

// severityCounts counts findings per severity; suppressed findings are
// counted apart and not per severity.
type severityCounts struct {
	By         map[finding.Severity]int
	Total      int
	Suppressed int
}

func countSeverities(fs []finding.Finding) severityCounts {
	c := severityCounts{By: map[finding.Severity]int{}}
	for i := range fs {
		if fs[i].Suppression != nil {
			c.Suppressed++
			continue
		}
		c.By[normSev(fs[i].Severity)]++
		c.Total++
	}
	return c
}

// normSev maps a severity the model does not know to Unknown.
// sortedReport is a shallow copy of r with its findings in report order.
func sortedReport(r *Report) *Report {
	c := *r
	if r.Vulnerabilities != nil {
		c.Vulnerabilities = sortedFindings(r)
	}
	if r.Secrets != nil {
		c.Secrets = sortedSecrets(r)
	}
	if r.Misconfigurations != nil {
		c.Misconfigurations = sortedMisconfigurations(r)
	}
	if r.Licenses != nil {
		c.Licenses = sortedLicenses(r)
	}
	return &c
}

func normSev(s finding.Severity) finding.Severity {
	if s.Rank() == 0 {
		return finding.Unknown
	}
	return s
}

// failsGate reports whether f fails the report's gate. Without a gate
// (no --fail-on), formats that must call a finding failed or passed
// (JUnit) count every unsuppressed finding as failed.
func failsGate(r *Report, f *finding.Finding) bool {
	if r.Gate == nil {
		return f.Suppression == nil
	}
	return r.Gate.Fails(f)
}

// statusText says whether and where a finding is fixed.
func statusText(f *finding.Finding) string {
	switch {
	case len(f.FixedVersions) > 0:
		return "fixed in " + strings.Join(f.FixedVersions, ", ")
	case f.Status == finding.StatusWillNotFix:
		return "will not fix"
	case f.Status == finding.StatusFixed:
		return "fixed"
	default:
		return "no fix yet"
	}
}

// suppressionText explains a suppression in one line.
func suppressionText(s *finding.Suppression) string {
	var b strings.Builder
	switch s.Kind {
	case finding.SuppressedByVEX:
		b.WriteString("VEX")
		if s.Status != "" {
			b.WriteString(" " + s.Status)
		}
	case finding.SuppressedByIgnore:
		b.WriteString("ignored")
	default:
		b.WriteString("suppressed")
	}
	if s.Justification != "" {
		b.WriteString(": " + s.Justification)
	}
	if s.Statement != "" {
		b.WriteString(" (" + s.Statement + ")")
	}
	if s.Source != "" {
		b.WriteString(" [" + s.Source + "]")
	}
	if s.Expires != "" {
		b.WriteString(", until " + s.Expires)
	}
	return b.String()
}

// cvssVersionRank orders CVSS versions by preference for a single score:
// 3.1, then 4.0, 3.0, 2.0.
func cvssVersionRank(v string) int {
	switch v {
	case string(cvss.V31):
		return 0
	case string(cvss.V40):
		return 1
	case string(cvss.V30):
		return 2
	case string(cvss.V2):
		return 3
	}
	return 4
}

// bestCVSS picks the CVSS rating that best stands for the finding's
// severity: one from the source that rated the finding, else the preferred
// version, else the first. Nil when the finding has none.
func bestCVSS(f *finding.Finding) *finding.CVSS {
	if len(f.CVSS) == 0 {
		return nil
	}
	best := 0
	for i := 1; i < len(f.CVSS); i++ {
		if cvssBetter(f, &f.CVSS[i], &f.CVSS[best]) {
			best = i
		}
	}
	return &f.CVSS[best]
}

func cvssBetter(f *finding.Finding, a, b *finding.CVSS) bool {
	am, bm := a.Source == f.SeveritySource, b.Source == f.SeveritySource
	if am != bm {
		return am
	}
	return cvssVersionRank(a.Version) < cvssVersionRank(b.Version)
}

// securitySeverity is the 0.0–10.0 score GitHub code scanning buckets into
// critical/high/medium/low: the CVSS score standing for the finding when
// its CVSS rating agrees with the finding's severity, else a score in the
// middle of the severity's band, so the alert shows the severity drydock
// reports. Empty for an unknown severity.
func securitySeverity(f *finding.Finding) string {
	sev := normSev(f.Severity)
	if c := bestCVSS(f); c != nil && cvssBand(c.Score) == sev {
		return strconv.FormatFloat(c.Score, 'f', 1, 64)
	}
	switch sev {
	case finding.Critical:
		return "9.5"
	case finding.High:
		return "8.0"
	case finding.Medium:
		return "5.5"
	case finding.Low:
		return "2.0"
	case finding.Negligible:
		return "0.5"
	}
	return ""
}

// cvssBand maps a score onto the severity scale with CVSS v3's bands
// (0.1–3.9 low; a score below 0.1 counts as negligible).
func cvssBand(score float64) finding.Severity {
	return cvssSeverity(finding.CVSS{Version: string(cvss.V31), Score: score})
}

// idSource names the database an identifier belongs to and its page.
func idSource(id string) (name, link string) {
	esc := url.PathEscape(id)
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "NVD", "https://nvd.nist.gov/vuln/detail/" + esc
	case strings.HasPrefix(id, "GHSA-"):
		return "GitHub Advisory Database", "https://github.com/advisories/" + esc
	case strings.HasPrefix(id, "GO-"):
		return "Go Vulnerability Database", "https://pkg.go.dev/vuln/" + esc
	case strings.HasPrefix(id, "PYSEC-"):
		return "PyPA Advisory Database", "https://osv.dev/vulnerability/" + esc
	case strings.HasPrefix(id, "RUSTSEC-"):
		return "RustSec Advisory Database", "https://rustsec.org/advisories/" + esc + ".html"
	case strings.HasPrefix(id, "DEBIAN-CVE-"):
		// OSV's Debian ids wrap a CVE id; the tracker knows the CVE.
		return "Debian Security Tracker", "https://security-tracker.debian.org/tracker/" + url.PathEscape(strings.TrimPrefix(id, "DEBIAN-"))
	case strings.HasPrefix(id, "DSA-"), strings.HasPrefix(id, "DLA-"), strings.HasPrefix(id, "TEMP-"):
		return "Debian Security Tracker", "https://security-tracker.debian.org/tracker/" + esc
	}
	return "OSV", "https://osv.dev/vulnerability/" + esc
}

// findingURL is the page to read about a finding: its primary URL when
// that is a web address, else the identifier's database page.
func findingURL(f *finding.Finding) string {
	if webURL(f.PrimaryURL) {
		return f.PrimaryURL
	}
	_, link := idSource(f.ID)
	return link
}

// webURL reports whether s is an absolute http(s) URL without spaces or
// control characters (what every schema's "uri" format accepts).
func webURL(s string) bool {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '"' || r == '<' || r == '>' || r == '\\' }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// rfc3339 normalises a timestamp to RFC 3339 in UTC; empty for a value that
// is not one or is the zero time some feeds write (0001-01-01).
func rfc3339(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1970 {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// imageName is how reports name the scanned target.
func imageName(r *Report) string {
	return cmp.Or(r.Target.Name, r.Target.Ref)
}

// truncateRunes cuts s to at most n runes, marking the cut with "…".
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return string([]rune(s)[:n-1]) + "…"
}

// locationPaths lists every path a finding's package was found at, the
// primary one first, separated by ", ".
func locationPaths(p *finding.Package) string {
	var paths []string
	for _, l := range p.AllLocations() {
		paths = append(paths, l.Path)
	}
	return strings.Join(paths, ", ")
}
