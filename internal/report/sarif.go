package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
)

// SARIF constants.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	toolURI      = "https://github.com/drydockscan/drydock"
	// GitHub code scanning shows at most 1024 characters of a rule's
	// short and full description.
	sarifDescMax = 1024
	// sarifFingerprint is the partialFingerprints key of a result.
	sarifFingerprint = "drydockFinding/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
	Properties  *sarifRunProps    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifRunProps struct {
	Image          string `json:"image"`
	ManifestDigest string `json:"manifestDigest,omitempty"`
	ConfigDigest   string `json:"configDigest,omitempty"`
	Platform       string `json:"platform,omitempty"`
	OS             string `json:"os,omitempty"`
	DBUpdated      string `json:"databaseUpdated,omitempty"`
	// RuntimeEvents names the recorded run applied (--runtime-events).
	RuntimeEvents string `json:"runtimeEvents,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifHelp      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	Precision        string   `json:"precision"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          sarifResultProps   `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification"`
}

type sarifResultProps struct {
	PURL             string   `json:"purl,omitempty"`
	InstalledVersion string   `json:"installedVersion,omitempty"`
	FixedVersions    []string `json:"fixedVersions,omitempty"`
	Status           string   `json:"status,omitempty"`
	Severity         string   `json:"severity"`
	LayerDiffID      string   `json:"layerDiffId,omitempty"`
	KEV              bool     `json:"kev,omitempty"`
	// Kind and Extra describe findings other than vulnerabilities.
	Kind  string            `json:"kind,omitempty"`
	Extra map[string]string `json:"drydock,omitempty"`
	// InUse: a recorded run used the package (--runtime-events).
	InUse bool `json:"inUse,omitempty"`
}

// WriteSARIF writes a SARIF 2.1.0 log for GitHub code scanning (and any
// SARIF consumer). Every vulnerability id is one rule (short description:
// the title; help: the affected packages with their fixed versions and a
// link; properties.security-severity: the CVSS score as GitHub expects
// it); every finding is one result located at the file in the image that
// declares the package (the dpkg status file, the lock file, the binary),
// as a path relative to the image root. Suppressed findings carry an
// accepted external suppression with the reason.
func WriteSARIF(w io.Writer, r *Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sarifOf(r)); err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	return nil
}

func sarifOf(r *Report) *sarifLog {
	fs := sortedFindings(r)
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: r.Tool.Name, Version: r.Tool.Version, InformationURI: toolURI, Rules: []sarifRule{},
		}},
		Results: []sarifResult{},
		Properties: &sarifRunProps{
			Image: imageName(r), ManifestDigest: r.Target.ManifestDigest, ConfigDigest: r.Target.ConfigDigest,
			Platform: r.Target.Platform,
		},
	}
	if run.Tool.Driver.Name == "" {
		run.Tool.Driver.Name = "drydock"
	}
	if r.OS != nil {
		run.Properties.OS = osString(r)
	}
	if r.Database != nil {
		run.Properties.DBUpdated = rfc3339(r.Database.Updated)
	}
	if r.Runtime != nil {
		run.Properties.RuntimeEvents = r.Runtime.Events
	}
	if r.Scan != nil {
		if start := rfc3339(r.Scan.Started); start != "" {
			t, _ := time.Parse(time.RFC3339, start)
			run.Invocations = []sarifInvocation{{
				ExecutionSuccessful: true,
				StartTimeUTC:        start,
				EndTimeUTC:          t.Add(time.Duration(r.Scan.DurationMS) * time.Millisecond).UTC().Format(time.RFC3339),
			}}
		}
	}

	// One rule per id, in order of first appearance; the rule speaks for
	// the most severe of its findings.
	ruleIndex := map[string]int{}
	var ruleFindings [][]*finding.Finding
	for i := range fs {
		f := &fs[i]
		idx, ok := ruleIndex[f.ID]
		if !ok {
			idx = len(ruleFindings)
			ruleIndex[f.ID] = idx
			ruleFindings = append(ruleFindings, nil)
		}
		ruleFindings[idx] = append(ruleFindings[idx], f)
	}
	for _, group := range ruleFindings {
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(group))
	}
	for i := range fs {
		run.Results = append(run.Results, sarifResultOf(&fs[i], ruleIndex[fs[i].ID]))
	}
	sarifKinds(&run, r)
	return &sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
}

func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "note"
}

func sarifRuleOf(group []*finding.Finding) sarifRule {
	top := group[0]
	for _, f := range group[1:] {
		if f.Severity.Rank() > top.Severity.Rank() {
			top = f
		}
	}
	sev := normSev(top.Severity)
	short := top.Title
	if short == "" {
		short = top.ID
	}
	full := top.Description
	if full == "" {
		full = short
	}
	link := findingURL(top)

	var text, md strings.Builder
	fmt.Fprintf(&text, "Vulnerability %s\nSeverity: %s", top.ID, sev)
	fmt.Fprintf(&md, "**Vulnerability %s**\n\n", mdEscape(top.ID))
	if top.SeveritySource != "" {
		fmt.Fprintf(&text, " (%s)", top.SeveritySource)
	}
	text.WriteString("\n")
	if top.KEV != nil {
		fmt.Fprintf(&text, "Known exploited (CISA KEV) since %s\n", top.KEV.DateAdded)
	}
	md.WriteString("| Package | Installed | Severity | Fixed version |\n| --- | --- | --- | --- |\n")
	for _, f := range group {
		fmt.Fprintf(&text, "Package: %s %s, %s\n", f.Package.Name, f.Package.Version, statusText(f))
		fixed := strings.Join(f.FixedVersions, ", ")
		if fixed == "" {
			fixed = statusText(f)
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s |\n", mdEscape(f.Package.Name), mdEscape(f.Package.Version), normSev(f.Severity), mdEscape(fixed))
	}
	if top.Description != "" {
		fmt.Fprintf(&text, "%s\n", top.Description)
		fmt.Fprintf(&md, "\n%s\n", mdEscapeText(top.Description))
	}
	if top.KEV != nil {
		fmt.Fprintf(&md, "\nListed in CISA's Known Exploited Vulnerabilities catalogue since %s.\n", mdEscape(top.KEV.DateAdded))
	}
	fmt.Fprintf(&text, "Link: %s", link)
	fmt.Fprintf(&md, "\n[%s](%s)\n", mdEscape(top.ID), link)

	tags := []string{"vulnerability", "security", strings.ToLower(string(sev))}
	if top.KEV != nil {
		tags = append(tags, "kev")
	}
	return sarifRule{
		ID:                   top.ID,
		ShortDescription:     sarifText{Text: truncateRunes(short, sarifDescMax)},
		FullDescription:      sarifText{Text: truncateRunes(full, sarifDescMax)},
		HelpURI:              link,
		Help:                 sarifHelp{Text: text.String(), Markdown: md.String()},
		DefaultConfiguration: sarifConfig{Level: sarifLevel(sev)},
		Properties:           sarifRuleProps{Tags: tags, Precision: "very-high", SecuritySeverity: securitySeverity(top)},
	}
}

func sarifResultOf(f *finding.Finding, rule int) sarifResult {
	sev := normSev(f.Severity)
	msg := fmt.Sprintf("Package %s %s is affected by %s (%s); %s.", f.Package.Name, f.Package.Version, f.ID, sev, statusText(f))
	if f.Title != "" {
		msg += " " + f.Title
	}
	// One location per place the package was found, the primary one
	// first (GitHub shows the first).
	var locs []sarifLocation
	for _, l := range f.Package.AllLocations() {
		locs = append(locs, sarifLocation{
			PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: imageURI(l.Path)},
				Region:           sarifRegion{StartLine: 1},
			},
			LogicalLocations: []sarifLogical{{Name: f.Package.Name, FullyQualifiedName: f.Package.PURL, Kind: "package"}},
		})
	}
	res := sarifResult{
		RuleID:              f.ID,
		RuleIndex:           rule,
		Level:               sarifLevel(sev),
		Message:             sarifText{Text: msg},
		Locations:           locs,
		PartialFingerprints: map[string]string{sarifFingerprint: findingFingerprint(f)},
		Properties: sarifResultProps{
			PURL: f.Package.PURL, InstalledVersion: f.Package.Version, FixedVersions: f.FixedVersions,
			Status: f.Status, Severity: string(sev), LayerDiffID: f.Package.Layer, KEV: f.KEV != nil, InUse: f.InUse,
		},
	}
	if s := f.Suppression; s != nil {
		res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: suppressionText(s)}}
	}
	return res
}

// imageURI turns an absolute path in the image into a relative URI
// reference (GitHub resolves it against the repository root), escaping
// what a URI cannot carry.
func imageURI(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	u := url.URL{Path: p}
	esc := u.EscapedPath()
	if seg, _, _ := strings.Cut(esc, "/"); strings.Contains(seg, ":") {
		// "a:b/c" would read as a URI with scheme "a".
		esc = "./" + esc
	}
	return esc
}

// findingFingerprint identifies a finding across scans: target, package
// and vulnerability, not the image digest, so the alert of a rebuilt image
// stays the same alert.
func findingFingerprint(f *finding.Finding) string {
	h := sha256.Sum256([]byte(f.Target() + "\x00" + f.Package.Name + "\x00" + f.Package.Version + "\x00" + f.ID))
	return hex.EncodeToString(h[:16])
}

// mdEscape escapes the characters Markdown would read as markup or table
// structure in text from the database or the image, and makes it one line.
func mdEscape(s string) string {
	return strings.Join(strings.Fields(mdEscapeText(s)), " ")
}

// mdEscapeText is mdEscape keeping line breaks (paragraphs).
func mdEscapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
