package python

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", small, true},
		{"usr/local/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA", small, true},
		{"usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO", small, true},
		{"usr/lib/python3/dist-packages/PyGObject-3.42.2.egg-info", small, true},
		{"x.egg-info", small, true},
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", analyze.FileInfo{Size: maxMetadata + 1}, false},
		{"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD", small, false},
		{"usr/lib/python3/dist-packages/requests-2.28.1.egg-info/requires.txt", small, false},
		{"src/proj-1.0/PKG-INFO", small, false},
		{"usr/lib/python3/dist-packages/.egg-info", small, false},
		{".egg-info", small, false},
	}
	a := New()
	for _, tt := range tests {
		if got := a.Required(tt.path, tt.info); got != tt.want {
			t.Errorf("Required(%q, %d) = %v, want %v", tt.path, tt.info.Size, got, tt.want)
		}
	}
}

func TestLockRequired(t *testing.T) {
	small := analyze.FileInfo{Size: 1000}
	tests := []struct {
		path string
		info analyze.FileInfo
		want bool
	}{
		{"requirements.txt", small, true},
		{"app/requirements-dev.txt", small, true},
		{"app/requirements_test.txt", small, true},
		{"app/requirements/base.txt", small, true},
		{"requirements/prod.txt", small, true},
		{"app/poetry.lock", small, true},
		{"app/uv.lock", small, true},
		{"app/pdm.lock", small, true},
		{"app/Pipfile.lock", small, true},
		{"app/Pipfile", small, false},
		{"app/requirements.in", small, false},
		{"app/notes.txt", small, false},
		{"app/poetry.lock", analyze.FileInfo{Size: maxTOMLLock + 1}, false},
		{"app/requirements.txt", analyze.FileInfo{Size: maxRequirements + 1}, false},
		{"usr/lib/python3/dist-packages/x/requirements.txt", small, false},
		{"venv/lib/python3.12/site-packages/pkg/poetry.lock", small, false},
	}
	a := NewLock()
	for _, tt := range tests {
		if got := a.Required(tt.path, tt.info); got != tt.want {
			t.Errorf("Required(%q, %d) = %v, want %v", tt.path, tt.info.Size, got, tt.want)
		}
	}
}

func TestRequiredAllocs(t *testing.T) {
	a, l := New(), NewLock()
	paths := []string{
		"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA",
		"usr/lib/python3/dist-packages/PyGObject-3.42.2.egg-info",
		"app/requirements/base.txt",
		"usr/lib/x86_64-linux-gnu/libc.so.6",
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			a.Required(p, analyze.FileInfo{Size: 100})
			l.Required(p, analyze.FileInfo{Size: 100})
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

type installed struct{ Name, Version, Path string }

func sortInstalled(s []installed) {
	slices.SortFunc(s, func(a, b installed) int { return cmp.Compare(a.Path, b.Path) })
}

// TestSitePackages walks real installed metadata and compares with what
// importlib.metadata reads from the same files.
func TestSitePackages(t *testing.T) {
	var want []installed
	readJSON(t, "testdata/site-packages.json", &want)
	if len(want) < 10 {
		t.Fatalf("site-packages.json lists %d distributions", len(want))
	}
	w := &analyze.Walker{Analyzers: []analyze.Analyzer{New()}}
	res, err := w.WalkDir(context.Background(), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		t.Errorf("%s: %s", e.Path, e.Err)
	}
	var got []installed
	for _, f := range res.Files {
		for _, p := range f.Packages {
			if p.Type != inventory.TypePyPI {
				t.Errorf("%s: type %q", p.Name, p.Type)
			}
			got = append(got, installed{p.Name, p.Version, p.Path})
		}
	}
	sortInstalled(want)
	sortInstalled(got)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("(-importlib +found):\n%s", diff)
	}
}

// TestCorpusDebian12App checks Debian's python3 packages against what the
// image's build recorded.
func TestCorpusDebian12App(t *testing.T) {
	var truth struct {
		Python []installed `json:"python_packages"`
	}
	readJSON(t, filepath.Join(analyzetest.Corpus(t), "debian12-app", "TRUTH.json"), &truth)
	if len(truth.Python) != 10 {
		t.Fatalf("TRUTH.json lists %d python packages, want 10", len(truth.Python))
	}
	var got []installed
	for _, blob := range analyzetest.Layers(t, "debian12-app") {
		res := analyzetest.WalkBlob(t, blob, New())
		for _, e := range res.Errors {
			t.Errorf("%s: %s", e.Path, e.Err)
		}
		for _, f := range res.Files {
			for _, p := range f.Packages {
				got = append(got, installed{p.Name, p.Version, p.Path})
			}
		}
	}
	sortInstalled(truth.Python)
	sortInstalled(got)
	if diff := gocmp.Diff(truth.Python, got); diff != "" {
		t.Errorf("(-TRUTH +found):\n%s", diff)
	}
}

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Metadata
		wantErr string
	}{
		{"expression wins", "Metadata-Version: 2.4\nName: a\nVersion: 1.0\nLicense: MIT License\nLicense-Expression: MIT OR Apache-2.0\nClassifier: License :: OSI Approved :: MIT License\n",
			&Metadata{Name: "a", Version: "1.0", Licenses: []string{"MIT OR Apache-2.0"}}, ""},
		{"short license field", "Name: a\nVersion: 1.0\nLicense: BSD\nClassifier: License :: OSI Approved :: BSD License\n",
			&Metadata{Name: "a", Version: "1.0", Licenses: []string{"BSD"}}, ""},
		{"license text falls back to classifiers", "Name: a\nVersion: 1.0\nLicense: Copyright (c) someone\n        \n        Permission is hereby granted\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: Public Domain\n",
			&Metadata{Name: "a", Version: "1.0", Licenses: []string{"MIT License", "Public Domain"}}, ""},
		{"UNKNOWN ignored", "Metadata-Version: 1.0\nName: a\nVersion: 1.0\nLicense: UNKNOWN\nClassifier: License :: OSI Approved\n",
			&Metadata{Name: "a", Version: "1.0"}, ""},
		{"CRLF, case-insensitive keys, body ignored", "name: a-b.c_d\r\nversion: 2!1.0.post1+local\r\n\r\nName: other\n",
			&Metadata{Name: "a-b.c_d", Version: "2!1.0.post1+local"}, ""},
		{"whitespace-only line continues a header", "Name: a\nLicense: x\n \nVersion: 1\n",
			&Metadata{Name: "a", Version: "1", Licenses: []string{"x"}}, ""},
		{"empty", "", nil, "no Name header"},
		{"no version", "Name: a\n", nil, "a: no Version header"},
		{"version after the headers", "Name: a\n\nVersion: 1\n", nil, "no Version header"},
		{"binary", "Name: a\nVersion: 1\x00\x01\n", nil, "line 2: binary data"},
		{"garbage line", "Name: a\nthis is not a header\nVersion: 1\n", nil, `line 2: expected "Header: value"`},
		{"continuation first", " Name: a\n", nil, "line 1: continuation line before any header"},
		{"bad name", "Name: a b\nVersion: 1\n", nil, `invalid Name "a b"`},
		{"bad version", "Name: a\nVersion: 1\x7f\n", nil, "invalid Version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetadata([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
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

type lockKey struct {
	Name, Version string
	Dev           bool
}

func keysOf(res *analyze.Result) []lockKey {
	var out []lockKey
	if res == nil {
		return out
	}
	for _, p := range res.Packages {
		out = append(out, lockKey{p.Name, p.Version, p.Dev})
	}
	return sortKeys(out)
}

func sortKeys(k []lockKey) []lockKey {
	slices.SortFunc(k, func(a, b lockKey) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	return k
}

func TestLockFiles(t *testing.T) {
	files := []string{
		"testdata/lock/poetry-1.1/poetry.lock",
		"testdata/lock/uv/uv.lock",
		"testdata/lock/pdm/pdm.lock",
		"testdata/lock/pipenv/Pipfile.lock",
		"testdata/lock/requirements/requirements-dev.txt",
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			var want []lockKey
			readJSON(t, filepath.Join(filepath.Dir(f), "expected.json"), &want)
			if len(want) < 5 {
				t.Fatalf("expected.json lists %d packages", len(want))
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyzetest.File(t, NewLock(), "src/"+filepath.Base(f), b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(sortKeys(want), keysOf(res)); diff != "" {
				t.Errorf("(-expected.json +parsed):\n%s", diff)
			}
		})
	}
}

// TestPipFreeze reads what pip freeze wrote and compares with pip list of
// the same environment, less the tools pip freeze leaves out by default.
func TestPipFreeze(t *testing.T) {
	var list []lockKey
	readJSON(t, "testdata/lock/pip-freeze/pip-list.json", &list)
	var want []lockKey
	for _, p := range list {
		switch strings.ToLower(p.Name) {
		case "pip", "setuptools", "wheel", "distribute":
			continue
		}
		want = append(want, p)
	}
	if len(want) < 50 {
		t.Fatalf("pip-list.json lists %d packages", len(want))
	}
	b, err := os.ReadFile("testdata/lock/pip-freeze/requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	res, err := analyzetest.File(t, NewLock(), "requirements.txt", b)
	if err != nil {
		t.Fatal(err)
	}
	// pip list prints the metadata's spelling, pip freeze the same; compare
	// names case-insensitively all the same, as pip does.
	norm := func(k []lockKey) []lockKey {
		for i := range k {
			k[i].Name = strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k[i].Name))
		}
		return sortKeys(k)
	}
	if diff := gocmp.Diff(norm(want), norm(keysOf(res))); diff != "" {
		t.Errorf("(-pip list +parsed):\n%s", diff)
	}
}

func TestLockForms(t *testing.T) {
	tests := []struct {
		name, file, in string
		want           []lockKey
	}{
		{"poetry 2 groups, directory source", "poetry.lock", "[[package]]\nname = \"a\"\nversion = \"1.0\"\ngroups = [\"main\", \"dev\"]\n\n[[package]]\nname = \"b\"\nversion = \"2.0\"\ngroups = [\"dev\", \"lint\"]\n\n[[package]]\nname = \"c\"\nversion = \"3.0\"\n\n[[package]]\nname = \"local\"\nversion = \"0.1\"\n[package.source]\ntype = \"directory\"\nurl = \"../local\"\n\n[metadata]\nlock-version = \"2.1\"\n",
			[]lockKey{{"a", "1.0", false}, {"b", "2.0", true}, {"c", "3.0", false}}},
		{"pdm groups, editable", "pdm.lock", "[metadata]\ngroups = [\"default\", \"test\"]\nlock_version = \"4.5.0\"\n\n[[package]]\nname = \"a\"\nversion = \"1\"\ngroups = [\"default\", \"test\"]\n\n[[package]]\nname = \"b\"\nversion = \"2\"\ngroups = [\"test\"]\n\n[[package]]\nname = \"me\"\nversion = \"0.1\"\neditable = true\npath = \".\"\n",
			[]lockKey{{"a", "1", false}, {"b", "2", true}}},
		{"uv two versions, dev reaching prod", "uv.lock", "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"x\", version = \"1.0\" }]\n[package.optional-dependencies]\nfast = [{ name = \"y\" }]\n[package.dev-dependencies]\ndev = [{ name = \"x\", version = \"2.0\" }, { name = \"y\" }, { name = \"z\" }]\n\n[[package]]\nname = \"x\"\nversion = \"1.0\"\nsource = { registry = \"r\" }\n\n[[package]]\nname = \"x\"\nversion = \"2.0\"\nsource = { registry = \"r\" }\n\n[[package]]\nname = \"y\"\nversion = \"1\"\nsource = { registry = \"r\" }\n\n[[package]]\nname = \"z\"\nversion = \"1\"\nsource = { registry = \"r\" }\ndependencies = [{ name = \"w\" }]\n\n[[package]]\nname = \"w\"\nversion = \"1\"\nsource = { directory = \"../w\" }\n",
			[]lockKey{{"x", "1.0", false}, {"x", "2.0", true}, {"y", "1", false}, {"z", "1", true}}},
		{"Pipfile both sections, VCS entry", "Pipfile.lock", `{"_meta": {}, "default": {"a": {"version": "==1"}, "g": {"git": "https://x", "ref": "abc"}}, "develop": {"a": {"version": "==1"}, "b": {"version": "==2"}}}`,
			[]lockKey{{"a", "1", false}, {"b", "2", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyzetest.File(t, NewLock(), tt.file, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(sortKeys(tt.want), keysOf(res)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLockErrors(t *testing.T) {
	tests := []struct {
		file, in, wantErr string
	}{
		{"poetry.lock", "[[package]]\nname = \"a\"\nversion = \"1\"\n", "no [metadata] table"},
		{"poetry.lock", "[[package]\n", "poetry.lock: toml"},
		{"poetry.lock", "[[package]]\nname = \"a b\"\nversion = \"1\"\n[metadata]\n", `package 1: invalid name "a b"`},
		{"poetry.lock", "[[package]]\nname = \"a\"\n[metadata]\n", `a: invalid version ""`},
		{"poetry.lock", "[[package]]\nname = 1\n[metadata]\n", "poetry.lock: toml"},
		{"pdm.lock", "[[package]]\nname = \"a\"\nversion = \"1\"\n", "no [metadata] table"},
		{"uv.lock", "[[package]]\nname = \"a\"\nversion = \"1\"\n", "uv.lock: no version"},
		{"uv.lock", "version = 1\n[[package]]\nname = \"\"\n", "invalid name"},
		{"Pipfile.lock", `{"default": {}}`, "no _meta section"},
		{"Pipfile.lock", `{"_meta": {}, "default": {"a": {"version": ">=1"}}}`, `"a": invalid pin ">=1"`},
		{"Pipfile.lock", `{"_meta": {}, "default": [`, "Pipfile.lock: unexpected end"},
		{"requirements.txt", "a==1\x00", "binary data"},
		{"uv.lock", "version = 1\na = [" + strings.Repeat("1,", maxTOMLValues) + "1]\n", "too many TOML values"},
		{"pdm.lock", strings.Repeat("#", maxTOMLLock+1), "bytes, more than"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.wantErr, func(t *testing.T) {
			_, err := analyzetest.File(t, NewLock(), "app/"+tt.file, []byte(tt.in))
			checkErr(t, err, tt.wantErr)
		})
	}
}
