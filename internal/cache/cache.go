// Package cache keeps per-layer analysis results between scans, so that a
// layer every image of a fleet shares is analysed once. An entry is keyed by
// an identity its bytes were verified against (the blob digest) and by every
// input that can change the result (the analyzers and their versions, the
// limits, the scan mode, the result schema); it holds the layer's
// inventory facts, never findings. Entries live in a Store: files on the
// local disk, or Redis for runners that share one cache.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/drydockscan/drydock/internal/analyze"
)

// formatVersion versions the entry encoding of this package (header,
// compression, envelope). It is part of every key.
const formatVersion = 1

// magic starts every encoded entry.
var magic = []byte("drydock-layer\x00")

// maxEntrySize caps one decoded entry: a layer result is a list of paths
// and packages, megabytes at most; anything larger is corrupt or hostile.
const maxEntrySize = 1 << 30

// Inputs are everything besides the layer's bytes that can change a layer
// result. They are hashed into every key: change one and every entry made
// with the old value misses.
type Inputs struct {
	// Mode is the scan mode ("image", "fs").
	Mode string `json:"mode"`
	// Analyzers maps each analyzer's name to its Version().
	Analyzers map[string]int `json:"analyzers"`
	// Limits are every limit that can change a result (a file over the
	// size cap is skipped with a warning, …), by name.
	Limits map[string]int64 `json:"limits"`
	// Options maps each configurable analyzer's name to the fingerprint
	// of its options (analyze.Configurable).
	Options map[string]string `json:"options,omitempty"`
}

// NewInputs describes a scan's analyzers; the caller adds the limits.
func NewInputs(mode analyze.Mode, list []analyze.Analyzer) Inputs {
	in := Inputs{Mode: "image", Analyzers: map[string]int{}, Limits: map[string]int64{}}
	if mode == analyze.ModeFS {
		in.Mode = "fs"
	}
	for _, a := range list {
		in.Analyzers[a.Name()] = a.Version()
		if c, ok := a.(analyze.Configurable); ok {
			if in.Options == nil {
				in.Options = map[string]string{}
			}
			in.Options[a.Name()] = c.Fingerprint()
		}
	}
	return in
}

// Key is an entry's name in a store: hex SHA-256 over the inputs and the
// layer's identity.
type Key string

// Key returns the key of the layer whose verified identity is id
// ("sha256:…", the digest of the blob as stored).
func (in Inputs) Key(id string) Key {
	b, _ := json.Marshal(struct {
		Format int    `json:"format"`
		Schema int    `json:"schema"`
		Index  int    `json:"index"`
		Inputs Inputs `json:"inputs"`
		ID     string `json:"id"`
	}{formatVersion, analyze.ResultSchema, analyze.IndexFormat, in, id}) // map keys are sorted: canonical
	sum := sha256.Sum256(b)
	return Key(hex.EncodeToString(sum[:]))
}

// Entry is one cached layer: the identities its bytes were verified
// against when it was written, and what the analyzers found.
type Entry struct {
	// Blob is the digest of the layer blob as stored, computed from its
	// bytes.
	Blob string `json:"blob"`
	// DiffID is the digest of the uncompressed layer, computed from its
	// bytes. A config that claims another diffID for this blob lies.
	DiffID string `json:"diff_id"`
	// Result is the layer's analysis.
	Result *analyze.LayerResult `json:"result"`
}

// envelope is what is encoded: the entry with the key it was written
// under, so a misplaced file is never taken for another layer. The store
// is trusted (see docs/design.md): the checksum finds damage, not
// forgery.
type envelope struct {
	Key   Key   `json:"key"`
	Entry Entry `json:"entry"`
}

// ErrNotFound is what a Store returns for a key it does not hold.
var ErrNotFound = errors.New("no cache entry")

// Cache reads and writes layer entries in a store. It is safe for
// concurrent use.
type Cache struct {
	store Store
	log   *slog.Logger
	// racyWindow overrides the blob memo's racy window (tests).
	racyWindow *time.Duration
}

// New returns a cache over store; log receives warnings about unreadable
// entries (nil: none).
func New(store Store, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{store: store, log: log}
}

// Store returns the cache's store.
func (c *Cache) Store() Store { return c.store }

// Get returns the entry under key. A missing, unreadable, corrupt or
// truncated entry is a miss; only the last three are logged.
func (c *Cache) Get(ctx context.Context, key Key) (*Entry, bool) {
	raw, ok := c.read(ctx, key)
	if !ok {
		return nil, false
	}
	e, err := decode(raw, key)
	if err == nil && e.Result != nil {
		err = e.Result.Index.Check()
	}
	if err != nil {
		c.log.Warn("layer cache entry corrupt, analysing the layer again", "store", c.store.String(), "key", string(key), "error", err)
		return nil, false
	}
	return e, true
}

// Put writes e under key. A failure is logged, never fatal: the scan has
// its result already.
func (c *Cache) Put(ctx context.Context, key Key, e *Entry) {
	raw, err := encode(key, e)
	c.write(ctx, key, raw, err)
}

// read returns the bytes under key; a missing entry is a quiet miss, an
// unreadable one a logged miss.
func (c *Cache) read(ctx context.Context, key Key) ([]byte, bool) {
	raw, err := c.store.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			c.log.Warn("layer cache unreadable", "store", c.store.String(), "key", string(key), "error", err)
		}
		return nil, false
	}
	return raw, true
}

// write stores an entry's encoding (unless encoding it failed, encErr);
// a failure is logged.
func (c *Cache) write(ctx context.Context, key Key, raw []byte, encErr error) {
	err := encErr
	if err == nil {
		err = c.store.Put(ctx, key, raw)
	}
	if err != nil {
		c.log.Warn("layer cache write failed", "store", c.store.String(), "key", string(key), "error", err)
	}
}

// Record appends a finished scan's counts to the store's scan log, for
// `drydock cache status`. Failures are logged.
func (c *Cache) Record(ctx context.Context, target string, hits, misses int, at time.Time) {
	if err := c.store.AddScan(ctx, ScanRecord{Time: at.UTC(), Target: target, Hits: hits, Misses: misses}); err != nil {
		c.log.Warn("layer cache scan log not written", "store", c.store.String(), "error", err)
	}
}

// Close closes the store.
func (c *Cache) Close() error { return c.store.Close() }

// The zstd encoder and decoder are made on first use, each on its own: a
// warm scan only decodes, and the encoder's tables (megabytes) would be
// allocated, and on a fresh process faulted in, for nothing.
var (
	encoder = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		return e
	})
	decoder = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxEntrySize))
		return d
	})
)

// encode writes an entry as: magic, SHA-256 of the payload, payload
// (zstd-compressed gob of the envelope). gob encodes any plain value by
// its exported fields' names, so whatever shape LayerResult takes is kept
// whole, and decodes several times faster than JSON: on a warm scan
// decoding is a large part of the time.
func encode(key Key, e *Entry) ([]byte, error) {
	return encodeEnvelope(magic, envelope{Key: key, Entry: *e})
}

func decode(raw []byte, key Key) (*Entry, error) {
	var env envelope
	if err := decodeEnvelope(raw, magic, &env); err != nil {
		return nil, err
	}
	if env.Key != key {
		return nil, fmt.Errorf("entry was written for key %s", env.Key)
	}
	if env.Entry.Result == nil || env.Entry.Blob == "" || env.Entry.DiffID == "" {
		return nil, errors.New("incomplete entry")
	}
	return &env.Entry, nil
}

// ScanRecord is one scan's use of the cache.
type ScanRecord struct {
	Time   time.Time `json:"time"`
	Target string    `json:"target"`
	Hits   int       `json:"hits"`
	Misses int       `json:"misses"`
}

// Usage is a store's size.
type Usage struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
}

// PruneOptions say what to keep. Entries unused for longer than MaxAge go
// first; then, least recently used first, entries until the store holds
// at most MaxSize bytes. Zero values do not limit.
type PruneOptions struct {
	MaxSize int64
	MaxAge  time.Duration
	// Now is the current time (zero: time.Now()).
	Now time.Time
}

// Store holds encoded entries by key. Implementations are safe for
// concurrent use by many goroutines and, for the shared ones, by many
// processes.
type Store interface {
	// Get returns the bytes under key, or an error wrapping ErrNotFound.
	// A successful Get marks the entry as used (for pruning).
	Get(ctx context.Context, key Key) ([]byte, error)
	// Put stores the bytes under key, atomically: a concurrent Get sees
	// the old bytes, the new bytes or none, never a part.
	Put(ctx context.Context, key Key, b []byte) error
	// Usage counts the entries and their bytes.
	Usage(ctx context.Context) (Usage, error)
	// Prune removes entries as o says and returns what it removed.
	Prune(ctx context.Context, o PruneOptions) (Usage, error)
	// Clean removes every entry and the scan log.
	Clean(ctx context.Context) (Usage, error)
	// AddScan appends to the log of recent scans; Scans returns the last
	// n, newest first.
	AddScan(ctx context.Context, r ScanRecord) error
	Scans(ctx context.Context, n int) ([]ScanRecord, error)
	// String describes the store for messages (never with credentials).
	String() string
	Close() error
}

// pruneOrder returns the entries to remove: all last used before the age
// limit, then the least recently used until the rest fits MaxSize.
func pruneOrder[E any](entries []E, used func(E) time.Time, size func(E) int64, o PruneOptions) []E {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	slices.SortStableFunc(entries, func(a, b E) int { return used(a).Compare(used(b)) })
	var total int64
	for _, e := range entries {
		total += size(e)
	}
	var out []E
	for _, e := range entries {
		old := o.MaxAge > 0 && now.Sub(used(e)) > o.MaxAge
		big := o.MaxSize > 0 && total > o.MaxSize
		if !old && !big {
			continue
		}
		out = append(out, e)
		total -= size(e)
	}
	return out
}
