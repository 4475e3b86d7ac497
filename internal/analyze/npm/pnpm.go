package npm

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/drydockscan/drydock/internal/inventory"
)

// ParsePnpmLock reads pnpm-lock.yaml, lockfileVersion 5.x ("/name/1.2.3"
// keys, "_peer@1" suffixes), 6.x ("/name@1.2.3(peer@1)") and 9.x
// ("name@1.2.3"; peers only in "snapshots"). Packages that several peer
// sets instantiate are reported once. Up to 6.x a package is a
// development dependency when its entry says "dev: true"; 9.x no longer
// records it, so it is computed: a package only reachable from the
// importers' devDependencies is one. Local directories (workspace
// projects, file: dependencies) are the project's own code and skipped.
func ParsePnpmLock(b []byte) ([]inventory.Package, error) {
	docs, err := parseYAML("pnpm-lock.yaml", b)
	if err != nil {
		return nil, err
	}
	// pnpm 10 may write an environment lock file (for pnpm itself and
	// config dependencies) as a first document; the project's lock file
	// is then the last one.
	var lock *yaml.Node
	for _, d := range docs {
		if scalar(field(root(d), "lockfileVersion")) != "" {
			lock = root(d)
		}
	}
	if lock == nil {
		return nil, fmt.Errorf("%w: pnpm-lock.yaml: no lockfileVersion", ErrMalformed)
	}
	lv := scalar(field(lock, "lockfileVersion"))
	majorStr, _, _ := strings.Cut(lv, ".")
	major, err := strconv.Atoi(majorStr)
	if err != nil || major < 5 || major > 9 {
		return nil, fmt.Errorf("%w: pnpm-lock.yaml: unsupported lockfileVersion %q", ErrMalformed, truncate(lv))
	}
	packages := field(lock, "packages")
	if packages != nil && !isMapping(packages) {
		return nil, fmt.Errorf("%w: pnpm-lock.yaml: \"packages\" is not a mapping", ErrMalformed)
	}
	var prod, dev map[string]bool
	if major >= 9 {
		prod, dev = pnpmReachable(lock)
	}
	index := map[string]int{}
	var pkgs []inventory.Package
	for key, e := range pairs(packages) {
		if len(pkgs) >= maxPackages {
			return nil, errTooMany
		}
		name, version, ok := pnpmKey(key, major)
		if n, v := scalar(field(e, "name")), scalar(field(e, "version")); n != "" && v != "" {
			name, version, ok = n, v, true
		}
		if !ok && major < 9 && !strings.HasPrefix(key, "/") {
			// A 5.x/6.x key for a tarball or git dependency
			// ("github.com/user/repo/sha") lacking name and version.
			continue
		}
		if !ok || !validName(name) || !validName(version) {
			return nil, fmt.Errorf("%w: pnpm-lock.yaml: invalid package key %q", ErrMalformed, truncate(key))
		}
		res := field(e, "resolution")
		if strings.HasPrefix(version, "link:") || scalar(field(res, "type")) == "directory" || scalar(field(res, "directory")) != "" {
			continue
		}
		isDev := scalar(field(e, "dev")) == "true"
		if major >= 9 {
			base := pnpmStripPeers(key, major)
			isDev = dev[base] && !prod[base]
		}
		id := name + "@" + version
		if i, ok := index[id]; ok {
			// Another peer instance: dev only if every instance is.
			pkgs[i].Dev = pkgs[i].Dev && isDev
			continue
		}
		index[id] = len(pkgs)
		pkgs = append(pkgs, newPackage(name, version, isDev))
	}
	return finish(pkgs), nil
}

// pnpmKey splits a "packages" key into name and version.
func pnpmKey(key string, major int) (name, version string, ok bool) {
	key = pnpmStripPeers(key, major)
	if major >= 6 {
		return splitNameVersion(strings.TrimPrefix(key, "/"))
	}
	// 5.x: "/name/1.2.3" or "/@scope/name/1.2.3".
	rest, ok := strings.CutPrefix(key, "/")
	if !ok {
		return "", "", false // tarball or git keys carry name and version fields
	}
	n := 1
	if strings.HasPrefix(rest, "@") {
		n = 2
	}
	i := 0
	for range n {
		j := strings.IndexByte(rest[i:], '/')
		if j < 0 {
			return "", "", false
		}
		i += j + 1
	}
	return rest[:i-1], rest[i:], rest[i:] != ""
}

// pnpmStripPeers removes the peer-dependency suffix of a key:
// "(react@18.2.0)" from 6.x on, "_react@18.2.0" after the version in 5.x
// (versions contain neither '(' nor '_'; names may contain '_').
func pnpmStripPeers(key string, major int) string {
	if i := strings.IndexByte(key, '('); i > 0 {
		key = key[:i]
	}
	if major < 6 && strings.HasPrefix(key, "/") {
		// 5.x peer suffixes spell '/' as '+', so the version is after
		// the last '/'.
		slash := strings.LastIndexByte(key, '/')
		if i := strings.IndexByte(key[slash+1:], '_'); i >= 0 {
			key = key[:slash+1+i]
		}
	}
	return key
}

// pnpmReachable walks the lockfileVersion 9 graph from the importers and
// returns the package keys ("name@version", peers stripped) reachable
// from production roots (dependencies, optionalDependencies) and from
// development roots (devDependencies).
func pnpmReachable(lock *yaml.Node) (prod, dev map[string]bool) {
	snapshots := map[string]*yaml.Node{}
	for k, v := range pairs(field(lock, "snapshots")) {
		snapshots[k] = v
	}
	// refs appends the snapshot keys a dependency mapping points at.
	// Importers map names to {specifier, version}, snapshots to the
	// reference itself.
	refs := func(out []string, deps *yaml.Node) []string {
		for name, d := range pairs(deps) {
			ref := scalar(d)
			if isMapping(d) {
				ref = scalar(field(d, "version"))
			}
			if r := pnpmRef(name, ref); r != "" {
				out = append(out, r)
			}
		}
		return out
	}
	walk := func(stack []string) map[string]bool {
		seen := map[string]bool{}
		reached := map[string]bool{}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[k] {
				continue
			}
			seen[k] = true
			reached[pnpmStripPeers(k, 9)] = true
			s := snapshots[k]
			stack = refs(stack, field(s, "dependencies"))
			stack = refs(stack, field(s, "optionalDependencies"))
		}
		return reached
	}
	var prodRoots, devRoots []string
	for _, imp := range pairs(field(lock, "importers")) {
		prodRoots = refs(prodRoots, field(imp, "dependencies"))
		prodRoots = refs(prodRoots, field(imp, "optionalDependencies"))
		devRoots = refs(devRoots, field(imp, "devDependencies"))
	}
	return walk(prodRoots), walk(devRoots)
}

// pnpmRef turns a dependency reference into a snapshot key: "1.2.3" and
// "1.2.3(peer@1)" are versions of the named dependency, "real@1.2.3" is
// an alias's full key, "link:…" a workspace project.
func pnpmRef(name, ref string) string {
	if ref == "" || strings.HasPrefix(ref, "link:") {
		return ""
	}
	base := ref
	if i := strings.IndexByte(base, '('); i > 0 {
		base = base[:i]
	}
	if strings.LastIndexByte(base, '@') > 0 {
		return ref
	}
	return name + "@" + ref
}
