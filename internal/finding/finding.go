// Package finding is drydock's model of one vulnerability found in one
// package of a scanned image: what the matcher produces, what the policy
// (severity filter, ignore file, VEX) judges and what every report format
// writes. It is plain data, serialisable as the JSON report writes it.
package finding

import (
	"cmp"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// Severity is a qualitative rating, upper case as reports print it.
type Severity string

// Severities, from most to least severe.
const (
	Critical   Severity = "CRITICAL"
	High       Severity = "HIGH"
	Medium     Severity = "MEDIUM"
	Low        Severity = "LOW"
	Negligible Severity = "NEGLIGIBLE"
	Unknown    Severity = "UNKNOWN"
)

// All lists the severities from most to least severe.
func All() []Severity { return []Severity{Critical, High, Medium, Low, Negligible, Unknown} }

// Rank orders severities: Critical 5 … Negligible 1, Unknown 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 5
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Negligible:
		return 1
	}
	return 0
}

// ParseSeverity reads a severity word in any case ("high", "Critical",
// Debian's "unimportant" = negligible, "none" = negligible). ok is false for
// words it does not know.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return Critical, true
	case "high", "important":
		return High, true
	case "medium", "moderate":
		return Medium, true
	case "low":
		return Low, true
	case "negligible", "unimportant", "none":
		return Negligible, true
	case "unknown", "":
		return Unknown, true
	}
	return Unknown, false
}

// Fix states.
const (
	// StatusFixed: a fixed version exists (FixedVersions lists it).
	StatusFixed = "fixed"
	// StatusUnfixed: affected and no fix is published yet.
	StatusUnfixed = "unfixed"
	// StatusWillNotFix: the distribution decided not to fix it.
	StatusWillNotFix = "will-not-fix"
)

// Finding is one vulnerability in one package.
type Finding struct {
	// ID is the primary identifier: the CVE id when the record or one of
	// its aliases has one, else the record's own id.
	ID string `json:"id"`
	// Aliases are the other ids of the same vulnerability (GHSA, GO-, PYSEC-,
	// DSA…), sorted.
	Aliases []string `json:"aliases,omitempty"`
	// Records are the database records that matched ("osv/Go:GO-2024-1234").
	Records []string `json:"records"`

	Package Package `json:"package"`

	// Status is StatusFixed, StatusUnfixed or StatusWillNotFix.
	Status string `json:"status"`
	// FixedVersions are the versions that fix it for this package's line,
	// sorted in the ecosystem's order.
	FixedVersions []string `json:"fixed_versions,omitempty"`

	Severity Severity `json:"severity"`
	// SeveritySource says who rated it: "debian", "ghsa", "nvd", a CNA name,
	// or "cvss" when only a vector without a named source exists.
	SeveritySource string `json:"severity_source,omitempty"`
	// CVSS lists every vector known for the vulnerability, with its score.
	CVSS []CVSS `json:"cvss,omitempty"`

	// KEV is set when the vulnerability is in CISA's Known Exploited
	// Vulnerabilities catalogue.
	KEV *KEV `json:"kev,omitempty"`

	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	References  []string `json:"references,omitempty"`
	// PrimaryURL is the first place to read about it.
	PrimaryURL string `json:"primary_url,omitempty"`
	Published  string `json:"published,omitempty"`
	Modified   string `json:"modified,omitempty"`

	// InUse marks a finding in a package that a recorded run of the image
	// used (drydock image --runtime-events).
	InUse bool `json:"in_use,omitempty"`

	// Suppression is set when an ignore entry or a VEX statement
	// suppresses the finding. Suppressed findings stay in the report (JSON,
	// SARIF, CycloneDX mark them) but never fail the gate.
	Suppression *Suppression `json:"suppression,omitempty"`
}

// Package is the affected package as the inventory found it.
type Package struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	PURL          string `json:"purl"`
	// Path, Layer and LayerIndex are the package's primary location;
	// Locations lists all of them when there are several (see
	// inventory.Package).
	Path       string               `json:"path"`
	Layer      string               `json:"layer,omitempty"`
	LayerIndex int                  `json:"layer_index"`
	Locations  []inventory.Location `json:"locations,omitempty"`
	// Ecosystem is the database ecosystem it was matched in ("Debian:12",
	// "Go", "PyPI").
	Ecosystem string `json:"ecosystem"`
	OwnedBy   string `json:"owned_by,omitempty"`
}

// CVSS is one CVSS rating.
type CVSS struct {
	Version string  `json:"version"`
	Vector  string  `json:"vector"`
	Score   float64 `json:"score"`
	Source  string  `json:"source,omitempty"`
}

// KEV is the known-exploited entry's gist.
type KEV struct {
	DateAdded      string `json:"date_added"`
	DueDate        string `json:"due_date,omitempty"`
	RansomwareUse  string `json:"ransomware_use,omitempty"`
	RequiredAction string `json:"required_action,omitempty"`
}

// Suppression kinds.
const (
	SuppressedByIgnore = "ignore"
	SuppressedByVEX    = "vex"
)

// Suppression says why a finding does not count.
type Suppression struct {
	// Kind is SuppressedByIgnore or SuppressedByVEX.
	Kind string `json:"kind"`
	// Status is the VEX status (not_affected, fixed) for VEX suppressions.
	Status string `json:"status,omitempty"`
	// Justification is the VEX justification or the ignore entry's reason.
	Justification string `json:"justification"`
	// Statement is the VEX impact/action statement, if any.
	Statement string `json:"statement,omitempty"`
	// Source is the ignore or VEX file that suppressed it.
	Source string `json:"source"`
	// Expires is the ignore entry's expiry date (YYYY-MM-DD), if any.
	Expires string `json:"expires,omitempty"`
}

// Target names the group a finding belongs to in reports: the OS packages
// of the image, or the scope of a language package (inventory.Scope): an
// npm project, a Python environment, a binary, a Java archive.
func (f *Finding) Target() string {
	if inventory.IsOS(f.Package.Type) {
		return "os-packages"
	}
	return inventory.Scope(f.Package.Type, f.Package.Path)
}

// AllLocations returns every place the finding's package was found, the
// primary location first.
func (p *Package) AllLocations() []inventory.Location {
	if len(p.Locations) > 0 {
		return p.Locations
	}
	return []inventory.Location{{Path: p.Path, Layer: p.Layer, LayerIndex: p.LayerIndex}}
}

// Compare is the deterministic finding order every report uses: by
// target, package, version, path, then severity (most severe first) and id.
func Compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(targetRank(a), targetRank(b)),
		cmp.Compare(a.Target(), b.Target()),
		cmp.Compare(a.Package.Name, b.Package.Name),
		cmp.Compare(a.Package.Version, b.Package.Version),
		cmp.Compare(a.Package.Path, b.Package.Path),
		cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
		cmp.Compare(a.ID, b.ID),
	)
}

func targetRank(f Finding) int {
	if inventory.IsOS(f.Package.Type) {
		return 0
	}
	return 1
}
