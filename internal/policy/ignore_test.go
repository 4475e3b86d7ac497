package policy

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

func TestParseIgnoreFile(t *testing.T) {
	f := loadIgnore(t, "ignore.yaml")
	want := []IgnoreEntry{
		{ID: "CVE-2023-45853", Reason: "zlib's minizip is not built into Debian's zlib1g; Debian will not fix", Line: 4},
		{ID: "GHSA-p6mc-m468-83gw", Path: "app/node/**", Reason: "zipObjectDeep is not called by the service", Expires: "2026-12-31", Line: 8},
		{ID: "CVE-2026-42767", Package: "pkg:deb/debian/openssl", Reason: "waiting for the 12.16 point release", Expires: "2026-06-30", Line: 13},
		{Package: "github.com/gin-gonic/gin", Path: "/app/bin/*", Reason: "orders-api is only reachable through the ingress proxy", Line: 18},
		{ID: "CVE-2019-10744", Reason: "lodash 4.17.11 was replaced; left over from the old image", Line: 22},
	}
	if diff := cmp.Diff(want, f.Entries, cmpopts.IgnoreUnexported(IgnoreEntry{})); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if f.Source != filepath.Join("testdata", "ignore.yaml") {
		t.Errorf("source = %q", f.Source)
	}
}

func TestParseIgnoreFileEmpty(t *testing.T) {
	for _, doc := range []string{"", "# nothing yet\n", "ignore:\n", "ignore: []\n", "~\n"} {
		f, err := ParseIgnoreFile([]byte(doc), "e.yaml")
		if err != nil {
			t.Errorf("%q: %v", doc, err)
			continue
		}
		if len(f.Entries) != 0 {
			t.Errorf("%q: %d entries", doc, len(f.Entries))
		}
	}
}

func TestParseIgnoreFileErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"no reason", "ignore:\n  - id: CVE-2023-1234\n", "ignore file x.yaml: entry 1 (line 2): reason is required"},
		{"empty reason", "ignore:\n  - id: CVE-2023-1234\n    reason: \"  \"\n", "entry 1 (line 2): reason is required"},
		{"no criterion", "ignore:\n  - reason: because\n", "entry 1 (line 2): an entry needs at least one of id, package, path"},
		{"unknown entry key", "ignore:\n  - id: CVE-2023-1234\n    reason: r\n    severity: high\n", `entry 1 (line 2): line 4: unknown key "severity"`},
		{"typo of expires", "ignore:\n  - id: A\n    reason: r\n  - id: B\n    reason: r\n    expiry: 2026-01-01\n", `entry 2 (line 4): line 6: unknown key "expiry"`},
		{"unknown top key", "ignores:\n  - id: A\n    reason: r\n", `ignore file x.yaml: line 1: unknown key "ignores"`},
		{"duplicate key", "ignore:\n  - id: A\n    id: B\n    reason: r\n", `line 3: duplicate key "id"`},
		{"bad date", "ignore:\n  - id: A\n    reason: r\n    expires: 31/12/2026\n", `expires "31/12/2026": want a date YYYY-MM-DD`},
		{"timestamp", "ignore:\n  - id: A\n    reason: r\n    expires: 2026-12-31T00:00:00Z\n", `want a date YYYY-MM-DD`},
		{"bad glob", "ignore:\n  - path: \"app/[\"\n    reason: r\n", `path "app/[": syntax error in pattern`},
		{"bad purl", "ignore:\n  - package: \"pkg:deb\"\n    reason: r\n", `package "pkg:deb"`},
		{"list value", "ignore:\n  - id: [A, B]\n    reason: r\n", "line 2: id must be a single value"},
		{"null value", "ignore:\n  - id:\n    reason: r\n", "id must be a single value"},
		{"not a list", "ignore:\n  id: A\n", `line 2: "ignore" must be a list of entries`},
		{"entry not a mapping", "ignore:\n  - CVE-2023-1234\n", "entry 1 (line 2): an entry must be a mapping"},
		{"root not a mapping", "- id: A\n", "line 1: expected a mapping"},
		{"alias", "x: &a\n  id: A\nignore:\n  - *a\n", `unknown key "x"`},
		{"alias entry", "ignore:\n  - &a {id: A, reason: r}\n  - *a\n", "entry 2 (line 3): YAML aliases are not supported"},
		{"merge key", "ignore:\n  - <<: {id: A}\n    reason: r\n", "keys must be plain words"},
		{"two documents", "ignore: []\n---\nignore: []\n", "more than one YAML document"},
		{"white space in id", "ignore:\n  - id: CVE-2023-1234 CVE-2023-5678\n    reason: r\n", "contains white space"},
		{"not yaml", "ignore: [\n", "ignore file x.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIgnoreFile([]byte(tt.doc), "x.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadIgnoreFileMissing(t *testing.T) {
	_, err := LoadIgnoreFile(filepath.Join(t.TempDir(), DefaultIgnoreFile))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want fs.ErrNotExist", err)
	}
}

func TestLoadIgnoreFileTooLarge(t *testing.T) {
	if _, err := ParseIgnoreFile(make([]byte, MaxIgnoreFileSize+1), "big.yaml"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error %v, want size cap", err)
	}
}

func TestIgnoreEntryMatches(t *testing.T) {
	fs := loadFindings(t)
	byKey := func(id, name string) int {
		for i, f := range fs {
			if f.ID == id && f.Package.Name == name {
				return i
			}
		}
		t.Fatalf("no finding %s %s", id, name)
		return -1
	}
	libssl := byKey("CVE-2026-35189", "libssl3")
	opensslBin := byKey("CVE-2026-35189", "openssl")
	xnet := byKey("CVE-2023-45288", "golang.org/x/net")
	lodash := byKey("CVE-2020-8203", "lodash")
	requests := byKey("CVE-2023-32681", "requests")
	tests := []struct {
		entry string
		want  []int
	}{
		{"id: cve-2026-35189", []int{libssl, opensslBin}},                                   // case-insensitive
		{"id: DEBIAN-CVE-2026-35189", []int{libssl, opensslBin}},                            // alias
		{"id: GO-2024-2687", []int{xnet}},                                                   // Go alias
		{"id: PYSEC-2023-74", []int{requests}},                                              //
		{"package: openssl", []int{libssl, opensslBin, byKey("CVE-2026-42767", "libssl3")}}, // source name
		{"package: libssl3\n    id: CVE-2026-35189", []int{libssl}},                         // both must match
		{"package: pkg:deb/debian/libssl3", []int{libssl, byKey("CVE-2026-42767", "libssl3")}},
		{"package: pkg:deb/debian/openssl@3.0.20-1~deb12u2?arch=source", []int{libssl, opensslBin, byKey("CVE-2026-42767", "libssl3")}},
		{"package: pkg:deb/debian/openssl@3.0.20-1~deb12u2?arch=amd64", []int{opensslBin}}, // the binary package only
		{"package: pkg:deb/debian/openssl@3.0.17-1~deb12u3", nil},
		{"package: pkg:deb/ubuntu/openssl", nil},
		{"package: pkg:golang/golang.org/x/net@0.0.0-20210226172049-e18ecbb05110", []int{xnet}}, // without "v"
		{"package: pkg:golang/golang.org/x/net", []int{xnet}},
		{"package: pkg:npm/lodash@4.17.15", []int{lodash}},
		{"package: pkg:pypi/Requests", []int{requests}}, // PyPI names are case-insensitive
		{"package: stdlib", nil},
		{"path: app/node", []int{lodash, byKey("CVE-2021-44906", "minimist")}}, // a directory covers what is below
		{"path: /app/node/*.json", []int{lodash, byKey("CVE-2021-44906", "minimist")}},
		{"path: \"**/*.egg-info\"", []int{requests}},
		{"path: \"usr/**/requests-*\"", []int{requests}},
		{"path: app/bin/orders-api\n    id: CVE-2022-32149", []int{byKey("CVE-2022-32149", "golang.org/x/text")}},
		{"path: app", []int{xnet, byKey("CVE-2022-32149", "golang.org/x/text"), byKey("CVE-2020-28483", "github.com/gin-gonic/gin"), lodash, byKey("CVE-2021-44906", "minimist")}},
		{"path: ap", nil},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			f, err := ParseIgnoreFile([]byte("ignore:\n  - "+tt.entry+"\n    reason: r\n"), "t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range fs {
				if f.Entries[0].matches(&fs[i]) {
					got = append(got, i)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b int) bool { return a < b })); diff != "" {
				t.Errorf("matched findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIgnorePathAnyLocation: a package found in several places (installed
// and in its project's lock file) is ignored by a path entry naming any of
// them, and not by one naming none.
func TestIgnorePathAnyLocation(t *testing.T) {
	f := finding.Finding{ID: "CVE-2021-23369", Package: finding.Package{
		Type: "npm", Name: "handlebars", Version: "4.7.6",
		Path: "/app/node/node_modules/handlebars/package.json",
		Locations: []inventory.Location{
			{Path: "/app/node/node_modules/handlebars/package.json"},
			{Path: "/app/node/package-lock.json"},
		},
	}}
	for entry, want := range map[string]bool{
		"path: /app/node/package-lock.json":                   true,
		"path: /app/node/node_modules/handlebars":             true,
		"path: \"**/package-lock.json\"":                      true,
		"path: /app/other/package-lock.json":                  false,
		"path: /app/node/yarn.lock\n    id: CVE-2021-23369":   false,
		"path: /app/node/package-lock.json\n    id: CVE-2020": false,
	} {
		file, err := ParseIgnoreFile([]byte("ignore:\n  - "+entry+"\n    reason: r\n"), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got := file.Entries[0].matches(&f); got != want {
			t.Errorf("%q matches: %v, want %v", entry, got, want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"usr/local/bin/*", "/usr/local/bin/app", true},
		{"/usr/local/bin/*", "usr/local/bin/app", true},
		{"usr/local/bin/*", "/usr/local/bin/sub/app", true}, // parent matches
		{"usr/local/bin/*", "/usr/local/sbin/app", false},
		{"usr/local/bin", "/usr/local/bin/app", true},
		{"usr/local/bi", "/usr/local/bin/app", false},
		{"**/node_modules/**/package.json", "/app/node/node_modules/a/node_modules/b/package.json", true},
		{"**/node_modules/**/package.json", "/app/node/package.json", false},
		{"**", "/anything/at/all", true},
		{"app/**/x", "/app/x", true},
		{"a/*/c", "/a/b/c", true},
		{"a/*/c", "/a/b/b/c", false},
		{"*.jar", "/opt/lib/app.jar", false},
		{"**/*.jar", "/opt/lib/app.jar", true},
		{"opt/lib/app-?.jar", "/opt/lib/app-1.jar", true},
		{"opt/lib/app-[0-9].jar", "/opt/lib/app-x.jar", false},
		{"**", "", false},
	}
	for _, tt := range tests {
		if got := globMatchPathOrParent(tt.pattern, tt.path); got != tt.want {
			t.Errorf("glob %q on %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

// TestGlobMatchLong makes sure a pattern of many "**" is not exponential.
func TestGlobMatchLong(t *testing.T) {
	pattern := strings.Repeat("**/", 200) + "x"
	path := strings.Repeat("a/", 2000) + "y"
	if globMatchPathOrParent(pattern, path) {
		t.Error("matched")
	}
}
