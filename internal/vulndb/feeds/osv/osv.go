// Package osv parses OSV vulnerability records (schema 1.x) into drydock's
// record model: single JSON records, the per-ecosystem all.zip archives of
// the OSV bucket, and the bucket's modified_id.csv index.
//
// The parser is generic: every ecosystem OSV knows (Go, npm, PyPI, Maven,
// crates.io, RubyGems, Packagist, NuGet, Debian, Ubuntu, Alpine, Wolfi,
// Chainguard, Red Hat, AlmaLinux, Rocky Linux, SUSE, openSUSE, …) is read the
// same way and ecosystem strings are kept as the record gives them.
// Severity vectors keep their OSV type with source "osv:<prefix of the
// record id>" ("osv:GHSA", "osv:RUSTSEC"); GitHub's own rating
// (database_specific.severity of GHSA records) becomes a vendor rating with
// source "ghsa"; Ubuntu's priority (severity type "Ubuntu") a vendor rating
// with source "ubuntu". Withdrawn records are returned like any other, with
// Withdrawn set.
package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// MaxRecordSize is the default cap on one record's size.
const MaxRecordSize = 32 << 20

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid OSV data")

// record is the OSV JSON shape, as far as drydock keeps it.
type record struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []string        `json:"upstream"`
	Related          []string        `json:"related"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []severity      `json:"severity"`
	Affected         []affected      `json:"affected"`
	References       []reference     `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity          []severity      `json:"severity"`
	Ranges            []vulndb.Range  `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Parse decodes one OSV record.
func Parse(data []byte) (vulndb.Record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return vulndb.Record{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return convert(&r)
}

// Decode reads one OSV record from r, refusing more than limit bytes
// (MaxRecordSize when limit <= 0).
func Decode(r io.Reader, limit int64) (vulndb.Record, error) {
	if limit <= 0 {
		limit = MaxRecordSize
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return vulndb.Record{}, err
	}
	if int64(len(data)) > limit {
		return vulndb.Record{}, fmt.Errorf("%w: record larger than %d bytes", ErrInvalid, limit)
	}
	return Parse(data)
}

// ValidID reports whether id is usable as a record id: 1 to 256 bytes of
// letters, digits and "-_.:" (every id OSV databases publish fits; the id
// also names a file in the bucket, so no path separators).
func ValidID(id string) bool {
	if id == "" || len(id) > 256 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':':
		default:
			return false
		}
	}
	return true
}

func convert(r *record) (vulndb.Record, error) {
	if !ValidID(r.ID) {
		return vulndb.Record{}, fmt.Errorf("%w: record id %q", ErrInvalid, r.ID)
	}
	out := vulndb.Record{
		ID:               r.ID,
		Aliases:          r.Aliases,
		Upstream:         r.Upstream,
		Related:          r.Related,
		Summary:          r.Summary,
		Details:          r.Details,
		DatabaseSpecific: compact(r.DatabaseSpecific),
	}
	var err error
	if out.Modified, err = parseTime(r.Modified); err != nil {
		return vulndb.Record{}, fmt.Errorf("%w: %s: modified: %w", ErrInvalid, r.ID, err)
	}
	if out.Published, err = parseTime(r.Published); err != nil {
		return vulndb.Record{}, fmt.Errorf("%w: %s: published: %w", ErrInvalid, r.ID, err)
	}
	if out.Withdrawn, err = parseTime(r.Withdrawn); err != nil {
		return vulndb.Record{}, fmt.Errorf("%w: %s: withdrawn: %w", ErrInvalid, r.ID, err)
	}
	source := "osv:" + idPrefix(r.ID)
	out.Severity = severities(r.Severity, source)
	if s := ghsaSeverity(r.ID, r.DatabaseSpecific); s != "" {
		out.Severity = append(out.Severity, vulndb.Severity{Type: vulndb.Vendor, Score: s, Source: "ghsa"})
	}
	for i := range r.Affected {
		a := &r.Affected[i]
		out.Affected = append(out.Affected, vulndb.Affected{
			Package: vulndb.Package{
				Ecosystem: a.Package.Ecosystem,
				Name:      a.Package.Name,
				PURL:      a.Package.PURL,
			},
			Ranges:            a.Ranges,
			Versions:          a.Versions,
			Severity:          severities(a.Severity, source),
			EcosystemSpecific: compact(a.EcosystemSpecific),
			DatabaseSpecific:  compact(a.DatabaseSpecific),
		})
	}
	for _, ref := range r.References {
		out.References = append(out.References, vulndb.Reference(ref))
	}
	return out, nil
}

// idPrefix returns the database prefix of an OSV id: "GHSA" for
// "GHSA-xxxx-…", "DEBIAN" for "DEBIAN-CVE-…".
func idPrefix(id string) string {
	p, _, _ := strings.Cut(id, "-")
	return p
}

func severities(in []severity, source string) []vulndb.Severity {
	var out []vulndb.Severity
	for _, s := range in {
		if s.Score == "" {
			continue
		}
		switch s.Type {
		case "Ubuntu":
			out = append(out, vulndb.Severity{Type: vulndb.Vendor, Score: strings.ToLower(s.Score), Source: "ubuntu"})
		default:
			out = append(out, vulndb.Severity{Type: s.Type, Score: s.Score, Source: source})
		}
	}
	return out
}

// ghsaSeverity returns GitHub's rating of a GHSA record (lower case), from
// database_specific.severity.
func ghsaSeverity(id string, ds json.RawMessage) string {
	if len(ds) == 0 {
		return ""
	}
	var v struct {
		Severity       any   `json:"severity"`
		GitHubReviewed *bool `json:"github_reviewed"`
	}
	if json.Unmarshal(ds, &v) != nil {
		return ""
	}
	s, ok := v.Severity.(string)
	if !ok || s == "" {
		return ""
	}
	if !strings.HasPrefix(id, "GHSA-") && v.GitHubReviewed == nil {
		return ""
	}
	return strings.ToLower(s)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// compact returns the JSON value without insignificant white space, nil for
// an absent or null value.
func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil
	}
	return b.Bytes()
}
