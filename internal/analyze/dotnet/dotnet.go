// Package dotnet reads .NET dependency manifests (*.deps.json), which the
// .NET SDK writes next to every application: the NuGet packages the
// application loads at run time.
package dotnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxSize caps deps.json files; those of big applications are a few MB.
const maxSize = 32 << 20

// runtimePackPrefix marks the .NET runtime bundled in a self-contained
// application ("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64"); the
// runtime's NuGet name is the rest.
const runtimePackPrefix = "runtimepack."

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed deps.json")

// Analyzer reads *.deps.json files.
type Analyzer struct{}

// New returns the .NET analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "dotnet-deps" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	return strings.HasSuffix(p, ".deps.json") && info.Size <= maxSize
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	pkgs, err := Parse(b)
	if err != nil || len(pkgs) == 0 {
		return nil, err
	}
	return &analyze.Result{Packages: pkgs}, nil
}

type depsFile struct {
	RuntimeTarget struct {
		Name string `json:"name"`
	} `json:"runtimeTarget"`
	Targets   map[string]map[string]targetLib `json:"targets"`
	Libraries map[string]struct {
		Type string `json:"type"`
	} `json:"libraries"`
}

type targetLib struct {
	Runtime        json.RawMessage `json:"runtime"`
	RuntimeTargets json.RawMessage `json:"runtimeTargets"`
	Native         json.RawMessage `json:"native"`
}

// hasAssets reports whether the library brings files that are loaded at
// run time.
func (l targetLib) hasAssets() bool {
	return !emptyJSON(l.Runtime) || !emptyJSON(l.RuntimeTargets) || !emptyJSON(l.Native)
}

func emptyJSON(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || bytes.Equal(m, []byte("null")) || bytes.Equal(m, []byte("{}")) || bytes.Equal(m, []byte("[]")) ||
		(len(m) >= 2 && m[0] == '{' && len(bytes.TrimSpace(m[1:len(m)-1])) == 0)
}

// Parse reads a deps.json file. It reports the libraries of type
// "package" (and the runtime pack of a self-contained application, under
// its NuGet name) that the application loads at run time: when the
// runtime target lists a library without runtime, native or
// runtime-target assets (a meta-package, a compile-time reference), it is
// left out; a library the runtime target does not list is kept.
// Projects are the application itself and are not reported.
func Parse(b []byte) ([]inventory.Package, error) {
	var d depsFile
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	target, haveTarget := d.Targets[d.RuntimeTarget.Name]
	var pkgs []inventory.Package
	for key, lib := range d.Libraries {
		typ := strings.ToLower(lib.Type)
		if typ != "package" && typ != "runtimepack" {
			continue
		}
		name, version, ok := strings.Cut(key, "/")
		if !ok || name == "" || version == "" || strings.Contains(version, "/") {
			return nil, fmt.Errorf("%w: library %q is not \"name/version\"", ErrMalformed, truncate(key))
		}
		if haveTarget {
			if tl, listed := target[key]; listed && !tl.hasAssets() {
				continue
			}
		}
		if typ == "runtimepack" {
			name = strings.TrimPrefix(name, runtimePackPrefix)
		}
		pkgs = append(pkgs, inventory.Package{Type: inventory.TypeNuGet, Name: name, Version: version})
	}
	slices.SortFunc(pkgs, inventory.ComparePackages)
	return pkgs, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
