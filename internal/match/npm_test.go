package match

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// TestNPMLockAndInstalled: a package both listed in a project's lock file
// and installed in its node_modules is one package and gets its findings
// once, at the installed copy; lock entries without an installed copy, or
// with another installed version, are matched themselves.
func TestNPMLockAndInstalled(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "vuln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs := []vulndb.Record{
		{ID: "GHSA-aaaa-0001-0001", Aliases: []string{"CVE-2099-0001"}, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "npm", Name: "lodash"}, Ranges: semver(intro("0"), fixed("4.17.21"))}}},
		{ID: "GHSA-aaaa-0002-0002", Aliases: []string{"CVE-2099-0002"}, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "npm", Name: "qs"}, Ranges: semver(intro("0"), fixed("6.10.3"))}}},
	}
	err = db.UpdateFeed(ctx, "osv/npm", func(w *store.FeedWriter) error {
		w.SetScope("npm")
		for i := range recs {
			if err := w.Put(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := &inventory.Inventory{Packages: []inventory.Package{
		// lodash: in the lock and installed, same version: once.
		langPkg(inventory.TypeNPM, "lodash", "4.17.20", "/app/package-lock.json"),
		langPkg(inventory.TypeNPM, "lodash", "4.17.20", "/app/node_modules/lodash/package.json"),
		// qs: nested install, same version as the lock: once.
		langPkg(inventory.TypeNPM, "qs", "6.5.0", "/app/package-lock.json"),
		langPkg(inventory.TypeNPM, "qs", "6.5.0", "/app/node_modules/express/node_modules/qs/package.json"),
		// Another project's lock without node_modules: matched at the lock.
		langPkg(inventory.TypeNPM, "lodash", "4.17.15", "/srv/other/package-lock.json"),
		// A lock entry whose installed copy differs: both are real.
		langPkg(inventory.TypeNPM, "qs", "6.9.0", "/opt/tool/yarn.lock"),
		langPkg(inventory.TypeNPM, "qs", "6.9.1", "/opt/tool/node_modules/qs/package.json"),
	}}
	fs, err := Match(ctx, db, inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.ID+" "+f.Package.Name+"@"+f.Package.Version+" "+f.Package.Path)
	}
	want := []string{
		"CVE-2099-0002 qs@6.5.0 /app/node_modules/express/node_modules/qs/package.json",
		"CVE-2099-0001 lodash@4.17.20 /app/node_modules/lodash/package.json",
		"CVE-2099-0002 qs@6.9.1 /opt/tool/node_modules/qs/package.json",
		"CVE-2099-0002 qs@6.9.0 /opt/tool/yarn.lock",
		"CVE-2099-0001 lodash@4.17.15 /srv/other/package-lock.json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
