package vulndb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../../shared/vulndata/fixtures"

// TestPEP503 uses the examples of PEP 503 ("Friendly-Bard" and its
// spellings all normalise to "friendly-bard") and osv-schema's GHSA→OSV
// conversion of a PyPI name.
func TestPEP503(t *testing.T) {
	for _, name := range []string{"friendly-bard", "Friendly-Bard", "FRIENDLY-BARD", "friendly.bard", "friendly_bard", "friendly--bard", "FrIeNdLy-._.-bArD"} {
		if _, got := Normalize("PyPI", name); got != "friendly-bard" {
			t.Errorf("Normalize(PyPI, %q) = %q", name, got)
		}
	}

	dir := filepath.Join(fixtures, "osv-schema/tools/ghsa/testdata")
	var in struct {
		Vulnerabilities struct {
			Nodes []struct {
				Package struct{ Ecosystem, Name string }
			}
		}
	}
	var out struct {
		Affected []struct {
			Package struct{ Ecosystem, Name string }
		}
	}
	for file, v := range map[string]any{"pypi_normalize.json": &in, "pypi_normalize.osv.json": &out} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	if len(in.Vulnerabilities.Nodes) == 0 || len(out.Affected) == 0 {
		t.Fatal("fixture shape")
	}
	raw := in.Vulnerabilities.Nodes[0].Package.Name
	want := out.Affected[0].Package.Name
	if _, got := Normalize("PyPI", raw); got != want {
		t.Errorf("Normalize(PyPI, %q) = %q, OSV's conversion says %q", raw, got, want)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ eco, name, wantEco, wantName string }{
		// Ubuntu: OSV's own example (osv.dev ecosystems: ":Pro" and ":LTS"
		// removed for queries).
		{"Ubuntu:Pro:18.04:LTS", "openssl", "Ubuntu:18.04", "openssl"},
		{"Ubuntu:22.04:LTS", "openssl", "Ubuntu:22.04", "openssl"},
		{"ubuntu:25.10", "openssl", "Ubuntu:25.10", "openssl"},
		// Debian: release numbers and code names.
		{"Debian:12", "openssl", "Debian:12", "openssl"},
		{"Debian:12.4", "openssl", "Debian:12", "openssl"},
		{"debian:bookworm", "openssl", "Debian:12", "openssl"},
		{"Debian:trixie", "openssl", "Debian:13", "openssl"},
		{"Debian:bullseye", "x", "Debian:11", "x"},
		{"Debian:buster", "x", "Debian:10", "x"},
		{"Debian:stretch", "x", "Debian:9", "x"},
		{"Debian:jessie", "x", "Debian:8", "x"},
		{"Debian:forky", "x", "Debian:14", "x"},
		{"Debian:sid", "x", "Debian:sid", "x"},
		{"Debian:unstable", "x", "Debian:sid", "x"},
		// Alpine: "v" + major.minor.
		{"Alpine:v3.19", "musl", "Alpine:v3.19", "musl"},
		{"Alpine:3.19.1", "musl", "Alpine:v3.19", "musl"},
		{"alpine:v3.20.3", "musl", "Alpine:v3.20", "musl"},
		{"Alpine:edge", "musl", "Alpine:edge", "musl"},
		{"AlmaLinux:9.3", "curl", "AlmaLinux:9", "curl"},
		{"Rocky Linux:8", "curl", "Rocky Linux:8", "curl"},
		{"Red Hat:rhel_aus:8.6::appstream", "curl", "Red Hat:rhel_aus:8.6::appstream", "curl"},
		{"SUSE:Linux Enterprise Server 15 SP5", "curl", "SUSE:Linux Enterprise Server 15 SP5", "curl"},
		{"Wolfi", "busybox", "Wolfi", "busybox"},
		{"Chainguard:x", "busybox", "Chainguard", "busybox"},
		// Language ecosystems.
		{"pypi", "Django", "PyPI", "django"},
		{"Go", "github.com/Masterminds/Sprig", "Go", "github.com/Masterminds/Sprig"},
		{"npm", "@Scope/Pkg", "npm", "@Scope/Pkg"},
		{"Maven", "org.Apache.logging:log4j-core", "Maven", "org.Apache.logging:log4j-core"},
		{"Maven:https://maven.google.com", "a:b", "Maven:https://maven.google.com", "a:b"},
		{"CRATES.IO", "Foo_Bar", "crates.io", "foo-bar"},
		{"NuGet", "Newtonsoft.Json", "NuGet", "newtonsoft.json"},
		{"Packagist", "Symfony/HTTP-Kernel", "Packagist", "symfony/http-kernel"},
		{"RubyGems", "Rails", "RubyGems", "Rails"},
		{" Go ", " stdlib ", "Go", "stdlib"},
		{"Unknown:1", "x", "Unknown:1", "x"},
	} {
		eco, name := Normalize(tc.eco, tc.name)
		if eco != tc.wantEco || name != tc.wantName {
			t.Errorf("Normalize(%q, %q) = %q, %q; want %q, %q", tc.eco, tc.name, eco, name, tc.wantEco, tc.wantName)
		}
	}
}

// TestKnownEcosystems checks the spelling table against the OSV schema's
// ecosystem list.
func TestKnownEcosystems(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "osv-schema/ecosystems.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ecos map[string]string
	if err := json.Unmarshal(data, &ecos); err != nil {
		t.Fatal(err)
	}
	if len(ecos) != len(canonicalEcosystems) {
		t.Errorf("schema lists %d ecosystems, the table %d", len(ecos), len(canonicalEcosystems))
	}
	for e := range ecos {
		if !KnownEcosystem(strings.ToUpper(e)) || EcosystemBase(strings.ToLower(e)+":1") != e {
			t.Errorf("%s: not known or misspelt", e)
		}
	}
}

// TestIdempotent normalises every (ecosystem, name) pair of the OSV fixture
// records twice: the second pass must change nothing.
func TestIdempotent(t *testing.T) {
	n := 0
	err := filepath.WalkDir(fixtures, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rec struct {
			Affected []struct{ Package Package }
		}
		if json.Unmarshal(data, &rec) != nil {
			return nil
		}
		for _, a := range rec.Affected {
			e1, n1 := Normalize(a.Package.Ecosystem, a.Package.Name)
			e2, n2 := Normalize(e1, n1)
			if e1 != e2 || n1 != n2 {
				t.Errorf("%s: %q/%q → %q/%q → %q/%q", p, a.Package.Ecosystem, a.Package.Name, e1, n1, e2, n2)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no packages")
	}
}

func TestValidCVE(t *testing.T) {
	for id, want := range map[string]bool{
		"CVE-2024-1234": true, "CVE-2024-1234567": true, "CVE-1999-0001": true,
		"CVE-2024-123": false, "cve-2024-1234": false, "CVE-24-1234": false, "CVE-2024-12a4": false, "CVE-2024_1234": false, "": false,
	} {
		if ValidCVE(id) != want {
			t.Errorf("ValidCVE(%q) = %v", id, !want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("PyPI", "Friendly-Bard")
	f.Add("Ubuntu:Pro:18.04:LTS", "openssl")
	f.Add("Debian:12.4", "linux")
	f.Add("Alpine:3.19.1", "musl")
	f.Add("UBuntu:: 0", "0")       // spaces inside the release parts
	f.Add("AlmaLinux: 8 .10", "x") // spaces before the minor version
	f.Fuzz(func(t *testing.T, eco, name string) {
		e1, n1 := Normalize(eco, name)
		e2, n2 := Normalize(e1, n1)
		if e1 != e2 || n1 != n2 {
			t.Fatalf("not idempotent: %q/%q → %q/%q → %q/%q", eco, name, e1, n1, e2, n2)
		}
	})
}
