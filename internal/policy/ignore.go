package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	packageurl "github.com/package-url/packageurl-go"
	"go.yaml.in/yaml/v3"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// DefaultIgnoreFile is where drydock looks for an ignore file when none is
// named.
const DefaultIgnoreFile = ".drydock/ignore.yaml"

// Caps on an ignore file.
const (
	MaxIgnoreFileSize = 4 << 20
	MaxIgnoreEntries  = 100_000
)

// IgnoreFile is a parsed ignore file.
type IgnoreFile struct {
	// Source is the file's path as given, used in messages and reports.
	Source  string
	Entries []IgnoreEntry
}

// IgnoreEntry is one entry of an ignore file. A finding matches when every
// criterion the entry sets matches.
type IgnoreEntry struct {
	// ID matches the finding's id or any of its aliases (case-insensitive).
	ID string
	// Package matches the package name, the source package name of OS
	// packages, or, when it starts with "pkg:", the package-url (type,
	// namespace, name, and version and qualifiers when given).
	Package string
	// Path is a glob on the package's file path ("/" separated, leading
	// "/" optional, "**" spans directories); it also matches everything
	// below a directory it matches. A package found in several places
	// (installed and in its project's lock file) matches when any of its
	// paths does.
	Path string
	// Reason says why the finding does not apply; required.
	Reason string
	// Expires is the last day (YYYY-MM-DD, UTC) the entry applies.
	Expires string
	// Line is the entry's line in the file.
	Line int

	expiresAt time.Time // start of the day after Expires; zero: never
	purl      *packageurl.PackageURL
}

var ignoreEntryFields = []string{"id", "package", "path", "reason", "expires"}

// LoadIgnoreFile reads and parses the ignore file at p. A missing file is
// an error satisfying errors.Is(err, fs.ErrNotExist).
func LoadIgnoreFile(p string) (*IgnoreFile, error) {
	b, err := readCapped(p, MaxIgnoreFileSize)
	if err != nil {
		return nil, fmt.Errorf("ignore file: %w", err)
	}
	return ParseIgnoreFile(b, p)
}

// readCapped reads the file at p, refusing files larger than max.
func readCapped(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB", p, max>>20)
	}
	return b, nil
}

// ParseIgnoreFile parses an ignore file; source names it in errors.
// Decoding is strict: unknown keys, duplicate keys, YAML aliases and
// entries without a reason are errors.
func ParseIgnoreFile(data []byte, source string) (*IgnoreFile, error) {
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("ignore file %s: line %d: %s", source, line, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxIgnoreFileSize {
		return nil, fmt.Errorf("ignore file %s: larger than %d MiB", source, MaxIgnoreFileSize>>20)
	}
	out := &IgnoreFile{Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return out, nil // empty file
		}
		return nil, fmt.Errorf("ignore file %s: %w", source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ignore file %s: more than one YAML document", source)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return out, nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return out, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "expected a mapping with the key \"ignore\"")
	}
	var list *yaml.Node
	err := eachPair(root, func(k, v *yaml.Node) error {
		if k.Value != "ignore" {
			return fmt.Errorf("line %d: unknown key %q (want \"ignore\")", k.Line, k.Value)
		}
		list = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", source, err)
	}
	if list == nil || isNull(list) {
		return out, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fail(list.Line, "\"ignore\" must be a list of entries")
	}
	if len(list.Content) > MaxIgnoreEntries {
		return nil, fail(list.Line, "more than %d entries", MaxIgnoreEntries)
	}
	for i, n := range list.Content {
		e, err := parseIgnoreEntry(n)
		if err != nil {
			return nil, fmt.Errorf("ignore file %s: entry %d (line %d): %w", source, i+1, n.Line, err)
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// eachPair calls fn for each key and value of a mapping, refusing
// aliases, merge keys, non-scalar keys and duplicate keys.
func eachPair(m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.AliasNode || v.Kind == yaml.AliasNode {
			return fmt.Errorf("line %d: YAML aliases are not supported", k.Line)
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return fmt.Errorf("line %d: keys must be plain words", k.Line)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
		}
		seen[k.Value] = true
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func parseIgnoreEntry(n *yaml.Node) (IgnoreEntry, error) {
	e := IgnoreEntry{Line: n.Line}
	if n.Kind == yaml.AliasNode {
		return e, errors.New("YAML aliases are not supported")
	}
	if n.Kind != yaml.MappingNode {
		return e, fmt.Errorf("an entry must be a mapping with the keys %s", strings.Join(ignoreEntryFields, ", "))
	}
	err := eachPair(n, func(k, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode || isNull(v) {
			return fmt.Errorf("line %d: %s must be a single value", v.Line, k.Value)
		}
		val := strings.TrimSpace(v.Value)
		switch k.Value {
		case "id":
			e.ID = val
		case "package":
			e.Package = val
		case "path":
			e.Path = val
		case "reason":
			e.Reason = val
		case "expires":
			e.Expires = val
		default:
			return fmt.Errorf("line %d: unknown key %q (known: %s)", k.Line, k.Value, strings.Join(ignoreEntryFields, ", "))
		}
		return nil
	})
	if err != nil {
		return e, err
	}
	if e.ID == "" && e.Package == "" && e.Path == "" {
		return e, errors.New("an entry needs at least one of id, package, path")
	}
	if e.Reason == "" {
		return e, errors.New("reason is required")
	}
	if strings.ContainsAny(e.ID, " \t\n") {
		return e, fmt.Errorf("id %q contains white space", e.ID)
	}
	if strings.HasPrefix(e.Package, "pkg:") {
		p, err := packageurl.FromString(e.Package)
		if err != nil {
			return e, fmt.Errorf("package %q: %w", e.Package, err)
		}
		e.purl = &p
	}
	if e.Path != "" {
		if err := validGlob(e.Path); err != nil {
			return e, fmt.Errorf("path %q: %w", e.Path, err)
		}
	}
	if e.Expires != "" {
		d, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			return e, fmt.Errorf("expires %q: want a date YYYY-MM-DD", e.Expires)
		}
		e.expiresAt = d.AddDate(0, 0, 1)
	}
	return e, nil
}

// expired reports whether now is after the end (UTC) of the expiry day.
func (e *IgnoreEntry) expired(now time.Time) bool {
	return !e.expiresAt.IsZero() && !now.Before(e.expiresAt)
}

// describe names the entry by its criteria for messages.
func (e *IgnoreEntry) describe() string {
	var parts []string
	if e.ID != "" {
		parts = append(parts, "id "+e.ID)
	}
	if e.Package != "" {
		parts = append(parts, "package "+e.Package)
	}
	if e.Path != "" {
		parts = append(parts, "path "+e.Path)
	}
	return strings.Join(parts, ", ")
}

// matches reports whether every criterion of e matches f.
func (e *IgnoreEntry) matches(f *finding.Finding) bool {
	if e.ID != "" && !idMatches(f, e.ID) {
		return false
	}
	if e.Package != "" {
		if e.purl != nil {
			if !packageMatchesPURL(&f.Package, e.purl) {
				return false
			}
		} else if e.Package != f.Package.Name && (!inventory.IsOS(f.Package.Type) || e.Package != f.Package.SourceName) {
			return false
		}
	}
	if e.Path != "" && !slices.ContainsFunc(f.Package.AllLocations(), func(l inventory.Location) bool {
		return globMatchPathOrParent(e.Path, l.Path)
	}) {
		return false
	}
	return true
}

// idMatches reports whether id names f (its id or an alias).
func idMatches(f *finding.Finding, id string) bool {
	if strings.EqualFold(f.ID, id) {
		return true
	}
	for _, a := range f.Aliases {
		if strings.EqualFold(a, id) {
			return true
		}
	}
	return false
}

// validGlob checks every segment of a path glob.
func validGlob(pattern string) error {
	for _, seg := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, "x"); err != nil {
			return err
		}
	}
	return nil
}

// globMatchPathOrParent reports whether pattern matches p or one of its
// parent directories. Leading slashes are ignored on both.
func globMatchPathOrParent(pattern, p string) bool {
	m := globPrefixes(splitPath(pattern), splitPath(p))
	return slices.Contains(m[1:], true)
}

func splitPath(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// globPrefixes matches path segments against pattern segments, where
// "**" matches zero or more segments: m[j] reports whether pat matches
// segs[:j]. It runs in O(len(pat)·len(segs)).
func globPrefixes(pat, segs []string) []bool {
	prev := make([]bool, len(segs)+1)
	cur := make([]bool, len(segs)+1)
	prev[0] = true
	for i := range pat {
		clear(cur)
		for j := 0; j <= len(segs); j++ {
			if pat[i] == "**" {
				cur[j] = prev[j] || (j > 0 && cur[j-1])
				continue
			}
			if j > 0 && prev[j-1] {
				cur[j], _ = path.Match(pat[i], segs[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev
}
