package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchPkgs [][2]string // (ecosystem, name) of 1,000 indexed packages
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchDB builds, once, a database of the whole mirror and picks 1,000
// indexed packages spread over it.
func benchDB(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "drydock-store-bench")
		if benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "db")
		db, err := Open(ctx, benchPath, Options{NoSync: true})
		if err != nil {
			benchErr = err
			return
		}
		defer db.Close()
		pkgs := map[[2]string]bool{}
		for _, eco := range []string{"Go", "PyPI", "crates.io", "Debian:12", "Debian:13"} {
			recs := readMirror(b, eco)
			putAll(b, db, "osv/"+eco, eco, recs)
			for _, r := range recs {
				for _, a := range r.Affected {
					if a.Package.Ecosystem == eco {
						pkgs[[2]string{a.Package.Ecosystem, a.Package.Name}] = true
					}
				}
			}
		}
		var all [][2]string
		for p := range pkgs {
			all = append(all, p)
		}
		slices.SortFunc(all, func(x, y [2]string) int { return strings.Compare(x[0]+"\x00"+x[1], y[0]+"\x00"+y[1]) })
		for i := range min(1000, len(all)) {
			benchPkgs = append(benchPkgs, all[i*len(all)/min(1000, len(all))])
		}
		benchErr = db.Sync()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// BenchmarkOpen measures opening the database read-only and reading its
// metadata.
func BenchmarkOpen(b *testing.B) {
	path := benchDB(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB-file")
	cpu := cpuTime()
	for b.Loop() {
		db, err := Open(ctx, path, Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Meta(); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkCandidates1000 looks up 1,000 indexed packages (warm file
// cache), one Candidates call each.
func BenchmarkCandidates1000(b *testing.B) {
	db, err := Open(ctx, benchDB(b), Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := 0
	cpu := cpuTime()
	for b.Loop() {
		n = 0
		for _, p := range benchPkgs {
			c, err := db.Candidates(p[0], p[1])
			if err != nil {
				b.Fatal(err)
			}
			n += len(c)
		}
	}
	b.ReportMetric(float64(n), "candidates")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkLookup1000 is BenchmarkCandidates1000 on one snapshot.
func BenchmarkLookup1000(b *testing.B) {
	db, err := Open(ctx, benchDB(b), Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var buf []Candidate
	cpu := cpuTime()
	for b.Loop() {
		err := db.Lookup(func(l *Lookup) error {
			for _, p := range benchPkgs {
				var err error
				if buf, err = l.Candidates(buf[:0], p[0], p[1]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkCandidatesMiss looks up a package no feed indexes.
func BenchmarkCandidatesMiss(b *testing.B) {
	db, err := Open(ctx, benchDB(b), Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		if c, err := db.Candidates("Debian:12", "no-such-package"); err != nil || len(c) != 0 {
			b.Fatal(c, err)
		}
	}
}

// BenchmarkCandidatesLarge looks up the package with the most records
// (linux in Debian:12).
func BenchmarkCandidatesLarge(b *testing.B) {
	db, err := Open(ctx, benchDB(b), Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := 0
	cpu := cpuTime()
	for b.Loop() {
		c, err := db.Candidates("Debian:12", "linux")
		if err != nil {
			b.Fatal(err)
		}
		n = len(c)
	}
	b.ReportMetric(float64(n), "candidates")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkRecord decodes one full record.
func BenchmarkRecord(b *testing.B) {
	db, err := Open(ctx, benchDB(b), Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := db.Candidates(benchPkgs[0][0], benchPkgs[0][1])
	if err != nil || len(c) == 0 {
		b.Fatal(c, err)
	}
	for b.Loop() {
		if _, err := db.Record(c[0].ID); err != nil {
			b.Fatal(err)
		}
	}
}
