package ruby

import (
	"cmp"
	"context"
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
		{"usr/local/bundle/specifications/rack-3.0.8.gemspec", small, true},
		{"usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", small, true},
		{"var/lib/gems/3.1.0/specifications/nokogiri-1.16.7-x86_64-linux.gemspec", small, true},
		{"specifications/x-1.gemspec", small, true},
		{"app/Gemfile.lock", small, true},
		{"Gemfile.lock", small, true},
		{"app/gems/Gemfile.lock", small, true},
		{"usr/local/bundle/specifications/rack-3.0.8.gemspec", analyze.FileInfo{Size: maxGemspec + 1}, false},
		{"app/Gemfile.lock", analyze.FileInfo{Size: maxLockfile + 1}, false},
		{"usr/local/bundle/gems/rack-3.0.8/rack.gemspec", small, false},
		{"usr/local/bundle/specifications/.gemspec", small, false},
		{"usr/local/bundle/specifications/sub/x-1.gemspec", small, false},
		{"app/myapp.gemspec", small, false},
		{"usr/local/bundle/gems/rack-3.0.8/Gemfile.lock", small, false},
		{"vendor/bundle/ruby/3.2.0/bundler/gems/rails-abc123/Gemfile.lock", small, false},
		{"app/Gemfile", small, false},
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

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

type gem struct {
	Path, Name, Version, Platform string
	Licenses                      []string
}

// TestSpecifications walks real installed gemspecs and compares with what
// RubyGems itself loads from them.
func TestSpecifications(t *testing.T) {
	var want []gem
	readJSON(t, "testdata/specifications.json", &want)
	if len(want) < 10 {
		t.Fatalf("specifications.json lists %d gems", len(want))
	}
	for i := range want {
		if want[i].Platform == "ruby" {
			want[i].Platform = ""
		}
		if len(want[i].Licenses) == 0 {
			want[i].Licenses = nil
		}
	}
	w := &analyze.Walker{Analyzers: []analyze.Analyzer{New(analyze.ModeFS)}}
	res, err := w.WalkDir(context.Background(), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		t.Errorf("%s: %s", e.Path, e.Err)
	}
	var got []gem
	for _, f := range res.Files {
		if !strings.HasSuffix(f.Path, ".gemspec") {
			continue
		}
		for _, p := range f.Packages {
			got = append(got, gem{p.Path, p.Name, p.Version, p.Arch, p.Licenses})
		}
	}
	slices.SortFunc(got, func(a, b gem) int { return cmp.Compare(a.Path, b.Path) })
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("(-RubyGems +parsed):\n%s", diff)
	}
}

type lockGem struct {
	Name, Version, Platform string
	Direct                  bool
}

func TestGemfileLock(t *testing.T) {
	var want []lockGem
	readJSON(t, "testdata/bundler/expected.json", &want)
	if len(want) < 10 {
		t.Fatalf("expected.json lists %d gems", len(want))
	}
	for i := range want {
		if want[i].Platform == "ruby" {
			want[i].Platform = ""
		}
	}
	b, err := os.ReadFile("testdata/bundler/Gemfile.lock")
	if err != nil {
		t.Fatal(err)
	}
	res, err := analyzetest.File(t, New(analyze.ModeFS), "app/Gemfile.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(want, lockGems(res.Packages)); diff != "" {
		t.Errorf("(-Bundler +parsed):\n%s", diff)
	}
}

func lockGems(pkgs []inventory.Package) []lockGem {
	var out []lockGem
	for _, p := range pkgs {
		if p.Type != inventory.TypeGem || p.Dev || p.Path != "" {
			panic("unexpected package fields")
		}
		out = append(out, lockGem{p.Name, p.Version, p.Arch, !p.Indirect})
	}
	slices.SortFunc(out, func(a, b lockGem) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Platform, b.Platform))
	})
	return out
}

func TestGemfileLockForms(t *testing.T) {
	in := `GIT
  remote: https://github.com/rails/rails.git
  revision: 0123456789abcdef
  branch: main
  specs:
    actionpack (7.2.0.alpha)
      rack (>= 2.2.4)
    rails (7.2.0.alpha)
      actionpack (= 7.2.0.alpha)

PATH
  remote: .
  specs:
    myapp (0.1.0)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.16.7-aarch64-linux)
      racc (~> 1.4)
    nokogiri (1.16.7-x86_64-linux)
      racc (~> 1.4)
    rack (3.0.8)
    racc (1.8.0)

PLATFORMS
  aarch64-linux
  x86_64-linux

DEPENDENCIES
  myapp!
  nokogiri
  rails!

CHECKSUMS
  rack (3.0.8) sha256=abc

RUBY VERSION
   ruby 3.3.0p0

BUNDLED WITH
   2.5.3
`
	want := []lockGem{
		{"actionpack", "7.2.0.alpha", "", false},
		{"nokogiri", "1.16.7", "aarch64-linux", true},
		{"nokogiri", "1.16.7", "x86_64-linux", true},
		{"racc", "1.8.0", "", false},
		{"rack", "3.0.8", "", false},
		{"rails", "7.2.0.alpha", "", true},
	}
	pkgs, err := ParseGemfileLock([]byte(strings.ReplaceAll(in, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(want, lockGems(pkgs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	case err != nil && !errors.Is(err, ErrMalformed):
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
}

func TestParseGemspec(t *testing.T) {
	tests := []struct {
		name, in string
		want     *inventory.Package
		wantErr  string
	}{
		{"spec variable, license, single quotes", "Gem::Specification.new do |spec|\n  spec.name = 'a-b'\n  spec.version = '1.0.0.rc1'\n  spec.license = \"Apache-2.0\".freeze\nend\n",
			&inventory.Package{Type: "gem", Name: "a-b", Version: "1.0.0.rc1", Licenses: []string{"Apache-2.0"}}, ""},
		{"braces, %q<>, Gem::Platform::RUBY", "Gem::Specification.new { |s|\n s.name = %q<x>\n s.version = %q(2)\n s.platform = Gem::Platform::RUBY\n s.licenses = [%q{MIT}, \"MIT\"]\n}\n",
			&inventory.Package{Type: "gem", Name: "x", Version: "2", Licenses: []string{"MIT"}}, ""},
		{"stub line fills in", "# stub: y 3.1 java lib\nGem::Specification.new do |s|\nend\n",
			&inventory.Package{Type: "gem", Name: "y", Version: "3.1", Arch: "java"}, ""},
		{"comparison is no assignment", "Gem::Specification.new do |s|\n  s.name = \"z\"\n  s.version = \"1\"\n  if s.name == \"q\" then end\nend\n",
			&inventory.Package{Type: "gem", Name: "z", Version: "1"}, ""},
		{"empty", "", nil, "no Gem::Specification.new block"},
		{"no block variable", "Gem::Specification.new do\nend\n", nil, "line 1: Gem::Specification.new without a |block| variable"},
		{"no version", "Gem::Specification.new do |s|\n  s.name = \"a\"\nend\n", nil, `a: invalid or missing version ""`},
		{"computed version", "Gem::Specification.new do |s|\n  s.name = \"a\"\n  s.version = A::VERSION\nend\n", nil, "line 3: s.version: expected a string literal"},
		{"unterminated", "Gem::Specification.new do |s|\n  s.name = \"a\n", nil, "line 2: s.name: bad string literal"},
		{"trailing code", "Gem::Specification.new do |s|\n  s.name = \"a\" + x\n", nil, "unexpected \"+ x\" after the string"},
		{"bad name", "Gem::Specification.new do |s|\n  s.name = \"a b\"\n  s.version = \"1\"\nend\n", nil, `invalid or missing gem name "a b"`},
		{"bad licenses", "Gem::Specification.new do |s|\n  s.licenses = [\"a\" \"b\"]\n", nil, "expected ',' or ']'"},
		{"binary", "\x00\x01\x02", nil, "no Gem::Specification.new block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGemspec([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGemfileLockErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"  specs:\n", "line 1: indented line before any section"},
		{"GEM\n  specs:\n    rack 3.0.8\n", `line 3: expected "name (version)"`},
		{"GEM\n  specs:\n    ra ck (3.0.8)\n", `invalid gem name "ra ck"`},
		{"GEM\n  specs:\n    rack (3.0 8)\n", `rack: invalid version "3.0 8"`},
		{"GEM\n  specs:\n    rack (3.0.8-x/y)\n", `rack: invalid platform "x/y"`},
		{"gem 'rack'\n", "line 1: expected a section name"},
		{"{\"json\": 1}\n", "expected a section name"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			_, err := ParseGemfileLock([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
		})
	}
}
