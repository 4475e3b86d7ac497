// Package php finds PHP packages installed by Composer: composer.lock
// (packages and packages-dev) and vendor/composer/installed.json, in the
// Composer 1 form (a JSON array) and the Composer 2 form ({"packages":
// […], "dev-package-names": […]}).
package php

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxFileSize caps composer.lock and installed.json; both are a few
// hundred kB for big applications.
const maxFileSize = 64 << 20

// maxPackages caps the packages one file may list.
const maxPackages = 1 << 20

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed Composer metadata")

// Analyzer reads Composer's lock file and installed-package list.
//
// vendor/composer/installed.json lists what Composer installed;
// composer.lock what the project asked for (its packages are
// inventory.Package.Declared). In an image the lock file only confirms
// what is installed: its entries are marked NeedsInstalled, so
// inventory.Consolidate merges them into the installed packages of the same
// project and drops the others. Scanning a project directory they count on
// their own.
type Analyzer struct {
	mode analyze.Mode
}

// New returns the Composer analyzer for a scan mode.
func New(mode analyze.Mode) *Analyzer { return &Analyzer{mode: mode} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "composer" }

// Version implements analyze.Analyzer. Version 2 marks lock file entries
// as declared (and, in images, as needing an installed copy).
func (*Analyzer) Version() int { return 2 }

const installedJSON = "vendor/composer/installed.json"

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	if info.Size > maxFileSize {
		return false
	}
	if p == installedJSON || (strings.HasSuffix(p, installedJSON) && p[len(p)-len(installedJSON)-1] == '/') {
		return true
	}
	if p != "composer.lock" && !strings.HasSuffix(p, "/composer.lock") {
		return false
	}
	// A composer.lock inside vendor/ belongs to an installed package.
	return !strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/")
}

// Analyze implements analyze.Analyzer.
func (a *Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	var pkgs []inventory.Package
	if strings.HasSuffix(f.Path, "composer.lock") {
		pkgs, err = ParseLock(b)
		for i := range pkgs {
			pkgs[i].Declared = true
			pkgs[i].NeedsInstalled = a.mode == analyze.ModeImage
		}
	} else {
		pkgs, err = ParseInstalled(b)
	}
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	return &analyze.Result{Packages: pkgs}, nil
}

// composerPackage holds the fields of a package entry drydock reads.
type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
	Dist    struct {
		Type string `json:"type"`
	} `json:"dist"`
}

// ParseLock reads composer.lock: "packages" and "packages-dev" (Dev).
func ParseLock(b []byte) ([]inventory.Package, error) {
	var lock struct {
		Packages    *[]composerPackage `json:"packages"`
		PackagesDev []composerPackage  `json:"packages-dev"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, jsonError("composer.lock", err)
	}
	if lock.Packages == nil {
		return nil, fmt.Errorf("%w: composer.lock: no \"packages\" list", ErrMalformed)
	}
	if len(*lock.Packages)+len(lock.PackagesDev) > maxPackages {
		return nil, fmt.Errorf("%w: composer.lock: more than %d packages", ErrMalformed, maxPackages)
	}
	var pkgs []inventory.Package
	for i, p := range *lock.Packages {
		if err := add(&pkgs, "composer.lock", i, p, false); err != nil {
			return nil, err
		}
	}
	for i, p := range lock.PackagesDev {
		if err := add(&pkgs, "composer.lock packages-dev", i, p, true); err != nil {
			return nil, err
		}
	}
	return sortPackages(pkgs), nil
}

// ParseInstalled reads vendor/composer/installed.json.
func ParseInstalled(b []byte) ([]inventory.Package, error) {
	var list []composerPackage
	devNames := map[string]bool{}
	switch trimmed := bytes.TrimLeft(b, " \t\r\n"); {
	case len(trimmed) > 0 && trimmed[0] == '[':
		// Composer 1.
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, jsonError("installed.json", err)
		}
	default:
		var v2 struct {
			Packages        *[]composerPackage `json:"packages"`
			DevPackageNames []string           `json:"dev-package-names"`
		}
		if err := json.Unmarshal(b, &v2); err != nil {
			return nil, jsonError("installed.json", err)
		}
		if v2.Packages == nil {
			return nil, fmt.Errorf("%w: installed.json: neither a package list nor {\"packages\": …}", ErrMalformed)
		}
		list = *v2.Packages
		for _, n := range v2.DevPackageNames {
			devNames[strings.ToLower(n)] = true
		}
	}
	if len(list) > maxPackages {
		return nil, fmt.Errorf("%w: installed.json: more than %d packages", ErrMalformed, maxPackages)
	}
	var pkgs []inventory.Package
	for i, p := range list {
		if err := add(&pkgs, "installed.json", i, p, devNames[strings.ToLower(p.Name)]); err != nil {
			return nil, err
		}
	}
	return sortPackages(pkgs), nil
}

// add appends one package entry. Packages installed from a path
// repository are the project's own code and skipped.
func add(pkgs *[]inventory.Package, kind string, i int, p composerPackage, dev bool) error {
	switch {
	case !validName(p.Name):
		return fmt.Errorf("%w: %s: package %d: invalid name %q", ErrMalformed, kind, i+1, truncate(p.Name))
	case !validVersion(p.Version):
		return fmt.Errorf("%w: %s: %s: invalid version %q", ErrMalformed, kind, p.Name, truncate(p.Version))
	case p.Dist.Type == "path":
		return nil
	}
	*pkgs = append(*pkgs, inventory.Package{
		Type:     inventory.TypeComposer,
		Name:     p.Name,
		Version:  p.Version,
		Licenses: licenses(p.License),
		Dev:      dev,
	})
	return nil
}

// licenses reads "license": an array of SPDX identifiers, or one string.
func licenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil
		}
		list = []string{one}
	}
	var out []string
	for _, l := range list {
		if l = strings.TrimSpace(l); l != "" && len(l) <= 256 && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// validName checks "vendor/package": two non-empty parts of letters,
// digits, '_', '.' and '-'.
func validName(s string) bool {
	vendor, pkg, ok := strings.Cut(s, "/")
	return ok && len(s) <= 256 && validPart(vendor) && validPart(pkg)
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion rejects empty and overlong versions and ones with
// whitespace or control characters ("dev-main", "v1.2.3" and
// "1.0.x-dev" are all fine).
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

func jsonError(kind string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %s: invalid JSON at offset %d: %v", ErrMalformed, kind, se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: %s: field %q: JSON %s where %s was expected", ErrMalformed, kind, te.Field, te.Value, te.Type)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, kind, err)
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

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
