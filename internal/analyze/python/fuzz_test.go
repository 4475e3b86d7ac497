package python

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
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
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				continue
			}
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

func checkParsed(t *testing.T, pkgs []inventory.Package, err error) {
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	for _, p := range pkgs {
		if p.Type != inventory.TypePyPI || !validName(p.Name) || !validVersion(p.Version) {
			t.Fatalf("bad package %+v", p)
		}
	}
}

func FuzzMetadata(f *testing.F) {
	addSeeds(f, "testdata/site-packages/*/METADATA", "testdata/site-packages/*/PKG-INFO", "testdata/site-packages/*.egg-info")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !validName(m.Name) || !validVersion(m.Version) {
			t.Fatalf("bad metadata %+v", m)
		}
	})
}

func FuzzRequirements(f *testing.F) {
	addSeeds(f, "testdata/lock/requirements/*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseRequirements(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzPoetryLock(f *testing.F) {
	addSeeds(f, "testdata/lock/*/poetry.lock")
	f.Add([]byte("[[package]]\nname = \"a\"\nversion = \"1\"\ngroups = [\"dev\"]\n[package.source]\ntype = \"directory\"\n[metadata]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePoetryLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzUVLock(f *testing.F) {
	addSeeds(f, "testdata/lock/*/uv.lock")
	f.Add([]byte("version = 1\n[[package]]\nname = \"app\"\nversion = \"0.1\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"x\", version = \"1.0\" }]\n[package.optional-dependencies]\nfast = [{ name = \"y\" }]\n[package.dev-dependencies]\ndev = [{ name = \"x\", version = \"2.0\" }]\n[[package]]\nname = \"x\"\nversion = \"1.0\"\nsource = { registry = \"r\" }\ndependencies = [{ name = \"app\" }]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseUVLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzPDMLock(f *testing.F) {
	addSeeds(f, "testdata/lock/*/pdm.lock")
	f.Add([]byte("[metadata]\ngroups = [\"default\"]\n[[package]]\nname = \"a\"\nversion = \"1\"\ngroups = [\"test\"]\n[[package]]\nname = \"me\"\nversion = \"0.1\"\neditable = true\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePDMLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzPipfileLock(f *testing.F) {
	addSeeds(f, "testdata/lock/*/Pipfile.lock")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParsePipfileLock(b)
		checkParsed(t, pkgs, err)
	})
}

func BenchmarkParseMetadata(b *testing.B) {
	for _, name := range []string{"traitlets-5.15.0.dist-info/METADATA", "requests-2.34.2.dist-info/METADATA"} {
		data, err := os.ReadFile(filepath.Join("testdata/site-packages", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Dir(name), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseMetadata(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRequired(b *testing.B) {
	a, l := New(), NewLock()
	paths := []string{
		"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA",
		"usr/lib/python3/dist-packages/yaml/__init__.py",
		"usr/share/doc/libc6/changelog.Debian.gz",
		"app/requirements.txt",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			a.Required(p, analyze.FileInfo{Size: 100})
			l.Required(p, analyze.FileInfo{Size: 100})
		}
	}
}

func BenchmarkParseUVLock(b *testing.B) {
	data, err := os.ReadFile("testdata/lock/uv/uv.lock")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseUVLock(data); err != nil {
			b.Fatal(err)
		}
	}
}
