package analyze_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

func deb(name, version string) inventory.Package {
	return inventory.Package{Type: inventory.TypeDeb, Name: name, Version: version, Path: "/var/lib/dpkg/status"}
}

func statusResult(pkgs ...inventory.Package) analyze.FileResult {
	return analyze.FileResult{Path: "var/lib/dpkg/status", Analyzer: "dpkg", Result: analyze.Result{Packages: pkgs}}
}

func TestMergeLayerAttribution(t *testing.T) {
	layers := []*analyze.LayerResult{
		{Entries: entries(file("var/lib/dpkg/status"), file("etc/os-release")),
			Files: []analyze.FileResult{statusResult(deb("a", "1"), deb("b", "1"), deb("c", "1")),
				{Path: "etc/os-release", Analyzer: "os-release", Result: analyze.Result{OS: &inventory.OS{ID: "debian", VersionID: "12"}}}}},
		// b upgraded, d installed.
		{Entries: entries(file("var/lib/dpkg/status")), Files: []analyze.FileResult{statusResult(deb("a", "1"), deb("b", "2"), deb("c", "1"), deb("d", "1"))}},
		// A layer not touching the status file.
		{Entries: entries(file("tmp/x"))},
		// c removed.
		{Entries: entries(file("var/lib/dpkg/status")), Files: []analyze.FileResult{statusResult(deb("a", "1"), deb("b", "2"), deb("d", "1"))}},
	}
	m := analyze.Merge(layers, []inventory.Layer{{DiffID: "sha256:0"}, {DiffID: "sha256:1"}, {DiffID: "sha256:2"}, {DiffID: "sha256:3"}})
	var got []string
	for _, p := range m.Inventory.Packages {
		got = append(got, p.Name+"@"+p.Version+" L"+string(rune('0'+p.LayerIndex))+" "+p.Layer+" "+p.PURL)
	}
	want := []string{
		"a@1 L0 sha256:0 pkg:deb/debian/a@1?distro=debian-12",
		"b@2 L1 sha256:1 pkg:deb/debian/b@2?distro=debian-12",
		"d@1 L1 sha256:1 pkg:deb/debian/d@1?distro=debian-12",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMergeDeletedFileAndErrors(t *testing.T) {
	lock := analyze.FileResult{Path: "app/package-lock.json", Analyzer: "npm",
		Result: analyze.Result{Packages: []inventory.Package{{Type: inventory.TypeNPM, Name: "lodash", Version: "4.17.20", Path: "/app/package-lock.json"}}}}
	layers := []*analyze.LayerResult{
		{Entries: entries(dir("app"), file("app/package-lock.json"), file("app/bad.json")), Files: []analyze.FileResult{lock},
			Errors: []analyze.FileError{{Path: "/app/bad.json", Analyzer: "npm", Err: "broken"}, {Path: "/app/gone.json", Analyzer: "npm", Err: "broken"}}},
		{Opaques: []string{"app"}, Entries: entries(file("app/bad.json"))},
	}
	m := analyze.Merge(layers, nil)
	if len(m.Inventory.Packages) != 0 {
		t.Errorf("deleted lock file still reported: %+v", m.Inventory.Packages)
	}
	// bad.json was replaced by a layer that the analyzer had no complaint about.
	if len(m.Errors) != 0 {
		t.Errorf("errors of deleted or replaced files reported: %+v", m.Errors)
	}
	layers[1] = &analyze.LayerResult{}
	m = analyze.Merge(layers, nil)
	if len(m.Errors) != 1 || m.Errors[0].Path != "/app/bad.json" {
		t.Errorf("errors: %+v", m.Errors)
	}
}

func TestMergeOwnership(t *testing.T) {
	py := inventory.Package{Type: inventory.TypePyPI, Name: "PyYAML", Version: "6.0", Path: "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info"}
	gobin := inventory.Package{Type: inventory.TypeGo, Name: "stdlib", Version: "1.21.0", Path: "/usr/bin/tool"}
	mine := inventory.Package{Type: inventory.TypeGo, Name: "stdlib", Version: "1.22.0", Path: "/app/tool"}
	layers := []*analyze.LayerResult{{
		Entries: entries(link("bin", "usr/bin"), file("var/lib/dpkg/status"), file("var/lib/dpkg/info/python3-yaml.list"), file("var/lib/dpkg/info/tool.list"),
			file("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"), file("usr/bin/tool"), file("app/tool"),
			file("usr/share/doc/tool/copyright"), link("usr/share/doc/tool-extra", "tool")),
		Files: []analyze.FileResult{
			statusResult(deb("python3-yaml", "6.0-3"), deb("tool", "1"), deb("tool-extra", "1")),
			{Path: "var/lib/dpkg/info/python3-yaml.list", Analyzer: "dpkg", Result: analyze.Result{Owned: &analyze.Ownership{Type: "deb", Package: "python3-yaml",
				Files: []string{"/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info", "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"}}}},
			// The package lists /bin/tool; the image has it at /usr/bin/tool through the /bin link.
			{Path: "var/lib/dpkg/info/tool.list", Analyzer: "dpkg", Result: analyze.Result{Owned: &analyze.Ownership{Type: "deb", Package: "tool", Files: []string{"/bin/tool"}}}},
			{Path: "usr/share/doc/tool/copyright", Analyzer: "dpkg", Result: analyze.Result{License: &analyze.License{Type: "deb", Package: "tool", Licenses: []string{"MIT"}}}},
			{Path: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", Analyzer: "python", Result: analyze.Result{Packages: []inventory.Package{py}}},
			{Path: "usr/bin/tool", Analyzer: "gobinary", Result: analyze.Result{Packages: []inventory.Package{gobin}}},
			{Path: "app/tool", Analyzer: "gobinary", Result: analyze.Result{Packages: []inventory.Package{mine}}},
		},
	}}
	m := analyze.Merge(layers, nil)
	owners := map[string]string{}
	licences := map[string][]string{}
	for _, p := range m.Inventory.Packages {
		owners[p.Type+":"+p.Name+"@"+p.Path] = p.OwnedBy
		if p.Type == "deb" {
			licences[p.Name] = p.Licenses
		}
	}
	want := map[string]string{
		"pypi:PyYAML@/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info": "deb:python3-yaml",
		"golang:stdlib@/usr/bin/tool":                                     "deb:tool",
		"golang:stdlib@/app/tool":                                         "",
		"deb:python3-yaml@/var/lib/dpkg/status":                           "", "deb:tool@/var/lib/dpkg/status": "", "deb:tool-extra@/var/lib/dpkg/status": "",
	}
	if diff := cmp.Diff(want, owners); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"python3-yaml": nil, "tool": {"MIT"}, "tool-extra": {"MIT"}}, licences); diff != "" {
		t.Errorf("licences (-want +got):\n%s", diff)
	}
}
