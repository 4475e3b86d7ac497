// Package npm finds JavaScript packages: the package.json of every package
// installed under a node_modules directory, and the lock files of npm
// (package-lock.json, npm-shrinkwrap.json; lockfileVersion 1, 2 and 3),
// Yarn (classic v1 and Berry yarn.lock) and pnpm (pnpm-lock.yaml,
// lockfileVersion 5.x, 6.x and 9.x).
//
// A lock file's entries are declared packages (inventory.Package.Declared).
// In an image they only confirm what is installed: each is marked
// NeedsInstalled, so inventory.Consolidate merges it into the package
// installed in the same project's node_modules — adding the lock file as
// a location and its development flag — and drops it when nothing is
// installed. Scanning a project directory, a lock file's entries count on
// their own. Lock files inside installed packages (under node_modules, or
// in the system library directories Debian installs node modules into)
// describe how those libraries were developed and are never read.
package npm

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

// Size and count caps. A package.json is a few kB; the lock file of a big
// monorepo is a few MB. Parsed YAML costs tens of bytes of memory per
// byte of input, so YAML lock files (pnpm, Yarn Berry) have a lower cap,
// checked when the file turns out to be YAML.
const (
	maxPackageJSON = 1 << 20
	maxJSONLock    = 64 << 20
	maxYarnLock    = 64 << 20
	maxYAMLLock    = 16 << 20
	// maxPackages caps the packages one lock file may describe.
	maxPackages = 1 << 20
	// maxLineLen caps one line of a yarn v1 lock file.
	maxLineLen = 1 << 20
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed npm metadata")

// errTooMany is returned when a lock file lists more than maxPackages.
var errTooMany = fmt.Errorf("%w: more than %d packages", ErrMalformed, maxPackages)

// Analyzer reads installed package.json files and JavaScript lock files.
type Analyzer struct {
	mode analyze.Mode
}

// New returns the npm analyzer for a scan mode.
func New(mode analyze.Mode) *Analyzer { return &Analyzer{mode: mode} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "npm" }

// Version implements analyze.Analyzer. Version 2 marks lock file entries
// as declared (and, in images, as needing an installed copy) and skips the
// lock files of Debian's node libraries.
func (*Analyzer) Version() int { return 2 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	dir, base := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	switch base {
	case "package.json":
		return info.Size <= maxPackageJSON && isPackageRoot(dir)
	case "package-lock.json", "npm-shrinkwrap.json":
		return info.Size <= maxJSONLock && !inNodeModules(dir) && !inSystemLibrary(dir)
	case "yarn.lock":
		return info.Size <= maxYarnLock && !inNodeModules(dir) && !inSystemLibrary(dir)
	case "pnpm-lock.yaml":
		return info.Size <= maxYAMLLock && !inNodeModules(dir) && !inSystemLibrary(dir)
	}
	return false
}

// inSystemLibrary reports whether dir lies in a directory a distribution
// installs node modules into without a node_modules segment: Debian's
// /usr/share/nodejs/<module>, /usr/lib/nodejs/<module> and
// /usr/lib/<triplet>/nodejs/<module>. A lock file there is the module's
// own development lock file.
func inSystemLibrary(dir string) bool {
	if strings.HasPrefix(dir, "usr/share/nodejs/") || strings.HasPrefix(dir, "usr/lib/nodejs/") {
		return true
	}
	rest, ok := strings.CutPrefix(dir, "usr/lib/")
	if !ok {
		return false
	}
	_, rest, ok = strings.Cut(rest, "/")
	return ok && strings.HasPrefix(rest, "nodejs/")
}

// inNodeModules reports whether dir is a node_modules directory or inside
// one. Lock files there belong to installed packages (or are npm's hidden
// lock file, node_modules/.package-lock.json) and describe nothing that
// is installed.
func inNodeModules(dir string) bool {
	return dir == "node_modules" || strings.HasPrefix(dir, "node_modules/") ||
		strings.HasSuffix(dir, "/node_modules") || strings.Contains(dir, "/node_modules/")
}

// isPackageRoot reports whether dir is the root of an installed package:
// from its first node_modules segment on, the path must only be a chain of
// node_modules/<name> or node_modules/@scope/<name> steps (pnpm's virtual
// store, node_modules/.pnpm/<id>/node_modules/<name>, included). Files
// deeper inside a package (test fixtures, examples) are not package roots.
func isPackageRoot(dir string) bool {
	var rest string
	switch {
	case strings.HasPrefix(dir, "node_modules/"):
		rest = dir[len("node_modules/"):]
	default:
		i := strings.Index(dir, "/node_modules/")
		if i < 0 {
			return false
		}
		rest = dir[i+len("/node_modules/"):]
	}
	for {
		seg, more, ok := strings.Cut(rest, "/")
		switch {
		case seg == ".pnpm":
			// .pnpm/<id>/node_modules/...
			id, after, ok := strings.Cut(more, "/")
			if !ok || id == "" {
				return false
			}
			rest, ok = strings.CutPrefix(after, "node_modules/")
			if !ok {
				return false
			}
			continue
		case !validNameSegment(seg):
			return false
		case seg[0] == '@':
			if !ok {
				return false // node_modules/@scope/package.json
			}
			seg, more, ok = strings.Cut(more, "/")
			if !validNameSegment(seg) || seg[0] == '@' {
				return false
			}
		}
		if !ok {
			return true
		}
		rest, ok = strings.CutPrefix(more, "node_modules/")
		if !ok {
			return false
		}
	}
}

// validNameSegment rejects what npm never installs as a package directory
// (".bin", ".cache", "_something").
func validNameSegment(s string) bool {
	return s != "" && s[0] != '.' && s[0] != '_'
}

// Analyze implements analyze.Analyzer.
func (a *Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	dir, base := "", f.Path
	if i := strings.LastIndexByte(f.Path, '/'); i >= 0 {
		dir, base = f.Path[:i], f.Path[i+1:]
	}
	var pkgs []inventory.Package
	switch base {
	case "package.json":
		p, err := ParsePackageJSON(b)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, nil
		}
		// A package installed under another name is an alias
		// ("x": "npm:y@1").
		*p = withAlias(*p, installName(dir))
		return &analyze.Result{Packages: []inventory.Package{*p}}, nil
	case "package-lock.json", "npm-shrinkwrap.json":
		pkgs, err = ParsePackageLock(b)
	case "yarn.lock":
		pkgs, err = ParseYarnLock(b)
	case "pnpm-lock.yaml":
		pkgs, err = ParsePnpmLock(b)
	}
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	for i := range pkgs {
		pkgs[i].Declared = true
		pkgs[i].NeedsInstalled = a.mode == analyze.ModeImage
	}
	return &analyze.Result{Packages: pkgs}, nil
}

// installName returns the name a package is installed under from its
// directory ("…/node_modules/@scope/name" → "@scope/name").
func installName(dir string) string {
	i := strings.LastIndexByte(dir, '/')
	name := dir[i+1:]
	if i > 0 {
		parent := dir[:i]
		if j := strings.LastIndexByte(parent, '/'); strings.HasPrefix(parent[j+1:], "@") {
			return parent[j+1:] + "/" + name
		}
	}
	return name
}

// splitNameVersion splits "name@version" and "@scope/name@version" at the
// '@' that ends the name.
func splitNameVersion(s string) (name, version string, ok bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// splitSpec splits a dependency descriptor "name@range" where the range
// may itself contain '@' ("alias@npm:real@^1", "@scope/name@npm:^1").
func splitSpec(s string) (name, rng string, ok bool) {
	start := 0
	if strings.HasPrefix(s, "@") {
		start = 1
	}
	i := strings.IndexByte(s[start:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:start+i], s[start+i+1:], true
}

// validName is a light check of a package name taken from a lock file:
// lock files never hold names with whitespace or control characters.
func validName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func newPackage(name, version string, dev bool) inventory.Package {
	return inventory.Package{Type: inventory.TypeNPM, Name: name, Version: version, Dev: dev}
}

func withAlias(p inventory.Package, alias string) inventory.Package {
	if alias != "" && alias != p.Name {
		p.Meta = map[string]string{"alias": alias}
	}
	return p
}

// finish sorts packages deterministically and removes exact duplicates
// (same name, version, alias and dev flag).
func finish(pkgs []inventory.Package) []inventory.Package {
	slices.SortFunc(pkgs, func(a, b inventory.Package) int {
		return cmp.Or(inventory.ComparePackages(a, b),
			cmp.Compare(a.Meta["alias"], b.Meta["alias"]),
			boolCmp(a.Dev, b.Dev))
	})
	return slices.CompactFunc(pkgs, func(a, b inventory.Package) bool {
		return a.Name == b.Name && a.Version == b.Version && a.Dev == b.Dev &&
			a.Meta["alias"] == b.Meta["alias"] && slices.Equal(a.Licenses, b.Licenses)
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

// trimBOM drops a UTF-8 byte order mark, which npm tolerates.
func trimBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
