package gobinary

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/modfile"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/layerio"
)

// truth is the part of the corpus TRUTH.json this package checks.
type truth struct {
	GoBinaries []struct {
		Path       string `json:"path"`
		GoVersion  string `json:"go_version"`
		MainModule struct {
			Path    string `json:"path"`
			Version string `json:"version"`
		} `json:"main_module"`
		Deps []struct {
			Path    string `json:"path"`
			Version string `json:"version"`
			Sum     string `json:"sum"`
		} `json:"deps"`
		Settings map[string]string `json:"settings"`
	} `json:"go_binaries"`
}

func TestCorpusDebian12App(t *testing.T) {
	var tr truth
	b, err := os.ReadFile(filepath.Join(analyzetest.Corpus(t), "debian12-app", "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.GoBinaries) == 0 {
		t.Fatal("TRUTH.json lists no Go binaries")
	}
	want := map[string][]inventory.Package{}
	for _, gb := range tr.GoBinaries {
		main := inventory.Package{Type: inventory.TypeGo, Name: gb.MainModule.Path, Version: gb.MainModule.Version, Path: gb.Path,
			Meta: map[string]string{MetaGoVersion: gb.GoVersion}}
		for k, v := range gb.Settings {
			main.Meta[MetaBuildPrefix+k] = v
		}
		pkgs := []inventory.Package{main}
		for _, d := range gb.Deps {
			pkgs = append(pkgs, inventory.Package{Type: inventory.TypeGo, Name: d.Path, Version: d.Version, Path: gb.Path,
				Meta: map[string]string{MetaSum: d.Sum}})
		}
		pkgs = append(pkgs, inventory.Package{Type: inventory.TypeGo, Name: StdlibName, Version: strings.TrimPrefix(gb.GoVersion, "go"),
			Path: gb.Path, Meta: map[string]string{MetaGoVersion: gb.GoVersion}})
		want[gb.Path] = pkgs
	}

	got := map[string][]inventory.Package{}
	for i, blob := range analyzetest.Layers(t, "debian12-app") {
		res := analyzetest.WalkBlob(t, blob, New())
		for _, e := range res.Errors {
			t.Errorf("layer %d: %s: %s", i, e.Path, e.Err)
		}
		for _, fr := range res.Files {
			got["/"+fr.Path] = fr.Packages
		}
	}
	if diff := cmp.Diff(want, got, sortPkgs); diff != "" {
		t.Errorf("Go binaries of debian12-app (-TRUTH.json +got):\n%s", diff)
	}
}

var sortPkgs = cmpopts.SortSlices(func(a, b inventory.Package) bool { return inventory.ComparePackages(a, b) < 0 })

// built is a Go executable built by the test from a temporary module with
// a module dependency served by a file-system module proxy, a module
// replaced by another module and a module replaced by a local directory.
var built struct {
	once sync.Once
	path string
	err  error
}

// buildTestBinary builds the module once per test binary run.
func buildTestBinary(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-gobinary-")
		if err != nil {
			built.err = err
			return
		}
		built.path, built.err = buildModule(gobin, dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		_ = os.RemoveAll(filepath.Dir(filepath.Dir(built.path)))
	}
	os.Exit(code)
}

func writeFiles(root string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildModule lays out a module proxy on disk (GOPROXY=file://…) holding
// example.com/dep v1.2.3, example.com/fork v0.4.0 and example.com/orig
// v1.0.0, a local replacement directory and a main module requiring them,
// then builds it offline.
func buildModule(gobin, dir string) (string, error) {
	proxy := filepath.Join(dir, "proxy")
	mods := []struct{ path, version, pkg string }{
		{"example.com/dep", "v1.2.3", "dep"},
		{"example.com/fork", "v0.4.0", "orig"},
		{"example.com/orig", "v1.0.0", "orig"},
		{"example.com/local", "v0.9.0", "local"},
	}
	for _, m := range mods {
		if err := proxyModule(proxy, m.path, m.version, m.pkg); err != nil {
			return "", err
		}
	}
	mainDir := filepath.Join(dir, "main")
	err := writeFiles(dir, map[string]string{
		"main/go.mod": `module example.com/app

go 1.21

require (
	example.com/dep v1.2.3
	example.com/orig v1.0.0
	example.com/local v0.9.0
)

replace example.com/orig => example.com/fork v0.4.0

replace example.com/local => ../localmod
`,
		"main/main.go": `package main

import (
	"fmt"

	"example.com/dep"
	"example.com/local"
	"example.com/orig"
)

func main() { fmt.Println(dep.Name, orig.Name, local.Name) }
`,
		"localmod/go.mod":   "module example.com/local\n\ngo 1.21\n",
		"localmod/local.go": "package local\n\nconst Name = \"local\"\n",
	})
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bin", "app")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = mainDir
	cmd.Env = append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy), "GOFLAGS=-mod=mod", "GOSUMDB=off",
		"GONOSUMDB=*", "GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0",
		"GOMODCACHE="+filepath.Join(dir, "modcache"), "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(b))
	}
	return out, nil
}

// proxyModule writes one module version in the GOPROXY file layout:
// <path>/@v/list, <version>.info, .mod and .zip.
func proxyModule(proxy, modPath, version, pkg string) error {
	d := filepath.Join(proxy, filepath.FromSlash(modPath), "@v")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	gomod := "module " + modPath + "\n\ngo 1.21\n"
	src := "package " + pkg + "\n\nconst Name = \"" + modPath + "@" + version + "\"\n"
	var zb bytes.Buffer
	zw := newZip(&zb)
	prefix := modPath + "@" + version + "/"
	if err := zw.add(prefix+"go.mod", gomod); err != nil {
		return err
	}
	if err := zw.add(prefix+pkg+".go", src); err != nil {
		return err
	}
	if err := zw.close(); err != nil {
		return err
	}
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2024-01-01T00:00:00Z"}`),
		version + ".mod":  []byte(gomod),
		version + ".zip":  zb.Bytes(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// goVersionM runs `go version -m` and turns its report into the packages
// the analyzer should find, with the analyzer's documented conventions:
// a module replaced by a module is reported as the replacement, a module
// replaced by a directory keeps its path and loses its version.
func goVersionM(t *testing.T, bin string) []inventory.Package {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var pkgs []inventory.Package
	var main *inventory.Package
	var goVersion string
	for i, line := range strings.Split(string(out), "\n") {
		if i == 0 {
			_, v, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("go version -m: first line %q", line)
			}
			goVersion = v
			continue
		}
		f := strings.Split(strings.TrimPrefix(line, "\t"), "\t")
		switch f[0] {
		case "mod":
			pkgs = append(pkgs, inventory.Package{Name: f[1], Version: f[2], Meta: map[string]string{MetaGoVersion: goVersion}})
			main = &pkgs[len(pkgs)-1]
		case "dep":
			p := inventory.Package{Name: f[1], Version: f[2]}
			if len(f) > 3 && f[3] != "" {
				p.Meta = map[string]string{MetaSum: f[3]}
			}
			pkgs = append(pkgs, p)
		case "=>":
			p := &pkgs[len(pkgs)-1]
			if modfile.IsDirectoryPath(f[1]) {
				p.Meta = map[string]string{MetaReplaceDir: f[1], MetaReplacedVersion: p.Version}
				p.Version = ""
				continue
			}
			p.Meta = map[string]string{MetaReplacedPath: p.Name, MetaReplacedVersion: p.Version}
			if len(f) > 3 && f[3] != "" {
				p.Meta[MetaSum] = f[3]
			}
			p.Name, p.Version = f[1], f[2]
		case "build":
			k, v, _ := strings.Cut(f[1], "=")
			main.Meta[MetaBuildPrefix+k] = v
		}
	}
	pkgs = append(pkgs, inventory.Package{Name: StdlibName, Version: strings.TrimPrefix(goVersion, "go"),
		Meta: map[string]string{MetaGoVersion: goVersion}})
	for i := range pkgs {
		pkgs[i].Type = inventory.TypeGo
	}
	return pkgs
}

func analyzeFile(t testing.TB, path string, content []byte) (*analyze.Result, error) {
	t.Helper()
	f := &analyze.File{Path: path, Size: int64(len(content)), Mode: 0o755, Content: bytes.NewReader(content)}
	return New().Analyze(context.Background(), f)
}

func TestBuiltBinaryMatchesGoVersionM(t *testing.T) {
	bin := buildTestBinary(t)
	want := goVersionM(t, bin)
	// The binary must exercise what the test is about.
	var sawModReplace, sawDirReplace bool
	for _, p := range want {
		sawModReplace = sawModReplace || p.Meta[MetaReplacedPath] != ""
		sawDirReplace = sawDirReplace || p.Meta[MetaReplaceDir] != ""
	}
	if !sawModReplace || !sawDirReplace || len(want) < 5 {
		t.Fatalf("go version -m shows no replacements or too few modules: %+v", want)
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	res, err := analyzeFile(t, "app/bin/app", content)
	if err != nil {
		t.Fatal(err)
	}
	if res == nil {
		t.Fatal("no result for a Go executable")
	}
	if diff := cmp.Diff(want, res.Packages, sortPkgs); diff != "" {
		t.Errorf("analyzer vs go version -m (-want +got):\n%s", diff)
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		name string
		info analyze.FileInfo
		want bool
	}{
		{"executable", analyze.FileInfo{Size: 2 << 20, Mode: 0o755}, true},
		{"group-executable only", analyze.FileInfo{Size: 2 << 20, Mode: 0o610}, true},
		{"not executable", analyze.FileInfo{Size: 2 << 20, Mode: 0o644}, false},
		{"too small", analyze.FileInfo{Size: 1023, Mode: 0o755}, false},
		{"smallest", analyze.FileInfo{Size: 1024, Mode: 0o755}, true},
		{"too big", analyze.FileInfo{Size: 512<<20 + 1, Mode: 0o755}, false},
		{"directory", analyze.FileInfo{Size: 4096, Mode: 0o755 | os.ModeDir}, false},
	}
	for _, tt := range tests {
		if got := New().Required("usr/bin/x", tt.info); got != tt.want {
			t.Errorf("%s: Required = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestMalformed feeds truncated and corrupted executables: each gives a
// nil result or an error, never a panic.
func TestMalformed(t *testing.T) {
	bin := buildTestBinary(t)
	good, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	idx := bytes.Index(good, []byte("\xff Go buildinf:"))
	if idx < 0 {
		t.Fatal("no build info magic in the test binary")
	}
	corrupt := func(at int, b ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[at:], b)
		return c
	}
	tests := []struct {
		name    string
		content []byte
		wantErr bool
	}{
		{"empty", nil, false},
		{"shell script", []byte("#!/bin/sh\necho hello\n" + strings.Repeat("#", 2000)), false},
		{"ELF magic only", []byte("\x7fELF"), false},
		{"ELF header truncated", good[:40], false},
		{"first KiB", good[:1024], false},
		{"half", good[:len(good)/2], false},
		{"cut inside build info", good[:idx+40], false},
		{"no version string", corrupt(idx+32, 0), false},
		{"huge version length", corrupt(idx+32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), false},
		{"broken module info", corrupt(idx+bytes.Index(good[idx:], []byte("path\texample.com/app\n")), []byte("build\tx\n")...), true},
		{"section headers zeroed", corrupt(0x28, 0, 0, 0, 0, 0, 0, 0, 0), false},
		{"PE magic", append([]byte("MZ"), make([]byte, 2000)...), false},
		{"Mach-O magic", append([]byte("\xcf\xfa\xed\xfe"), make([]byte, 2000)...), false},
		{"Java class", append([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x34"), make([]byte, 2000)...), false},
	}
	for _, tt := range tests {
		res, err := analyzeFile(t, "x", tt.content)
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("%s: no error (result %+v)", tt.name, res)
		case err == nil && res != nil && tt.name != "section headers zeroed" && tt.name != "first KiB":
			t.Errorf("%s: unexpected result %+v", tt.name, res)
		case err != nil && !tt.wantErr:
			t.Logf("%s: %v", tt.name, err)
		}
	}
}

// TestCorpusNonGoExecutables walks the Debian base layer: hundreds of
// non-Go ELF executables and shared objects, none of which may give a
// package or an error.
func TestCorpusNonGoExecutables(t *testing.T) {
	layers := analyzetest.Layers(t, "debian12-app")
	res := analyzetest.WalkBlob(t, layers[0], New())
	if res.Stats.WantedFiles < 100 {
		t.Fatalf("only %d executables offered", res.Stats.WantedFiles)
	}
	for _, fr := range res.Files {
		t.Errorf("%s: unexpected packages %+v", fr.Path, fr.Packages)
	}
	for _, e := range res.Errors {
		t.Errorf("%s: %s", e.Path, e.Err)
	}
}

func TestStdlibVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"go1.21.0", "1.21.0"},
		{"go1.20", "1.20.0"},
		{"go1.9", "1.9.0"},
		{"go1.21rc2", "1.21.0-rc.2"},
		{"go1.18beta1", "1.18.0-beta.1"},
		{"go1.22.1 X:boringcrypto", "1.22.1"},
		{"devel go1.23-abcdef Tue Jan 1", "devel"},
		{"go1.x", "1.x"},
		{"go", ""},
		{"go1..2", "1..2"},
	}
	for _, tt := range tests {
		if got := StdlibVersion(tt.in); got != tt.want {
			t.Errorf("StdlibVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// layerFile returns the content of one regular file of a layer blob.
func layerFile(t testing.TB, blob, name string) []byte {
	t.Helper()
	f, err := os.Open(blob)
	if err != nil {
		t.Fatal(err)
	}
	s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := tar.NewReader(s)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in %s", name, blob)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func benchmarkFile(b *testing.B, content []byte, wantPkgs bool) {
	b.Helper()
	f := &analyze.File{Path: "x", Size: int64(len(content)), Mode: 0o755, Content: bytes.NewReader(content)}
	a := New()
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := a.Analyze(context.Background(), f)
		if err != nil || (res != nil) != wantPkgs {
			b.Fatalf("result %v, error %v", res, err)
		}
	}
}

// BenchmarkGoBinary measures the real Go executable of debian12-app.
func BenchmarkGoBinary(b *testing.B) {
	layers := analyzetest.Layers(b, "debian12-app")
	benchmarkFile(b, layerFile(b, layers[2], "app/bin/orders-api"), true)
}

// BenchmarkNonGoStaticELF measures the cost on a static non-Go executable
// (busybox), which every image full of executables pays for each one.
func BenchmarkNonGoStaticELF(b *testing.B) {
	layers := analyzetest.Layers(b, "edge-layers")
	// usr/bin/ash is the busybox binary; its other applets are hardlinks to it.
	benchmarkFile(b, layerFile(b, layers[0], "usr/bin/ash"), false)
}

// BenchmarkNonGoDynamicELF measures a dynamically linked non-Go executable.
func BenchmarkNonGoDynamicELF(b *testing.B) {
	layers := analyzetest.Layers(b, "debian12-app")
	benchmarkFile(b, layerFile(b, layers[0], "usr/bin/bash"), false)
}

// BenchmarkNotExecutable measures a file with an executable bit that is
// no executable format (a shell script).
func BenchmarkNotExecutable(b *testing.B) {
	benchmarkFile(b, []byte("#!/bin/sh\nexec foo \"$@\"\n"+strings.Repeat("#", 4096)), false)
}
