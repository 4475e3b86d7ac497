// Package debiantracker parses the Debian security tracker's JSON export
// (https://security-tracker.debian.org/tracker/data/json) into drydock
// records.
//
// The export is {source package: {CVE or TEMP id: {description, scope,
// debianbug, releases: {code name: {status, repositories, fixed_version,
// urgency, nodsa, nodsa_reason}}}}}. Parse produces one record per CVE,
// "DEBIAN-<CVE>" with the CVE as alias, holding one affected entry per
// (source package, release). Code names become OSV ecosystems ("bookworm" →
// "Debian:12", "sid" → "Debian:sid"; unknown code names are skipped).
//
// Status mapping: resolved with a fixed_version → fixed in that version (a
// range introduced 0 / fixed v); resolved with fixed_version "0" → not
// affected; open → unfixed, or will-not-fix when nodsa_reason is "ignored",
// or end-of-life when the urgency says so; undetermined → unfixed. The
// urgency, without the trailing "*" marks, becomes a vendor severity of the
// affected entry with source "debian" ("not yet assigned" and "unimportant"
// kept as words); nodsa text and reason go to the entry's note.
package debiantracker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid Debian tracker data")

// TrackerURL is the tracker page of an issue.
const TrackerURL = "https://security-tracker.debian.org/tracker/"

type issue struct {
	Description string          `json:"description"`
	Scope       string          `json:"scope"`
	DebianBug   json.Number     `json:"debianbug"`
	Releases    json.RawMessage `json:"releases"`
}

type release struct {
	Status       string            `json:"status"`
	Repositories map[string]string `json:"repositories"`
	FixedVersion string            `json:"fixed_version"`
	Urgency      string            `json:"urgency"`
	NoDSA        string            `json:"nodsa"`
	NoDSAReason  string            `json:"nodsa_reason"`
}

// Ecosystem returns the OSV ecosystem of a Debian code name ("bookworm" →
// "Debian:12", "sid" → "Debian:sid").
func Ecosystem(codename string) (string, bool) {
	n, ok := vulndb.DebianRelease(codename)
	if !ok || strings.Contains(n, ".") {
		return "", false
	}
	return "Debian:" + n, true
}

// Parse reads a tracker export and returns its records sorted by id, each
// record's affected entries sorted by ecosystem and package. The input is
// read as a stream, one source package at a time.
func Parse(r io.Reader) ([]vulndb.Record, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	byID := map[string]*vulndb.Record{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		source, ok := tok.(string)
		if !ok || !validName(source) {
			return nil, fmt.Errorf("%w: source package name %v", ErrInvalid, tok)
		}
		var issues map[string]issue
		if err := dec.Decode(&issues); err != nil {
			return nil, fmt.Errorf("%w: source %s: %w", ErrInvalid, source, err)
		}
		for id, is := range issues {
			if err := add(byID, source, id, &is); err != nil {
				return nil, fmt.Errorf("%w: source %s, %s: %w", ErrInvalid, source, id, err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrInvalid)
	}
	out := make([]vulndb.Record, 0, len(byID))
	for _, rec := range byID {
		slices.SortFunc(rec.Affected, func(a, b vulndb.Affected) int {
			if c := strings.Compare(a.Package.Ecosystem, b.Package.Ecosystem); c != 0 {
				return c
			}
			return strings.Compare(a.Package.Name, b.Package.Name)
		})
		slices.SortFunc(rec.References[1:], func(a, b vulndb.Reference) int { return strings.Compare(a.URL, b.URL) }) // the tracker page stays first
		out = append(out, *rec)
	}
	slices.SortFunc(out, func(a, b vulndb.Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: expected %q, found %v", ErrInvalid, want, tok)
	}
	return nil
}

func add(byID map[string]*vulndb.Record, source, id string, is *issue) error {
	if !validName(id) {
		return fmt.Errorf("issue id %q", id)
	}
	var releases map[string]release
	// The export writes an issue without release data as "releases": [].
	if len(is.Releases) > 0 && is.Releases[0] == '{' {
		if err := json.Unmarshal(is.Releases, &releases); err != nil {
			return err
		}
	}
	recID := "DEBIAN-" + id
	rec := byID[recID]
	if rec == nil {
		rec = &vulndb.Record{ID: recID, Details: is.Description}
		if strings.HasPrefix(id, "CVE-") {
			rec.Aliases = []string{id}
		}
		rec.References = []vulndb.Reference{{Type: "ADVISORY", URL: TrackerURL + url.PathEscape(id)}}
		byID[recID] = rec
	}
	if rec.Details == "" {
		rec.Details = is.Description
	}
	if bug := is.DebianBug.String(); bug != "" {
		ref := vulndb.Reference{Type: "REPORT", URL: "https://bugs.debian.org/" + url.PathEscape(bug)}
		if !slices.Contains(rec.References, ref) {
			rec.References = append(rec.References, ref)
		}
	}
	for codename, rel := range releases {
		eco, ok := Ecosystem(codename)
		if !ok {
			continue
		}
		rec.Affected = append(rec.Affected, affected(source, codename, eco, &rel))
	}
	return nil
}

func affected(source, codename, eco string, rel *release) vulndb.Affected {
	a := vulndb.Affected{
		Package: vulndb.Package{
			Ecosystem: eco,
			Name:      source,
			PURL:      "pkg:deb/debian/" + url.PathEscape(source) + "?arch=source&distro=" + url.QueryEscape(codename),
		},
	}
	urgency := strings.ToLower(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(rel.Urgency), "*")))
	if urgency != "" && urgency != "end-of-life" {
		a.Severity = []vulndb.Severity{{Type: vulndb.Vendor, Score: urgency, Source: "debian"}}
	}
	var notes []string
	if rel.NoDSA != "" {
		notes = append(notes, "no-dsa: "+rel.NoDSA)
	}
	if rel.NoDSAReason != "" {
		notes = append(notes, "no-dsa reason: "+rel.NoDSAReason)
	}
	open := []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}}}}
	switch rel.Status {
	case "resolved":
		switch rel.FixedVersion {
		case "0":
			a.Status = vulndb.StatusNotAffected
		case "":
			a.Status = vulndb.StatusNotAffected
			notes = append(notes, "resolved without a fixed version")
		default:
			a.Status = vulndb.StatusFixed
			a.Ranges = []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: rel.FixedVersion}}}}
		}
	case "open":
		a.Ranges = open
		switch {
		case urgency == "end-of-life":
			a.Status = vulndb.StatusEndOfLife
		case rel.NoDSAReason == "ignored":
			a.Status = vulndb.StatusWillNotFix
		default:
			a.Status = vulndb.StatusUnfixed
		}
	default: // "undetermined", and any status the tracker may add
		a.Ranges = open
		a.Status = vulndb.StatusUnfixed
		notes = append(notes, "status: "+rel.Status)
	}
	a.Note = strings.Join(notes, "; ")
	return a
}

// validName accepts source package names and issue ids: 1 to 256 bytes of
// letters, digits and "+-._:~".
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("+-._:~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
