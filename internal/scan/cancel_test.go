package scan_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

// countingReader counts what is read from a blob and cancels the scan
// once a quarter MiB has been.
type countingReader struct {
	io.ReadCloser
	n      *atomic.Int64
	cancel context.CancelFunc
}

func (r countingReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if r.n.Add(int64(n)) >= 256<<10 {
		r.cancel()
	}
	return n, err
}

// TestCancelStopsReading: a scan cancelled while it reads a layer (Ctrl-C,
// or a database that cannot be opened) returns without reading the rest
// of the blob, as it would to check the blob's digest after a broken tar.
func TestCancelStopsReading(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []it.Entry
	for i := range 64 {
		body := make([]byte, 256<<10)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		entries = append(entries, it.File("data/"+string(rune('a'+i/26))+string(rune('a'+i%26)), string(body)))
	}
	layer := it.GzipLayer(t, entries...)
	dir := it.Layout(t, []it.Layer{layer}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	img, err := source.Open(ctx, dir, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var read atomic.Int64
	for i := range img.Layers {
		open := img.Layers[i].Open
		img.Layers[i].Open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			return countingReader{rc, &read, cancel}, nil
		}
	}
	_, err = scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if size := img.Layers[0].Size; read.Load() > size/2 {
		t.Errorf("read %d bytes of a %d-byte blob after cancelling at 256 KiB", read.Load(), size)
	}
}
