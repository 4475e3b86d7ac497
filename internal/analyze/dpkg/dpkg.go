// Package dpkg reads Debian package databases: /var/lib/dpkg/status, the
// distroless /var/lib/dpkg/status.d/ files, the per-package file lists in
// /var/lib/dpkg/info/*.list and the machine-readable copyright files in
// /usr/share/doc/*/copyright.
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Size caps. The status file of a big Debian system is a few MB.
const (
	maxStatusSize    = 64 << 20
	maxListSize      = 16 << 20
	maxCopyrightSize = 1 << 20
	maxFieldLine     = 1 << 20
)

// Analyzer reads dpkg's database.
type Analyzer struct{}

// New returns the dpkg analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "dpkg" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	switch {
	case p == "var/lib/dpkg/status":
		return info.Size <= maxStatusSize
	case strings.HasPrefix(p, "var/lib/dpkg/status.d/"):
		base := path.Base(p)
		return !strings.Contains(p[len("var/lib/dpkg/status.d/"):], "/") &&
			!strings.HasSuffix(base, ".md5sums") && info.Size <= maxStatusSize
	case strings.HasPrefix(p, "var/lib/dpkg/info/") && strings.HasSuffix(p, ".list"):
		return !strings.Contains(p[len("var/lib/dpkg/info/"):], "/") && info.Size <= maxListSize
	case strings.HasPrefix(p, "usr/share/doc/") && strings.HasSuffix(p, "/copyright"):
		return strings.Count(p, "/") == 4 && info.Size <= maxCopyrightSize
	}
	return false
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(f.Path, "var/lib/dpkg/info/"):
		return parseList(path.Base(f.Path), b)
	case strings.HasPrefix(f.Path, "usr/share/doc/"):
		name := path.Base(path.Dir(f.Path))
		l := ParseCopyright(b)
		if len(l) == 0 {
			return nil, nil
		}
		return &analyze.Result{License: &analyze.License{Type: inventory.TypeDeb, Package: name, Licenses: l}}, nil
	}
	pkgs, err := ParseStatus(b, strings.HasPrefix(f.Path, "var/lib/dpkg/status.d/"))
	if err != nil {
		return nil, err
	}
	return &analyze.Result{Packages: pkgs}, nil
}

// Paragraph is one control-file stanza: field names in canonical case
// mapped to values (continuation lines joined with "\n").
type Paragraph map[string]string

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed control data")

// ParseParagraphs splits control data (deb822) into paragraphs.
func ParseParagraphs(b []byte) ([]Paragraph, error) {
	var out []Paragraph
	cur := Paragraph{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxFieldLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur, last = Paragraph{}, ""
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("%w: line %d: continuation line outside a field", ErrMalformed, n)
			}
			cur[last] += "\n" + strings.TrimSpace(line)
		case line[0] == '#':
			// Comments are allowed in deb822 files.
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("%w: line %d: expected \"Field: value\", got %q", ErrMalformed, n, truncate(line))
			}
			last = canonicalField(k)
			cur[last] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func canonicalField(k string) string {
	// Field names are case-insensitive; dpkg writes them capitalised.
	return strings.ToLower(k)
}

// versionRE accepts dpkg version syntax: [epoch:]upstream[-revision].
var versionRE = regexp.MustCompile(`^([0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~:-]*$`)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)

// installedStates are dpkg states in which the package's files are on disk.
var installedStates = []string{"installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending"}

// ParseStatus reads a dpkg status file (or a distroless status.d file,
// whose stanzas may omit Status) and returns the installed packages.
func ParseStatus(b []byte, distroless bool) ([]inventory.Package, error) {
	paras, err := ParseParagraphs(b)
	if err != nil {
		return nil, err
	}
	var pkgs []inventory.Package
	for i, p := range paras {
		name := p["package"]
		if name == "" {
			return nil, fmt.Errorf("%w: stanza %d has no Package field", ErrMalformed, i+1)
		}
		if status, ok := p["status"]; ok || !distroless {
			words := strings.Fields(status)
			if len(words) != 3 {
				return nil, fmt.Errorf("%w: package %s: Status %q is not \"want flag state\"", ErrMalformed, name, status)
			}
			if !slices.Contains(installedStates, words[2]) {
				continue
			}
		}
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("%w: stanza %d: invalid package name %q", ErrMalformed, i+1, truncate(name))
		}
		version := p["version"]
		if !versionRE.MatchString(version) {
			return nil, fmt.Errorf("%w: package %s: invalid Version %q", ErrMalformed, name, truncate(version))
		}
		pkg := inventory.Package{
			Type:          inventory.TypeDeb,
			Name:          name,
			Version:       version,
			Arch:          p["architecture"],
			SourceName:    name,
			SourceVersion: version,
		}
		if src := p["source"]; src != "" {
			sname, sver, _ := strings.Cut(src, " ")
			pkg.SourceName = sname
			if sver = strings.Trim(strings.TrimSpace(sver), "()"); sver != "" {
				pkg.SourceVersion = sver
			}
			if !nameRE.MatchString(pkg.SourceName) || !versionRE.MatchString(pkg.SourceVersion) {
				return nil, fmt.Errorf("%w: package %s: invalid Source %q", ErrMalformed, name, truncate(src))
			}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}

// parseList reads info/<package>[:<arch>].list: one installed path per line.
func parseList(base string, b []byte) (*analyze.Result, error) {
	name := strings.TrimSuffix(base, ".list")
	name, arch, _ := strings.Cut(name, ":")
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("%w: file list for invalid package name %q", ErrMalformed, truncate(name))
	}
	var files []string
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "/." {
			continue
		}
		if !strings.HasPrefix(line, "/") {
			return nil, fmt.Errorf("%w: %s.list: %q is not an absolute path", ErrMalformed, name, truncate(line))
		}
		files = append(files, path.Clean(line))
	}
	return &analyze.Result{Owned: &analyze.Ownership{Type: inventory.TypeDeb, Package: name, Arch: arch, Files: files}}, nil
}

var commonLicense = regexp.MustCompile(`/usr/share/common-licenses/([A-Za-z0-9.+-]+)`)

// ParseCopyright returns the licences a Debian copyright file names: the
// License fields of a machine-readable (DEP-5) file, otherwise the files
// of /usr/share/common-licenses it refers to.
func ParseCopyright(b []byte) []string {
	var out []string
	add := func(l string) {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if bytes.HasPrefix(b, []byte("Format:")) || bytes.Contains(b[:min(len(b), 512)], []byte("copyright-format")) {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "License:"); ok {
				add(v)
			}
		}
	}
	if len(out) == 0 {
		for _, m := range commonLicense.FindAllSubmatch(b, -1) {
			add(strings.TrimSuffix(string(m[1]), "."))
		}
	}
	slices.Sort(out)
	return out
}
