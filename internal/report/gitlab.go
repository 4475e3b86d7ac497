package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
)

// GitLab security report schema the gitlab format follows.
const (
	gitlabSchemaVersion = "15.2.1"
	gitlabSchemaURL     = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.1/dist/container-scanning-report-format.json"
	gitlabTimeLayout    = "2006-01-02T15:04:05"
	// Limits of the schema.
	gitlabNameMax     = 255
	gitlabSolutionMax = 7000
	gitlabDescMax     = 1 << 20
	gitlabMaxVectors  = 10
)

type gitlabReport struct {
	Version         string       `json:"version"`
	Schema          string       `json:"schema"`
	Scan            gitlabScan   `json:"scan"`
	Vulnerabilities []gitlabVuln `json:"vulnerabilities"`
	Remediations    []struct{}   `json:"remediations"`
}

type gitlabScan struct {
	Analyzer  gitlabTool      `json:"analyzer"`
	Scanner   gitlabTool      `json:"scanner"`
	Type      string          `json:"type"`
	StartTime string          `json:"start_time"`
	EndTime   string          `json:"end_time"`
	Status    string          `json:"status"`
	Messages  []gitlabMessage `json:"messages,omitempty"`
}

type gitlabTool struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	URL     string       `json:"url,omitempty"`
	Version string       `json:"version"`
	Vendor  gitlabVendor `json:"vendor"`
}

type gitlabVendor struct {
	Name string `json:"name"`
}

type gitlabMessage struct {
	Level string `json:"level"`
	Value string `json:"value"`
}

type gitlabVuln struct {
	ID          string             `json:"id"`
	Name        string             `json:"name,omitempty"`
	Description string             `json:"description,omitempty"`
	Severity    string             `json:"severity"`
	Solution    string             `json:"solution,omitempty"`
	Identifiers []gitlabIdentifier `json:"identifiers"`
	CVSSVectors []gitlabVector     `json:"cvss_vectors,omitempty"`
	Links       []gitlabLink       `json:"links,omitempty"`
	Details     map[string]any     `json:"details,omitempty"`
	Location    gitlabLocation     `json:"location"`
}

type gitlabIdentifier struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
	URL   string `json:"url,omitempty"`
}

type gitlabVector struct {
	Vendor string `json:"vendor"`
	Vector string `json:"vector"`
}

type gitlabLink struct {
	URL string `json:"url"`
}

type gitlabLocation struct {
	Dependency      gitlabDependency `json:"dependency"`
	OperatingSystem string           `json:"operating_system"`
	Image           string           `json:"image"`
}

type gitlabDependency struct {
	Package gitlabPackage `json:"package"`
	Version string        `json:"version"`
}

type gitlabPackage struct {
	Name string `json:"name"`
}

type gitlabText struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// The schema's CVSS vector patterns (v2 without prefix, v3.x with),
// compiled on first use: most commands write no GitLab report.
var (
	gitlabV2 = lazyRegexp(`^((AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))/)*(AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))$`)
	gitlabV3 = lazyRegexp(`^CVSS:3[.][01]/((AV:[NALP]|AC:[LH]|PR:[NLH]|UI:[NR]|S:[UC]|[CIA]:[NLH]|E:[XUPFH]|RL:[XOTWU]|RC:[XURC]|[CIA]R:[XLMH]|MAV:[XNALP]|MAC:[XLH]|MPR:[XNLH]|MUI:[XNR]|MS:[XUC]|M[CIA]:[XNLH])/)*(AV:[NALP]|AC:[LH]|PR:[NLH]|UI:[NR]|S:[UC]|[CIA]:[NLH]|E:[XUPFH]|RL:[XOTWU]|RC:[XURC]|[CIA]R:[XLMH]|MAV:[XNALP]|MAC:[XLH]|MPR:[XNLH]|MUI:[XNR]|MS:[XUC]|M[CIA]:[XNLH])$`)
)

// WriteGitLab writes a GitLab container scanning report (security report
// schema 15.2.1, the newest GitLab validates 15.x reports against). Every
// unsuppressed finding is one vulnerability; suppressed findings are left
// out, so GitLab marks them no longer detected, as the scanner decided.
// Vulnerability ids are derived from target, package and vulnerability,
// and times come from the report, so the output is deterministic.
func WriteGitLab(w io.Writer, r *Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(gitlabOf(r)); err != nil {
		return fmt.Errorf("gitlab report: %w", err)
	}
	return nil
}

func gitlabOf(r *Report) *gitlabReport {
	tool := gitlabTool{
		ID: "drydock", Name: "drydock", URL: toolURI,
		Version: r.Tool.Version, Vendor: gitlabVendor{Name: "drydock"},
	}
	if tool.Version == "" {
		tool.Version = "unknown"
	}
	start, end := gitlabTimes(r)
	doc := &gitlabReport{
		Version: gitlabSchemaVersion,
		Schema:  gitlabSchemaURL,
		Scan: gitlabScan{
			Analyzer: tool, Scanner: tool, Type: "container_scanning",
			StartTime: start, EndTime: end, Status: "success",
		},
		Vulnerabilities: []gitlabVuln{},
		Remediations:    []struct{}{},
	}
	if !withFindings(r) {
		doc.Scan.Messages = []gitlabMessage{{Level: "warn", Value: "no vulnerability database was used: the report lists no vulnerabilities"}}
	}
	osName := "Unknown"
	if r.OS != nil {
		osName = strings.TrimSpace(r.OS.ID + " " + r.OS.VersionID)
	}
	fs := sortedFindings(r)
	for i := range fs {
		f := &fs[i]
		if f.Suppression != nil {
			continue
		}
		doc.Vulnerabilities = append(doc.Vulnerabilities, gitlabVulnOf(r, f, osName))
	}
	return doc
}

// gitlabTimes gives the scan's start and end in GitLab's zone-less UTC
// form; without scan facts, the SPDX creation time stands in.
func gitlabTimes(r *Report) (string, string) {
	var start time.Time
	var dur time.Duration
	if r.Scan != nil {
		if t, err := time.Parse(time.RFC3339Nano, r.Scan.Started); err == nil {
			start, dur = t, time.Duration(r.Scan.DurationMS)*time.Millisecond
		}
	}
	if start.IsZero() {
		start, _ = time.Parse(time.RFC3339, creationTime(r))
	}
	start = start.UTC()
	return start.Format(gitlabTimeLayout), start.Add(dur).Format(gitlabTimeLayout)
}

func gitlabSeverity(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return "Critical"
	case finding.High:
		return "High"
	case finding.Medium:
		return "Medium"
	case finding.Low:
		return "Low"
	case finding.Negligible:
		return "Info"
	}
	return "Unknown"
}

func gitlabVulnOf(r *Report, f *finding.Finding, osName string) gitlabVuln {
	name := f.Title
	if name == "" {
		name = f.ID
	}
	desc := f.Description
	if desc == "" {
		desc = f.Title
	}
	var solution string
	switch {
	case len(f.FixedVersions) > 0:
		solution = "Upgrade " + f.Package.Name + " to " + strings.Join(f.FixedVersions, " or ")
	case f.Status == finding.StatusWillNotFix:
		solution = "The distribution will not fix this vulnerability"
	default:
		solution = "No fix is available yet"
	}
	v := gitlabVuln{
		ID:          gitlabID(f),
		Name:        truncateRunes(name, gitlabNameMax),
		Description: truncateRunes(desc, gitlabDescMax),
		Severity:    gitlabSeverity(normSev(f.Severity)),
		Solution:    truncateRunes(solution, gitlabSolutionMax),
		Location: gitlabLocation{
			Dependency:      gitlabDependency{Package: gitlabPackage{Name: f.Package.Name}, Version: f.Package.Version},
			OperatingSystem: osName,
			Image:           imageName(r),
		},
	}
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		v.Identifiers = append(v.Identifiers, gitlabIdentifierOf(id))
	}
	// The preferred vector first: GitLab sorts and filters by the first.
	vectors := []gitlabVector{}
	if c := bestCVSS(f); c != nil {
		if vec := gitlabVectorOf(*c); vec != nil {
			vectors = append(vectors, *vec)
		}
	}
	for _, c := range f.CVSS {
		vec := gitlabVectorOf(c)
		if vec == nil || len(vectors) >= gitlabMaxVectors || (len(vectors) > 0 && vectors[0] == *vec) {
			continue
		}
		vectors = append(vectors, *vec)
	}
	if len(vectors) > 0 {
		v.CVSSVectors = vectors
	}
	seen := map[string]bool{}
	for _, u := range append([]string{f.PrimaryURL}, f.References...) {
		if webURL(u) && !seen[u] {
			seen[u] = true
			v.Links = append(v.Links, gitlabLink{URL: u})
		}
	}
	details := map[string]any{
		"status": gitlabText{Name: "Fix status", Type: "text", Value: statusText(f)},
		"path":   gitlabText{Name: "Found in", Type: "text", Value: locationPaths(&f.Package)},
		"purl":   gitlabText{Name: "Package URL", Type: "text", Value: f.Package.PURL},
	}
	if f.Package.Layer != "" {
		details["layer"] = gitlabText{Name: "Layer", Type: "text", Value: fmt.Sprintf("%d %s", f.Package.LayerIndex, f.Package.Layer)}
	}
	if f.KEV != nil {
		details["kev"] = gitlabText{Name: "Known exploited (CISA KEV)", Type: "text", Value: "since " + f.KEV.DateAdded}
	}
	if t := inUseText(r, f); t != "" {
		details["in_use"] = gitlabText{Name: "Runtime", Type: "text", Value: t}
	}
	v.Details = details
	return v
}

func gitlabIdentifierOf(id string) gitlabIdentifier {
	typ := "drydock"
	switch {
	case strings.HasPrefix(id, "CVE-"):
		typ = "cve"
	case strings.HasPrefix(id, "GHSA-"):
		typ = "ghsa"
	case strings.HasPrefix(id, "GO-"):
		typ = "go"
	case strings.HasPrefix(id, "PYSEC-"):
		typ = "pysec"
	case strings.HasPrefix(id, "RUSTSEC-"):
		typ = "rustsec"
	case strings.HasPrefix(id, "DSA-"), strings.HasPrefix(id, "DLA-"):
		typ = strings.ToLower(id[:3])
	}
	_, link := idSource(id)
	return gitlabIdentifier{Type: typ, Name: id, Value: id, URL: link}
}

// gitlabVectorOf returns the vector in the form the schema accepts (v2
// without a prefix, v3.x), nil for others (v4.0 has no place there).
func gitlabVectorOf(c finding.CVSS) *gitlabVector {
	vec := strings.TrimPrefix(c.Vector, "CVSS:2.0/")
	switch {
	case len(vec) > 128:
		return nil
	case len(vec) >= 16 && gitlabV2().MatchString(vec):
	case len(vec) >= 32 && gitlabV3().MatchString(vec):
	default:
		return nil
	}
	vendor := c.Source
	if vendor == "" {
		vendor = "unknown"
	}
	return &gitlabVector{Vendor: vendor, Vector: vec}
}

// gitlabID is a UUID-shaped id derived from target, package and
// vulnerability.
func gitlabID(f *finding.Finding) string {
	h := sha256.Sum256([]byte("gitlab\x00" + f.Target() + "\x00" + f.Package.Name + "\x00" + f.Package.Version + "\x00" + f.ID))
	b := h[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// lazyRegexp compiles expr on first use.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
