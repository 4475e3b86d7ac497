package python

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Lock file caps. TOML decoding holds the whole document as Go values,
// about a hundred bytes per value, so TOML lock files are also capped by
// an estimate of their values (lines plus commas): a real uv.lock of
// 16 MiB has well under a million.
const (
	maxRequirements = 16 << 20
	maxTOMLLock     = 16 << 20
	maxTOMLValues   = 2 << 20
	maxJSONLock     = 64 << 20
	maxPackages     = 1 << 20
	maxLineLen      = 1 << 20
)

var errTooMany = fmt.Errorf("%w: more than %d packages", ErrMalformed, maxPackages)

// LockAnalyzer reads the lock files of Python projects. They describe
// what would be installed (their packages are inventory.Package.Declared),
// so it only runs on project directories: in an image the installed
// distributions' metadata says what is there.
type LockAnalyzer struct{}

// NewLock returns the Python lock file analyzer.
func NewLock() *LockAnalyzer { return &LockAnalyzer{} }

// Name implements analyze.Analyzer.
func (*LockAnalyzer) Name() string { return "python-lock" }

// Version implements analyze.Analyzer. Version 2 marks its packages as
// declared.
func (*LockAnalyzer) Version() int { return 2 }

// Required implements analyze.Analyzer.
func (*LockAnalyzer) Required(p string, info analyze.FileInfo) bool {
	dir, base := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	if strings.Contains(dir, "site-packages") || strings.Contains(dir, "dist-packages") {
		return false // files shipped inside installed packages
	}
	switch base {
	case "poetry.lock", "uv.lock", "pdm.lock":
		return info.Size <= maxTOMLLock
	case "Pipfile.lock":
		return info.Size <= maxJSONLock
	}
	return isRequirements(dir, base) && info.Size <= maxRequirements
}

// isRequirements matches requirements.txt, requirements-dev.txt,
// requirements_test.txt and any *.txt in a requirements/ directory.
func isRequirements(dir, base string) bool {
	if !strings.HasSuffix(base, ".txt") {
		return false
	}
	return strings.HasPrefix(base, "requirements") || dir == "requirements" || strings.HasSuffix(dir, "/requirements")
}

// Analyze implements analyze.Analyzer.
func (*LockAnalyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	var pkgs []inventory.Package
	switch base := f.Path[strings.LastIndexByte(f.Path, '/')+1:]; base {
	case "poetry.lock":
		pkgs, err = ParsePoetryLock(b)
	case "uv.lock":
		pkgs, err = ParseUVLock(b)
	case "pdm.lock":
		pkgs, err = ParsePDMLock(b)
	case "Pipfile.lock":
		pkgs, err = ParsePipfileLock(b)
	default:
		pkgs, err = ParseRequirements(b)
	}
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	for i := range pkgs {
		pkgs[i].Declared = true
	}
	return &analyze.Result{Packages: pkgs}, nil
}

func newPackage(name, version string, dev bool) inventory.Package {
	return inventory.Package{Type: inventory.TypePyPI, Name: name, Version: version, Dev: dev}
}

// ParseRequirements reads a pip requirements file and returns the
// requirements pinned with == (or ===). Options, includes (-r, -c),
// editable and URL requirements and unpinned ranges are skipped;
// extras, environment markers and per-requirement options (--hash) are
// ignored. Comments and backslash continuations are handled as pip does.
func ParseRequirements(b []byte) ([]inventory.Package, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: requirements file: binary data", ErrMalformed)
	}
	var pkgs []inventory.Package
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	var logical strings.Builder
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasSuffix(line, `\`) {
			if logical.Len()+len(line) > maxLineLen {
				return nil, fmt.Errorf("%w: requirements file: continued line longer than %d bytes", ErrMalformed, maxLineLen)
			}
			logical.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		logical.WriteString(line)
		if p, ok := pinned(logical.String()); ok {
			if len(pkgs) >= maxPackages {
				return nil, errTooMany
			}
			pkgs = append(pkgs, p)
		}
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: requirements file: %v", ErrMalformed, err)
	}
	if p, ok := pinned(logical.String()); ok {
		pkgs = append(pkgs, p)
	}
	return sortPackages(pkgs), nil
}

// pinned parses one logical requirements line: "name[extras] == 1.2.3
// ; markers --hash=…  # comment".
func pinned(line string) (inventory.Package, bool) {
	// A comment starts at a '#' at the start or after whitespace.
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '-' {
		return inventory.Package{}, false // options, -r/-c includes, -e
	}
	if i := strings.Index(line, " -"); i >= 0 {
		line = line[:i] // per-requirement options: --hash, --config-settings
	}
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // environment markers
	}
	i := strings.Index(line, "==")
	if i < 0 {
		return inventory.Package{}, false
	}
	name := strings.TrimSpace(line[:i])
	if j := strings.IndexByte(name, '['); j >= 0 {
		name = strings.TrimSpace(name[:j]) // extras
	}
	version := strings.TrimSpace(strings.TrimPrefix(line[i+2:], "="))
	if !validName(name) || !validVersion(version) || strings.ContainsAny(version, "*,<>!=~") {
		// Not a plain pin: "x==1.*", "x==1,!=1.2", "x @ url", garbage.
		return inventory.Package{}, false
	}
	return newPackage(name, version, false), true
}

// poetryLock is poetry.lock: "category" (Poetry < 1.5) or "groups"
// (Poetry 2) say whether a package is only for development.
type poetryLock struct {
	Package []struct {
		Name     string   `toml:"name"`
		Version  string   `toml:"version"`
		Category string   `toml:"category"`
		Groups   []string `toml:"groups"`
		Source   struct {
			Type string `toml:"type"`
		} `toml:"source"`
	} `toml:"package"`
	Metadata *struct {
		LockVersion string `toml:"lock-version"`
	} `toml:"metadata"`
}

// ParsePoetryLock reads poetry.lock. Local directory dependencies are the
// project's own code and skipped.
func ParsePoetryLock(b []byte) ([]inventory.Package, error) {
	var lock poetryLock
	if err := decodeTOML("poetry.lock", b, &lock); err != nil {
		return nil, err
	}
	if lock.Metadata == nil {
		return nil, fmt.Errorf("%w: poetry.lock: no [metadata] table", ErrMalformed)
	}
	if len(lock.Package) > maxPackages {
		return nil, errTooMany
	}
	var pkgs []inventory.Package
	for i, p := range lock.Package {
		if err := checkNameVersion("poetry.lock", i, p.Name, p.Version); err != nil {
			return nil, err
		}
		if p.Source.Type == "directory" {
			continue
		}
		dev := p.Category == "dev" || (len(p.Groups) > 0 && !slices.Contains(p.Groups, "main"))
		pkgs = append(pkgs, newPackage(p.Name, p.Version, dev))
	}
	return sortPackages(pkgs), nil
}

// pdmLock is pdm.lock; from lock_version 4.4.1 on, packages list their
// groups.
type pdmLock struct {
	Package []struct {
		Name     string   `toml:"name"`
		Version  string   `toml:"version"`
		Groups   []string `toml:"groups"`
		Path     string   `toml:"path"`
		Editable bool     `toml:"editable"`
	} `toml:"package"`
	Metadata *struct {
		LockVersion string `toml:"lock_version"`
	} `toml:"metadata"`
}

// ParsePDMLock reads pdm.lock. Local paths and editable packages are the
// project's own code and skipped.
func ParsePDMLock(b []byte) ([]inventory.Package, error) {
	var lock pdmLock
	if err := decodeTOML("pdm.lock", b, &lock); err != nil {
		return nil, err
	}
	if lock.Metadata == nil {
		return nil, fmt.Errorf("%w: pdm.lock: no [metadata] table", ErrMalformed)
	}
	if len(lock.Package) > maxPackages {
		return nil, errTooMany
	}
	var pkgs []inventory.Package
	for i, p := range lock.Package {
		if err := checkNameVersion("pdm.lock", i, p.Name, p.Version); err != nil {
			return nil, err
		}
		if p.Path != "" || p.Editable {
			continue
		}
		dev := len(p.Groups) > 0 && !slices.Contains(p.Groups, "default")
		pkgs = append(pkgs, newPackage(p.Name, p.Version, dev))
	}
	return sortPackages(pkgs), nil
}

// uvDependency is one edge of the uv.lock graph; Version is only set
// when the lock holds several versions of the package.
type uvDependency struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
}

type uvLock struct {
	Version *int `toml:"version"`
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
		Source  struct {
			Editable  string `toml:"editable"`
			Virtual   string `toml:"virtual"`
			Directory string `toml:"directory"`
		} `toml:"source"`
		Dependencies         []uvDependency            `toml:"dependencies"`
		OptionalDependencies map[string][]uvDependency `toml:"optional-dependencies"`
		DevDependencies      map[string][]uvDependency `toml:"dev-dependencies"`
	} `toml:"package"`
}

// ParseUVLock reads uv.lock. The workspace's own packages (editable,
// virtual, local directory sources) are skipped. A package is a
// development dependency when it is only reachable from the workspace
// packages' dev-dependencies (dependency groups), not from their
// dependencies or optional dependencies.
func ParseUVLock(b []byte) ([]inventory.Package, error) {
	var lock uvLock
	if err := decodeTOML("uv.lock", b, &lock); err != nil {
		return nil, err
	}
	if lock.Version == nil {
		return nil, fmt.Errorf("%w: uv.lock: no version", ErrMalformed)
	}
	if len(lock.Package) > maxPackages {
		return nil, errTooMany
	}
	// Index packages by name and by name+version.
	byName := map[string][]int{}
	for i, p := range lock.Package {
		// Workspace members with a dynamic version have none.
		if p.Version != "" || !validName(p.Name) {
			if err := checkNameVersion("uv.lock", i, p.Name, p.Version); err != nil {
				return nil, err
			}
		}
		byName[p.Name] = append(byName[p.Name], i)
	}
	resolve := func(d uvDependency) []int {
		var out []int
		for _, i := range byName[d.Name] {
			if d.Version == "" || lock.Package[i].Version == d.Version {
				out = append(out, i)
			}
		}
		return out
	}
	walk := func(roots []uvDependency) []bool {
		reached := make([]bool, len(lock.Package))
		var stack []int
		for _, d := range roots {
			stack = append(stack, resolve(d)...)
		}
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if reached[i] {
				continue
			}
			reached[i] = true
			p := lock.Package[i]
			for _, d := range p.Dependencies {
				stack = append(stack, resolve(d)...)
			}
			for _, deps := range p.OptionalDependencies {
				for _, d := range deps {
					stack = append(stack, resolve(d)...)
				}
			}
		}
		return reached
	}
	var prodRoots, devRoots []uvDependency
	for _, p := range lock.Package {
		if p.Source.Editable == "" && p.Source.Virtual == "" {
			continue
		}
		prodRoots = append(prodRoots, uvDependency{Name: p.Name, Version: p.Version})
		for _, deps := range p.DevDependencies {
			devRoots = append(devRoots, deps...)
		}
	}
	prod, dev := walk(prodRoots), walk(devRoots)
	var pkgs []inventory.Package
	for i, p := range lock.Package {
		if p.Source.Editable != "" || p.Source.Virtual != "" || p.Source.Directory != "" || p.Version == "" {
			continue
		}
		pkgs = append(pkgs, newPackage(p.Name, p.Version, dev[i] && !prod[i]))
	}
	return sortPackages(pkgs), nil
}

// pipfileLock is Pipfile.lock: "default" and "develop" map package names
// to {"version": "==1.2.3", …}.
type pipfileLock struct {
	Meta    *json.RawMessage `json:"_meta"`
	Default map[string]struct {
		Version string `json:"version"`
	} `json:"default"`
	Develop map[string]struct {
		Version string `json:"version"`
	} `json:"develop"`
}

// ParsePipfileLock reads Pipfile.lock. Entries without a version (VCS,
// local paths, editable installs) are skipped.
func ParsePipfileLock(b []byte) ([]inventory.Package, error) {
	var lock pipfileLock
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%w: Pipfile.lock: %v", ErrMalformed, err)
	}
	if lock.Meta == nil {
		return nil, fmt.Errorf("%w: Pipfile.lock: no _meta section", ErrMalformed)
	}
	if len(lock.Default)+len(lock.Develop) > maxPackages {
		return nil, errTooMany
	}
	var pkgs []inventory.Package
	add := func(name, version string, dev bool) error {
		if version == "" {
			return nil
		}
		v, ok := strings.CutPrefix(version, "==")
		if !ok || !validName(name) || !validVersion(v) {
			return fmt.Errorf("%w: Pipfile.lock: %q: invalid pin %q", ErrMalformed, truncate(name), truncate(version))
		}
		pkgs = append(pkgs, newPackage(name, v, dev))
		return nil
	}
	for name, e := range lock.Default {
		if err := add(name, e.Version, false); err != nil {
			return nil, err
		}
	}
	for name, e := range lock.Develop {
		if _, inDefault := lock.Default[name]; inDefault {
			continue // needed in production too
		}
		if err := add(name, e.Version, true); err != nil {
			return nil, err
		}
	}
	return sortPackages(pkgs), nil
}

func decodeTOML(kind string, b []byte, v any) error {
	if len(b) > maxTOMLLock {
		return fmt.Errorf("%w: %s: %d bytes, more than %d", ErrMalformed, kind, len(b), maxTOMLLock)
	}
	if est := bytes.Count(b, []byte{'\n'}) + bytes.Count(b, []byte{','}); est > maxTOMLValues {
		return fmt.Errorf("%w: %s: too many TOML values (about %d, at most %d)", ErrMalformed, kind, est, maxTOMLValues)
	}
	if _, err := toml.Decode(string(b), v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, kind, err)
	}
	return nil
}

func checkNameVersion(kind string, i int, name, version string) error {
	switch {
	case !validName(name):
		return fmt.Errorf("%w: %s: package %d: invalid name %q", ErrMalformed, kind, i+1, truncate(name))
	case !validVersion(version):
		return fmt.Errorf("%w: %s: %s: invalid version %q", ErrMalformed, kind, name, truncate(version))
	}
	return nil
}
