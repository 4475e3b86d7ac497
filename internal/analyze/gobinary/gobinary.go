// Package gobinary reads the build information the Go linker embeds in
// executables (ELF, Mach-O, PE): the main module, every dependency module
// with replace directives applied, the toolchain version and the build
// settings.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Size bounds of the files offered to the analyzer. A Go executable is
// never smaller than a kilobyte; above 512 MiB the file is not worth
// loading for build info.
const (
	minSize = 1 << 10
	maxSize = 512 << 20
)

// Meta keys set on the packages.
const (
	// MetaGoVersion is the toolchain's own spelling ("go1.21.0").
	MetaGoVersion = "go_version"
	// MetaBuildPrefix prefixes build settings on the main module
	// ("build:-trimpath" = "true", "build:vcs.revision" = "…").
	MetaBuildPrefix = "build:"
	// MetaReplacedPath and MetaReplacedVersion name the module a replace
	// directive substituted.
	MetaReplacedPath    = "replaced_path"
	MetaReplacedVersion = "replaced_version"
	// MetaReplaceDir is the local directory a module was replaced by; the
	// package then keeps the original path and has no version.
	MetaReplaceDir = "replace_dir"
	// MetaSum is the go.sum hash recorded for the module ("h1:…").
	MetaSum = "sum"
)

// StdlibName is the package name of the Go toolchain's standard library,
// as the Go vulnerability database names it.
const StdlibName = "stdlib"

// Analyzer reads Go build information from executables.
type Analyzer struct{}

// New returns the Go binary analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "gobinary" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Required implements analyze.Analyzer: regular files with an executable
// bit, within the size bounds.
func (*Analyzer) Required(_ string, info analyze.FileInfo) bool {
	return info.Mode.IsRegular() && info.Mode&0o111 != 0 && info.Size >= minSize && info.Size <= maxSize
}

// Analyze implements analyze.Analyzer. Files that are not Go executables
// give a nil result.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	bi, err := Read(f.Content)
	if err != nil || bi == nil {
		return nil, err
	}
	return &analyze.Result{Packages: Packages(bi)}, nil
}

// Executable formats recognised by their first bytes.
var magics = [][]byte{
	[]byte("\x7fELF"),
	[]byte("MZ"),               // PE
	[]byte("\xfe\xed\xfa\xce"), // Mach-O 32-bit big-endian
	[]byte("\xfe\xed\xfa\xcf"), // Mach-O 64-bit big-endian
	[]byte("\xce\xfa\xed\xfe"), // Mach-O 32-bit little-endian
	[]byte("\xcf\xfa\xed\xfe"), // Mach-O 64-bit little-endian
	[]byte("\xca\xfe\xba\xbe"), // Mach-O universal (also Java class files)
	[]byte("\xca\xfe\xba\xbf"), // Mach-O universal, 64-bit offsets
}

// Read returns the build information of a Go executable, or nil without
// error when r is not one. Malformed executables that look like Go
// executables give an error; no input makes it panic.
func Read(r io.ReaderAt) (bi *debug.BuildInfo, err error) {
	var head [16]byte
	if n, _ := r.ReadAt(head[:], 0); n < len(head) {
		return nil, nil
	}
	known := false
	for _, m := range magics {
		if bytes.HasPrefix(head[:], m) {
			known = true
			break
		}
	}
	if !known {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			bi, err = nil, fmt.Errorf("malformed executable: %v", p)
		}
	}()
	if bytes.HasPrefix(head[:], []byte("\x7fELF")) && !mayBeGoELF(r) {
		return nil, nil
	}
	bi, err = buildinfo.Read(r)
	if err != nil {
		switch err.Error() {
		case "not a Go executable", "unrecognized file format":
			return nil, nil
		}
		return nil, fmt.Errorf("reading Go build info: %w", err)
	}
	return bi, nil
}

// goSections are section names only the Go linker writes.
var goSections = []string{".go.buildinfo", ".gopclntab", ".note.go.buildid", ".gosymtab", ".data.rel.ro.gopclntab"}

// mayBeGoELF reports whether an ELF file could hold Go build info. When
// the file has section headers, a Go executable has a .go.buildinfo (or
// at least a .gopclntab) section; only then, or when there are no
// section headers, is the data segment worth searching.
func mayBeGoELF(r io.ReaderAt) bool {
	ef, err := elf.NewFile(r)
	if err != nil {
		// Let buildinfo report on the ELF file itself.
		return true
	}
	if len(ef.Sections) <= 1 {
		return true
	}
	for _, s := range ef.Sections {
		for _, g := range goSections {
			if s.Name == g {
				return true
			}
		}
	}
	return false
}

// Packages turns build information into packages: the main module (with
// the build settings in its Meta), every dependency and the standard
// library as the package "stdlib".
func Packages(bi *debug.BuildInfo) []inventory.Package {
	var pkgs []inventory.Package
	if m := bi.Main; m.Path != "" && m.Path != "command-line-arguments" {
		p := module(&m)
		if p.Meta == nil {
			p.Meta = map[string]string{}
		}
		for _, s := range bi.Settings {
			p.Meta[MetaBuildPrefix+s.Key] = s.Value
		}
		if bi.GoVersion != "" {
			p.Meta[MetaGoVersion] = bi.GoVersion
		}
		pkgs = append(pkgs, p)
	}
	for _, d := range bi.Deps {
		if d == nil || d.Path == "" {
			continue
		}
		pkgs = append(pkgs, module(d))
	}
	if bi.GoVersion != "" {
		pkgs = append(pkgs, inventory.Package{
			Type:    inventory.TypeGo,
			Name:    StdlibName,
			Version: StdlibVersion(bi.GoVersion),
			Meta:    map[string]string{MetaGoVersion: bi.GoVersion},
		})
	}
	return pkgs
}

// module turns one module of the build info into a package, applying its
// replacement.
func module(m *debug.Module) inventory.Package {
	p := inventory.Package{Type: inventory.TypeGo, Name: m.Path, Version: m.Version}
	if m.Sum != "" {
		p.Meta = map[string]string{MetaSum: m.Sum}
	}
	r := m.Replace
	if r == nil {
		return p
	}
	meta := map[string]string{}
	if modfile.IsDirectoryPath(r.Path) {
		// A directory replacement keeps the module's identity but
		// not its published code: the version is unknown.
		p.Version = ""
		meta[MetaReplaceDir] = r.Path
		meta[MetaReplacedVersion] = m.Version
	} else {
		p.Name, p.Version = r.Path, r.Version
		meta[MetaReplacedPath] = m.Path
		meta[MetaReplacedVersion] = m.Version
		if r.Sum != "" {
			meta[MetaSum] = r.Sum
		}
	}
	p.Meta = meta
	return p
}

// StdlibVersion turns a toolchain version as the go command prints it
// ("go1.21.0", "go1.20", "go1.21rc2", "go1.22.1 X:boringcrypto") into the
// semantic version the Go vulnerability database uses for the standard
// library ("1.21.0", "1.20.0", "1.21.0-rc.2", "1.22.1"). Versions it
// cannot read (development builds) are returned without the "go" prefix.
func StdlibVersion(v string) string {
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	if s, ok := Semver(v); ok {
		return s
	}
	return strings.TrimPrefix(v, "go")
}

// Semver turns a Go release name ("go1.21.0", "go1.20", "go1.21rc2",
// "go1.18beta1") into a semantic version ("1.21.0", "1.20.0",
// "1.21.0-rc.2", "1.18.0-beta.1"); ok is false for anything else.
func Semver(v string) (s string, ok bool) {
	raw, ok := strings.CutPrefix(v, "go")
	if !ok {
		return "", false
	}
	num, pre := raw, ""
	if i := strings.IndexFunc(raw, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		num, pre = raw[:i], raw[i:]
	}
	parts := strings.Split(num, ".")
	if len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if p == "" {
			return "", false
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	out := strings.Join(parts, ".")
	if pre == "" {
		return out, true
	}
	for _, tag := range []string{"rc", "beta", "alpha"} {
		if n, ok := strings.CutPrefix(pre, tag); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return out + "-" + tag + "." + n, true
		}
	}
	return "", false
}
