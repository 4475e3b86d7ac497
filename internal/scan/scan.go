// Package scan runs drydock's inventory pipeline on one opened source:
// every layer is streamed once (in parallel where the machine allows),
// verified, analysed, and the layer results merged into an inventory.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/source"
)

// Options configure a scan.
type Options struct {
	Analyzers []analyze.Analyzer
	// Parallel is the number of layers analysed at once (0: GOMAXPROCS).
	Parallel int
	Limits   layerio.Limits
	Walker   analyze.Walker
	Logger   *slog.Logger
}

// Result is an inventory with what was learnt on the way.
type Result struct {
	Inventory inventory.Inventory
	Warnings  []analyze.LayerFileError
	Stats     Stats
}

// Stats measure a scan.
type Stats struct {
	Duration    time.Duration
	Layers      int
	Entries     int
	Bytes       int64
	WantedFiles int
	PerAnalyzer map[string]time.Duration
}

// ErrUnreadable is wrapped when files the inventory depends on could not
// be read: the inventory would be incomplete.
var ErrUnreadable = errors.New("unreadable package data")

// LayerError names the layer a failure happened in.
type LayerError struct {
	Index  int
	DiffID string
	Err    error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %d (%s): %v", e.Index, e.DiffID, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// Image scans an opened image (or root directory).
func Image(ctx context.Context, img *source.Image, opts Options) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	walker := opts.Walker
	walker.Analyzers = opts.Analyzers
	walker.Logger = log
	if opts.Limits == (layerio.Limits{}) {
		opts.Limits = layerio.DefaultLimits
	}

	var results []*analyze.LayerResult
	var layers []inventory.Layer
	if img.Kind == source.KindDir {
		lr, err := walker.WalkDir(ctx, img.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Dir, err)
		}
		results = []*analyze.LayerResult{lr}
		layers = []inventory.Layer{{Index: 0}}
	} else {
		layers = make([]inventory.Layer, len(img.Layers))
		results = make([]*analyze.LayerResult, len(img.Layers))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallel(opts.Parallel))
		for i, l := range img.Layers {
			layers[i] = inventory.Layer{Index: i, DiffID: l.DiffID.String(), Size: l.Size, MediaType: l.MediaType, CreatedBy: l.CreatedBy}
			if l.Digest.Hex != "" {
				layers[i].Digest = l.Digest.String()
			}
			g.Go(func() error {
				lr, err := walkLayer(gctx, &walker, l, opts.Limits)
				if err != nil {
					return &LayerError{Index: i, DiffID: l.DiffID.String(), Err: err}
				}
				lr.DiffID = l.DiffID.String()
				results[i] = lr
				log.Debug("layer analysed", "index", i, "diff_id", lr.DiffID, "entries", lr.Stats.Entries,
					"bytes", lr.Stats.Bytes, "wanted", lr.Stats.WantedFiles, "duration", lr.Stats.Duration)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}

	// The merge asks only about what was found: the rest of each layer's
	// path index can go before it.
	analyze.Prune(results)
	m := analyze.Merge(results, layers)
	// A hard link whose target no layer holds is a crafted image: no
	// extractor would produce the file system the merge describes.
	if err := m.View.CheckLinks(); err != nil {
		return nil, err
	}
	res := &Result{Inventory: m.Inventory, Warnings: m.Warnings}
	res.Stats.PerAnalyzer = map[string]time.Duration{}
	for _, lr := range results {
		res.Stats.Layers++
		res.Stats.Entries += lr.Stats.Entries
		res.Stats.Bytes += lr.Stats.Bytes
		res.Stats.WantedFiles += lr.Stats.WantedFiles
		for k, v := range lr.Stats.PerAnalyzer {
			res.Stats.PerAnalyzer[k] += v
		}
	}
	res.Stats.Duration = time.Since(start)
	for _, w := range m.Warnings {
		log.Warn("layer warning", "layer", w.Layer, "diff_id", w.LayerDiffID, "path", w.Path, "analyzer", w.Analyzer, "reason", w.Err)
	}
	if len(m.Errors) > 0 {
		var msgs []string
		for _, e := range m.Errors {
			msgs = append(msgs, e.Error())
		}
		return res, fmt.Errorf("%w:\n  %s", ErrUnreadable, strings.Join(msgs, "\n  "))
	}
	return res, nil
}

func parallel(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// walkLayer streams one layer blob through verification and the walker.
func walkLayer(ctx context.Context, w *analyze.Walker, l source.Layer, limits layerio.Limits) (*analyze.LayerResult, error) {
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	var wantBlob string
	if l.Digest.Hex != "" {
		wantBlob = l.Digest.String()
	}
	s, err := layerio.Open(rc, wantBlob, l.DiffID.String(), limits)
	if err != nil {
		rc.Close()
		return nil, err
	}
	defer s.Close()
	lr, err := w.WalkTar(ctx, s)
	if err != nil {
		// A digest mismatch explains a broken tar better than the tar error.
		if ferr := s.Finish(); ferr != nil && errors.Is(ferr, layerio.ErrDigest) {
			return nil, ferr
		}
		return nil, err
	}
	if err := s.Finish(); err != nil {
		return nil, err
	}
	return lr, nil
}
