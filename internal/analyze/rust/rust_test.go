package rust

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
)

var lockFiles = []string{"testdata/proc-macro-dependency/Cargo.lock", "testdata/rust-audit-info/Cargo.lock"}

// tomllibExpected reads a Cargo.lock with Python's tomllib and applies
// the analyzer's documented rule: crates with a source, crates.io ones
// without Meta.
func tomllibExpected(t *testing.T, file string) []inventory.Package {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	script := `import json, sys, tomllib
print(json.dumps(tomllib.load(open(sys.argv[1], "rb")).get("package", [])))`
	out, err := exec.Command(py, "-c", script, file).Output()
	if err != nil {
		t.Skipf("python3 tomllib: %v", err)
	}
	var raw []struct{ Name, Version, Source string }
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	var want []inventory.Package
	for _, p := range raw {
		if p.Source == "" {
			continue
		}
		// A lock file's crates are declared: it says what a build asked for.
		pkg := inventory.Package{Type: inventory.TypeCargo, Name: p.Name, Version: p.Version, Declared: true}
		if p.Source != "registry+https://github.com/rust-lang/crates.io-index" {
			pkg.Meta = map[string]string{MetaSource: p.Source}
		}
		want = append(want, pkg)
	}
	return want
}

func TestLockFiles(t *testing.T) {
	for _, file := range lockFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want := tomllibExpected(t, file)
		if len(want) < 3 {
			t.Fatalf("%s: only %d crates with a source", file, len(want))
		}
		res, err := analyzetest.File(t, New(), "src/app/Cargo.lock", b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, res.Packages); diff != "" {
			t.Errorf("%s (-tomllib +got):\n%s", file, diff)
		}
	}
}

func TestParseLock(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []inventory.Package
		wantErr bool
	}{
		{name: "sources", in: `version = 4
[[package]]
name = "app"
version = "0.1.0"
[[package]]
name = "pathdep"
version = "0.2.0"
source = "path+file:///src/pathdep"
[[package]]
name = "gitdep"
version = "0.3.0"
source = "git+https://github.com/o/r?branch=main#0123abcd"
[[package]]
name = "sparse"
version = "1.0.0"
source = "sparse+https://index.crates.io/"
[[package]]
name = "other"
version = "2.0.0"
source = "registry+https://my.registry/index"
`, want: []inventory.Package{
			{Type: "cargo", Name: "gitdep", Version: "0.3.0", Meta: map[string]string{MetaSource: "git+https://github.com/o/r?branch=main#0123abcd"}},
			{Type: "cargo", Name: "sparse", Version: "1.0.0"},
			{Type: "cargo", Name: "other", Version: "2.0.0", Meta: map[string]string{MetaSource: "registry+https://my.registry/index"}},
		}},
		{name: "empty", in: ``},
		{name: "lockfile v1 metadata", in: "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n[metadata]\n\"checksum a 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)\" = \"00\"\n",
			want: []inventory.Package{{Type: "cargo", Name: "a", Version: "1.0.0"}}},
		{name: "not TOML", in: "[[package]\nname = ", wantErr: true},
		{name: "package is a string", in: "package = \"x\"\n", wantErr: true},
		{name: "no version", in: "[[package]]\nname = \"a\"\nsource = \"git+x\"\n", wantErr: true},
		{name: "version is a number", in: "[[package]]\nname = \"a\"\nversion = 1\n", wantErr: true},
		{name: "duplicate key", in: "[[package]]\nname = \"a\"\nname = \"b\"\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseLock([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// auditableELF copies the test executable and adds a .dep-v0 section
// holding section with objcopy, as cargo-auditable's linker step does.
func auditableELF(t testing.TB, section []byte) []byte {
	t.Helper()
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy not found")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, sec, out := filepath.Join(dir, "in"), filepath.Join(dir, "dep.z"), filepath.Join(dir, "out")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sec, section, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(objcopy, "--add-section", SectionName+"="+sec, "--set-section-flags", SectionName+"=noload,readonly", in, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func analyzeExe(t testing.TB, content []byte) (*analyze.Result, error) {
	t.Helper()
	f := &analyze.File{Path: "usr/bin/app", Size: int64(len(content)), Mode: 0o755, Content: bytes.NewReader(content)}
	return New().Analyze(context.Background(), f)
}

// richAudit uses every form the schema allows.
const richAudit = `{"format":1,"packages":[
{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2,3,4,5]},
{"name":"serde","version":"1.0.219","source":"crates.io","dependencies":[2]},
{"name":"serde_derive","version":"1.0.219","source":"crates.io","kind":"build"},
{"name":"inhouse","version":"2.0.0","source":"git","kind":"runtime"},
{"name":"mirror","version":"0.4.1","source":"registry"},
{"name":"vendored","version":"0.0.1","source":{"Other":"vendor"}}]}`

func TestAuditableBinaries(t *testing.T) {
	doc, err := os.ReadFile("testdata/auditable-serde-doc.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		json []byte
		want []inventory.Package
	}{
		// The upstream example asserts the package name "adler"; its
		// source "registry" is another registry than crates.io.
		{"upstream example", doc, []inventory.Package{
			{Type: "cargo", Name: "adler", Version: "0.2.3", Meta: map[string]string{MetaSource: "registry"}}}},
		{"every source and kind", []byte(richAudit), []inventory.Package{
			{Type: "cargo", Name: "serde", Version: "1.0.219"},
			{Type: "cargo", Name: "inhouse", Version: "2.0.0", Meta: map[string]string{MetaSource: "git"}},
			{Type: "cargo", Name: "mirror", Version: "0.4.1", Meta: map[string]string{MetaSource: "registry"}},
			{Type: "cargo", Name: "vendored", Version: "0.0.1", Meta: map[string]string{MetaSource: "vendor"}},
		}},
	}
	for _, tt := range tests {
		res, err := analyzeExe(t, auditableELF(t, zlibBytes(t, tt.json)))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res == nil {
			t.Fatalf("%s: no result", tt.name)
		}
		if diff := cmp.Diff(tt.want, res.Packages); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestAuditableMalformed(t *testing.T) {
	bomb := zlibBytes(t, append([]byte(`{"packages":[`), bytes.Repeat([]byte(" "), 64<<20)...))
	tests := []struct {
		name    string
		section []byte
		want    error
	}{
		{"not zlib", []byte("plain text, not compressed"), ErrMalformed},
		{"zlib bomb", bomb, ErrTooLarge},
		{"truncated zlib", zlibBytes(t, []byte(richAudit))[:40], ErrMalformed},
		{"not JSON", zlibBytes(t, []byte("nope")), ErrMalformed},
		{"no packages", zlibBytes(t, []byte(`{}`)), ErrMalformed},
		{"dependency out of range", zlibBytes(t, []byte(`{"packages":[{"name":"a","version":"1","source":"crates.io","dependencies":[7]}]}`)), ErrMalformed},
		{"negative dependency", zlibBytes(t, []byte(`{"packages":[{"name":"a","version":"1","source":"crates.io","dependencies":[-1]}]}`)), ErrMalformed},
		{"no source", zlibBytes(t, []byte(`{"packages":[{"name":"a","version":"1"}]}`)), ErrMalformed},
		{"bad kind", zlibBytes(t, []byte(`{"packages":[{"name":"a","version":"1","source":"crates.io","kind":"dev"}]}`)), ErrMalformed},
		{"no name", zlibBytes(t, []byte(`{"packages":[{"version":"1","source":"crates.io"}]}`)), ErrMalformed},
	}
	if len(bomb) > maxSectionSize {
		t.Fatalf("the bomb (%d bytes) should fit in the section cap", len(bomb))
	}
	for _, tt := range tests {
		res, err := analyzeExe(t, auditableELF(t, tt.section))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v (result %+v)", tt.name, err, tt.want, res)
		}
	}
}

func TestNotAuditable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"plain ELF":     exe,
		"truncated ELF": exe[:2000],
		"script":        []byte("#!/bin/sh\n" + strings.Repeat("#", 2000)),
		"PE magic":      append([]byte("MZ"), make([]byte, 2000)...),
		"Mach-O magic":  append([]byte("\xcf\xfa\xed\xfe"), make([]byte, 2000)...),
		"empty":         nil,
	} {
		res, err := analyzeExe(t, content)
		if err != nil || res != nil {
			t.Errorf("%s: result %+v, error %v", name, res, err)
		}
	}
}

// TestCorpusNoRust checks that the Debian base layer, full of non-Rust
// executables, gives nothing and no errors.
func TestCorpusNoRust(t *testing.T) {
	res := analyzetest.WalkBlob(t, analyzetest.Layers(t, "debian12-app")[0], New())
	for _, fr := range res.Files {
		t.Errorf("%s: unexpected packages %+v", fr.Path, fr.Packages)
	}
	for _, e := range res.Errors {
		t.Errorf("%s: %s", e.Path, e.Err)
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		info analyze.FileInfo
		want bool
	}{
		{"Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o644}, true},
		{"src/x/Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o644}, true},
		{"src/x/Cargo.lock", analyze.FileInfo{Size: 17 << 20, Mode: 0o644}, false},
		{"src/x/Cargo.toml", analyze.FileInfo{Size: 100, Mode: 0o644}, false},
		// Crates' own lock files in Cargo's and rustup's directories.
		{"usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/ripgrep-14.1.0/Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o644}, false},
		{"root/.cargo/git/checkouts/tool-0123abcd/4567ef0/Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o755}, false},
		{"src/app/vendor/bat/Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o644}, false},
		{"usr/local/rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/Cargo.lock", analyze.FileInfo{Size: 100, Mode: 0o644}, false},
		{"usr/bin/rg", analyze.FileInfo{Size: 5 << 20, Mode: 0o755}, true},
		{"usr/bin/rg", analyze.FileInfo{Size: 5 << 20, Mode: 0o644}, false},
		{"usr/bin/tiny", analyze.FileInfo{Size: 100, Mode: 0o755}, false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, tt.info); got != tt.want {
			t.Errorf("Required(%q, %+v) = %v, want %v", tt.path, tt.info, got, tt.want)
		}
	}
}

func FuzzParseLock(f *testing.F) {
	for _, file := range lockFiles {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseLock(b)
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
	})
}

func FuzzAuditJSON(f *testing.F) {
	f.Add([]byte(richAudit))
	f.Add([]byte(`{"packages":[{"name":"adler","version":"0.2.3","source":"registry"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseAuditJSON(b)
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add(zlibBytes(f, []byte(richAudit)))
	f.Add(zlibBytes(f, bytes.Repeat([]byte(" "), 1<<16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Decompress(b)
		if err == nil && len(out) > MaxAuditJSON {
			t.Fatalf("%d bytes past the cap", len(out))
		}
	})
}

// FuzzBinary fuzzes the executable formats' headers.
func FuzzBinary(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add(append([]byte("MZ"), make([]byte, 64)...))
	f.Add(append([]byte("\xcf\xfa\xed\xfe"), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ReadBinary(bytes.NewReader(b))
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
	})
}

func BenchmarkParseLock(b *testing.B) {
	content, err := os.ReadFile(lockFiles[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLock(content); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNonRustELF measures the cost of the analyzer on an executable
// without audit data (the common case).
func BenchmarkNonRustELF(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	content, err := os.ReadFile(self)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := analyzeExe(b, content); err != nil || res != nil {
			b.Fatal(res, err)
		}
	}
}

func BenchmarkAuditableELF(b *testing.B) {
	content := auditableELF(b, zlibBytes(b, []byte(richAudit)))
	b.ReportAllocs()
	for b.Loop() {
		if res, err := analyzeExe(b, content); err != nil || res == nil {
			b.Fatal(res, err)
		}
	}
}
