package npm

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// packageLock is package-lock.json / npm-shrinkwrap.json. Version 1 has
// only the nested "dependencies" tree; version 2 has both; version 3 only
// "packages", keyed by install path.
type packageLock struct {
	LockfileVersion int                         `json:"lockfileVersion"`
	Packages        map[string]lockPackage      `json:"packages"`
	Dependencies    map[string]lockDependencyV1 `json:"dependencies"`
}

type lockPackage struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	Resolved string          `json:"resolved"`
	Link     bool            `json:"link"`
	Dev      bool            `json:"dev"`
	License  json.RawMessage `json:"license"`
}

type lockDependencyV1 struct {
	Version      string                      `json:"version"`
	Dev          bool                        `json:"dev"`
	Dependencies map[string]lockDependencyV1 `json:"dependencies"`
}

// ParsePackageLock reads package-lock.json or npm-shrinkwrap.json.
//
// From version 2 on, the "packages" map is used: the root entry ("") and
// workspace folders (keys outside node_modules) are the project's own
// code and link entries point at them, so all three are skipped. A
// package's name is its "name" field (set for aliases) or the last
// node_modules segment of its key. Dev is set for "dev" entries only:
// "optional" and "devOptional" packages can be installed in production.
func ParsePackageLock(b []byte) ([]inventory.Package, error) {
	var lock packageLock
	if err := json.Unmarshal(trimBOM(b), &lock); err != nil {
		return nil, jsonError("package lock", err)
	}
	switch {
	case lock.LockfileVersion < 1 || lock.LockfileVersion > 3:
		return nil, fmt.Errorf("%w: package lock: unsupported lockfileVersion %d", ErrMalformed, lock.LockfileVersion)
	case lock.Packages != nil:
		return packagesV2(lock.Packages)
	}
	if len(lock.Dependencies) > maxPackages {
		return nil, errTooMany
	}
	var pkgs []inventory.Package
	if err := dependenciesV1(lock.Dependencies, &pkgs); err != nil {
		return nil, err
	}
	return finish(pkgs), nil
}

func packagesV2(entries map[string]lockPackage) ([]inventory.Package, error) {
	if len(entries) > maxPackages {
		return nil, errTooMany
	}
	pkgs := make([]inventory.Package, 0, len(entries))
	for key, e := range entries {
		installed, ok := lastNodeModules(key)
		if !ok || e.Link {
			continue
		}
		if n := strings.Count(installed, "/"); n > 1 || (n == 1) != strings.HasPrefix(installed, "@") {
			return nil, fmt.Errorf("%w: package lock: invalid key %q", ErrMalformed, truncate(key))
		}
		name := e.Name
		if name == "" {
			name = installed
		}
		if !validName(name) {
			return nil, fmt.Errorf("%w: package lock: %q: invalid name %q", ErrMalformed, truncate(key), truncate(name))
		}
		if e.Version == "" {
			// An entry npm could not resolve (a missing optional
			// dependency of another platform, an extraneous folder).
			continue
		}
		if !validName(e.Version) {
			return nil, fmt.Errorf("%w: package lock: %q: invalid version %q", ErrMalformed, truncate(key), truncate(e.Version))
		}
		p := withAlias(newPackage(name, e.Version, e.Dev), installed)
		p.Licenses = licenses(e.License, nil)
		pkgs = append(pkgs, p)
	}
	return finish(pkgs), nil
}

// dependenciesV1 flattens the nested lockfileVersion 1 tree. The depth is
// bounded by encoding/json's nesting limit.
func dependenciesV1(deps map[string]lockDependencyV1, out *[]inventory.Package) error {
	for key, d := range deps {
		if len(*out) >= maxPackages {
			return errTooMany
		}
		if !validName(key) {
			return fmt.Errorf("%w: package lock: invalid dependency name %q", ErrMalformed, truncate(key))
		}
		name, version := key, d.Version
		if real, ok := strings.CutPrefix(version, "npm:"); ok {
			// An alias: "alias": {"version": "npm:real@1.2.3"}.
			n, v, ok := splitNameVersion(real)
			if !ok || !validName(n) {
				return fmt.Errorf("%w: package lock: %s: invalid alias version %q", ErrMalformed, key, truncate(version))
			}
			name, version = n, v
		}
		switch {
		case version == "":
			return fmt.Errorf("%w: package lock: %s: no version", ErrMalformed, key)
		case strings.HasPrefix(version, "file:"), strings.HasPrefix(version, "link:"):
			// A local folder: the project's own code.
		case !validName(version):
			return fmt.Errorf("%w: package lock: %s: invalid version %q", ErrMalformed, key, truncate(version))
		default:
			*out = append(*out, withAlias(newPackage(name, version, d.Dev), key))
		}
		if err := dependenciesV1(d.Dependencies, out); err != nil {
			return err
		}
	}
	return nil
}

// lastNodeModules returns what follows the last node_modules segment of a
// "packages" key ("node_modules/a/node_modules/@s/b" → "@s/b").
func lastNodeModules(key string) (string, bool) {
	if i := strings.LastIndex(key, "/node_modules/"); i >= 0 {
		return key[i+len("/node_modules/"):], true
	}
	return strings.CutPrefix(key, "node_modules/")
}
