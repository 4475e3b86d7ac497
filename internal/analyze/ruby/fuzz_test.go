package ruby

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/inventory"
)

func addSeeds(f *testing.F, patterns ...string) {
	n := 0
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seeds in %v", patterns)
	}
}

func checkPackage(t *testing.T, p inventory.Package) {
	if p.Type != inventory.TypeGem || !validName(p.Name) || !validVersion(p.Version) || !validPlatform(p.Arch) {
		t.Fatalf("bad package %+v", p)
	}
}

func FuzzGemspec(f *testing.F) {
	addSeeds(f, "testdata/specifications/*.gemspec", "testdata/specifications/default/*.gemspec")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseGemspec(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		checkPackage(t, *p)
	})
}

func FuzzGemfileLock(f *testing.F) {
	addSeeds(f, "testdata/bundler/Gemfile.lock")
	f.Add([]byte("GIT\n  remote: x\n  specs:\n    a (1.0-java)\n\nDEPENDENCIES\n  a!\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseGemfileLock(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, p := range pkgs {
			checkPackage(t, p)
		}
	})
}

func BenchmarkParseGemspec(b *testing.B) {
	data, err := os.ReadFile("testdata/specifications/nokogiri-1.16.7-x86_64-linux.gemspec")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseGemspec(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGemfileLock(b *testing.B) {
	data, err := os.ReadFile("testdata/bundler/Gemfile.lock")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseGemfileLock(data); err != nil {
			b.Fatal(err)
		}
	}
}
