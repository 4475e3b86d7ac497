package php

import (
	"cmp"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
)

func TestRequired(t *testing.T) {
	small := analyze.FileInfo{Size: 1000}
	tests := []struct {
		path string
		info analyze.FileInfo
		want bool
	}{
		{"var/www/html/composer.lock", small, true},
		{"composer.lock", small, true},
		{"var/www/html/vendor/composer/installed.json", small, true},
		{"vendor/composer/installed.json", small, true},
		{"var/www/html/composer.lock", analyze.FileInfo{Size: maxFileSize + 1}, false},
		{"var/www/html/vendor/acme/lib/composer.lock", small, false},
		{"vendor/acme/lib/composer.lock", small, false},
		{"var/www/html/composer.json", small, false},
		{"var/www/html/xvendor/composer/installed.json", small, false},
		{"var/www/html/vendor/composer/installed.php", small, false},
		{"var/www/html/my-composer.lock", small, false},
	}
	a := New(analyze.ModeFS)
	for _, tt := range tests {
		if got := a.Required(tt.path, tt.info); got != tt.want {
			t.Errorf("Required(%q, %d) = %v, want %v", tt.path, tt.info.Size, got, tt.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, tt := range tests {
			a.Required(tt.path, tt.info)
		}
	})
	if allocs != 0 {
		t.Errorf("Required allocates %v times per run", allocs)
	}
}

type expected struct {
	Name, Version string
	Licenses      []string
	Dev           bool
}

func toExpected(pkgs []inventory.Package) []expected {
	var out []expected
	for _, p := range pkgs {
		if p.Type != inventory.TypeComposer || p.Path != "" {
			panic("unexpected package fields")
		}
		out = append(out, expected{p.Name, p.Version, p.Licenses, p.Dev})
	}
	slices.SortFunc(out, func(a, b expected) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// TestAgainstComposer compares with what Composer's own classes read from
// the same files.
func TestAgainstComposer(t *testing.T) {
	tests := []struct{ file, expected string }{
		{"testdata/composer2/composer.lock", "testdata/composer2/lock-expected.json"},
		{"testdata/composer2/vendor/composer/installed.json", "testdata/composer2/installed-expected.json"},
		{"testdata/composer1/vendor/composer/installed.json", "testdata/composer1/installed-expected.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(tt.expected)
			if err != nil {
				t.Fatal(err)
			}
			var want []expected
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if len(want) < 3 {
				t.Fatalf("%s lists %d packages", tt.expected, len(want))
			}
			in, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyzetest.File(t, New(analyze.ModeFS), strings.TrimPrefix(tt.file, "testdata/"), in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(want, toExpected(res.Packages)); diff != "" {
				t.Errorf("(-Composer +parsed):\n%s", diff)
			}
		})
	}
}

func TestForms(t *testing.T) {
	tests := []struct {
		name, file, in string
		want           []expected
	}{
		{"path dist skipped, string licence, dev names case-insensitive", "vendor/composer/installed.json",
			`{"packages": [{"name": "Acme/Local", "version": "dev-main", "dist": {"type": "path"}}, {"name": "Acme/Tool", "version": "1.0.x-dev", "license": "GPL-2.0-or-later"}], "dev": true, "dev-package-names": ["acme/tool"]}`,
			[]expected{{"Acme/Tool", "1.0.x-dev", []string{"GPL-2.0-or-later"}, true}}},
		{"empty lock", "composer.lock", `{"packages": [], "packages-dev": null}`, nil},
		{"composer 1 empty", "vendor/composer/installed.json", " \n[]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyzetest.File(t, New(analyze.ModeFS), tt.file, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []expected
			if res != nil {
				got = toExpected(res.Packages)
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct{ file, in, wantErr string }{
		{"composer.lock", `{"packages": [`, "composer.lock: invalid JSON"},
		{"composer.lock", `{}`, `no "packages" list`},
		{"composer.lock", `[]`, "composer.lock: field"},
		{"composer.lock", `{"packages": [{"name": "nope", "version": "1"}]}`, `package 1: invalid name "nope"`},
		{"composer.lock", `{"packages": [], "packages-dev": [{"name": "a/b"}]}`, `packages-dev: a/b: invalid version ""`},
		{"composer.lock", `{"packages": [{"name": "a/b", "version": 1}]}`, `field "packages.version"`},
		{"vendor/composer/installed.json", `{"dev": true}`, "neither a package list"},
		{"vendor/composer/installed.json", `[{"name": "a/b c", "version": "1"}]`, `invalid name "a/b c"`},
		{"vendor/composer/installed.json", "\x00\x01", "installed.json: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			_, err := analyzetest.File(t, New(analyze.ModeFS), tt.file, []byte(tt.in))
			switch {
			case err == nil:
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			case !errors.Is(err, ErrMalformed):
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
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
		if p.Type != inventory.TypeComposer || !validName(p.Name) || !validVersion(p.Version) {
			t.Fatalf("bad package %+v", p)
		}
	}
}

func FuzzLock(f *testing.F) {
	for _, p := range []string{"testdata/composer2/composer.lock"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"packages": [{"name": "a/b", "version": "1", "license": "MIT"}], "packages-dev": [{"name": "c/d", "version": "2", "dist": {"type": "path"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseLock(b)
		checkParsed(t, pkgs, err)
	})
}

func FuzzInstalled(f *testing.F) {
	for _, p := range []string{"testdata/composer2/vendor/composer/installed.json", "testdata/composer1/vendor/composer/installed.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := ParseInstalled(b)
		checkParsed(t, pkgs, err)
	})
}

func BenchmarkParseLock(b *testing.B) {
	data, err := os.ReadFile("testdata/composer2/composer.lock")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLock(data); err != nil {
			b.Fatal(err)
		}
	}
}
