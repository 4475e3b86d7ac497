package gomod

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/modfile"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/analyze/gobinary"
	"github.com/drydockscan/drydock/internal/inventory"
)

// synthetic exercises every directive the analyzer reads.
const synthetic = `module example.com/app

go 1.22.1

toolchain go1.23.4

require (
	github.com/direct/a v1.2.3
	github.com/indirect/b v0.1.0 // indirect
	example.com/replaced/all v1.0.0
	example.com/replaced/one v2.0.0+incompatible
	example.com/replaced/dir v0.3.0 // indirect
)

require golang.org/x/text v0.14.0

exclude github.com/direct/a v1.2.2

replace example.com/replaced/all => example.com/fork/all v1.0.1

replace (
	example.com/replaced/one v1.9.0 => example.com/wrong v9.9.9
	example.com/replaced/one v2.0.0+incompatible => example.com/fork/one v2.0.1+incompatible
	example.com/replaced/one => example.com/wrong/any v8.8.8
	example.com/replaced/dir => ../dir
)

retract v0.0.1
`

// goModEditJSON is the go command's own reading of a go.mod file.
type goModEditJSON struct {
	Go        string
	Toolchain string
	Require   []struct {
		Path, Version string
		Indirect      bool
	}
	Replace []struct {
		Old, New struct{ Path, Version string }
	}
}

// expected turns `go mod edit -json` output into the packages the
// analyzer must report, with the documented conventions.
func expected(t *testing.T, gomod string) []inventory.Package {
	t.Helper()
	out, err := exec.Command("go", "mod", "edit", "-json", gomod).Output()
	if err != nil {
		t.Fatalf("go mod edit -json %s: %v", gomod, err)
	}
	var j goModEditJSON
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatal(err)
	}
	var pkgs []inventory.Package
	for _, r := range j.Require {
		p := inventory.Package{Type: inventory.TypeGo, Name: r.Path, Version: r.Version, Indirect: r.Indirect}
		exact, any := -1, -1
		for i, rep := range j.Replace {
			if rep.Old.Path == r.Path && rep.Old.Version == r.Version {
				exact = i
			} else if rep.Old.Path == r.Path && rep.Old.Version == "" {
				any = i
			}
		}
		if exact < 0 {
			exact = any
		}
		if exact >= 0 {
			rep := j.Replace[exact]
			if rep.New.Version == "" {
				p.Version = ""
				p.Meta = map[string]string{gobinary.MetaReplaceDir: rep.New.Path, gobinary.MetaReplacedVersion: r.Version}
			} else {
				p.Name, p.Version = rep.New.Path, rep.New.Version
				p.Meta = map[string]string{gobinary.MetaReplacedPath: r.Path, gobinary.MetaReplacedVersion: r.Version}
			}
		}
		pkgs = append(pkgs, p)
	}
	switch {
	case j.Toolchain != "":
		pkgs = append(pkgs, inventory.Package{Type: inventory.TypeGo, Name: "stdlib", Version: strings.TrimPrefix(j.Toolchain, "go"),
			Meta: map[string]string{MetaFrom: "toolchain", gobinary.MetaGoVersion: j.Toolchain}})
	case strings.Count(j.Go, ".") == 2:
		pkgs = append(pkgs, inventory.Package{Type: inventory.TypeGo, Name: "stdlib", Version: j.Go,
			Meta: map[string]string{MetaFrom: "go", gobinary.MetaGoVersion: "go" + j.Go}})
	}
	return pkgs
}

var sortPkgs = cmpopts.SortSlices(func(a, b inventory.Package) bool { return inventory.ComparePackages(a, b) < 0 })

// TestAgainstGoModEdit compares the analyzer with the go command on a
// synthetic go.mod and on the real go.mod files of this repository and
// of the modules in the local module cache.
func TestAgainstGoModEdit(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "go.mod"), "../../../go.mod"}
	if err := os.WriteFile(files[0], []byte(synthetic), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		cached, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "*", "*", "*@*", "go.mod"))
		more, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "*", "*@*", "go.mod"))
		files = append(files, cached...)
		files = append(files, more...)
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := modfile.Parse(f, b, nil); err != nil {
			// Dependency go.mod files may use directives only the lax
			// parser accepts; the analyzer reads main modules.
			continue
		}
		got, err := Parse("go.mod", b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if diff := cmp.Diff(expected(t, f), got, sortPkgs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-go mod edit +got):\n%s", f, diff)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d go.mod files checked", checked)
	}
	t.Logf("%d go.mod files checked", checked)
}

func TestMalformed(t *testing.T) {
	tests := []struct{ name, content string }{
		{"unknown directive", "module x\nfrobnicate y\n"},
		{"unterminated block", "module x\nrequire (\n\ta v1.0.0\n"},
		{"bad version", "module x\nrequire a/b notaversion\n"},
		{"repeated go", "module x\ngo 1.20\ngo 1.21\n"},
		{"bad replace", "module x\nreplace a/b =>\n"},
		{"NUL byte", "module x\x00\n"},
		{"unterminated string", "module \"x\n"},
	}
	for _, tt := range tests {
		if res, err := analyzetest.File(t, New(), "src/go.mod", []byte(tt.content)); err == nil {
			t.Errorf("%s: no error, result %+v", tt.name, res)
		}
	}
}

func TestNothing(t *testing.T) {
	for _, c := range []string{"", "module x\n", "module x\ngo 1.21\n", "// comment only\n", "module x\ngo 1.21\ntoolchain default\n"} {
		res, err := analyzetest.File(t, New(), "go.mod", []byte(c))
		if err != nil || res != nil {
			t.Errorf("%q: result %+v, error %v", c, res, err)
		}
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		size int64
		want bool
	}{
		{"go.mod", 100, true},
		{"src/app/go.mod", 100, true},
		{"src/app/xgo.mod", 100, false},
		{"src/app/go.mod.bak", 100, false},
		{"go.sum", 100, false},
		{"go.mod", 9 << 20, false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, analyze.FileInfo{Size: tt.size, Mode: 0o644}); got != tt.want {
			t.Errorf("Required(%q, %d) = %v, want %v", tt.path, tt.size, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(synthetic))
	f.Add([]byte("module x\ngo 1.21\ntoolchain go1.21rc2\n"))
	f.Add([]byte("module x\nrequire a.b/c v1.0.0\nreplace a.b/c => ./c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse("go.mod", b)
		if err != nil && pkgs != nil {
			t.Fatal("packages and error")
		}
		for _, p := range pkgs {
			if p.Name == "" {
				t.Fatalf("package without name: %+v", p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	content, err := os.ReadFile("../../../go.mod")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("go.mod", content); err != nil {
			b.Fatal(err)
		}
	}
}
