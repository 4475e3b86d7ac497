// Package kev parses CISA's Known Exploited Vulnerabilities catalogue
// (known_exploited_vulnerabilities.json).
//
// The shape is checked loosely: a "vulnerabilities" array is required, and
// each entry needs a well-formed cveID and a dateAdded date; other fields
// are kept as strings whatever they say, and fields the catalogue may add
// are ignored.
package kev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid KEV catalogue")

// MaxFileSize caps the catalogue (the 2025 catalogue is 1.3 MB).
const MaxFileSize = 128 << 20

// Catalog is a parsed catalogue.
type Catalog struct {
	Title          string
	CatalogVersion string
	DateReleased   string
	Entries        []vulndb.KEV // sorted by CVE id
}

// Parse reads a catalogue. A CVE listed twice keeps its first entry.
func Parse(r io.Reader) (Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return Catalog{}, err
	}
	if len(data) > MaxFileSize {
		return Catalog{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	var raw struct {
		Title           string             `json:"title"`
		CatalogVersion  string             `json:"catalogVersion"`
		DateReleased    string             `json:"dateReleased"`
		Vulnerabilities *[]json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Catalog{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if raw.Vulnerabilities == nil {
		return Catalog{}, fmt.Errorf("%w: no vulnerabilities array", ErrInvalid)
	}
	c := Catalog{Title: raw.Title, CatalogVersion: raw.CatalogVersion, DateReleased: raw.DateReleased}
	seen := map[string]bool{}
	for i, v := range *raw.Vulnerabilities {
		var e vulndb.KEV
		if err := json.Unmarshal(v, &e); err != nil {
			return Catalog{}, fmt.Errorf("%w: vulnerabilities[%d]: %w", ErrInvalid, i, err)
		}
		if !vulndb.ValidCVE(e.CVE) {
			return Catalog{}, fmt.Errorf("%w: vulnerabilities[%d]: cveID %q", ErrInvalid, i, e.CVE)
		}
		if _, err := time.Parse(time.DateOnly, e.DateAdded); err != nil {
			return Catalog{}, fmt.Errorf("%w: %s: dateAdded %q", ErrInvalid, e.CVE, e.DateAdded)
		}
		if seen[e.CVE] {
			continue
		}
		seen[e.CVE] = true
		c.Entries = append(c.Entries, e)
	}
	slices.SortFunc(c.Entries, func(a, b vulndb.KEV) int { return strings.Compare(a.CVE, b.CVE) })
	return c, nil
}
