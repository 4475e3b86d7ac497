package match

import (
	"context"
	"fmt"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// BenchmarkImport imports all of ../shared/vulndata the matcher uses (the
// five OSV ecosystems, the Debian tracker export, KEV) into a new database
// and reports the file's size.
func BenchmarkImport(b *testing.B) {
	vulndata := vulndbtest.Dir(b)
	var path string
	for b.Loop() {
		dir := b.TempDir()
		path = filepath.Join(dir, "vuln.db")
		if err := vulndbtest.Import(context.Background(), path, vulndata, dir); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB-file")
}

// BenchmarkOpen opens the imported database read-only and closes it.
func BenchmarkOpen(b *testing.B) {
	path := realDBPath(b)
	ctx := context.Background()
	for b.Loop() {
		db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}

// inventory1000 is 1,000 packages: debian12-app's inventory (134 deb,
// 74 npm, 16 Go, 10 PyPI, 2 Maven) plus its language packages copied
// under more application directories, as in an image that ships several
// applications built from the same dependencies. The owned Python
// packages are matched too (IncludeOSOwned).
func inventory1000(b testing.TB) *inventory.Inventory {
	base := corpusInventory(b, "debian12-app")
	inv := &inventory.Inventory{OS: base.OS, Packages: append([]inventory.Package(nil), base.Packages...)}
	for copyN := 1; len(inv.Packages) < 1000; copyN++ {
		for _, p := range base.Packages {
			if inventory.IsOS(p.Type) || len(inv.Packages) == 1000 {
				continue
			}
			p.Path = fmt.Sprintf("/srv/app%d%s", copyN, p.Path)
			p.Locations = nil
			inv.Packages = append(inv.Packages, p)
		}
	}
	return inv
}

// BenchmarkMatch1000 matches 1,000 packages on an open database whose
// pages are in memory.
func BenchmarkMatch1000(b *testing.B) {
	db := openRealDB(b)
	inv := inventory1000(b)
	ctx := context.Background()
	opts := Options{IncludeOSOwned: true}
	fs, err := Match(ctx, db, inv, opts) // warm the page cache
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Match(ctx, db, inv, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(inv.Packages)), "packages")
	b.ReportMetric(float64(len(fs)), "findings")
}

// BenchmarkScanE2E scans the largest corpus image (debian12-app, OCI
// layout) to an inventory, and to an inventory plus findings (opening the
// database and matching included): what matching adds to a scan.
func BenchmarkScanE2E(b *testing.B) {
	target := filepath.Join(analyzetest.Corpus(b), "debian12-app", "oci")
	path := realDBPath(b)
	ctx := context.Background()
	b.Run("inventory", func(b *testing.B) {
		for b.Loop() {
			if _, err := scanInventory(ctx, target); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inventory+match", func(b *testing.B) {
		n := 0
		var matching time.Duration
		for b.Loop() {
			inv, err := scanInventory(ctx, target)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			fs, err := Match(ctx, db, inv, Options{})
			db.Close()
			if err != nil {
				b.Fatal(err)
			}
			matching += time.Since(start)
			n = len(fs)
		}
		b.ReportMetric(float64(n), "findings")
		b.ReportMetric(float64(matching.Microseconds())/1000/float64(b.N), "ms-open+match")
	})
}
