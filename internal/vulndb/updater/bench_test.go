package updater

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// BenchmarkImportMirror imports the whole mirror (five ecosystems) into a
// new database and reports the file's size and the time to open it
// read-only.
func BenchmarkImportMirror(b *testing.B) {
	var path string
	for b.Loop() {
		path = filepath.Join(b.TempDir(), "vuln.db")
		res, err := Import(ctx, path, mirrorDir, Options{Logger: quietLogger()})
		if err != nil || res.Err() != nil {
			b.Fatal(err, res.Err())
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB-file")
	start := time.Now()
	const opens = 20
	for range opens {
		db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/opens/1000, "ms-open")
}
