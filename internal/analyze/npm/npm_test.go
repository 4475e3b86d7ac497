package npm

import (
	"bufio"
	"bytes"
	"cmp"
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
		{"app/node_modules/express/package.json", small, true},
		{"node_modules/express/package.json", small, true},
		{"app/node_modules/@types/node/package.json", small, true},
		{"app/node_modules/a/node_modules/b/package.json", small, true},
		{"app/node_modules/a/node_modules/@s/b/node_modules/c/package.json", small, true},
		{"app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json", small, true},
		{"app/node_modules/.pnpm/@s+b@1.0.0/node_modules/@s/b/package.json", small, true},
		{"usr/local/lib/node_modules/npm/node_modules/semver/package.json", small, true},
		{"app/node_modules/express/package.json", analyze.FileInfo{Size: maxPackageJSON + 1}, false},
		// Not package roots: files inside packages, scope dirs, dot dirs.
		{"app/package.json", small, false},
		{"package.json", small, false},
		{"app/node_modules/resolve/test/resolver/package.json", small, false},
		{"app/node_modules/a/test/fixtures/node_modules/b/package.json", small, false},
		{"app/node_modules/@types/package.json", small, false},
		{"app/node_modules/.bin/package.json", small, false},
		{"app/node_modules/_x/package.json", small, false},
		{"app/node_modules/@s/.x/package.json", small, false},
		{"app/node_modules/.pnpm/package.json", small, false},
		{"app/node_modules/.pnpm/x/package.json", small, false},
		{"app/node_modules/a/package.json/package.json", small, false},
		{"app/xnode_modules/a/package.json", small, false},
		// Lock files, outside node_modules only.
		{"app/package-lock.json", small, true},
		{"package-lock.json", small, true},
		{"app/npm-shrinkwrap.json", small, true},
		{"app/yarn.lock", small, true},
		{"app/pnpm-lock.yaml", small, true},
		{"app/node_modules/.package-lock.json", small, false},
		{"app/node_modules/x/package-lock.json", small, false},
		{"node_modules/x/yarn.lock", small, false},
		{"app/node_modules/pnpm-lock.yaml", small, false},
		// Debian's node libraries ship their development lock files.
		{"usr/share/nodejs/undici/pnpm-lock.yaml", small, false},
		{"usr/share/nodejs/@types/node/package-lock.json", small, false},
		{"usr/lib/nodejs/x/npm-shrinkwrap.json", small, false},
		{"usr/lib/x86_64-linux-gnu/nodejs/x/yarn.lock", small, false},
		{"usr/share/app/package-lock.json", small, true},
		{"usr/lib/app/yarn.lock", small, true},
		{"app/package-lock.json", analyze.FileInfo{Size: maxJSONLock + 1}, false},
		{"app/pnpm-lock.yaml", analyze.FileInfo{Size: maxYAMLLock + 1}, false},
		{"app/Package-lock.json", small, false},
	}
	a := New(analyze.ModeFS)
	for _, tt := range tests {
		if got := a.Required(tt.path, tt.info); got != tt.want {
			t.Errorf("Required(%q, %d) = %v, want %v", tt.path, tt.info.Size, got, tt.want)
		}
	}
}

func TestRequiredAllocs(t *testing.T) {
	a := New(analyze.ModeFS)
	paths := []string{
		"app/node_modules/a/node_modules/@s/b/package.json",
		"app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json",
		"app/node_modules/resolve/test/resolver/package.json",
		"app/pnpm-lock.yaml",
		"usr/lib/x86_64-linux-gnu/libc.so.6",
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			a.Required(p, analyze.FileInfo{Size: 100})
		}
	})
	if allocs != 0 {
		t.Errorf("Required allocates %v times per run", allocs)
	}
}

// pkgKey is what the lock file tests compare.
type pkgKey struct {
	Name, Alias, Version string
	Dev                  bool
}

func keysOf(pkgs []inventory.Package) []pkgKey {
	var out []pkgKey
	for _, p := range pkgs {
		out = append(out, pkgKey{p.Name, p.Meta["alias"], p.Version, p.Dev})
	}
	return sortKeys(out)
}

func sortKeys(k []pkgKey) []pkgKey {
	slices.SortFunc(k, func(a, b pkgKey) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Alias, b.Alias), cmp.Compare(a.Version, b.Version), boolCmp(a.Dev, b.Dev))
	})
	return slices.Compact(k)
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

// npmLsNode is the reduced `npm ls --json --long` tree.
type npmLsNode struct {
	Name         string               `json:"name"`
	Version      string               `json:"version"`
	Path         string               `json:"path"`
	Dependencies map[string]npmLsNode `json:"dependencies"`
}

// npmLsInstalled returns the installed packages of an npm ls tree by
// install path (the project and workspaces are not under node_modules).
func npmLsInstalled(n npmLsNode, out map[string]npmLsNode) {
	if strings.Contains(n.Path, "node_modules/") {
		out[n.Path] = n
	}
	for _, d := range n.Dependencies {
		npmLsInstalled(d, out)
	}
}

func npmExpected(t *testing.T, dir string) []pkgKey {
	var all, prod npmLsNode
	readJSON(t, filepath.Join(dir, "npm-ls.json"), &all)
	readJSON(t, filepath.Join(dir, "npm-ls-prod.json"), &prod)
	allByPath, prodByPath := map[string]npmLsNode{}, map[string]npmLsNode{}
	npmLsInstalled(all, allByPath)
	npmLsInstalled(prod, prodByPath)
	if len(allByPath) < 50 || len(prodByPath) >= len(allByPath) {
		t.Fatalf("%s: listing has %d packages, %d in production: not the expected install", dir, len(allByPath), len(prodByPath))
	}
	ws := workspaceNames(t)
	var want []pkgKey
	for p, n := range allByPath {
		if ws[n.Name] {
			continue
		}
		alias := p[strings.LastIndex(p, "node_modules/")+len("node_modules/"):]
		if alias == n.Name {
			alias = ""
		}
		_, isProd := prodByPath[p]
		want = append(want, pkgKey{n.Name, alias, n.Version, !isProd})
	}
	return sortKeys(want)
}

// workspaceNames are the project's own packages, which lock files
// describe but which are no dependencies.
func workspaceNames(t *testing.T) map[string]bool {
	out := map[string]bool{}
	files, _ := filepath.Glob("testdata/lock/project/packages/*/package.json")
	for _, f := range files {
		var pj struct{ Name string }
		readJSON(t, f, &pj)
		out[pj.Name] = true
	}
	if len(out) == 0 {
		t.Fatal("no workspace packages in testdata/lock/project")
	}
	return out
}

func yarnV1Expected(t *testing.T, dir string) []pkgKey {
	var list struct {
		Data struct{ Trees []yarnTree } `json:"data"`
	}
	readJSON(t, filepath.Join(dir, "yarn-list.json"), &list)
	ws := workspaceNames(t)
	var want []pkgKey
	var walk func([]yarnTree)
	walk = func(trees []yarnTree) {
		for _, tr := range trees {
			if !tr.Shadow {
				name, version, ok := splitNameVersion(tr.Name)
				if !ok {
					t.Fatalf("yarn list entry %q", tr.Name)
				}
				if !ws[name] {
					want = append(want, pkgKey{Name: name, Version: version})
				}
			}
			walk(tr.Children)
		}
	}
	walk(list.Data.Trees)
	return sortKeys(want)
}

type yarnTree struct {
	Name     string     `json:"name"`
	Shadow   bool       `json:"shadow"`
	Children []yarnTree `json:"children"`
}

// berryExpected reads `yarn info --all --recursive --json`: one locator
// per line. Workspaces are the project's own code and patch: locators
// repeat the package they patch.
func berryExpected(t *testing.T, dir string) []pkgKey {
	b, err := os.ReadFile(filepath.Join(dir, "yarn-info.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var want []pkgKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e struct {
			Value    string
			Children struct{ Version string }
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		name, ref, _ := splitSpec(e.Value)
		if strings.HasPrefix(ref, "workspace:") || strings.HasPrefix(ref, "patch:") {
			continue
		}
		want = append(want, pkgKey{Name: name, Version: e.Children.Version})
	}
	return sortKeys(want)
}

type pnpmListNode struct {
	From                 string                  `json:"from"`
	Version              string                  `json:"version"`
	Path                 string                  `json:"path"`
	Dependencies         map[string]pnpmListNode `json:"dependencies"`
	DevDependencies      map[string]pnpmListNode `json:"devDependencies"`
	OptionalDependencies map[string]pnpmListNode `json:"optionalDependencies"`
}

// pnpmExpected reads `pnpm list --recursive --json --depth Infinity`: a
// package is a development dependency when it only appears below the
// importers' devDependencies.
func pnpmExpected(t *testing.T, dir string) []pkgKey {
	var importers []pnpmListNode
	readJSON(t, filepath.Join(dir, "pnpm-list.json"), &importers)
	prod, dev := map[[2]string]bool{}, map[[2]string]bool{}
	var walk func(map[string]pnpmListNode, map[[2]string]bool)
	walk = func(deps map[string]pnpmListNode, into map[[2]string]bool) {
		for _, n := range deps {
			if strings.Contains(n.Path, "node_modules/") {
				into[[2]string{n.From, n.Version}] = true
			}
			walk(n.Dependencies, into)
			walk(n.OptionalDependencies, into)
		}
	}
	for _, imp := range importers {
		walk(imp.Dependencies, prod)
		walk(imp.OptionalDependencies, prod)
		walk(imp.DevDependencies, dev)
	}
	var want []pkgKey
	for k := range prod {
		want = append(want, pkgKey{Name: k[0], Version: k[1]})
	}
	for k := range dev {
		if !prod[k] {
			want = append(want, pkgKey{Name: k[0], Version: k[1], Dev: true})
		}
	}
	return sortKeys(want)
}

// withoutAlias drops the alias when the listing cannot show it.
func withoutAlias(k []pkgKey) []pkgKey {
	for i := range k {
		k[i].Alias = ""
	}
	return sortKeys(k)
}

// installedName keys yarn v1 packages by the name they are installed
// under, as `yarn list` shows them.
func installedName(k []pkgKey) []pkgKey {
	for i := range k {
		if k[i].Alias != "" {
			k[i].Name, k[i].Alias = k[i].Alias, ""
		}
	}
	return sortKeys(k)
}

func TestLockFilesAgainstTools(t *testing.T) {
	tests := []struct {
		dir, file string
		want      func(*testing.T, string) []pkgKey
		got       func([]pkgKey) []pkgKey
	}{
		{"npm-v1", "package-lock.json", npmExpected, nil},
		{"npm-v2", "package-lock.json", npmExpected, nil},
		{"npm-v3", "package-lock.json", npmExpected, nil},
		{"shrinkwrap-v1", "npm-shrinkwrap.json", npmExpected, nil},
		{"yarn-v1", "yarn.lock", yarnV1Expected, installedName},
		{"yarn-berry", "yarn.lock", berryExpected, withoutAlias},
		{"pnpm-v5", "pnpm-lock.yaml", pnpmExpected, nil},
		{"pnpm-v6", "pnpm-lock.yaml", pnpmExpected, nil},
		{"pnpm-v9", "pnpm-lock.yaml", pnpmExpected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "lock", tt.dir)
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyzetest.File(t, New(analyze.ModeFS), "src/app/"+tt.file, b)
			if err != nil {
				t.Fatal(err)
			}
			got := keysOf(res.Packages)
			if tt.got != nil {
				got = tt.got(got)
			}
			want := tt.want(t, dir)
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("%s: packages differ from the tool's listing (-tool +parsed):\n%s", tt.file, diff)
			}
			for _, p := range res.Packages {
				if p.Type != inventory.TypeNPM || p.Path != "" || p.PURL != "" {
					t.Errorf("package %+v: want type npm, no path, no purl", p)
				}
			}
		})
	}
}

func TestPackageJSONRealFiles(t *testing.T) {
	dirs, err := filepath.Glob("testdata/packagejson/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test data: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var view struct {
				Name, Version     string
				License, Licenses json.RawMessage
			}
			readJSON(t, filepath.Join(dir, "npm-view.json"), &view)
			b, err := os.ReadFile(filepath.Join(dir, "package.json"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyzetest.File(t, New(analyze.ModeFS), "app/node_modules/"+view.Name+"/package.json", b)
			if err != nil {
				t.Fatal(err)
			}
			// The registry's licence fields: strings, or objects' "type".
			var wantLic []string
			for _, raw := range []json.RawMessage{view.License, view.Licenses} {
				var one any
				if len(raw) == 0 || json.Unmarshal(raw, &one) != nil {
					continue
				}
				items, ok := one.([]any)
				if !ok {
					items = []any{one}
				}
				for _, it := range items {
					switch v := it.(type) {
					case string:
						wantLic = append(wantLic, v)
					case map[string]any:
						wantLic = append(wantLic, v["type"].(string))
					}
				}
			}
			wantLic = slices.Compact(wantLic)
			want := []inventory.Package{{Type: inventory.TypeNPM, Name: view.Name, Version: view.Version, Licenses: wantLic}}
			if diff := gocmp.Diff(want, res.Packages); diff != "" {
				t.Errorf("(-npm view +parsed):\n%s", diff)
			}
		})
	}
}

func TestParsePackageJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *inventory.Package
		wantErr string
	}{
		{"plain", `{"name":"a","version":"1.0.0","license":"MIT"}`,
			&inventory.Package{Type: "npm", Name: "a", Version: "1.0.0", Licenses: []string{"MIT"}}, ""},
		{"bom", "\xef\xbb\xbf{\"name\":\"a\",\"version\":\"1.0.0\"}",
			&inventory.Package{Type: "npm", Name: "a", Version: "1.0.0"}, ""},
		{"scoped, expression", `{"name":"@s/a","version":"2.0.0-rc.1","license":"(MIT OR Apache-2.0)"}`,
			&inventory.Package{Type: "npm", Name: "@s/a", Version: "2.0.0-rc.1", Licenses: []string{"(MIT OR Apache-2.0)"}}, ""},
		{"license object", `{"name":"a","version":"1.0.0","license":{"type":"BSD","url":"x"}}`,
			&inventory.Package{Type: "npm", Name: "a", Version: "1.0.0", Licenses: []string{"BSD"}}, ""},
		{"licenses array", `{"name":"a","version":"1.0.0","licenses":[{"type":"MIT"},"ISC",{"url":"x"},7]}`,
			&inventory.Package{Type: "npm", Name: "a", Version: "1.0.0", Licenses: []string{"MIT", "ISC"}}, ""},
		{"odd license types ignored", `{"name":"a","version":"1.0.0","license":7,"licenses":{"nope":1}}`,
			&inventory.Package{Type: "npm", Name: "a", Version: "1.0.0"}, ""},
		{"no version", `{"name":"a","private":true}`, nil, ""},
		{"no name", `{"version":"1.0.0"}`, nil, ""},
		{"null name", `{"name":null,"version":"1.0.0"}`, nil, ""},
		{"empty object", `{}`, nil, ""},
		{"truncated", `{"name":"a","version":"1.0`, nil, "invalid JSON"},
		{"not JSON", "\x00\x01binary", nil, "invalid JSON"},
		{"trailing garbage", `{"name":"a","version":"1"} x`, nil, "invalid JSON"},
		{"array", `["a"]`, nil, "JSON array"},
		{"name not string", `{"name":1,"version":"1.0.0"}`, nil, `"name" is not a string`},
		{"version not string", `{"name":"a","version":{"x":1}}`, nil, `"version" is not a string`},
		{"name with space", `{"name":"a b","version":"1.0.0"}`, nil, "invalid name"},
		{"version with newline", `{"name":"a","version":"1.0.0\n"}`, nil, ""},
		{"version control char", `{"name":"a","version":"1.0\u0007"}`, nil, "invalid version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePackageJSON([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if tt.name == "version with newline" {
				// Surrounding whitespace is trimmed.
				tt.want = &inventory.Package{Type: "npm", Name: "a", Version: "1.0.0"}
			}
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

func TestLockErrors(t *testing.T) {
	tests := []struct {
		file, in, wantErr string
	}{
		{"package-lock.json", `{"lockfileVersion":3,"packages":{`, "invalid JSON"},
		{"package-lock.json", `{"packages":{}}`, "unsupported lockfileVersion 0"},
		{"package-lock.json", `{"lockfileVersion":4,"packages":{}}`, "unsupported lockfileVersion 4"},
		{"package-lock.json", `{"lockfileVersion":"3"}`, "lockfileVersion"},
		{"package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":1}}}`, `field "packages.version"`},
		{"package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a/b":{"version":"1.0.0"}}}`, `invalid key "node_modules/a/b"`},
		{"package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1 0"}}}`, `invalid version "1 0"`},
		{"package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/x":{"name":"a b","version":"1"}}}`, `invalid name "a b"`},
		{"package-lock.json", `{"lockfileVersion":1,"dependencies":{"a":{"dev":true}}}`, "a: no version"},
		{"package-lock.json", `{"lockfileVersion":1,"dependencies":{"a":{"version":"npm:x"}}}`, `invalid alias version "npm:x"`},
		{"package-lock.json", `{"lockfileVersion":1,"dependencies":{"a":{"version":"1","dependencies":{"b c":{"version":"1"}}}}}`, `invalid dependency name "b c"`},
		{"yarn.lock", "a@^1:\n  version \"1.0.0\n", "line 2: version"},
		{"yarn.lock", "  version \"1.0.0\"\n", "line 1: indented line outside an entry"},
		{"yarn.lock", "a@^1\n  version \"1.0.0\"\n", "line 1: expected an entry header"},
		{"yarn.lock", "a@^1:\n  resolved \"x\"\n", "line 1: a has no version"},
		{"yarn.lock", "\"a@^1:\n", "bad quoting"},
		{"yarn.lock", "\"a@^1\" b@2:\n  version \"1\"\n", "expected ','"},
		{"yarn.lock", "noversionsep:\n  version \"1\"\n", `invalid descriptor "noversionsep"`},
		{"yarn.lock", "{\"json\": true}\n", "expected an entry header"},
		{"yarn.lock", "__metadata:\n  version: 6\n\"a@npm:^1\":\n  version: 1.0.0\n", "invalid resolution"},
		{"yarn.lock", "__metadata:\n  version: 6\n\"a@npm:^1\":\n  resolution: \"a@npm:1.0.0\"\n", `invalid version ""`},
		{"yarn.lock", "__metadata:\n  version: 6\n\"a@npm:^1\": [1, 2]\n", `"a@npm:^1" is not a mapping`},
		{"yarn.lock", "__metadata: 1\n", "no __metadata entry"},
		{"yarn.lock", "__metadata:\n  version: 6\n a: [\n", "yaml"},
		{"pnpm-lock.yaml", "lockfileVersion: '4.0'\n", `unsupported lockfileVersion "4.0"`},
		{"pnpm-lock.yaml", "packages: {}\n", "no lockfileVersion"},
		{"pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n  /nover:\n    dev: false\n", `invalid package key "/nover"`},
		{"pnpm-lock.yaml", "lockfileVersion: 5.4\npackages:\n  /a:\n    dev: false\n", `invalid package key "/a"`},
		{"pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  justname: {}\n", `invalid package key "justname"`},
		{"pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages: [1]\n", `"packages" is not a mapping`},
		{"pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n" + strings.Repeat("  a: [1,1,1,1]\n", 300000), "too many YAML nodes"},
		{"pnpm-lock.yaml", "lockfileVersion: '9.0'\n---\na: 1\n---\nb: 1\n---\nc: 1\n---\nd: 1\n", "more than 4 YAML documents"},
		{"pnpm-lock.yaml", "a: &a [*a]\n", "no lockfileVersion"},
		{"pnpm-lock.yaml", "a: [\n", "yaml"},
		{"yarn.lock", "__metadata:\n  version: 6\n" + strings.Repeat("#", maxYAMLLock), "bytes of YAML, more than"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.wantErr, func(t *testing.T) {
			_, err := analyzetest.File(t, New(analyze.ModeFS), "app/"+tt.file, []byte(tt.in))
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestLockForms(t *testing.T) {
	tests := []struct {
		name, file, in string
		want           []pkgKey
	}{
		{"v3 link, workspace and unresolved entries skipped", "package-lock.json", `{"lockfileVersion":3,"packages":{
			"":{"name":"root","version":"1.0.0"},
			"node_modules/ws":{"resolved":"packages/ws","link":true},
			"packages/ws":{"name":"ws","version":"0.1.0"},
			"packages/ws/node_modules/b":{"version":"2.0.0","devOptional":true},
			"node_modules/c":{"optional":true},
			"node_modules/@s/a":{"version":"1.0.0","dev":true,"optional":true}}}`,
			[]pkgKey{{Name: "@s/a", Version: "1.0.0", Dev: true}, {Name: "b", Version: "2.0.0"}}},
		{"v1 nested, alias, file", "package-lock.json", `{"lockfileVersion":1,"dependencies":{
			"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0","dev":true}}},
			"al":{"version":"npm:@s/real@3.0.0"},
			"local":{"version":"file:../local"}}}`,
			[]pkgKey{{Name: "@s/real", Alias: "al", Version: "3.0.0"}, {Name: "a", Version: "1.0.0"}, {Name: "b", Version: "2.0.0", Dev: true}}},
		{"yarn v1 quoting, CRLF, local", "yarn.lock", "# yarn lockfile v1\r\n\r\n\"@s/a@^1\", \"@s/a@^1.1\":\r\n  version \"1.2.0\"\r\n  dependencies:\r\n    b \"^2\"\r\n\r\nb@^2:\r\n  version 2.0.1\r\n\r\nloc@file:./loc:\r\n  version \"0.0.1\"\r\n",
			[]pkgKey{{Name: "@s/a", Version: "1.2.0"}, {Name: "b", Version: "2.0.1"}}},
		{"berry protocols", "yarn.lock", "__metadata:\n  version: 6\n\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n\n\"g@https://x/g.git\":\n  version: 0.1.0\n  resolution: \"g@https://x/g.git#commit=abc\"\n\n\"l@link:./l\":\n  version: 0.0.0-use.local\n  resolution: \"l@link:./l::locator=r%40workspace%3A.\"\n\n\"r@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"r@workspace:.\"\n",
			[]pkgKey{{Name: "a", Version: "1.0.0"}, {Name: "g", Version: "0.1.0"}}},
		{"pnpm 5 scoped peers and tarball", "pnpm-lock.yaml", "lockfileVersion: 5.3\npackages:\n  /@s/a/1.0.0_@s+b@2.0.0:\n    dev: true\n  /@s/a/1.0.0:\n    dev: false\n  /string_decoder/1.3.0_x@1:\n    dev: true\n  registry.example.com/t/-/t-1.0.0.tgz:\n    name: t\n    version: 1.0.0\n  github.com/u/r/abc:\n    dev: false\n",
			[]pkgKey{{Name: "@s/a", Version: "1.0.0"}, {Name: "string_decoder", Version: "1.3.0", Dev: true}, {Name: "t", Version: "1.0.0"}}},
		{"pnpm 6 names with underscore", "pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n  /string_decoder@1.3.0:\n    dev: false\n  /@s/a@1.0.0(b@2.0.0)(c@3.0.0):\n    dev: true\n",
			[]pkgKey{{Name: "@s/a", Version: "1.0.0", Dev: true}, {Name: "string_decoder", Version: "1.3.0"}}},
		{"pnpm 9 local directory, env document first", "pnpm-lock.yaml", "---\nlockfileVersion: '9.0'\nimporters:\n  .:\n    configDependencies: {}\npackages:\n  pnpm@10.0.0: {}\n---\nlockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      l:\n        specifier: file:l\n        version: file:l\n      a:\n        specifier: ^1\n        version: 1.0.0\npackages:\n  a@1.0.0: {}\n  l@file:l:\n    resolution: {directory: l, type: directory}\n    name: l\n    version: 0.0.1\nsnapshots:\n  a@1.0.0: {}\n  l@file:l: {}\n",
			[]pkgKey{{Name: "a", Version: "1.0.0"}}},
		{"pnpm aliases are never expanded", "pnpm-lock.yaml", "lockfileVersion: '9.0'\na: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\npackages: {}\nimporters: {x: {dependencies: *i}}\nsnapshots: *i\n",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyzetest.File(t, New(analyze.ModeFS), tt.file, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var pkgs []inventory.Package
			if res != nil {
				pkgs = res.Packages
			}
			if diff := gocmp.Diff(tt.want, keysOf(pkgs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCorpusDebian12App checks the installed packages and the lock file of
// /app/node against what the image's build recorded.
func TestCorpusDebian12App(t *testing.T) {
	var truth struct {
		NPMLockfiles []struct {
			Lockfile string `json:"lockfile"`
			Packages []struct {
				Name, Version, License string
				Dev                    bool
			} `json:"packages"`
		} `json:"npm_lockfiles"`
		Installed []struct {
			Name, Version, Path string
		} `json:"npm_installed_package_json"`
	}
	readJSON(t, filepath.Join(analyzetest.Corpus(t), "debian12-app", "TRUTH.json"), &truth)

	type row struct {
		Path, Name, Version string
		Dev                 bool
		Licenses            []string
	}
	var want []row
	for _, l := range truth.NPMLockfiles {
		for _, p := range l.Packages {
			r := row{Path: l.Lockfile, Name: p.Name, Version: p.Version, Dev: p.Dev}
			if p.License != "" {
				r.Licenses = []string{p.License}
			}
			want = append(want, r)
		}
	}
	for _, p := range truth.Installed {
		want = append(want, row{Path: p.Path, Name: p.Name, Version: p.Version})
	}
	if len(want) < 100 {
		t.Fatalf("TRUTH.json lists only %d npm packages", len(want))
	}

	var got []row
	for _, blob := range analyzetest.Layers(t, "debian12-app") {
		res := analyzetest.WalkBlob(t, blob, New(analyze.ModeFS))
		for _, e := range res.Errors {
			t.Errorf("%s: %s", e.Path, e.Err)
		}
		for _, f := range res.Files {
			for _, p := range f.Packages {
				r := row{Path: p.Path, Name: p.Name, Version: p.Version, Dev: p.Dev, Licenses: p.Licenses}
				if strings.Contains(p.Path, "/node_modules/") {
					r.Licenses = nil // TRUTH records no licence for installed packages
				}
				got = append(got, r)
			}
		}
	}
	sortRows := func(r []row) {
		slices.SortFunc(r, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
		})
	}
	sortRows(want)
	sortRows(got)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("(-TRUTH +found):\n%s", diff)
	}
}
