// Package report turns a scan's outcome into documents: every format is a
// pure function of a Report, so the same image and database always give
// the same bytes.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

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
	Created string            `json:"created,omitempty"`
	Layers  []inventory.Layer `json:"layers,omitempty"`
}

// New builds a report from an inventory.
func New(tool Tool, target Target, inv *inventory.Inventory) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Tool: tool, Target: target, OS: inv.OS}
	r.Target.Layers = inv.Layers
	r.Packages = make([]inventory.Package, len(inv.Packages))
	for i, p := range inv.Packages {
		p.Files = nil
		r.Packages[i] = p
	}
	slices.SortStableFunc(r.Packages, inventory.ComparePackages)
	return r
}

// Writer writes one format.
type Writer func(w io.Writer, r *Report) error

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
		{Name: "cyclonedx", Description: "CycloneDX 1.6 JSON SBOM", Write: WriteCycloneDX},
		{Name: "spdx-json", Description: "SPDX 2.3 JSON SBOM", Write: WriteSPDX},
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
