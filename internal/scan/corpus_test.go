package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// truth is the part of corpus-truth/v1 (../shared/corpus/README.md) the
// inventory is checked against.
type truth struct {
	Image struct {
		Platform string `json:"platform"`
		Layers   []struct {
			Index  int    `json:"index"`
			DiffID string `json:"diff_id"`
		} `json:"layers"`
	} `json:"image"`
	OS struct {
		ID                string `json:"id"`
		VersionID         string `json:"version_id"`
		VersionCodename   string `json:"version_codename"`
		DebianVersionFile string `json:"debian_version_file"`
	} `json:"os"`
	Dpkg struct {
		CountInstalled int `json:"count_installed_ii"`
		Packages       []struct {
			Package       string `json:"package"`
			Source        string `json:"source"`
			Version       string `json:"version"`
			SourceVersion string `json:"source_version"`
			Arch          string `json:"arch"`
			LayerIndex    int    `json:"layer_index"`
		} `json:"packages"`
	} `json:"dpkg"`
	GoBinaries []struct {
		Path       string `json:"path"`
		GoVersion  string `json:"go_version"`
		MainModule struct {
			Path    string `json:"path"`
			Version string `json:"version"`
		} `json:"main_module"`
		Deps []struct {
			Path    string `json:"path"`
			Version string `json:"version"`
			Replace *struct {
				Path    string `json:"path"`
				Version string `json:"version"`
			} `json:"replace"`
		} `json:"deps"`
	} `json:"go_binaries"`
	NPMLockfiles []struct {
		Lockfile string `json:"lockfile"`
		Packages []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Dev     bool   `json:"dev"`
		} `json:"packages"`
	} `json:"npm_lockfiles"`
	NPMInstalled []npmInstalled `json:"npm_installed_package_json"`
	Python       []struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		Path        string `json:"path"`
		OwnedByDpkg string `json:"owned_by_dpkg"`
	} `json:"python_packages"`
	Jars []struct {
		Path          string `json:"path"`
		OwnedByDpkg   string `json:"owned_by_dpkg"`
		PomProperties []struct {
			GroupID    string `json:"groupId"`
			ArtifactID string `json:"artifactId"`
			Version    string `json:"version"`
		} `json:"pom_properties"`
	} `json:"jars"`
	BuildFacts struct {
		JarCoordinates []struct {
			Path       string `json:"path"`
			GroupID    string `json:"groupId"`
			ArtifactID string `json:"artifactId"`
			Version    string `json:"version"`
		} `json:"jar_coordinates"`
		ExpectedFinalState *struct {
			DpkgPackages []string `json:"dpkg_packages"`
			DeletedNPM   []struct {
				Name     string `json:"name"`
				Version  string `json:"version"`
				Lockfile string `json:"lockfile"`
			} `json:"npm_packages_only_in_deleted_layers"`
		} `json:"expected_final_state"`
	} `json:"build_facts"`
}

type npmInstalled struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Version string `json:"version"`
}

// variant is one way of reading one image.
type variant struct {
	image    string // corpus directory
	format   string
	target   string
	platform string // "" for the default
	truth    string // TRUTH file name
}

func corpusVariants(t *testing.T, corpus string) []variant {
	t.Helper()
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	var out []variant
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(corpus, e.Name())
		truths, _ := filepath.Glob(filepath.Join(dir, "TRUTH*.json"))
		for _, tf := range truths {
			platform := ""
			if base := filepath.Base(tf); base != "TRUTH.json" {
				platform = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(base, "TRUTH."), ".json"), "_", "/")
			} else if len(truths) > 1 {
				platform = "linux/amd64"
			}
			// Some formats are named with an explicit prefix, the others
			// auto-detected, so both paths are exercised.
			for _, f := range []struct{ file, prefix string }{
				{"oci", ""}, {"oci-nested", "oci:"}, {"oci.tar", "oci-archive:"},
				{"docker-archive.tar", ""}, {"docker-archive-v25.tar", "docker-archive:"},
			} {
				p := filepath.Join(dir, f.file)
				if _, err := os.Stat(p); err != nil {
					continue
				}
				if strings.HasPrefix(f.file, "docker-archive") && platform != "" && platform != "linux/amd64" {
					continue // the corpus's docker archives hold linux/amd64 only
				}
				out = append(out, variant{image: e.Name(), format: f.file, target: f.prefix + p, platform: platform, truth: tf})
			}
		}
	}
	return out
}

func loadTruth(t *testing.T, p string) *truth {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return &tr
}

func scanTarget(t *testing.T, target, platform string) (*source.Image, *scan.Result) {
	t.Helper()
	ctx := context.Background()
	opts := source.Options{}
	if platform != "" {
		p, err := source.ParsePlatform(platform)
		if err != nil {
			t.Fatal(err)
		}
		opts.Platform = p
	}
	img, err := source.Open(ctx, target, opts)
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatalf("scan %s: %v", target, err)
	}
	return img, res
}

// TestCorpus scans every corpus image in every format it is stored in, plus
// a docker archive written from each OCI layout, and compares the
// inventory with TRUTH.json.
func TestCorpus(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	variants := corpusVariants(t, corpus)
	if len(variants) == 0 {
		t.Fatal("no corpus images found")
	}
	// Inventory per image+platform, per format, to check all agree.
	seen := map[string]map[string][]inventory.Package{}
	for _, v := range variants {
		testName := v.image + "/" + v.format
		if v.platform != "" {
			testName += "@" + strings.ReplaceAll(v.platform, "/", "_")
		}
		t.Run(testName, func(t *testing.T) {
			tr := loadTruth(t, v.truth)
			img, res := scanTarget(t, v.target, v.platform)
			checkInventory(t, tr, &res.Inventory)
			checkSBOMs(t, &res.Inventory)
			key := v.image + "@" + v.platform
			if seen[key] == nil {
				seen[key] = map[string][]inventory.Package{}
			}
			seen[key][v.format] = comparable(res.Inventory.Packages)

			// A docker archive written from the OCI layout must read the same.
			if v.format == "oci" || v.format == "oci-nested" {
				out := filepath.Join(t.TempDir(), "written.tar")
				tag, _ := name.NewTag("corpus/" + v.image + ":written")
				if err := tarball.WriteToFile(out, tag, img.Image); err != nil {
					t.Fatalf("writing docker archive: %v", err)
				}
				_, res2 := scanTarget(t, "docker-archive:"+out, "")
				checkInventory(t, tr, &res2.Inventory)
				seen[key][v.format+"→docker-archive"] = comparable(res2.Inventory.Packages)
			}
		})
	}
	for key, byFormat := range seen {
		var formats []string
		for f := range byFormat {
			formats = append(formats, f)
		}
		slices.Sort(formats)
		ref := formats[0]
		for _, f := range formats[1:] {
			if diff := cmp.Diff(byFormat[ref], byFormat[f]); diff != "" {
				t.Errorf("%s: inventory from %s differs from %s (-%s +%s):\n%s", key, f, ref, ref, f, diff)
			}
		}
		t.Logf("%s: %d formats agree (%s)", key, len(formats), strings.Join(formats, ", "))
	}
}

// checkSBOMs writes the inventory as CycloneDX and SPDX documents and
// checks that every package is one component with its locations, and that
// no two components have the same purl and locations in the same project
// (inventory.Scope of the purl's type and each location): the same package
// found in several places of one project is one component.
func checkSBOMs(t *testing.T, inv *inventory.Inventory) {
	t.Helper()
	r := report.New(report.Tool{Name: "drydock", Version: "test"}, report.Target{Ref: "corpus", Kind: "oci"}, inv)
	render := func(w report.Writer) []byte {
		var buf bytes.Buffer
		if err := w(&buf, r, report.Options{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}

	// component is one package as an SBOM lists it.
	type component struct {
		purl      string
		locations []string
	}
	check := func(format string, comps []component) {
		t.Helper()
		if len(comps) != len(inv.Packages) {
			t.Errorf("%s: %d package components for %d packages", format, len(comps), len(inv.Packages))
		}
		owner := map[string]int{} // purl + project → component
		for i, c := range comps {
			if len(c.locations) == 0 {
				t.Errorf("%s: component %s has no location", format, c.purl)
			}
			typ, _, _ := strings.Cut(strings.TrimPrefix(c.purl, "pkg:"), "/")
			projects := map[string]bool{}
			for _, l := range c.locations {
				projects[inventory.Scope(typ, l)] = true
			}
			for p := range projects {
				k := c.purl + " in " + p
				if j, ok := owner[k]; ok {
					t.Errorf("%s: components %d %q and %d %q are both %s", format, j, comps[j].locations, i, c.locations, k)
				}
				owner[k] = i
			}
		}
	}

	var bom struct {
		Components []struct {
			Type     string `json:"type"`
			PURL     string `json:"purl"`
			Evidence struct {
				Occurrences []struct {
					Location string `json:"location"`
				} `json:"occurrences"`
			} `json:"evidence"`
		} `json:"components"`
	}
	if err := json.Unmarshal(render(report.WriteCycloneDX), &bom); err != nil {
		t.Fatal(err)
	}
	var comps []component
	for _, c := range bom.Components {
		if c.Type == "operating-system" {
			continue
		}
		comp := component{purl: c.PURL}
		for _, o := range c.Evidence.Occurrences {
			comp.locations = append(comp.locations, o.Location)
		}
		comps = append(comps, comp)
	}
	check("CycloneDX", comps)

	var doc struct {
		Packages []struct {
			PrimaryPackagePurpose string `json:"primaryPackagePurpose"`
			ExternalRefs          []struct {
				ReferenceType    string `json:"referenceType"`
				ReferenceLocator string `json:"referenceLocator"`
			} `json:"externalRefs"`
			Annotations []struct {
				Comment string `json:"comment"`
			} `json:"annotations"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(render(report.WriteSPDX), &doc); err != nil {
		t.Fatal(err)
	}
	comps = nil
	for _, p := range doc.Packages {
		if p.PrimaryPackagePurpose != "LIBRARY" {
			continue // the image and the operating system
		}
		var comp component
		for _, ref := range p.ExternalRefs {
			if ref.ReferenceType == "purl" {
				comp.purl = ref.ReferenceLocator
			}
		}
		for _, a := range p.Annotations {
			if _, where, ok := strings.Cut(a.Comment, "path "); ok {
				comp.locations = append(comp.locations, where)
			}
		}
		comps = append(comps, comp)
	}
	check("SPDX", comps)
}

func comparable(pkgs []inventory.Package) []inventory.Package {
	out := slices.Clone(pkgs)
	for i := range out {
		out[i].Files = nil
	}
	return out
}

// checkInventory compares an inventory with the image's truth: every truth
// package present with the same name and version (and what the truth
// records about its layer, source and owner), nothing deleted reported, and
// every package not in the truth explained.
func checkInventory(t *testing.T, tr *truth, inv *inventory.Inventory) {
	t.Helper()
	matched := make([]bool, len(inv.Packages))
	find := func(pred func(p *inventory.Package) bool) *inventory.Package {
		for i := range inv.Packages {
			if pred(&inv.Packages[i]) {
				matched[i] = true
				return &inv.Packages[i]
			}
		}
		return nil
	}

	// OS.
	if inv.OS == nil {
		t.Fatalf("no OS detected; want %s %s", tr.OS.ID, tr.OS.VersionID)
	}
	gotOS := [4]string{inv.OS.ID, inv.OS.VersionID, inv.OS.Codename, inv.OS.Version}
	wantOS := [4]string{tr.OS.ID, tr.OS.VersionID, tr.OS.VersionCodename, tr.OS.DebianVersionFile}
	if gotOS != wantOS {
		t.Errorf("OS = %q, want %q", gotOS, wantOS)
	}

	// Layers.
	if len(inv.Layers) != len(tr.Image.Layers) {
		t.Errorf("%d layers, want %d", len(inv.Layers), len(tr.Image.Layers))
	} else {
		for i, l := range tr.Image.Layers {
			if inv.Layers[i].DiffID != l.DiffID {
				t.Errorf("layer %d diff_id %s, want %s", i, inv.Layers[i].DiffID, l.DiffID)
			}
		}
	}

	// dpkg.
	debs := 0
	for _, p := range inv.Packages {
		if p.Type == inventory.TypeDeb {
			debs++
		}
	}
	if debs != tr.Dpkg.CountInstalled {
		t.Errorf("%d dpkg packages, want %d", debs, tr.Dpkg.CountInstalled)
	}
	for _, w := range tr.Dpkg.Packages {
		p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypeDeb && p.Name == w.Package && p.Arch == w.Arch
		})
		if p == nil {
			t.Errorf("dpkg %s:%s %s not found", w.Package, w.Arch, w.Version)
			continue
		}
		got := fmt.Sprint(p.Version, " ", p.SourceName, " ", p.SourceVersion, " layer ", p.LayerIndex)
		want := fmt.Sprint(w.Version, " ", w.Source, " ", w.SourceVersion, " layer ", w.LayerIndex)
		if got != want {
			t.Errorf("dpkg %s = %s, want %s", w.Package, got, want)
		}
		if p.PURL == "" || !strings.HasPrefix(p.PURL, "pkg:deb/"+tr.OS.ID+"/") {
			t.Errorf("dpkg %s purl %q", w.Package, p.PURL)
		}
	}
	if fs := tr.BuildFacts.ExpectedFinalState; fs != nil {
		var got []string
		for _, p := range inv.Packages {
			if p.Type == inventory.TypeDeb {
				got = append(got, p.Name)
			}
		}
		if diff := cmp.Diff(fs.DpkgPackages, got); diff != "" {
			t.Errorf("dpkg packages in the final file system (-want +got):\n%s", diff)
		}
		for _, d := range fs.DeletedNPM {
			for _, p := range inv.Packages {
				if p.Type == inventory.TypeNPM && p.Name == d.Name && p.Version == d.Version {
					t.Errorf("npm %s %s from %s was deleted by a later layer but is reported at %s", d.Name, d.Version, d.Lockfile, p.Path)
				}
			}
		}
	}

	// Go binaries: every module, the main module and the toolchain.
	for _, b := range tr.GoBinaries {
		for _, d := range b.Deps {
			path, version := d.Path, d.Version
			if d.Replace != nil {
				path, version = d.Replace.Path, d.Replace.Version
			}
			if p := find(func(p *inventory.Package) bool {
				return p.Type == inventory.TypeGo && p.Path == b.Path && p.Name == path
			}); p == nil || p.Version != version {
				t.Errorf("go module %s %s in %s: got %v", path, version, b.Path, p)
			}
		}
		if p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypeGo && p.Path == b.Path && p.Name == b.MainModule.Path
		}); p == nil || p.Version != b.MainModule.Version {
			t.Errorf("go main module %s %s in %s: got %v", b.MainModule.Path, b.MainModule.Version, b.Path, p)
		}
		if p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypeGo && p.Path == b.Path && p.Name == "stdlib"
		}); p == nil || "go"+p.Version != b.GoVersion {
			t.Errorf("go toolchain %s of %s: got %v", b.GoVersion, b.Path, p)
		}
	}

	// npm: every installed package.json is a location of a package of
	// that name and version. A lock file entry is a location of the
	// package installed in the lock file's project, with the lock file's
	// development flag (development in every entry of that name and
	// version); in an image an entry nothing installed is not reported.
	foundAt := func(p *inventory.Package, path string) bool {
		return slices.ContainsFunc(p.AllLocations(), func(l inventory.Location) bool { return l.Path == path })
	}
	for _, w := range tr.NPMInstalled {
		if p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypeNPM && p.Name == w.Name && p.Version == w.Version && foundAt(p, w.Path)
		}); p == nil {
			t.Errorf("installed npm %s %s at %s not found", w.Name, w.Version, w.Path)
		}
	}
	for _, l := range tr.NPMLockfiles {
		project := path.Dir(l.Lockfile)
		dev := map[string]bool{}
		for _, w := range l.Packages {
			k := w.Name + "@" + w.Version
			if d, ok := dev[k]; ok {
				dev[k] = d && w.Dev
			} else {
				dev[k] = w.Dev
			}
		}
		for _, w := range l.Packages {
			installed := slices.ContainsFunc(tr.NPMInstalled, func(i npmInstalled) bool {
				return i.Name == w.Name && i.Version == w.Version && strings.HasPrefix(i.Path, project+"/node_modules/")
			})
			p := find(func(p *inventory.Package) bool {
				return p.Type == inventory.TypeNPM && p.Name == w.Name && p.Version == w.Version && foundAt(p, l.Lockfile)
			})
			switch {
			case installed && p == nil:
				t.Errorf("npm %s %s from %s not found", w.Name, w.Version, l.Lockfile)
			case !installed && p != nil:
				t.Errorf("npm %s %s from %s is not installed but reported", w.Name, w.Version, l.Lockfile)
			case p != nil && p.Dev != dev[w.Name+"@"+w.Version]:
				t.Errorf("npm %s %s from %s: dev %v, want %v", w.Name, w.Version, l.Lockfile, p.Dev, w.Dev)
			}
		}
	}

	// Python.
	for _, w := range tr.Python {
		p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypePyPI && p.Path == w.Path
		})
		switch {
		case p == nil:
			t.Errorf("python %s %s at %s not found", w.Name, w.Version, w.Path)
		case p.Name != w.Name || p.Version != w.Version:
			t.Errorf("python at %s = %s %s, want %s %s", w.Path, p.Name, p.Version, w.Name, w.Version)
		case w.OwnedByDpkg != "" && p.OwnedBy != "deb:"+w.OwnedByDpkg:
			t.Errorf("python %s owned by %q, want deb:%s", w.Name, p.OwnedBy, w.OwnedByDpkg)
		case w.OwnedByDpkg == "" && p.OwnedBy != "":
			t.Errorf("python %s owned by %q, want no owner", w.Name, p.OwnedBy)
		}
	}

	// Java archives: the build facts give the Maven coordinates of every jar,
	// including those identified only by MANIFEST.MF.
	coords := map[string]string{}
	for _, c := range tr.BuildFacts.JarCoordinates {
		coords[c.Path] = c.GroupID + ":" + c.ArtifactID + " " + c.Version
	}
	for _, j := range tr.Jars {
		want := coords[j.Path]
		for _, pp := range j.PomProperties {
			want = pp.GroupID + ":" + pp.ArtifactID + " " + pp.Version
		}
		if want == "" {
			t.Errorf("truth has no coordinates for %s", j.Path)
			continue
		}
		p := find(func(p *inventory.Package) bool {
			return p.Type == inventory.TypeMaven && p.Path == j.Path
		})
		if p == nil {
			t.Errorf("jar %s (%s) not found", j.Path, want)
		} else if got := p.Name + " " + p.Version; got != want {
			t.Errorf("jar %s = %s, want %s", j.Path, got, want)
		}
	}

	// Everything else must be explained.
	for i, p := range inv.Packages {
		if matched[i] {
			continue
		}
		if why := explainExtra(tr, &p); why == "" {
			t.Errorf("package not in TRUTH.json and not explained: %s %s %s at %s (layer %d)", p.Type, p.Name, p.Version, p.Path, p.LayerIndex)
		}
	}
}

// explainExtra says why TRUTH.json does not list a package drydock
// reports, or "" when nothing explains it.
func explainExtra(_ *truth, _ *inventory.Package) string {
	return ""
}
