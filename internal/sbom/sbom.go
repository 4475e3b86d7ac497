// Package sbom reads software bills of materials — CycloneDX (JSON, XML),
// SPDX (JSON, tag-value) and drydock's JSON report — into an inventory
// that drydock matches like an image's: purls are turned back into
// ecosystems, the distribution is taken from the document's operating
// system component or its purls' distro qualifier. SBOMs are untrusted
// input: sizes and counts are capped and every error names the document.
package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// Formats drydock reads.
const (
	FormatCycloneDXJSON = "cyclonedx-json"
	FormatCycloneDXXML  = "cyclonedx-xml"
	FormatSPDXJSON      = "spdx-json"
	FormatSPDXTagValue  = "spdx-tag-value"
	FormatDrydock       = "drydock-json"
)

// Caps on one document.
const (
	MaxSize     = 256 << 20
	MaxPackages = 1 << 20
	maxDepth    = 32 // nested CycloneDX components
)

// ErrFormat marks a document drydock cannot read.
var ErrFormat = errors.New("not a supported SBOM")

// Document is an SBOM read into an inventory.
type Document struct {
	Format string
	// Name is what the document describes (its subject's name), when it
	// says.
	Name string
	// Digest is the subject's manifest digest, when the document has it.
	Digest    string
	Inventory inventory.Inventory
	// Skipped counts components that name no package drydock can match
	// (no purl, or a purl of an unknown type), by reason.
	Skipped map[string]int
}

func (d *Document) skip(reason string) {
	if d.Skipped == nil {
		d.Skipped = map[string]int{}
	}
	d.Skipped[reason]++
}

// ReadFile reads the SBOM at path.
func ReadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Read reads an SBOM of any supported format, detected from its content.
func Read(r io.Reader) (doc *Document, err error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	format, err := Detect(b)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The format libraries are not written for hostile input.
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("%s: malformed document: %v", format, p)
		}
	}()
	switch format {
	case FormatCycloneDXJSON, FormatCycloneDXXML:
		doc, err = readCycloneDX(b, format)
	case FormatSPDXJSON, FormatSPDXTagValue:
		doc, err = readSPDX(b, format)
	case FormatDrydock:
		doc, err = readDrydock(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	doc.Format = format
	if len(doc.Inventory.Packages) > MaxPackages {
		return nil, fmt.Errorf("%s: more than %d packages", format, MaxPackages)
	}
	if doc.Inventory.Packages == nil {
		doc.Inventory.Packages = []inventory.Package{}
	}
	doc.Inventory.Sort()
	return doc, nil
}

// Detect names the format of b.
func Detect(b []byte) (string, error) {
	t := bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	switch {
	case len(t) == 0:
		return "", fmt.Errorf("%w: empty document", ErrFormat)
	case t[0] == '<':
		head := t[:min(len(t), 4096)]
		if bytes.Contains(head, []byte("cyclonedx.org/schema/bom")) || bytes.Contains(head, []byte("<bom ")) || bytes.Contains(head, []byte("<bom>")) {
			return FormatCycloneDXXML, nil
		}
		return "", fmt.Errorf("%w: XML, but not a CycloneDX BOM", ErrFormat)
	case t[0] == '{':
		var probe struct {
			BOMFormat     string          `json:"bomFormat"`
			SPDXVersion   string          `json:"spdxVersion"`
			SchemaVersion string          `json:"schema_version"`
			Tool          json.RawMessage `json:"tool"`
		}
		if err := json.Unmarshal(t, &probe); err != nil {
			return "", fmt.Errorf("%w: invalid JSON: %v", ErrFormat, err)
		}
		switch {
		case probe.BOMFormat == "CycloneDX":
			return FormatCycloneDXJSON, nil
		case strings.HasPrefix(probe.SPDXVersion, "SPDX-"):
			return FormatSPDXJSON, nil
		case strings.HasPrefix(probe.SchemaVersion, "drydock.report/"):
			return FormatDrydock, nil
		}
		return "", fmt.Errorf("%w: JSON, but neither CycloneDX (bomFormat), SPDX (spdxVersion) nor a drydock report (schema_version)", ErrFormat)
	case bytes.Contains(t[:min(len(t), 64<<10)], []byte("SPDXVersion:")):
		return FormatSPDXTagValue, nil
	}
	return "", fmt.Errorf("%w: neither JSON, CycloneDX XML nor SPDX tag-value", ErrFormat)
}
