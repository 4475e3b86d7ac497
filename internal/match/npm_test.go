package match

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// npmLock is a lock file's entry: declared, and in an image only
// counting where the package is installed (inventory.Package.NeedsInstalled).
func npmLock(name, version, path string, image bool) inventory.Package {
	p := langPkg(inventory.TypeNPM, name, version, path)
	p.Declared, p.NeedsInstalled = true, image
	return p
}

// TestNPMLockAndInstalled: a package both listed in a project's lock file
// and installed in its node_modules is one inventory package (the merge
// consolidates them) and gets its findings once, at the installed copy,
// with the lock file among its locations. A lock entry without an
// installed copy, or with another installed version, is matched itself in
// a project directory and not at all in an image.
func TestNPMLockAndInstalled(t *testing.T) {
	ctx := context.Background()
	recs := []vulndb.Record{
		{ID: "GHSA-aaaa-0001-0001", Aliases: []string{"CVE-2099-0001"}, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "npm", Name: "lodash"}, Ranges: semver(intro("0"), fixed("4.17.21"))}}},
		{ID: "GHSA-aaaa-0002-0002", Aliases: []string{"CVE-2099-0002"}, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "npm", Name: "qs"}, Ranges: semver(intro("0"), fixed("6.10.3"))}}},
	}
	db := buildDB(t, map[string][]vulndb.Record{"osv/npm": recs}, map[string]string{"osv/npm": "npm"})
	records := func(image bool) []inventory.Package {
		return []inventory.Package{
			// lodash: in the lock and installed, same version: once.
			npmLock("lodash", "4.17.20", "/app/package-lock.json", image),
			langPkg(inventory.TypeNPM, "lodash", "4.17.20", "/app/node_modules/lodash/package.json"),
			// qs: nested install, same version as the lock: once.
			npmLock("qs", "6.5.0", "/app/package-lock.json", image),
			langPkg(inventory.TypeNPM, "qs", "6.5.0", "/app/node_modules/express/node_modules/qs/package.json"),
			// Another project's lock without node_modules.
			npmLock("lodash", "4.17.15", "/srv/other/package-lock.json", image),
			// A lock entry whose installed copy differs.
			npmLock("qs", "6.9.0", "/opt/tool/yarn.lock", image),
			langPkg(inventory.TypeNPM, "qs", "6.9.1", "/opt/tool/node_modules/qs/package.json"),
		}
	}
	// Findings are grouped by project (/app, /opt/tool, /srv/other).
	tests := []struct {
		name  string
		image bool
		want  []string
	}{
		{"project directory", false, []string{
			"CVE-2099-0001 lodash@4.17.20 /app/node_modules/lodash/package.json + /app/package-lock.json",
			"CVE-2099-0002 qs@6.5.0 /app/node_modules/express/node_modules/qs/package.json + /app/package-lock.json",
			"CVE-2099-0002 qs@6.9.0 /opt/tool/yarn.lock",
			"CVE-2099-0002 qs@6.9.1 /opt/tool/node_modules/qs/package.json",
			"CVE-2099-0001 lodash@4.17.15 /srv/other/package-lock.json",
		}},
		{"image", true, []string{
			"CVE-2099-0001 lodash@4.17.20 /app/node_modules/lodash/package.json + /app/package-lock.json",
			"CVE-2099-0002 qs@6.5.0 /app/node_modules/express/node_modules/qs/package.json + /app/package-lock.json",
			"CVE-2099-0002 qs@6.9.1 /opt/tool/node_modules/qs/package.json",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Packages: inventory.Consolidate(records(tc.image))}
			inv.Sort()
			fs, err := Match(ctx, db, inv, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				s := f.ID + " " + f.Package.Name + "@" + f.Package.Version
				for i, l := range f.Package.AllLocations() {
					if i > 0 {
						s += " +"
					}
					s += " " + l.Path
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUncovered(t *testing.T) {
	owned := langPkg(inventory.TypePyPI, "requests", "2.28.1", "/usr/lib/python3/dist-packages/requests-2.28.1.egg-info")
	owned.OwnedBy = "deb:python3-requests"
	pkgs := []inventory.Package{
		debPkg("libssl3", sslVersion, "openssl", sslVersion),
		owned,
		langPkg(inventory.TypePyPI, "PyYAML", "5.3", "/app/venv/PyYAML-5.3.dist-info"),
		// One package installed and in its lock file: counted once.
		npmLock("lodash", "4.17.20", "/app/package-lock.json", true),
		langPkg(inventory.TypeNPM, "lodash", "4.17.20", "/app/node_modules/lodash/package.json"),
		langPkg(inventory.TypeNPM, "qs", "6.5.0", "/app/node_modules/qs/package.json"),
		langPkg("conan", "zlib", "1.3", "/app/conan.lock"),
	}
	tests := []struct {
		name string
		os   *inventory.OS
		have []string
		want map[string]int
	}{
		{"everything covered", bookworm, []string{"Debian:12", "PyPI", "npm"}, map[string]int{}},
		{"no npm data", bookworm, []string{"Debian:12", "PyPI"}, map[string]int{"npm": 2}},
		{"no distribution data: OS-owned packages count there", bookworm, []string{"PyPI", "npm"}, map[string]int{"Debian:12": 2}},
		{"nothing", bookworm, nil, map[string]int{"Debian:12": 2, "PyPI": 1, "npm": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			have := map[string]bool{}
			for _, e := range tc.have {
				have[vulndb.NormalizeEcosystem(e)] = true
			}
			got := Uncovered(&inventory.Inventory{OS: tc.os, Packages: inventory.Consolidate(pkgs)}, func(e string) bool { return have[e] })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
