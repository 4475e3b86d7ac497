// Package gomod reads go.mod files of Go source trees: the modules the
// main module requires (direct and "// indirect"), with its replace
// directives applied, and the toolchain it asks for. It runs only on
// project directories: in an image, the build information of the Go
// executables says what was really linked.
package gomod

import (
	"context"
	"fmt"
	"path"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/gobinary"
	"github.com/drydockscan/drydock/internal/inventory"
)

// maxSize caps go.mod files; the biggest real ones are a few hundred KB.
const maxSize = 8 << 20

// Meta keys set on the packages, besides those shared with the Go
// binary analyzer (gobinary.MetaReplacedPath, …).
const (
	// MetaFrom says which directive the stdlib package comes from
	// ("toolchain" or "go"); both give a minimum, not the toolchain that
	// will build the module.
	MetaFrom = "from"
)

// Analyzer reads go.mod files.
type Analyzer struct{}

// New returns the go.mod analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "gomod" }

// Version implements analyze.Analyzer. Version 2 marks its packages as
// declared.
func (*Analyzer) Version() int { return 2 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	return (p == "go.mod" || strings.HasSuffix(p, "/go.mod")) && info.Size <= maxSize
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	pkgs, err := Parse(path.Base(f.Path), b)
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

// Parse reads a go.mod file and returns the required modules, replace
// directives applied: a module replaced by another module is reported as
// the replacement (the original in Meta); a module replaced by a local
// directory keeps its path and has no version (the directory in Meta).
// The standard library is reported when the file names a complete
// toolchain version: the toolchain directive, else a go directive of
// the form 1.21.0 (Go 1.21 and later).
func Parse(name string, b []byte) ([]inventory.Package, error) {
	mf, err := modfile.Parse(name, b, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing go.mod: %w", err)
	}
	var pkgs []inventory.Package
	for _, r := range mf.Require {
		p := inventory.Package{Type: inventory.TypeGo, Name: r.Mod.Path, Version: r.Mod.Version, Indirect: r.Indirect}
		if rep := replacement(mf.Replace, r.Mod); rep != nil {
			if modfile.IsDirectoryPath(rep.New.Path) {
				p.Version = ""
				p.Meta = map[string]string{gobinary.MetaReplaceDir: rep.New.Path, gobinary.MetaReplacedVersion: r.Mod.Version}
			} else {
				p.Name, p.Version = rep.New.Path, rep.New.Version
				p.Meta = map[string]string{gobinary.MetaReplacedPath: r.Mod.Path, gobinary.MetaReplacedVersion: r.Mod.Version}
			}
		}
		pkgs = append(pkgs, p)
	}
	if std := stdlib(mf); std != nil {
		pkgs = append(pkgs, *std)
	}
	return pkgs, nil
}

// replacement returns the replace directive that applies to m: one for
// exactly m's version wins over one for every version.
func replacement(reps []*modfile.Replace, m module.Version) *modfile.Replace {
	var any *modfile.Replace
	for _, r := range reps {
		if r.Old.Path != m.Path {
			continue
		}
		if r.Old.Version == m.Version {
			return r
		}
		if r.Old.Version == "" {
			any = r
		}
	}
	return any
}

func stdlib(mf *modfile.File) *inventory.Package {
	var raw, from string
	switch {
	case mf.Toolchain != nil && mf.Toolchain.Name != "" && mf.Toolchain.Name != "default":
		raw, from = mf.Toolchain.Name, "toolchain"
	case mf.Go != nil && strings.Count(mf.Go.Version, ".") == 2:
		raw, from = "go"+mf.Go.Version, "go"
	default:
		return nil
	}
	// A custom toolchain name ("go1.22.1+auto", "mycorp-go1.21.0")
	// ends with the version it is based on.
	base := raw
	if i := strings.LastIndex(base, "go1"); i >= 0 {
		base = base[i:]
	}
	base, _, _ = strings.Cut(base, "+")
	v, ok := gobinary.Semver(base)
	if !ok {
		return nil
	}
	return &inventory.Package{Type: inventory.TypeGo, Name: gobinary.StdlibName, Version: v,
		Meta: map[string]string{MetaFrom: from, gobinary.MetaGoVersion: raw}}
}
