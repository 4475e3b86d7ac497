package analyze_test

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
)

// generatedLayer streams a node_modules-like layer tar of about n entries
// (package directories of 50 small files each, one package.json among
// them), without holding it in memory.
func generatedLayer(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		tw := tar.NewWriter(bw)
		body := []byte("module.exports = 1;\n")
		write := func(h *tar.Header, b []byte) error {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err := tw.Write(b)
			return err
		}
		err := write(&tar.Header{Name: "app/node_modules/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
		for pkg, written := 0, 1; err == nil && written < n; pkg++ {
			dir := fmt.Sprintf("app/node_modules/pkg-%07d/", pkg)
			err = write(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
			written++
			for f := 0; err == nil && f < 49 && written < n; f++ {
				err = write(&tar.Header{Name: fmt.Sprintf("%slib/file-%03d.js", dir, f), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body)
				written++
			}
		}
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// walkRetained walks a generated layer of n entries and returns the result
// with the heap bytes it keeps alive.
func walkRetained(tb testing.TB, n int) (*analyze.LayerResult, uint64) {
	tb.Helper()
	before := heapInUse()
	res, err := (&analyze.Walker{}).WalkTar(context.Background(), generatedLayer(n))
	if err != nil {
		tb.Fatal(err)
	}
	after := heapInUse()
	runtime.KeepAlive(res)
	if after < before {
		return res, 0
	}
	return res, after - before
}

// TestLayerResultSize checks that what a walk keeps of a large layer is
// the compact index, not the entries: a few dozen bytes per entry in
// memory and once encoded, whatever the paths' length.
func TestLayerResultSize(t *testing.T) {
	const n = 100_000
	res, retained := walkRetained(t, n)
	if res.Stats.Entries != n {
		t.Fatalf("%d entries walked, want %d", res.Stats.Entries, n)
	}
	// Every entry and the implied directories (app, each package's lib)
	// are in the index.
	if got, want := res.Index.Len(), n+1+n/50; got != want {
		t.Errorf("index holds %d paths, want %d", got, want)
	}
	encoded, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	perEntry := float64(retained) / n
	perEncoded := float64(len(encoded)) / n
	t.Logf("%d entries: %.1f bytes retained per entry, %.1f bytes per entry encoded", n, perEntry, perEncoded)
	// 17 bytes per path; the paths themselves average 45 bytes.
	if perEntry > 24 {
		t.Errorf("%.1f bytes retained per entry, want at most 24", perEntry)
	}
	if perEncoded > 30 {
		t.Errorf("%.1f bytes per entry encoded, want at most 30", perEncoded)
	}
}

// BenchmarkWalkLargeLayer reports the heap a walk of a generated
// million-entry layer keeps (retained-B/entry) and allocates
// (alloc-B/entry).
func BenchmarkWalkLargeLayer(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, retained := walkRetained(b, n)
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(retained)/n, "retained-B/entry")
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/n, "alloc-B/entry")
	}
}
