package scan_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
)

// BenchmarkScan measures the inventory of a corpus image against the
// floor of merely decompressing its layers with the same decompressors
// (layerio, no digest checks, read to the end, one after another), in the
// same run; the "x-decompress" metric of the scan sub-benchmarks is scan
// time / decompression time. scan-warm rescans with every layer in the
// layer cache.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	for _, image := range []string{"debian12-app", "debian13-slim"} {
		target := filepath.Join(analyzetest.Corpus(b), image, "oci")
		img, err := source.Open(ctx, target, source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var floor float64
		b.Run(image+"/decompress", func(b *testing.B) {
			for b.Loop() {
				var n int64
				for _, l := range img.Layers {
					rc, err := l.Open()
					if err != nil {
						b.Fatal(err)
					}
					st, err := layerio.Open(rc, "", "", layerio.DefaultLimits)
					if err != nil {
						b.Fatal(err)
					}
					m, err := io.Copy(io.Discard, st)
					st.Close()
					if err != nil {
						b.Fatal(err)
					}
					n += m
				}
				b.SetBytes(n)
			}
			floor = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(image+"/scan", func(b *testing.B) {
			opts := scan.Options{Analyzers: analyzers.For(analyze.ModeImage)}
			for b.Loop() {
				if _, err := scan.Image(ctx, img, opts); err != nil {
					b.Fatal(err)
				}
			}
			if floor > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/floor, "x-decompress")
			}
		})
		b.Run(image+"/scan-warm", func(b *testing.B) {
			s, err := cache.OpenFS(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			opts := scan.Options{Analyzers: analyzers.For(analyze.ModeImage), Cache: cache.New(s, nil)}
			if _, err := scan.Image(ctx, img, opts); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := scan.Image(ctx, img, opts)
				if err != nil {
					b.Fatal(err)
				}
				if res.Stats.CacheMisses != 0 {
					b.Fatalf("%d misses in a warm scan", res.Stats.CacheMisses)
				}
			}
			if floor > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/floor, "x-decompress")
			}
		})
		img.Close()
	}
}
