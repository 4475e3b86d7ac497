package npm

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// ParseYarnLock reads a yarn.lock: the classic (Yarn 1) format, or the
// YAML of Yarn 2 and later ("Berry"), which has a __metadata entry.
// Neither records which packages are development dependencies.
func ParseYarnLock(b []byte) ([]inventory.Package, error) {
	if isBerry(b) {
		return parseBerry(b)
	}
	return parseYarnV1(b)
}

func isBerry(b []byte) bool {
	head := b[:min(len(b), 4096)]
	return bytes.HasPrefix(head, []byte("__metadata:")) || bytes.Contains(head, []byte("\n__metadata:"))
}

// yarnEntry is one resolution of a Yarn 1 lock file: the descriptors
// that resolved to it and its version.
type yarnEntry struct {
	line    int
	specs   []string
	version string
}

// parseYarnV1 reads the Yarn 1 format: unindented entry headers listing
// one or more quoted or bare "name@range" descriptors and ending with ':',
// then indented fields ("version "1.2.3"", dependencies blocks…).
func parseYarnV1(b []byte) ([]inventory.Package, error) {
	var pkgs []inventory.Package
	var cur *yarnEntry
	flush := func() error {
		if cur == nil {
			return nil
		}
		p, ok, err := cur.pkg()
		if err != nil {
			return err
		}
		if ok {
			if len(pkgs) >= maxPackages {
				return errTooMany
			}
			pkgs = append(pkgs, p)
		}
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		switch indent := len(line) - len(trimmed); {
		case indent == 0:
			if err := flush(); err != nil {
				return nil, err
			}
			header, ok := strings.CutSuffix(line, ":")
			if !ok {
				return nil, fmt.Errorf("%w: yarn.lock: line %d: expected an entry header ending in ':', got %q", ErrMalformed, n, truncate(line))
			}
			specs, err := splitHeader(header)
			if err != nil {
				return nil, fmt.Errorf("%w: yarn.lock: line %d: %v", ErrMalformed, n, err)
			}
			cur = &yarnEntry{line: n, specs: specs}
		case cur == nil:
			return nil, fmt.Errorf("%w: yarn.lock: line %d: indented line outside an entry", ErrMalformed, n)
		case indent == 2:
			key, val, _ := strings.Cut(trimmed, " ")
			if key != "version" {
				continue
			}
			v, err := yarnValue(val)
			if err != nil {
				return nil, fmt.Errorf("%w: yarn.lock: line %d: version: %v", ErrMalformed, n, err)
			}
			cur.version = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: yarn.lock: %v", ErrMalformed, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return finish(pkgs), nil
}

// splitHeader splits `"a@^1", a@^1.2` into its descriptors.
func splitHeader(h string) ([]string, error) {
	var out []string
	for h != "" {
		var spec string
		if h[0] == '"' {
			q, err := strconv.QuotedPrefix(h)
			if err != nil {
				return nil, fmt.Errorf("bad quoting in %q", truncate(h))
			}
			spec, _ = strconv.Unquote(q)
			h = h[len(q):]
		} else {
			i := strings.IndexByte(h, ',')
			if i < 0 {
				i = len(h)
			}
			spec, h = strings.TrimSpace(h[:i]), h[i:]
		}
		if spec == "" {
			return nil, fmt.Errorf("empty descriptor")
		}
		out = append(out, spec)
		h = strings.TrimLeft(h, " ")
		if h != "" {
			var ok bool
			if h, ok = strings.CutPrefix(h, ","); !ok {
				return nil, fmt.Errorf("expected ',' before %q", truncate(h))
			}
			h = strings.TrimLeft(h, " ")
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("entry header names no package")
	}
	return out, nil
}

func yarnValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		return strconv.Unquote(v)
	}
	return v, nil
}

// pkg turns an entry into a package. ok is false for the project's own
// local packages (file: and link: descriptors).
func (e *yarnEntry) pkg() (inventory.Package, bool, error) {
	name, rng, ok := splitSpec(e.specs[0])
	if !ok || !validName(name) {
		return inventory.Package{}, false, fmt.Errorf("%w: yarn.lock: line %d: invalid descriptor %q", ErrMalformed, e.line, truncate(e.specs[0]))
	}
	if strings.HasPrefix(rng, "file:") || strings.HasPrefix(rng, "link:") {
		return inventory.Package{}, false, nil
	}
	if e.version == "" {
		return inventory.Package{}, false, fmt.Errorf("%w: yarn.lock: line %d: %s has no version", ErrMalformed, e.line, name)
	}
	if !validName(e.version) {
		return inventory.Package{}, false, fmt.Errorf("%w: yarn.lock: line %d: %s: invalid version %q", ErrMalformed, e.line, name, truncate(e.version))
	}
	alias := ""
	if real := aliasTarget(rng); real != "" && validName(real) {
		// "alias@npm:real@range": the lock records the real package.
		alias, name = name, real
	}
	return withAlias(newPackage(name, e.version, false), alias), true, nil
}

// parseBerry reads the Yarn 2+ lock file. Entries are keyed by the
// descriptors that resolved to them ("name@npm:^1.0.0, name@npm:^1.2.0");
// the "resolution" locator gives the real package ("name@npm:1.2.3").
// Workspaces and link:/portal: packages are the project's own code;
// patch: entries repeat the package they patch.
func parseBerry(b []byte) ([]inventory.Package, error) {
	docs, err := parseYAML("yarn.lock", b)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 || !isMapping(root(docs[0])) {
		return nil, fmt.Errorf("%w: yarn.lock: not one YAML mapping", ErrMalformed)
	}
	top := root(docs[0])
	if !isMapping(field(top, "__metadata")) {
		return nil, fmt.Errorf("%w: yarn.lock: no __metadata entry", ErrMalformed)
	}
	var pkgs []inventory.Package
	for key, e := range pairs(top) {
		if key == "__metadata" {
			continue
		}
		if len(pkgs) >= maxPackages {
			return nil, errTooMany
		}
		if !isMapping(e) {
			return nil, fmt.Errorf("%w: yarn.lock: %q is not a mapping", ErrMalformed, truncate(key))
		}
		resolution, version := scalar(field(e, "resolution")), scalar(field(e, "version"))
		name, ref, ok := splitSpec(resolution)
		protocol, _, hasProtocol := strings.Cut(ref, ":")
		if !ok || !hasProtocol || !validName(name) {
			return nil, fmt.Errorf("%w: yarn.lock: %q: invalid resolution %q", ErrMalformed, truncate(key), truncate(resolution))
		}
		switch protocol {
		case "workspace", "link", "portal", "patch":
			continue
		}
		if !validName(version) {
			return nil, fmt.Errorf("%w: yarn.lock: %q: invalid version %q", ErrMalformed, truncate(key), truncate(version))
		}
		first, _, _ := strings.Cut(key, ",")
		alias, _, _ := splitSpec(strings.TrimSpace(first))
		pkgs = append(pkgs, withAlias(newPackage(name, version, false), alias))
	}
	return finish(pkgs), nil
}

// aliasTarget returns the real package name of an alias range
// ("npm:real@^1", "npm:@scope/real") or "".
func aliasTarget(rng string) string {
	real, ok := strings.CutPrefix(rng, "npm:")
	if !ok || real == "" {
		return ""
	}
	if name, _, ok := splitNameVersion(real); ok {
		return name
	}
	if c := real[0]; c == '@' || (c >= 'a' && c <= 'z') {
		return real
	}
	return "" // "npm:^1.0.0" is a plain range
}
