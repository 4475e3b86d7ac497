package finding

import "cmp"

// Kinds of findings. Every kind goes through the same policy (severity
// filter, ignore file, gate) and into every report.
const (
	KindVulnerability    = "vulnerability"
	KindSecret           = "secret"
	KindMisconfiguration = "misconfiguration"
	KindLicense          = "license"
)

// Secret is a secret found in a file of a layer. The secret itself is
// never kept: Match is redacted and Fingerprint identifies it without
// revealing it.
type Secret struct {
	// ID is the rule that found it ("aws-access-key-id").
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Path is the file, absolute in the image.
	Path string `json:"path"`
	// Line is the 1-based line of the match.
	Line int `json:"line,omitempty"`
	// LayerIndex is the layer whose bytes hold the secret; Layer its diffID.
	LayerIndex int    `json:"layer_index"`
	Layer      string `json:"layer,omitempty"`
	// RemovedInLayerIndex is the layer that deleted or replaced the file;
	// nil when the file is still present in the final file system. A
	// removed secret is still shipped in the image.
	RemovedInLayerIndex *int `json:"removed_in_layer_index"`
	// Match is the redacted match: a few leading characters and "…".
	Match string `json:"match"`
	// Fingerprint is a truncated SHA-256 of the secret, to recognise the
	// same secret elsewhere without revealing it.
	Fingerprint string       `json:"fingerprint"`
	Suppression *Suppression `json:"suppression,omitempty"`
}

// Misconfiguration is a failed check of the image configuration, its
// history, its final file system or a Dockerfile.
type Misconfiguration struct {
	// ID is the check ("root-user").
	ID          string   `json:"id"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	// CIS is the CIS Docker Benchmark v1.6.0 control the check evidences
	// ("4.1"), when one applies.
	CIS string `json:"cis,omitempty"`
	// Source says what was checked: "config", "history", "file" or
	// "dockerfile".
	Source string `json:"source"`
	// Path is the file concerned (a file check, a Dockerfile), absolute in
	// the image for file checks.
	Path string `json:"path,omitempty"`
	// Line is the Dockerfile line, when the source is a Dockerfile.
	Line int `json:"line,omitempty"`
	// LayerIndex is the layer concerned (file and history checks).
	LayerIndex *int `json:"layer_index,omitempty"`
	// Evidence is what was seen, with any secret redacted.
	Evidence    string       `json:"evidence"`
	Remediation string       `json:"remediation"`
	Suppression *Suppression `json:"suppression,omitempty"`
}

// License is one licence of one package, with its category under the
// licence policy.
type License struct {
	// ID is the rule: "license-" + category ("license-forbidden"), or
	// "license-denied" for a licence --license-deny names.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// License is the SPDX id or expression ("GPL-2.0-or-later"), or the
	// text as declared when it could not be normalised.
	License string `json:"license"`
	// Declared is the licence as the package declared it.
	Declared string `json:"declared,omitempty"`
	// Category is forbidden, restricted, reciprocal, notice, permissive,
	// unencumbered or unknown.
	Category    string       `json:"category"`
	Package     Package      `json:"package"`
	Suppression *Suppression `json:"suppression,omitempty"`
}

// CompareSecrets is the deterministic secret order: path, layer, line, id.
func CompareSecrets(a, b Secret) int {
	return cmp.Or(
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.LayerIndex, b.LayerIndex),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(a.Fingerprint, b.Fingerprint),
	)
}

// CompareMisconfigurations orders by source, id, path, line, evidence.
func CompareMisconfigurations(a, b Misconfiguration) int {
	return cmp.Or(
		cmp.Compare(sourceRank(a.Source), sourceRank(b.Source)),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Evidence, b.Evidence),
	)
}

func sourceRank(s string) int {
	switch s {
	case "config":
		return 0
	case "history":
		return 1
	case "file":
		return 2
	}
	return 3
}

// CompareLicenses orders by severity (most severe first), package, licence.
func CompareLicenses(a, b License) int {
	return cmp.Or(
		cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
		cmp.Compare(a.Package.Type, b.Package.Type),
		cmp.Compare(a.Package.Name, b.Package.Name),
		cmp.Compare(a.Package.Version, b.Package.Version),
		cmp.Compare(a.Package.Path, b.Package.Path),
		cmp.Compare(a.License, b.License),
	)
}
