package npm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

func addSeeds(f *testing.F, pattern string, extra ...string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkParsed holds for every parser: an error wraps ErrMalformed, and
// every package has a usable name and version.
func checkParsed(t *testing.T, pkgs []inventory.Package, err error) {
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	for _, p := range pkgs {
		if p.Type != inventory.TypeNPM || !validName(p.Name) || !validName(p.Version) {
			t.Fatalf("bad package %+v", p)
		}
	}
}

func FuzzPackageJSON(f *testing.F) {
	addSeeds(f, "testdata/packagejson/*/package.json",
		`{"name":"a","version":"1","license":{"type":"MIT"},"licenses":[{"type":"x"},"y"]}`, `{}`, `[]`, `null`)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePackageJSON(b)
		var pkgs []inventory.Package
		if p != nil {
			pkgs = append(pkgs, *p)
		}
		checkParsed(t, pkgs, err)
	})
}

func FuzzPackageLock(f *testing.F) {
	addSeeds(f, "testdata/lock/small/seeds/*package-lock.json",
		`{"lockfileVersion":1,"dependencies":{"a":{"version":"npm:b@1","dependencies":{"c":{"version":"1"}}}}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePackageLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzYarnLock(f *testing.F) {
	addSeeds(f, "testdata/lock/small/seeds/*yarn.lock",
		"\"a@npm:b@^1\", a@^2:\n  version \"1.0.0\"\n", "__metadata:\n  version: 6\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseYarnLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzPnpmLock(f *testing.F) {
	addSeeds(f, "testdata/lock/small/seeds/*pnpm-lock.yaml",
		"lockfileVersion: 5.3\npackages:\n  /@s/a/1.0.0_b@1:\n    dev: true\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePnpmLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzRequired(f *testing.F) {
	for _, s := range []string{
		"app/node_modules/a/node_modules/@s/b/package.json",
		"node_modules/.pnpm/a@1/node_modules/a/package.json",
		"app/node_modules/@s/package.json",
		"a/yarn.lock",
	} {
		f.Add(s)
	}
	a := New(analyze.ModeFS)
	f.Fuzz(func(t *testing.T, p string) {
		a.Required(p, analyze.FileInfo{Size: 1})
	})
}

func benchFile(b *testing.B, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	return data
}

func BenchmarkParsePackageJSON(b *testing.B) {
	data := benchFile(b, "testdata/packagejson/express@4.17.1/package.json")
	for b.Loop() {
		if _, err := ParsePackageJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequired(b *testing.B) {
	a := New(analyze.ModeFS)
	paths := []string{
		"app/node_modules/a/node_modules/@s/b/package.json",
		"app/node_modules/resolve/test/resolver/nested/package.json",
		"usr/share/doc/libc6/changelog.Debian.gz",
		"app/package-lock.json",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			a.Required(p, analyze.FileInfo{Size: 100})
		}
	}
}

func BenchmarkParsePackageLock(b *testing.B) {
	data := benchFile(b, "testdata/lock/npm-v3/package-lock.json")
	for b.Loop() {
		if _, err := ParsePackageLock(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseYarnLockV1(b *testing.B) {
	data := benchFile(b, "testdata/lock/yarn-v1/yarn.lock")
	for b.Loop() {
		if _, err := ParseYarnLock(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePnpmLock(b *testing.B) {
	data := benchFile(b, "testdata/lock/pnpm-v9/pnpm-lock.yaml")
	for b.Loop() {
		if _, err := ParsePnpmLock(data); err != nil {
			b.Fatal(err)
		}
	}
}
