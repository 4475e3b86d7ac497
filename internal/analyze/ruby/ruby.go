// Package ruby finds Ruby gems: the specifications RubyGems writes for
// every installed gem (specifications/*.gemspec, default gems in
// specifications/default/) and Bundler's Gemfile.lock.
package ruby

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Size and count caps. An installed gemspec lists the gem's files and is
// rarely over 100 kB; a Gemfile.lock is a few kB to a few hundred.
const (
	maxGemspec  = 4 << 20
	maxLockfile = 16 << 20
	maxLineLen  = 1 << 20
	maxPackages = 1 << 20
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed gem metadata")

// Analyzer reads installed gem specifications and Gemfile.lock.
//
// The specifications say what RubyGems installed; Gemfile.lock what a
// project asked for (its packages are inventory.Package.Declared). In an
// image the lock file only confirms what is installed: its entries are
// marked NeedsInstalled, so inventory.Consolidate merges them into the gems
// Bundler installed into the project (vendor/bundle) and drops the others
// (gems installed elsewhere are found from their own specifications).
// Scanning a project directory they count on their own.
type Analyzer struct {
	mode analyze.Mode
}

// New returns the Ruby analyzer for a scan mode.
func New(mode analyze.Mode) *Analyzer { return &Analyzer{mode: mode} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "ruby" }

// Version implements analyze.Analyzer. Version 2 marks lock file entries
// as declared (and, in images, as needing an installed copy).
func (*Analyzer) Version() int { return 2 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	dir, base := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	switch {
	case base == "Gemfile.lock":
		return info.Size <= maxLockfile && !insideGem(dir)
	case strings.HasSuffix(base, ".gemspec") && len(base) > len(".gemspec"):
		dir = strings.TrimSuffix(dir, "/default")
		return info.Size <= maxGemspec && (dir == "specifications" || strings.HasSuffix(dir, "/specifications"))
	}
	return false
}

// insideGem reports whether dir lies inside an installed gem
// (…/gems/<name>-<version>/…, also bundler's gems checked out from git):
// a Gemfile.lock there is the gem's own development lock.
func insideGem(dir string) bool {
	for rest := dir; ; {
		i := strings.Index(rest, "gems/")
		if i < 0 {
			return false
		}
		if (i == 0 || rest[i-1] == '/') && rest[i+len("gems/"):] != "" {
			return true
		}
		rest = rest[i+len("gems/"):]
	}
}

// Analyze implements analyze.Analyzer.
func (a *Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	var pkgs []inventory.Package
	if strings.HasSuffix(f.Path, ".gemspec") {
		p, err := ParseGemspec(b)
		if err != nil {
			return nil, err
		}
		pkgs = []inventory.Package{*p}
	} else if pkgs, err = ParseGemfileLock(b); err != nil {
		return nil, err
	} else {
		for i := range pkgs {
			pkgs[i].Declared = true
			pkgs[i].NeedsInstalled = a.mode == analyze.ModeImage
		}
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	return &analyze.Result{Packages: pkgs}, nil
}

func newPackage(name, version, platform string) inventory.Package {
	p := inventory.Package{Type: inventory.TypeGem, Name: name, Version: version}
	if platform != "" && platform != "ruby" {
		p.Arch = platform
	}
	return p
}

// validName checks a gem name: RubyGems allows letters, digits, '.',
// '_' and '-'.
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

// validVersion checks a gem version: segments of letters and digits
// separated by dots (Gem::Version).
func validVersion(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// validPlatform checks a gem platform ("ruby", "x86_64-linux",
// "universal-darwin-22", "java").
func validPlatform(s string) bool {
	if len(s) > 128 {
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

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func sortPackages(pkgs []inventory.Package) []inventory.Package {
	slices.SortFunc(pkgs, func(a, b inventory.Package) int {
		return cmp.Or(inventory.ComparePackages(a, b), boolCmp(a.Indirect, b.Indirect))
	})
	return slices.CompactFunc(pkgs, func(a, b inventory.Package) bool {
		return a.Name == b.Name && a.Version == b.Version && a.Arch == b.Arch && a.Indirect == b.Indirect
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
