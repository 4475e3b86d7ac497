package match

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// The end-to-end tests and benchmarks share one database imported from
// ../shared/vulndata (built on first use, removed by TestMain) and the
// inventories of the corpus images (scanned on first use).

func TestMain(m *testing.M) {
	code := m.Run()
	if realDB.dir != "" {
		os.RemoveAll(realDB.dir)
	}
	os.Exit(code)
}

var realDB struct {
	once     sync.Once
	dir      string
	path     string
	duration time.Duration
	err      error
}

// realDBPath returns the shared database, importing it on first use.
func realDBPath(t testing.TB) string {
	t.Helper()
	vulndata := vulndbtest.Dir(t)
	realDB.once.Do(func() {
		realDB.dir, realDB.err = os.MkdirTemp("", "drydock-match-")
		if realDB.err != nil {
			return
		}
		realDB.path = filepath.Join(realDB.dir, "vuln.db")
		start := time.Now()
		realDB.err = vulndbtest.Import(context.Background(), realDB.path, vulndata, realDB.dir)
		realDB.duration = time.Since(start)
	})
	if realDB.err != nil {
		t.Fatal(realDB.err)
	}
	return realDB.path
}

// openRealDB opens the shared database read-only for the test.
func openRealDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), realDBPath(t), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var scanned = struct {
	sync.Mutex
	inv map[string]*inventory.Inventory
}{inv: map[string]*inventory.Inventory{}}

// corpusInventory scans a corpus image (linux/amd64) with the image
// analyzers, once per test binary.
func corpusInventory(t testing.TB, image string) *inventory.Inventory {
	t.Helper()
	scanned.Lock()
	defer scanned.Unlock()
	if inv, ok := scanned.inv[image]; ok {
		return inv
	}
	inv, err := scanInventory(context.Background(), filepath.Join(analyzetest.Corpus(t), image, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	scanned.inv[image] = inv
	return inv
}

func scanInventory(ctx context.Context, target string) (*inventory.Inventory, error) {
	img, err := source.Open(ctx, target, source.Options{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		return nil, err
	}
	defer img.Close()
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		return nil, err
	}
	return &res.Inventory, nil
}
