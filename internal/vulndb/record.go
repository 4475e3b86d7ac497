// Package vulndb holds drydock's vulnerability record model: one shape, close
// to OSV 1.6, into which every feed (OSV archives, distribution trackers,
// secdb files, CVE enrichment, KEV) is normalised. The store, the feeds and
// the updater live in sub-packages; the matcher reads records through the
// store.
package vulndb

import (
	"encoding/json"
	"time"
)

// Record is one advisory as drydock keeps it. Field names and JSON tags follow
// OSV 1.6 where OSV has the concept; distribution-only facts live in
// Affected.Status and Affected.Severity.
type Record struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Upstream  []string   `json:"upstream,omitempty"`
	Related   []string   `json:"related,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	Published time.Time  `json:"published,omitzero"`
	Modified  time.Time  `json:"modified,omitzero"`
	// Withdrawn is set when the source retracted the record; withdrawn
	// records are kept (so an update can replace them) but never match.
	Withdrawn  time.Time   `json:"withdrawn,omitzero"`
	References []Reference `json:"references,omitempty"`
	// DatabaseSpecific is the source's own record-level data, kept as the
	// source wrote it (OSV database_specific).
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
	// Feed names the feed that produced the record ("osv/Go", "debian-tracker", …).
	Feed string `json:"feed"`
}

// Severity is one rating of a record, as a CVSS vector (Type CVSS_V2,
// CVSS_V3, CVSS_V4) or a qualitative vendor rating (Type "vendor": Score is
// the word, e.g. "high"). Source says who rated it ("nvd", "ghsa",
// "debian", the CNA's name…).
type Severity struct {
	Type   string `json:"type"`
	Score  string `json:"score"`
	Source string `json:"source,omitempty"`
}

// Severity types.
const (
	CVSSv2 = "CVSS_V2"
	CVSSv3 = "CVSS_V3"
	CVSSv4 = "CVSS_V4"
	// Vendor is a distribution's or vendor's own word (low, medium, high,
	// critical, unimportant, "not yet assigned").
	Vendor = "vendor"
)

// Affected is one package a record affects, with the versions affected.
type Affected struct {
	Package  Package  `json:"package"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
	// Status is the distribution's verdict for this package in this release
	// (Status* constants); empty means "derive from ranges" (OSV semantics).
	Status string `json:"status,omitempty"`
	// Severity is a distribution's own rating of this package's exposure
	// (the Debian tracker's urgency, for instance).
	Severity []Severity `json:"severity,omitempty"`
	// Note carries free text the source attaches (no-dsa reason, …).
	Note string `json:"note,omitempty"`
	// EcosystemSpecific and DatabaseSpecific are OSV's per-package
	// extension objects (Go's affected imports and symbols, a
	// distribution's fixed-in suite…), kept as the source wrote them.
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package identifies a package in an ecosystem. Ecosystem uses OSV's names
// ("Go", "PyPI", "npm", "Maven", "crates.io", "RubyGems", "Packagist",
// "NuGet", "Debian:12", "Alpine:v3.19", "Ubuntu:22.04", "Red Hat", …).
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is an OSV range: ordered events in one version scheme.
type Range struct {
	Type   string  `json:"type"` // ECOSYSTEM, SEMVER or GIT
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Range types.
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemver    = "SEMVER"
	RangeGit       = "GIT"
)

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link with OSV's reference type.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Distribution statuses for Affected.Status.
const (
	StatusFixed       = "fixed"        // fixed in a version (the range's fixed event)
	StatusUnfixed     = "unfixed"      // affected, no fix available yet
	StatusWillNotFix  = "will-not-fix" // the distribution decided not to fix
	StatusNotAffected = "not-affected" // the release's package is not affected
	StatusEndOfLife   = "end-of-life"  // the release is no longer supported
)
