package scan

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/source"
)

// mergedFormat versions merged, its encoding (mergedcodec.go) and what it
// leaves out (part of the key).
const mergedFormat = 2

// merged is what an image entry keeps of a scan: everything Image
// returns but the statistics.
type merged struct {
	Inventory inventory.Inventory
	Warnings  []analyze.LayerFileError
	Examined  Examined
}

// fromImageCache returns the cached merge of img, or nil. The entry is
// found under the identities the image claims for its layers (and their
// descriptions, the inputs and the program version: see
// cache.Inputs.ImageKey), and used only when every layer passes the
// checks a layer entry must pass (see fromCache): the identities the
// entry was verified against are those claimed now, and every local blob
// still has its claimed digest.
func fromImageCache(ctx context.Context, c *cache.Cache, key cache.Key, img *source.Image, par int, log *slog.Logger, hashed *atomic.Int64) *merged {
	e, ok := c.GetImage(ctx, key)
	if !ok {
		return nil
	}
	if len(e.Layers) != len(img.Layers) {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel(par))
	var bad atomic.Bool
	for i, l := range img.Layers {
		id := e.Layers[i]
		g.Go(func() error {
			claim := claimOf(l)
			if l.DiffID.Hex == "" || id.Blob != claim || id.DiffID != l.DiffID.String() {
				bad.Store(true)
				return nil
			}
			if !l.Remote {
				got, err := verifyBlob(gctx, c, l, claim, hashed)
				if err != nil || got != claim {
					log.Debug("image cache not used: a blob is not what the image claims", "layer", l.Index, "claimed", claim, "content", got, "error", err)
					bad.Store(true)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if bad.Load() {
		return nil
	}
	var m merged
	if err := decodeMerged(e.Result, &m); err != nil {
		log.Warn("layer cache image entry unreadable, merging the layers again", "error", err)
		return nil
	}
	log.Debug("image from cache", "layers", len(img.Layers))
	return &m
}

// imageResult is the Result of a scan answered by an image entry.
func imageResult(m *merged, layers []inventory.Layer, start time.Time, hashed int, log *slog.Logger) *Result {
	res := &Result{Inventory: m.Inventory, Warnings: m.Warnings, Examined: m.Examined}
	res.Inventory.Layers = layers
	res.Stats = Stats{Layers: len(layers), PerAnalyzer: map[string]time.Duration{}, Cached: make([]bool, len(layers)),
		CacheHits: len(layers), BlobsHashed: hashed, ImageHit: true}
	for i := range res.Stats.Cached {
		res.Stats.Cached[i] = true
	}
	res.Stats.Duration = time.Since(start)
	logWarnings(log, res.Warnings)
	return res
}

// putImage keeps a finished scan's merge under key.
func putImage(ctx context.Context, c *cache.Cache, key cache.Key, ids []cache.LayerID, res *Result) {
	// The layers' descriptions are the image's, given again on every scan
	// (and part of the key): not stored, so no history command — which may
	// hold a build argument's token, redacted only in reports — is written
	// to the cache.
	inv := res.Inventory
	inv.Layers = nil
	b, err := encodeMerged(&merged{Inventory: inv, Warnings: res.Warnings, Examined: res.Examined})
	if err != nil {
		return
	}
	c.PutImage(ctx, key, &cache.ImageEntry{Layers: ids, Result: b})
}
