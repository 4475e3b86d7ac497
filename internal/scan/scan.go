// Package scan runs drydock's inventory pipeline on one opened source:
// every layer is streamed once (in parallel where the machine allows),
// verified, analysed, and the layer results merged into an inventory.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/buildinfo"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/source"
)

// Options configure a scan.
type Options struct {
	// Mode is the scan mode the analyzers were chosen for; it is part of
	// the layer cache's key.
	Mode      analyze.Mode
	Analyzers []analyze.Analyzer
	// Parallel is the number of layers analysed at once (0: GOMAXPROCS).
	Parallel int
	Limits   layerio.Limits
	Walker   analyze.Walker
	Logger   *slog.Logger
	// Cache, when set, supplies the results of layers analysed before and
	// keeps the results of the layers analysed now.
	Cache *cache.Cache
	// Examine, when set, is given every layer's result and the merge, to
	// draw facts beyond the inventory (secrets in every layer, the final
	// file system's modes) before they are released. With a cache, what it
	// returns is kept with the image's merge, and a rescan of the same
	// image takes it from there without calling Examine: it must depend
	// only on its arguments and on what ExamineKey names.
	Examine func(results []*analyze.LayerResult, m *analyze.Merged) Examined
	// ExamineKey names every setting Examine depends on (part of the
	// image cache's key).
	ExamineKey string
	// DropFiles leaves out the lists of files OS packages installed
	// (Package.Files): only a run's join of what was used needs them,
	// and without them an image's merge is small enough to keep whole in
	// the cache. With a cache, a rescan answered by the image's cached
	// merge needs DropFiles.
	DropFiles bool
}

// Examined are the facts Examine drew beyond the inventory.
type Examined struct {
	Secrets           []finding.Secret
	Misconfigurations []finding.Misconfiguration
}

// Result is an inventory with what was learnt on the way.
type Result struct {
	Inventory inventory.Inventory
	Warnings  []analyze.LayerFileError
	Examined  Examined
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
	// Cached says, per layer, whether its result came from the layer
	// cache; nil when no cache was used. CacheHits and CacheMisses count
	// the layers it supplied and those analysed (and stored) now.
	Cached      []bool
	CacheHits   int
	CacheMisses int
	// BlobsHashed counts the local blobs hashed to verify cache hits (a
	// blob unchanged since an earlier verification is not hashed again).
	BlobsHashed int
	// ImageHit is set when the image's cached merge answered the scan
	// (every layer a hit, none merged again).
	ImageHit bool
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
	var statsCached []bool
	var hashed atomic.Int64
	var imageKey cache.Key
	var layerIDs []cache.LayerID
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
		for i, l := range img.Layers {
			layers[i] = inventory.Layer{Index: i, DiffID: l.DiffID.String(), Size: l.Size, MediaType: l.MediaType, CreatedBy: l.CreatedBy}
			if l.Digest.Hex != "" {
				layers[i].Digest = l.Digest.String()
			}
		}
		var cached []bool
		var inputs cache.Inputs
		var ids []cache.LayerID
		if opts.Cache != nil {
			cached = make([]bool, len(img.Layers))
			ids = make([]cache.LayerID, len(img.Layers))
			inputs = cacheInputs(opts, &walker)
			if opts.DropFiles {
				imageKey = inputs.ImageKey(layers, buildinfo.Version(), fmt.Sprintf("merged=%d %s", mergedFormat, opts.ExamineKey))
				if hit := fromImageCache(ctx, opts.Cache, imageKey, img, opts.Parallel, log, &hashed); hit != nil {
					return imageResult(hit, layers, start, int(hashed.Load()), log), nil
				}
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallel(opts.Parallel))
		for i, l := range img.Layers {
			g.Go(func() error {
				if opts.Cache != nil {
					if e := fromCache(gctx, opts.Cache, inputs, l, log, &hashed); e != nil {
						lr := e.Result
						// The stats measured the walk that made the entry, not this scan.
						lr.Stats = analyze.Stats{}
						lr.DiffID = l.DiffID.String()
						results[i], cached[i] = lr, true
						ids[i] = cache.LayerID{Blob: e.Blob, DiffID: e.DiffID}
						log.Debug("layer from cache", "index", i, "diff_id", lr.DiffID)
						return nil
					}
				}
				lr, v, err := walkLayer(gctx, &walker, l, opts.Limits)
				if err != nil {
					return &LayerError{Index: i, DiffID: l.DiffID.String(), Err: err}
				}
				if opts.Cache != nil {
					// Keyed by the digest of the bytes just read and verified.
					opts.Cache.Put(gctx, inputs.Key(v.blob), &cache.Entry{Blob: v.blob, DiffID: v.diffID, Result: lr})
					ids[i] = cache.LayerID{Blob: v.blob, DiffID: v.diffID}
					if v.file != nil {
						// The next scan of this file need not hash it again.
						opts.Cache.RememberBlob(gctx, *v.file, v.blob)
					}
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
		if opts.Cache != nil {
			statsCached, layerIDs = cached, ids
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
	if opts.DropFiles {
		for i := range res.Inventory.Packages {
			res.Inventory.Packages[i].Files = nil
		}
	}
	if opts.Examine != nil {
		res.Examined = opts.Examine(results, m)
	}
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
	res.Stats.Cached = statsCached
	res.Stats.BlobsHashed = int(hashed.Load())
	for _, c := range statsCached {
		if c {
			res.Stats.CacheHits++
		} else {
			res.Stats.CacheMisses++
		}
	}
	res.Stats.Duration = time.Since(start)
	logWarnings(log, m.Warnings)
	if len(m.Errors) > 0 {
		var msgs []string
		for _, e := range m.Errors {
			msgs = append(msgs, e.Error())
		}
		return res, fmt.Errorf("%w:\n  %s", ErrUnreadable, strings.Join(msgs, "\n  "))
	}
	if layerIDs != nil && opts.DropFiles {
		putImage(ctx, opts.Cache, imageKey, layerIDs, res)
	}
	return res, nil
}

func logWarnings(log *slog.Logger, ws []analyze.LayerFileError) {
	for _, w := range ws {
		log.Warn("layer warning", "layer", w.Layer, "diff_id", w.LayerDiffID, "path", w.Path, "analyzer", w.Analyzer, "reason", w.Err)
	}
}

func parallel(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// verified are the identities of a layer's bytes, computed while reading
// them and checked against what the manifest and the config claim; and,
// when the blob is a local file this machine can identify that did not
// change while it was read, that file (see verifyBlob).
type verified struct {
	blob, diffID string
	file         *cache.FileID
}

// walkLayer streams one layer blob through verification and the walker.
func walkLayer(ctx context.Context, w *analyze.Walker, l source.Layer, limits layerio.Limits) (*analyze.LayerResult, verified, error) {
	rc, err := l.Open()
	if err != nil {
		return nil, verified{}, fmt.Errorf("opening blob: %w", err)
	}
	before, identified := fileID(rc)
	var wantBlob string
	if l.Digest.Hex != "" {
		wantBlob = l.Digest.String()
	}
	s, err := layerio.Open(rc, wantBlob, l.DiffID.String(), limits)
	if err != nil {
		rc.Close()
		return nil, verified{}, err
	}
	defer s.Close()
	s.ReadAhead()
	lr, err := w.WalkTar(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled: the rest of the blob is not read.
			return nil, verified{}, err
		}
		// A digest mismatch explains a broken tar better than the tar error.
		if ferr := s.Finish(); ferr != nil && errors.Is(ferr, layerio.ErrDigest) {
			return nil, verified{}, ferr
		}
		return nil, verified{}, err
	}
	if err := s.Finish(); err != nil {
		return nil, verified{}, err
	}
	v := verified{blob: s.BlobDigest(), diffID: s.DiffID()}
	if identified && unchanged(rc, before) {
		v.file = &before
	}
	return lr, v, nil
}

// cacheInputs are the scan's inputs that a layer result depends on.
func cacheInputs(opts Options, w *analyze.Walker) cache.Inputs {
	in := cache.NewInputs(opts.Mode, opts.Analyzers)
	in.Limits["layer.max_bytes"] = opts.Limits.MaxBytes
	in.Limits["layer.max_ratio"] = opts.Limits.MaxRatio
	in.Limits["layer.ratio_floor"] = opts.Limits.RatioFloor
	in.Limits["walk.max_file_size"] = orDefault(w.MaxFileSize, analyze.DefaultMaxFileSize)
	in.Limits["walk.max_entries"] = orDefault(int64(w.MaxEntries), analyze.DefaultMaxEntries)
	if w.Keep != nil || w.KeepEntries {
		if in.Options == nil {
			in.Options = map[string]string{}
		}
		in.Options["walk.keep"] = w.KeepName
		if w.KeepEntries {
			in.Options["walk.keep"] = "all"
		}
	}
	return in
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// fromCache returns the cached result of layer l, or nil. The cache is
// looked up under the identity the image claims for the blob — the
// manifest's blob digest, or for formats without one (classic docker save)
// the config's diffID, which is the digest of an uncompressed blob — and
// an entry is used only when what it was verified against agrees:
//
//   - the entry's diffID, computed from the bytes when it was written, is
//     the diffID the config claims (a config that lies misses);
//   - a local blob is hashed (not decompressed) and must have the claimed
//     digest (a manifest or config that names a cached layer but ships
//     other bytes misses, and the full read then reports the mismatch);
//   - a registry blob is not fetched: its digest is the content address
//     the registry serves it by and verified it against on upload.
func fromCache(ctx context.Context, c *cache.Cache, in cache.Inputs, l source.Layer, log *slog.Logger, hashed *atomic.Int64) *cache.Entry {
	claim := claimOf(l)
	if l.DiffID.Hex == "" || claim == "" {
		return nil
	}
	e, ok := c.Get(ctx, in.Key(claim))
	if !ok {
		return nil
	}
	if e.Blob != claim {
		return nil
	}
	if e.DiffID != l.DiffID.String() {
		log.Warn("layer cache not used: the config's diffID is not that of the cached blob", "layer", l.Index,
			"blob", claim, "config_diff_id", l.DiffID.String(), "content_diff_id", e.DiffID)
		return nil
	}
	if !l.Remote {
		got, err := verifyBlob(ctx, c, l, claim, hashed)
		if err != nil {
			log.Debug("layer cache not used: blob unreadable", "layer", l.Index, "error", err)
			return nil
		}
		if got != claim {
			log.Warn("layer cache not used: the blob's bytes do not have the digest the image claims", "layer", l.Index,
				"claimed", claim, "content", got)
			return nil
		}
	}
	return e
}

// claimOf is the identity the image claims for a layer's blob: the
// manifest's digest, or for formats without one the config's diffID.
func claimOf(l source.Layer) string {
	if l.Digest.Hex != "" {
		return l.Digest.String()
	}
	return l.DiffID.String()
}

// verifyBlob returns the digest of a local blob's bytes. A blob held in a
// file this machine can identify (an OCI layout's blob file, a member of
// an image archive) is hashed once: while its file keeps the identity it
// had when hashed (device, inode, size, change time; see
// cache.FileID), the cache's memo of that digest stands for the bytes.
// Anything else is hashed every time.
func verifyBlob(ctx context.Context, c *cache.Cache, l source.Layer, claim string, hashed *atomic.Int64) (string, error) {
	rc, err := l.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	before, identified := fileID(rc)
	if identified {
		if d, ok := c.VerifiedBlob(ctx, before); ok {
			return d, nil
		}
	}
	hashed.Add(1)
	got, err := layerio.Digest(rc)
	if err != nil {
		return "", err
	}
	if identified && got == claim && unchanged(rc, before) {
		c.RememberBlob(ctx, before, got)
	}
	return got, nil
}

// unchanged reports whether the file behind r still has the identity it
// had before it was read: only then does a digest of what was read stand
// for the file's bytes.
func unchanged(r io.Reader, before cache.FileID) bool {
	after, ok := fileID(r)
	return ok && after == before
}
