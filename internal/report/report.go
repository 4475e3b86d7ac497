// Package report turns a scan's outcome into documents: every format is a
// pure function of a Report, so the same image and database always give
// the same bytes.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// SchemaVersion identifies the JSON report schema (docs/json-report.md).
const SchemaVersion = "drydock.report/v1"

// Report is the document every format is written from.
type Report struct {
	SchemaVersion string        `json:"schema_version"`
	Tool          Tool          `json:"tool"`
	Target        Target        `json:"target"`
	OS            *inventory.OS `json:"os,omitempty"`
	// Packages found, in the deterministic inventory order, without the
	// OS packages' file lists.
	Packages []inventory.Package `json:"packages"`
	// Vulnerabilities are the findings, in finding.Compare order, including
	// suppressed ones (marked). Nil when no database was used.
	Vulnerabilities []finding.Finding `json:"vulnerabilities,omitempty"`
	// Scanners lists what the scan looked for beyond the inventory
	// ("vuln", "secret", "config", "license"); the kinds below are nil
	// when their scanner did not run.
	Scanners []string `json:"scanners,omitempty"`
	// Secrets, Misconfigurations and Licenses are the other kinds of
	// findings, suppressed ones included, each in its deterministic order.
	Secrets           []finding.Secret           `json:"secrets,omitempty"`
	Misconfigurations []finding.Misconfiguration `json:"misconfigurations,omitempty"`
	Licenses          []finding.License          `json:"licenses,omitempty"`
	// LicenseSummary counts packages per licence.
	LicenseSummary []LicenseCount `json:"license_summary,omitempty"`
	// Compliance is the compliance report asked for (--compliance).
	Compliance *Compliance `json:"compliance,omitempty"`
	// Policy is the outcome of the policy file's rules.
	Policy *PolicyResult `json:"policy,omitempty"`
	// Database describes the vulnerability database the scan used.
	Database *Database `json:"database,omitempty"`
	// Scan holds when and how long the scan ran.
	Scan *Scan `json:"scan,omitempty"`
	// Gate is the verdict's rule, when one was given (--fail-on).
	Gate *Gate `json:"gate,omitempty"`
	// Runtime is what a recorded run showed to be in use, when one was
	// applied (--runtime-events).
	Runtime *Runtime `json:"runtime,omitempty"`
	// LayerStats is the layer analysis the HTML report shows, when the
	// caller made one; other formats leave it out.
	LayerStats *LayerStats `json:"-"`
}

// Database describes the vulnerability database used for a scan.
type Database struct {
	SchemaVersion int `json:"schema_version"`
	// Built is when the database file was first built, Updated when a feed
	// last changed it (RFC 3339, UTC). Updated keeps its fraction of a
	// second: it names the database's version.
	Built   string `json:"built,omitempty"`
	Updated string `json:"updated,omitempty"`
	// AgeHours is how old Updated was when the scan started.
	AgeHours int            `json:"age_hours"`
	Feeds    []DatabaseFeed `json:"feeds,omitempty"`
	// Unchecked lists the ecosystems of the image's packages the database
	// holds no data for: those packages were not checked (not "clean").
	Unchecked []Unchecked `json:"unchecked,omitempty"`
}

// Unchecked counts an ecosystem's packages that could not be checked.
type Unchecked struct {
	Ecosystem string `json:"ecosystem"`
	Packages  int    `json:"packages"`
}

// DatabaseFeed is one feed's state in the database. Records counts its
// vulnerability records, or for enrichment feeds (KEV, NVD) its entries.
type DatabaseFeed struct {
	Name    string `json:"name"`
	Updated string `json:"updated,omitempty"`
	Records int    `json:"records"`
}

// Scan describes the scan run itself. With SOURCE_DATE_EPOCH set, Started
// is that time and DurationMS is 0, so reports are reproducible.
type Scan struct {
	Started    string `json:"started"`
	DurationMS int64  `json:"duration_ms"`
	// Cache counts the layers the layer cache supplied; nil when the scan
	// used no cache.
	Cache *CacheStats `json:"cache,omitempty"`
}

// CacheStats count a scan's layers by where their analysis came from:
// Hits from the layer cache, Misses read and analysed now.
type CacheStats struct {
	Hits   int `json:"hits"`
	Misses int `json:"misses"`
}

// Layer is one layer of the scanned image as reports describe it.
type Layer struct {
	inventory.Layer
	// Cached is set when the layer's analysis came from the layer cache
	// instead of reading the layer.
	Cached bool `json:"cached,omitempty"`
}

// Gate is the rule that decides the exit code: a finding at or above
// FailOn that is not suppressed fails the scan.
type Gate struct {
	FailOn finding.Severity `json:"fail_on"`
	// Failed reports the verdict; Failing counts the findings that broke it.
	Failed  bool `json:"failed"`
	Failing int  `json:"failing"`
}

// Fails reports whether f breaks the gate g (false for a nil gate).
// FailOn UNKNOWN fails on every unsuppressed finding.
func (g *Gate) Fails(f *finding.Finding) bool {
	return g.FailsAt(f.Severity, f.Suppression)
}

// FailsAt reports whether a finding of any kind with severity sev and
// suppression sup breaks the gate g (false for a nil gate).
func (g *Gate) FailsAt(sev finding.Severity, sup *finding.Suppression) bool {
	if g == nil || sup != nil {
		return false
	}
	return sev.Rank() >= g.FailOn.Rank()
}

// Tool names the scanner.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Target describes what was scanned.
type Target struct {
	// Ref is the target as the user gave it; Kind the source kind.
	Ref  string `json:"ref"`
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	// ManifestDigest is the image manifest's digest (registry, OCI layout).
	ManifestDigest string `json:"manifest_digest,omitempty"`
	IndexDigest    string `json:"index_digest,omitempty"`
	// ConfigDigest is the image ID.
	ConfigDigest string `json:"config_digest,omitempty"`
	Platform     string `json:"platform,omitempty"`
	// Created is the image's creation time as its config records it.
	Created string  `json:"created,omitempty"`
	Layers  []Layer `json:"layers,omitempty"`
}

// New builds a report from an inventory.
func New(tool Tool, target Target, inv *inventory.Inventory) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Tool: tool, Target: target, OS: inv.OS}
	for _, l := range inv.Layers {
		r.Target.Layers = append(r.Target.Layers, Layer{Layer: l})
	}
	r.Packages = make([]inventory.Package, len(inv.Packages))
	for i, p := range inv.Packages {
		p.Files = nil
		r.Packages[i] = p
	}
	slices.SortStableFunc(r.Packages, inventory.ComparePackages)
	return r
}

// Options adjusts how a format is written; formats ignore what does not
// concern them.
type Options struct {
	// Color enables ANSI colour (table on a terminal without NO_COLOR).
	Color bool
	// Width is the terminal width for wrapping (0: 120).
	Width int
	// Template is the Go text/template text for the template format.
	Template string
}

// Writer writes one format.
type Writer func(w io.Writer, r *Report, o Options) error

// Format is one output format.
type Format struct {
	Name        string
	Description string
	Write       Writer
}

// Formats is the explicit list of output formats.
func Formats() []Format {
	return []Format{
		{Name: "table", Description: "human-readable table", Write: WriteTable},
		{Name: "json", Description: "drydock JSON report (docs/json-report.md)", Write: WriteJSON},
		{Name: "sarif", Description: "SARIF 2.1.0 (GitHub code scanning)", Write: WriteSARIF},
		{Name: "cyclonedx", Description: "CycloneDX 1.6 JSON SBOM with vulnerabilities", Write: WriteCycloneDX},
		{Name: "cyclonedx-vex", Description: "CycloneDX 1.6 JSON VEX: vulnerabilities only, linked to the SBOM", Write: WriteCycloneDXVEX},
		{Name: "spdx-json", Description: "SPDX 2.3 JSON SBOM", Write: WriteSPDX},
		{Name: "csv", Description: "CSV, one row per finding (per package without a database)", Write: WriteCSV},
		{Name: "html", Description: "self-contained HTML page", Write: WriteHTML},
		{Name: "junit", Description: "JUnit XML, one test case per finding", Write: WriteJUnit},
		{Name: "gitlab", Description: "GitLab container scanning report (schema 15.2.1)", Write: WriteGitLab},
		{Name: "template", Description: "Go text/template given with --template", Write: WriteTemplate},
	}
}

// Lookup finds a format by name.
func Lookup(name string) (Format, error) {
	var names []string
	for _, f := range Formats() {
		if f.Name == name {
			return f, nil
		}
		names = append(names, f.Name)
	}
	return Format{}, fmt.Errorf("unknown output format %q (have: %s)", name, strings.Join(names, ", "))
}
