// Package alpinesecdb parses Alpine secdb files (secdb.alpinelinux.org
// <branch>/<repository>.json) and the files of the same shape Wolfi,
// Chainguard and MinimOS publish (security.json) into drydock records.
//
// A file is {distroversion, reponame, urlprefix, apkurl, archs,
// packages: [{pkg: {name, secfixes: {version: [ids…]}}}]}. Each entry of a
// secfixes list names the issue fixed in that version ("CVE-2019-1234",
// sometimes followed by more ids: "CVE-2016-9932 XSA-200"). Parse returns one
// record per issue per file — id "<ECOSYSTEM>-<issue>" ("ALPINE-CVE-…",
// "WOLFI-CVE-…") with the issue ids as aliases — holding one affected entry
// per package: fixed in that version, or not affected when the version is
// "0". Merge joins the records of several files (branches, repositories)
// into one record per issue.
package alpinesecdb

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
var ErrInvalid = errors.New("invalid secdb data")

// MaxFileSize caps a secdb file.
const MaxFileSize = 256 << 20

type file struct {
	DistroVersion string `json:"distroversion"`
	RepoName      string `json:"reponame"`
	URLPrefix     string `json:"urlprefix"`
	// Packages is a list; files of a repository without fixes have an
	// empty string or null instead.
	Packages json.RawMessage `json:"packages"`
}

type pkg struct {
	Pkg struct {
		Name     string              `json:"name"`
		Secfixes map[string][]string `json:"secfixes"`
	} `json:"pkg"`
}

// Options adjusts Parse.
type Options struct {
	// Ecosystem is the OSV ecosystem of the file's packages. When empty it
	// is "Alpine:<distroversion>" for a file with a distroversion, else
	// derived from the URL prefix (packages.wolfi.dev → "Wolfi", *.cgr.dev →
	// "Chainguard", packages.mini.dev → "MinimOS").
	Ecosystem string
}

// Parse reads one secdb file and returns its records sorted by id.
func Parse(r io.Reader, opts Options) ([]vulndb.Record, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	eco, err := ecosystem(&f, opts)
	if err != nil {
		return nil, err
	}
	var pkgs []pkg
	switch p := strings.TrimSpace(string(f.Packages)); p {
	case "", "null", `""`:
	default:
		if err := json.Unmarshal(f.Packages, &pkgs); err != nil {
			return nil, fmt.Errorf("%w: packages: %w", ErrInvalid, err)
		}
	}
	prefix := strings.ToUpper(strings.ReplaceAll(vulndb.EcosystemBase(eco), " ", ""))
	byID := map[string]*vulndb.Record{}
	for _, p := range pkgs {
		name := p.Pkg.Name
		if !validToken(name) {
			return nil, fmt.Errorf("%w: package name %q", ErrInvalid, name)
		}
		for version, ids := range p.Pkg.Secfixes {
			if !validToken(version) {
				return nil, fmt.Errorf("%w: package %s: version %q", ErrInvalid, name, version)
			}
			for _, entry := range ids {
				aliases := issueIDs(entry)
				if len(aliases) == 0 {
					continue // free text, no issue id
				}
				id := prefix + "-" + aliases[0]
				rec := byID[id]
				if rec == nil {
					rec = &vulndb.Record{ID: id}
					byID[id] = rec
				}
				for _, a := range aliases {
					if !slices.Contains(rec.Aliases, a) {
						rec.Aliases = append(rec.Aliases, a)
					}
				}
				rec.Affected = append(rec.Affected, affected(eco, name, version, &f))
			}
		}
	}
	out := make([]vulndb.Record, 0, len(byID))
	for _, rec := range byID {
		sortAffected(rec.Affected)
		out = append(out, *rec)
	}
	slices.SortFunc(out, func(a, b vulndb.Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func ecosystem(f *file, opts Options) (string, error) {
	if opts.Ecosystem != "" {
		return opts.Ecosystem, nil
	}
	if f.DistroVersion != "" {
		if !validToken(f.DistroVersion) {
			return "", fmt.Errorf("%w: distroversion %q", ErrInvalid, f.DistroVersion)
		}
		return "Alpine:" + f.DistroVersion, nil
	}
	u, err := url.Parse(f.URLPrefix)
	if err == nil {
		host := strings.ToLower(u.Hostname())
		switch {
		case host == "packages.wolfi.dev":
			return "Wolfi", nil
		case host == "cgr.dev" || strings.HasSuffix(host, ".cgr.dev"):
			return "Chainguard", nil
		case host == "packages.mini.dev":
			return "MinimOS", nil
		}
	}
	return "", fmt.Errorf("%w: no distroversion and unknown urlprefix %q: the ecosystem must be given", ErrInvalid, f.URLPrefix)
}

func affected(eco, name, version string, f *file) vulndb.Affected {
	a := vulndb.Affected{Package: vulndb.Package{Ecosystem: eco, Name: name}}
	if strings.HasPrefix(eco, "Alpine:") {
		a.Package.PURL = "pkg:apk/alpine/" + url.PathEscape(name) + "?distro=" + url.QueryEscape(strings.TrimPrefix(eco, "Alpine:"))
	}
	if version == "0" {
		a.Status = vulndb.StatusNotAffected
	} else {
		a.Status = vulndb.StatusFixed
		a.Ranges = []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: version}}}}
	}
	if f.RepoName != "" {
		a.Note = "repository: " + f.RepoName
	}
	return a
}

// issueIDs returns the issue ids in a secfixes entry: its whitespace
// separated words that look like ids (letters, digits and "-", with a "-"
// and a digit). Placeholders ("CVE-????-?????") are not ids; the typo
// "CVE_" (found in the secdb) is read as "CVE-".
func issueIDs(entry string) []string {
	var out []string
	for _, w := range strings.Fields(entry) {
		if rest, ok := strings.CutPrefix(w, "CVE_"); ok {
			w = "CVE-" + rest
		}
		if isID(w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
		if len(out) == 16 {
			break
		}
	}
	return out
}

func isID(w string) bool {
	if len(w) > 128 || !strings.Contains(w, "-") || !strings.ContainsAny(w, "0123456789") {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validToken accepts names, versions and ids: 1 to 128 bytes of letters,
// digits and "+-._:~".
func validToken(s string) bool {
	if s == "" || len(s) > 128 {
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

func sortAffected(as []vulndb.Affected) {
	slices.SortFunc(as, func(a, b vulndb.Affected) int {
		if c := strings.Compare(a.Package.Ecosystem, b.Package.Ecosystem); c != 0 {
			return c
		}
		if c := strings.Compare(a.Package.Name, b.Package.Name); c != 0 {
			return c
		}
		return strings.Compare(fixed(a), fixed(b))
	})
}

func fixed(a vulndb.Affected) string {
	if len(a.Ranges) == 1 && len(a.Ranges[0].Events) == 2 {
		return a.Ranges[0].Events[1].Fixed
	}
	return ""
}

// Merge joins records with the same id (the same issue in several files)
// into one, with the union of their aliases and affected entries, and
// returns them sorted by id.
func Merge(sets ...[]vulndb.Record) []vulndb.Record {
	byID := map[string]*vulndb.Record{}
	var ids []string
	for _, set := range sets {
		for _, r := range set {
			m := byID[r.ID]
			if m == nil {
				c := r
				c.Aliases = slices.Clone(r.Aliases)
				c.Affected = slices.Clone(r.Affected)
				byID[r.ID] = &c
				ids = append(ids, r.ID)
				continue
			}
			for _, a := range r.Aliases {
				if !slices.Contains(m.Aliases, a) {
					m.Aliases = append(m.Aliases, a)
				}
			}
			m.Affected = append(m.Affected, r.Affected...)
		}
	}
	slices.Sort(ids)
	out := make([]vulndb.Record, 0, len(ids))
	for _, id := range ids {
		sortAffected(byID[id].Affected)
		out = append(out, *byID[id])
	}
	return out
}
