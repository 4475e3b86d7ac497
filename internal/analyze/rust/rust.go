// Package rust finds Rust crates: in Cargo.lock files and in the
// dependency list that cargo-auditable embeds in executables (the
// zlib-compressed JSON of the .dep-v0 section).
package rust

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// Size caps.
const (
	maxLockSize = 16 << 20
	// Executables offered to the analyzer, as for Go binaries.
	minExeSize = 1 << 10
	maxExeSize = 512 << 20
	// maxSectionSize caps the compressed audit data; real sections are
	// under 10 KB even for 400 crates.
	maxSectionSize = 4 << 20
	// MaxAuditJSON caps the decompressed audit data (cargo-auditable's
	// own parser recommends 8 MiB as more than any real tree needs).
	MaxAuditJSON = 8 << 20
)

// SectionName is the section cargo-auditable writes (in the __DATA
// segment on Mach-O).
const SectionName = ".dep-v0"

// Meta keys.
const (
	// MetaSource is the crate's source when it is not the crates.io
	// registry: "git+https://…#rev", another registry's URL, or
	// cargo-auditable's "git" / "registry".
	MetaSource = "source"
)

// Errors.
var (
	ErrMalformed = errors.New("malformed Rust dependency data")
	ErrTooLarge  = errors.New("rust dependency data over the size limit")
)

// Analyzer reads Cargo.lock files and cargo-auditable data.
//
// A Cargo.lock's crates are declared (inventory.Package.Declared) and count
// in images as well as in project directories: a Rust executable records
// the crates it was built from only when built with cargo-auditable, so
// the project's lock file is often the only record. The lock files of
// crates in Cargo's own directories — the registry's unpacked sources, git
// checkouts, `cargo vendor` output, rustup's toolchain sources — describe
// how those crates were developed and are never read.
type Analyzer struct{}

// New returns the Rust analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "rust" }

// Version implements analyze.Analyzer. Version 2 marks lock file entries
// as declared and skips the lock files of crates in Cargo's directories.
func (*Analyzer) Version() int { return 2 }

// Required implements analyze.Analyzer.
func (*Analyzer) Required(p string, info analyze.FileInfo) bool {
	if p == "Cargo.lock" || strings.HasSuffix(p, "/Cargo.lock") {
		return info.Size <= maxLockSize && !inCrateSources(p)
	}
	return info.Mode.IsRegular() && info.Mode&0o111 != 0 && info.Size >= minExeSize && info.Size <= maxExeSize
}

// inCrateSources reports whether a Cargo.lock lies inside a crate that
// Cargo or rustup put there: $CARGO_HOME/registry/src/…,
// $CARGO_HOME/git/checkouts/…, a vendor/ directory, or a toolchain's
// lib/rustlib/src.
func inCrateSources(p string) bool {
	p = "/" + p
	return strings.Contains(p, "/registry/src/") || strings.Contains(p, "/git/checkouts/") ||
		strings.Contains(p, "/vendor/") || strings.Contains(p, "/lib/rustlib/")
}

// Analyze implements analyze.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	var pkgs []inventory.Package
	var err error
	if f.Path == "Cargo.lock" || strings.HasSuffix(f.Path, "/Cargo.lock") {
		b, rerr := f.ReadAll()
		if rerr != nil {
			return nil, rerr
		}
		pkgs, err = ParseLock(b)
		for i := range pkgs {
			pkgs[i].Declared = true
		}
	} else {
		pkgs, err = ReadBinary(f.Content)
	}
	if err != nil || len(pkgs) == 0 {
		return nil, err
	}
	return &analyze.Result{Packages: pkgs}, nil
}

type lockFile struct {
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
		Source  string `toml:"source"`
	} `toml:"package"`
}

// cratesIO names the crates.io index in Cargo.lock sources, in its git
// and sparse forms.
func isCratesIO(source string) bool {
	return source == "registry+https://github.com/rust-lang/crates.io-index" ||
		source == "sparse+https://index.crates.io/"
}

// ParseLock reads a Cargo.lock file (any lockfile version) and returns the
// crates that come from a registry or a git repository. Crates without a
// source are the workspace's own (path) crates and are not reported.
func ParseLock(b []byte) (pkgs []inventory.Package, err error) {
	defer func() {
		if p := recover(); p != nil {
			pkgs, err = nil, fmt.Errorf("%w: Cargo.lock: %v", ErrMalformed, p)
		}
	}()
	var lf lockFile
	if _, err := toml.Decode(string(b), &lf); err != nil {
		return nil, fmt.Errorf("%w: Cargo.lock: %w", ErrMalformed, err)
	}
	for i, p := range lf.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("%w: Cargo.lock: package %d has no name or version", ErrMalformed, i+1)
		}
		if p.Source == "" || strings.HasPrefix(p.Source, "path+") {
			continue
		}
		pkg := inventory.Package{Type: inventory.TypeCargo, Name: p.Name, Version: p.Version}
		if !isCratesIO(p.Source) {
			pkg.Meta = map[string]string{MetaSource: p.Source}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}

// ReadBinary returns the crates recorded by cargo-auditable in an ELF,
// PE or Mach-O executable, or nil when there is no such record.
func ReadBinary(r io.ReaderAt) (pkgs []inventory.Package, err error) {
	defer func() {
		if p := recover(); p != nil {
			pkgs, err = nil, fmt.Errorf("%w: malformed executable: %v", ErrMalformed, p)
		}
	}()
	sec, err := auditSection(r)
	if err != nil || sec == nil {
		return nil, err
	}
	js, err := Decompress(sec)
	if err != nil {
		return nil, err
	}
	return ParseAuditJSON(js)
}

// section is what the three executable formats have in common.
type section interface {
	Open() io.ReadSeeker
}

// auditSection returns the compressed audit data, nil when the file is
// no executable or has none.
func auditSection(r io.ReaderAt) ([]byte, error) {
	var head [4]byte
	if n, _ := r.ReadAt(head[:], 0); n < len(head) {
		return nil, nil
	}
	var size uint64
	var s section
	switch {
	case bytes.Equal(head[:], []byte("\x7fELF")):
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, nil
		}
		sec := f.Section(SectionName)
		if sec == nil || sec.Type == elf.SHT_NOBITS {
			return nil, nil
		}
		s, size = sec, sec.Size
	case head[0] == 'M' && head[1] == 'Z':
		f, err := pe.NewFile(r)
		if err != nil {
			return nil, nil
		}
		sec := f.Section(SectionName)
		if sec == nil {
			return nil, nil
		}
		s, size = sec, uint64(sec.Size)
	case bytes.Equal(head[:], []byte("\xfe\xed\xfa\xce")), bytes.Equal(head[:], []byte("\xfe\xed\xfa\xcf")),
		bytes.Equal(head[:], []byte("\xce\xfa\xed\xfe")), bytes.Equal(head[:], []byte("\xcf\xfa\xed\xfe")):
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, nil
		}
		sec := f.Section(SectionName)
		if sec == nil {
			return nil, nil
		}
		s, size = sec, sec.Size
	default:
		return nil, nil
	}
	if size > maxSectionSize {
		return nil, fmt.Errorf("%w: %s section of %d bytes", ErrTooLarge, SectionName, size)
	}
	b, err := io.ReadAll(io.LimitReader(s.Open(), int64(size)))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrMalformed, SectionName, err)
	}
	if uint64(len(b)) != size {
		return nil, fmt.Errorf("%w: %s section is truncated (%d of %d bytes)", ErrMalformed, SectionName, len(b), size)
	}
	return b, nil
}

// Decompress inflates zlib data, refusing more than MaxAuditJSON bytes.
func Decompress(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not zlib data: %w", ErrMalformed, SectionName, err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, MaxAuditJSON+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflating %s: %w", ErrMalformed, SectionName, err)
	}
	if len(out) > MaxAuditJSON {
		return nil, fmt.Errorf("%w: %s inflates to more than %d bytes", ErrTooLarge, SectionName, MaxAuditJSON)
	}
	return out, nil
}

type auditInfo struct {
	Packages []auditPackage `json:"packages"`
	Format   int            `json:"format"`
}

type auditPackage struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Source       json.RawMessage `json:"source"`
	Kind         string          `json:"kind"`
	Dependencies []uint          `json:"dependencies"`
	Root         bool            `json:"root"`
}

// ParseAuditJSON reads cargo-auditable's JSON (schema
// https://rustsec.org/schemas/cargo-auditable.json) and returns the
// crates compiled into the executable: build-time dependencies (build
// scripts, proc-macros) and the executable's own crates (source
// "local") are not reported.
func ParseAuditJSON(b []byte) ([]inventory.Package, error) {
	var ai auditInfo
	if err := json.Unmarshal(b, &ai); err != nil {
		return nil, fmt.Errorf("%w: audit JSON: %w", ErrMalformed, err)
	}
	if ai.Packages == nil {
		return nil, fmt.Errorf("%w: audit JSON has no packages", ErrMalformed)
	}
	var pkgs []inventory.Package
	for i, p := range ai.Packages {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("%w: audit JSON: package %d has no name or version", ErrMalformed, i)
		}
		for _, d := range p.Dependencies {
			if d >= uint(len(ai.Packages)) {
				return nil, fmt.Errorf("%w: audit JSON: package %s depends on package %d of %d", ErrMalformed, p.Name, d, len(ai.Packages))
			}
		}
		source, err := auditSource(p.Source)
		if err != nil {
			return nil, fmt.Errorf("%w: audit JSON: package %s: %w", ErrMalformed, p.Name, err)
		}
		switch p.Kind {
		case "", "runtime":
		case "build":
			continue
		default:
			return nil, fmt.Errorf("%w: audit JSON: package %s has kind %q", ErrMalformed, p.Name, truncate(p.Kind))
		}
		if source == "local" {
			continue
		}
		pkg := inventory.Package{Type: inventory.TypeCargo, Name: p.Name, Version: p.Version}
		if source != "crates.io" {
			pkg.Meta = map[string]string{MetaSource: source}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}

// auditSource reads a package source: "crates.io", "git", "local",
// "registry", or {"Other": "…"} for sources the format does not name.
func auditSource(m json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(m, &s); err == nil {
		if s == "" {
			return "", errors.New("empty source")
		}
		return s, nil
	}
	var o struct {
		Other string `json:"Other"`
	}
	if err := json.Unmarshal(m, &o); err != nil || o.Other == "" {
		return "", fmt.Errorf("source %s is neither a name nor {\"Other\": name}", truncate(string(m)))
	}
	return o.Other, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
