// Package python finds Python packages: installed distributions
// (*.dist-info/METADATA, *.egg-info/PKG-INFO and single-file *.egg-info,
// as pip, setuptools and Debian install them) and, in project
// directories, the lock files of pip (pinned requirements*.txt), Poetry,
// Pipenv, uv and PDM.
package python

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxMetadata caps an installed distribution's metadata file. Only its
// headers are read, but some embed a long description (changelogs of
// hundreds of kB).
const maxMetadata = 8 << 20

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed Python metadata")

// Analyzer reads the metadata of installed Python distributions.
type Analyzer struct{}

// New returns the installed-distribution analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "python" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	if info.Size > maxMetadata {
		return false
	}
	return strings.HasSuffix(p, ".dist-info/METADATA") ||
		strings.HasSuffix(p, ".egg-info/PKG-INFO") ||
		(strings.HasSuffix(p, ".egg-info") && len(p) > len(".egg-info") && p[len(p)-len(".egg-info")-1] != '/')
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, err
	}
	// The package is the distribution directory (or the single-file
	// egg-info), not its metadata file.
	dist := f.Path
	if !strings.HasSuffix(dist, ".egg-info") {
		dist = dist[:strings.LastIndexByte(dist, '/')]
	}
	return &analyze.Result{Packages: []inventory.Package{{
		Type:     inventory.TypePyPI,
		Name:     m.Name,
		Version:  m.Version,
		Licenses: m.Licenses,
		Path:     "/" + dist,
	}}}, nil
}

// Metadata is what drydock reads from a distribution's core metadata.
type Metadata struct {
	Name     string
	Version  string
	Licenses []string
}

// maxLicenseLen is the longest License field taken as a licence name;
// longer ones (and multi-line ones) are the licence text itself.
const maxLicenseLen = 100

// ParseMetadata reads core metadata (METADATA, PKG-INFO): RFC 822 style
// headers up to the first empty line. Licences come from
// License-Expression, else a short License field, else the
// "License :: …" classifiers.
func ParseMetadata(b []byte) (*Metadata, error) {
	var (
		m                     Metadata
		license, expr         string
		licenseLines          int
		classifiers           []string
		inLicense, seenHeader bool
		haveName, haveVersion bool
	)
	for n, rest := 1, b; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break // end of the headers; the body is the description
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, fmt.Errorf("%w: line %d: binary data", ErrMalformed, n)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !seenHeader {
				return nil, fmt.Errorf("%w: line %d: continuation line before any header", ErrMalformed, n)
			}
			if inLicense && len(bytes.TrimSpace(line)) > 0 {
				licenseLines++
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: line %d: expected \"Header: value\", got %q", ErrMalformed, n, truncate(string(line)))
		}
		seenHeader = true
		inLicense = false
		v = bytes.TrimSpace(v)
		switch {
		case keyIs(k, "Name") && !haveName:
			m.Name, haveName = string(v), true
		case keyIs(k, "Version") && !haveVersion:
			m.Version, haveVersion = string(v), true
		case keyIs(k, "License") && license == "":
			license, inLicense, licenseLines = string(v), true, 0
		case keyIs(k, "License-Expression") && expr == "":
			expr = string(v)
		case keyIs(k, "Classifier"):
			if l, ok := bytes.CutPrefix(v, []byte("License :: ")); ok {
				if i := bytes.LastIndex(l, []byte(" :: ")); i >= 0 {
					l = l[i+len(" :: "):]
				}
				if last := string(bytes.TrimSpace(l)); last != "OSI Approved" && last != "" {
					classifiers = append(classifiers, last)
				}
			}
		}
	}
	switch {
	case m.Name == "":
		return nil, fmt.Errorf("%w: no Name header", ErrMalformed)
	case m.Version == "":
		return nil, fmt.Errorf("%w: %s: no Version header", ErrMalformed, truncate(m.Name))
	case !validName(m.Name):
		return nil, fmt.Errorf("%w: invalid Name %q", ErrMalformed, truncate(m.Name))
	case !validVersion(m.Version):
		return nil, fmt.Errorf("%w: %s: invalid Version %q", ErrMalformed, m.Name, truncate(m.Version))
	}
	switch {
	case expr != "":
		m.Licenses = []string{expr}
	case license != "" && licenseLines == 0 && len(license) <= maxLicenseLen && !strings.EqualFold(license, "UNKNOWN"):
		m.Licenses = []string{license}
	default:
		for _, c := range classifiers {
			if !slices.Contains(m.Licenses, c) {
				m.Licenses = append(m.Licenses, c)
			}
		}
	}
	return &m, nil
}

// keyIs compares a header name with an ASCII name, ignoring case.
func keyIs(k []byte, name string) bool {
	if len(k) != len(name) {
		return false
	}
	for i := 0; i < len(k); i++ {
		a, b := k[i], name[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// validName checks a distribution name: ASCII letters, digits, '.', '_'
// and '-' (PEP 508), which every installer enforces.
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion rejects empty and overlong versions and ones with spaces
// or control characters. Legacy versions are not PEP 440, so nothing
// stricter holds.
func validVersion(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// sortPackages orders packages deterministically and drops exact
// duplicates.
func sortPackages(pkgs []inventory.Package) []inventory.Package {
	slices.SortFunc(pkgs, func(a, b inventory.Package) int {
		return cmp.Or(inventory.ComparePackages(a, b), boolCmp(a.Dev, b.Dev))
	})
	return slices.CompactFunc(pkgs, func(a, b inventory.Package) bool {
		return a.Name == b.Name && a.Version == b.Version && a.Dev == b.Dev
	})
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
