package sbom_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/sbom"
)

// A CycloneDX document as other tools write it: no drydock properties,
// the distribution only in the purls' distro qualifier.
const foreignCDX = `{
  "bomFormat": "CycloneDX", "specVersion": "1.5",
  "metadata": {"component": {"type": "container", "name": "registry.example/app:1"}},
  "components": [
    {"type": "library", "name": "libssl3", "version": "3.0.11-1~deb12u2",
     "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"},
    {"type": "library", "name": "PyYAML", "version": "6.0", "purl": "pkg:pypi/pyyaml@6.0"},
    {"type": "library", "group": "org.yaml", "name": "snakeyaml", "version": "1.33", "purl": "pkg:maven/org.yaml/snakeyaml@1.33"},
    {"type": "library", "name": "lodash", "version": "4.17.15", "purl": "pkg:npm/lodash@4.17.15",
     "components": [{"type": "library", "name": "core", "version": "7.0.0", "purl": "pkg:npm/%40babel/core@7.0.0"}]},
    {"type": "library", "name": "gin", "version": "v1.7.0", "purl": "pkg:golang/github.com/gin-gonic/gin@v1.7.0"},
    {"type": "library", "name": "bash", "version": "5.1", "purl": "pkg:rpm/redhat/bash@5.1?epoch=1&arch=x86_64&distro=rhel-9.2"},
    {"type": "library", "name": "thing", "version": "1", "purl": "pkg:generic/thing@1"},
    {"type": "library", "name": "no purl", "version": "1"},
    {"type": "library", "name": "bad", "version": "1", "purl": "not a purl"}
  ]
}`

func TestForeignCycloneDX(t *testing.T) {
	d, err := sbom.Read(strings.NewReader(foreignCDX))
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != sbom.FormatCycloneDXJSON || d.Name != "registry.example/app:1" {
		t.Errorf("format %q name %q", d.Format, d.Name)
	}
	got := map[string]inventory.Package{}
	for _, p := range d.Inventory.Packages {
		got[p.Type+"/"+p.Name] = p
	}
	want := map[string][3]string{ // type/name: version, source name, source version
		"deb/libssl3":                     {"3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"},
		"pypi/PyYAML":                     {"6.0"},
		"maven/org.yaml:snakeyaml":        {"1.33"},
		"npm/lodash":                      {"4.17.15"},
		"npm/@babel/core":                 {"7.0.0"},
		"golang/github.com/gin-gonic/gin": {"v1.7.0"},
		"rpm/bash":                        {"1:5.1", "bash", "1:5.1"},
	}
	for k, w := range want {
		p, ok := got[k]
		if !ok {
			t.Errorf("%s missing (have %v)", k, keys(got))
			continue
		}
		if p.Version != w[0] || p.SourceName != w[1] || p.SourceVersion != w[2] {
			t.Errorf("%s: version %q source %q %q; want %q", k, p.Version, p.SourceName, p.SourceVersion, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d packages, want %d: %v", len(got), len(want), keys(got))
	}
	// The distro the OS packages name most: debian-12 once, rhel-9.2 once:
	// the first one found wins the tie.
	if d.Inventory.OS == nil || d.Inventory.OS.ID != "debian" || d.Inventory.OS.VersionID != "12" {
		t.Errorf("OS %+v, want debian 12", d.Inventory.OS)
	}
	if d.Skipped["component without purl"] != 1 || len(d.Skipped) != 3 {
		t.Errorf("skipped %v, want the purl-less, the generic and the invalid component", d.Skipped)
	}
}

func keys(m map[string]inventory.Package) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOSFromDistro(t *testing.T) {
	for _, c := range []struct {
		purl string
		want inventory.OS
	}{
		{"pkg:deb/debian/x@1?distro=debian-12", inventory.OS{ID: "debian", VersionID: "12"}},
		{"pkg:deb/debian/x@1?distro=debian-12.5", inventory.OS{ID: "debian", VersionID: "12", Version: "12.5"}},
		{"pkg:deb/ubuntu/x@1?distro=ubuntu-22.04", inventory.OS{ID: "ubuntu", VersionID: "22.04"}},
		{"pkg:apk/alpine/x@1?distro=alpine-3.19.1", inventory.OS{ID: "alpine", VersionID: "3.19.1"}},
		{"pkg:rpm/opensuse/x@1?distro=opensuse-leap-15.5", inventory.OS{ID: "opensuse-leap", VersionID: "15.5"}},
		{"pkg:deb/debian/x@1?distro=bookworm", inventory.OS{ID: "debian", Codename: "bookworm"}},
		{"pkg:deb/debian/x@1", inventory.OS{ID: "debian"}},
	} {
		doc := `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","version":"1","purl":"` + c.purl + `"}]}`
		d, err := sbom.Read(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if d.Inventory.OS == nil {
			t.Errorf("%s: no OS", c.purl)
			continue
		}
		if diff := cmp.Diff(c.want, *d.Inventory.OS); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.purl, diff)
		}
	}
}

// An operating-system component wins over the purls' qualifier.
func TestOSComponent(t *testing.T) {
	doc := `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
	  {"type":"operating-system","name":"debian","version":"12","description":"Debian GNU/Linux 12 (bookworm)"},
	  {"type":"library","name":"x","version":"1","purl":"pkg:deb/debian/x@1?distro=debian-12.15"}]}`
	d, err := sbom.Read(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := inventory.OS{ID: "debian", VersionID: "12", Version: "12.15", PrettyName: "Debian GNU/Linux 12 (bookworm)"}
	if diff := cmp.Diff(want, *d.Inventory.OS); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHostile(t *testing.T) {
	deep := strings.Repeat(`{"type":"library","name":"x","components":[`, 40) + strings.Repeat(`]}`, 40)
	cases := map[string]string{
		"nested 40 deep":    `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[` + deep + `]}`,
		"not JSON":          `{"bomFormat": `,
		"unknown JSON":      `{"a":1}`,
		"XML not CycloneDX": `<?xml version="1.0"?><svg></svg>`,
		"empty":             "   ",
		"binary":            "\x00\x01\x02\x03",
		"long purl":         `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x","purl":"pkg:npm/` + strings.Repeat("a", 5000) + `@1"}]}`,
	}
	for name, doc := range cases {
		d, err := sbom.Read(strings.NewReader(doc))
		if name == "long purl" {
			if err != nil || len(d.Inventory.Packages) != 0 || len(d.Skipped) != 1 {
				t.Errorf("%s: %v, %+v; want the component skipped", name, err, d)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func fuzzRead(t *testing.T, data []byte) {
	d, err := sbom.Read(strings.NewReader(string(data)))
	if err != nil {
		return
	}
	if len(d.Inventory.Packages) > sbom.MaxPackages {
		t.Fatalf("%d packages", len(d.Inventory.Packages))
	}
	for _, p := range d.Inventory.Packages {
		if p.Type == "" || p.Name == "" {
			t.Fatalf("package without type or name: %+v", p)
		}
	}
}

func FuzzCycloneDXJSON(f *testing.F) {
	f.Add([]byte(foreignCDX))
	f.Fuzz(fuzzRead)
}

func FuzzCycloneDXXML(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components>
<component type="operating-system"><name>debian</name><version>12</version></component>
<component type="library"><name>libssl3</name><version>3.0.11-1</version><purl>pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12</purl>
<components><component type="library"><name>x</name><purl>pkg:npm/x@1</purl></component></components></component></components></bom>`))
	f.Fuzz(fuzzRead)
}

func FuzzSPDXJSON(f *testing.F) {
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x","documentNamespace":"https://x",
"creationInfo":{"creators":["Tool: x"],"created":"2024-01-01T00:00:00Z"},
"packages":[{"name":"debian","SPDXID":"SPDXRef-OperatingSystem","versionInfo":"12","downloadLocation":"NOASSERTION","primaryPackagePurpose":"OPERATING-SYSTEM"},
{"name":"libssl3","SPDXID":"SPDXRef-P1","versionInfo":"3.0.11-1","downloadLocation":"NOASSERTION","sourceInfo":"found at /var/lib/dpkg/status in layer sha256:ab",
"externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/libssl3@3.0.11-1?upstream=openssl"}],
"annotations":[{"annotator":"Tool: x","annotationDate":"2024-01-01T00:00:00Z","annotationType":"OTHER","comment":"layer 1 sha256:ab; path /var/lib/dpkg/status; owned by deb:y"}]}]}`))
	f.Fuzz(fuzzRead)
}

func FuzzSPDXTagValue(f *testing.F) {
	f.Add([]byte("SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: x\nDocumentNamespace: https://x\nCreator: Tool: x\nCreated: 2024-01-01T00:00:00Z\n\n" +
		"PackageName: lodash\nSPDXID: SPDXRef-P1\nPackageVersion: 4.17.15\nPackageDownloadLocation: NOASSERTION\nExternalRef: PACKAGE-MANAGER purl pkg:npm/lodash@4.17.15\n"))
	f.Fuzz(fuzzRead)
}

func FuzzDrydockJSON(f *testing.F) {
	f.Add([]byte(`{"schema_version":"drydock.report/v1","target":{"ref":"x","kind":"oci"},"os":{"id":"debian","version_id":"12"},
"packages":[{"type":"deb","name":"libssl3","version":"3.0.11-1","source_name":"openssl","purl":"pkg:deb/debian/libssl3@3.0.11-1","path":"/var/lib/dpkg/status","layer_index":0}]}`))
	f.Fuzz(fuzzRead)
}
