package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// SchemaVersion is the version of the file layout this package reads and
// writes. Change it whenever the layout or an encoding changes: an older or
// newer file is then refused (ErrSchema) and rebuilt by the updater.
const SchemaVersion = 2

// Errors.
var (
	// ErrSchema is wrapped by a SchemaError.
	ErrSchema = errors.New("vulnerability database schema mismatch")
	// ErrNoDatabase is returned when a read-only open finds no file.
	ErrNoDatabase = errors.New("no vulnerability database")
	// ErrNotFound is returned by Record for an unknown id.
	ErrNotFound = errors.New("not found")
	// ErrReadOnly is returned by writes on a read-only database.
	ErrReadOnly = errors.New("vulnerability database opened read-only")
	// ErrLocked is returned when another process holds the file's lock
	// longer than Options.Timeout.
	ErrLocked = errors.New("vulnerability database is locked by another process")
)

// SchemaError reports a file written with another schema version.
type SchemaError struct {
	Path       string
	Have, Want int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("vulnerability database %s has schema version %d, this drydock reads version %d: run `drydock db update` to rebuild it", e.Path, e.Have, e.Want)
}

func (e *SchemaError) Unwrap() error { return ErrSchema }

// Bucket and key names.
var (
	bucketMeta  = []byte("meta")
	bucketFeeds = []byte("feeds")
	keySchema   = []byte("schema")
	keyBuilt    = []byte("built")
	keyUpdated  = []byte("updated")
	keyFeedMeta = []byte("meta")
	bucketRec   = []byte("rec")
	bucketIdx   = []byte("idx")
	bucketMod   = []byte("mod")
	bucketSev   = []byte("sev")
	bucketKEV   = []byte("kev")
)

// Options adjusts Open.
type Options struct {
	// ReadOnly opens the file for reading, sharing it with other readers.
	// A read-write open creates the file when missing.
	ReadOnly bool
	// Timeout bounds the wait for another process's lock (a writer
	// excludes everyone else; readers exclude writers). Default 30s.
	Timeout time.Duration
	// NoSync skips fsync on commit: only for building a new file that is
	// renamed into place after Sync.
	NoSync bool
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// FeedMeta is the state of one feed in the database.
type FeedMeta struct {
	Name string `json:"name"`
	// URL is where the feed's content came from.
	URL string `json:"url,omitempty"`
	// Scope, for an OSV feed, is the OSV ecosystem the feed covers
	// ("PyPI", "Debian:12"): only affected entries of that ecosystem are
	// indexed (a record affecting several ecosystems is in several feeds).
	Scope string `json:"scope,omitempty"`
	// Updated is the last time the feed's content changed; Checked the
	// last time the feed was checked successfully (changed or not).
	Updated time.Time `json:"updated,omitzero"`
	Checked time.Time `json:"checked,omitzero"`
	// Records counts the feed's records (withdrawn ones included);
	// Enrichments its CVE severity and KEV entries.
	Records     int `json:"records"`
	Withdrawn   int `json:"withdrawn"`
	Enrichments int `json:"enrichments,omitempty"`
	// Ecosystems lists the normalised ecosystems the feed indexes.
	Ecosystems []string `json:"ecosystems,omitempty"`
	// Fingerprint holds what the updater needs for conditional and
	// incremental fetches (ETag, Last-Modified per resource, …).
	Fingerprint map[string]string `json:"fingerprint,omitempty"`
}

// Meta describes the database.
type Meta struct {
	Path   string
	Schema int
	// Built is when the file was created, Updated when a feed last changed.
	Built   time.Time
	Updated time.Time
	// Feeds, sorted by name.
	Feeds []FeedMeta
}

// Feed returns the named feed's state.
func (m Meta) Feed(name string) (FeedMeta, bool) {
	for _, f := range m.Feeds {
		if f.Name == name {
			return f, true
		}
	}
	return FeedMeta{}, false
}

// DB is an open vulnerability database. Its methods are safe for
// concurrent use.
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool
	now      func() time.Time

	mu    sync.RWMutex
	feeds map[string]FeedMeta // feed name → state
	byEco map[string][]string // normalised ecosystem → feed names, sorted
	names []string            // feed names, sorted
	// enriching names the feeds holding CVE severities or KEV entries
	// (FeedMeta.Enrichments), sorted: the only ones Severities and KEV
	// look in, once per finding.
	enriching []string
}

// Open opens the database file at path. A read-only open of a missing file
// returns ErrNoDatabase; a read-write open creates it. A file of another
// schema version returns a *SchemaError (wrapping ErrSchema) telling the
// user to run `drydock db update`.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: run `drydock db update`", ErrNoDatabase, path)
		}
	}
	b, err := bolt.Open(path, 0o644, &bolt.Options{
		ReadOnly:       opts.ReadOnly,
		Timeout:        opts.Timeout,
		NoSync:         opts.NoSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		NoStatistics:   true,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open vulnerability database %s: %w (waited %s)", path, ErrLocked, opts.Timeout)
		}
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, readOnly: opts.ReadOnly, now: opts.Now}
	if err := db.init(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) init() error {
	check := func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			return &SchemaError{Path: db.path, Have: 0, Want: SchemaVersion}
		}
		v, err := strconv.Atoi(string(m.Get(keySchema)))
		if err != nil || v != SchemaVersion {
			return &SchemaError{Path: db.path, Have: v, Want: SchemaVersion}
		}
		if tx.Bucket(bucketFeeds) == nil {
			return fmt.Errorf("vulnerability database %s: no feeds bucket: run `drydock db update`", db.path)
		}
		return nil
	}
	var err error
	if db.readOnly {
		err = db.bolt.View(check)
	} else {
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketMeta) == nil && tx.Bucket(bucketFeeds) == nil {
				m, err := tx.CreateBucket(bucketMeta)
				if err != nil {
					return err
				}
				now := db.now().UTC().Format(time.RFC3339Nano)
				if err := m.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
					return err
				}
				if err := m.Put(keyBuilt, []byte(now)); err != nil {
					return err
				}
				if _, err := tx.CreateBucket(bucketFeeds); err != nil {
					return err
				}
			}
			return check(tx)
		})
	}
	if err != nil {
		return err
	}
	return db.loadFeeds()
}

// loadFeeds reads every feed's state into the cache the lookups use.
func (db *DB) loadFeeds() error {
	feeds := map[string]FeedMeta{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFeeds).ForEachBucket(func(name []byte) error {
			b := tx.Bucket(bucketFeeds).Bucket(name)
			var m FeedMeta
			if err := json.Unmarshal(b.Get(keyFeedMeta), &m); err != nil {
				return fmt.Errorf("vulnerability database %s: feed %s: %w", db.path, name, err)
			}
			feeds[string(name)] = m
			return nil
		})
	})
	if err != nil {
		return err
	}
	db.setFeeds(feeds)
	return nil
}

func (db *DB) setFeeds(feeds map[string]FeedMeta) {
	byEco := map[string][]string{}
	names := make([]string, 0, len(feeds))
	for name, m := range feeds {
		names = append(names, name)
		for _, e := range m.Ecosystems {
			byEco[e] = append(byEco[e], name)
		}
	}
	slices.Sort(names)
	for _, l := range byEco {
		slices.Sort(l)
	}
	var enriching []string
	for _, name := range names {
		if feeds[name].Enrichments > 0 {
			enriching = append(enriching, name)
		}
	}
	db.mu.Lock()
	db.feeds, db.byEco, db.names, db.enriching = feeds, byEco, names, enriching
	db.mu.Unlock()
}

// Close closes the database.
func (db *DB) Close() error {
	return db.bolt.Close()
}

// maxRecord caps a stored record's decoded size.
const maxRecord = 64 << 20

// encodeRecord returns a record's stored form: its binary encoding
// (recordcodec.go), S2-compressed. S2 decodes a record in microseconds
// where zstd's per-frame set-up took tens, and the records take a little
// less room than zstd-compressed JSON did (17.5 against 18.5 MB for the
// public OSV, Debian and Go data).
func encodeRecord(r *vulndb.Record) ([]byte, error) {
	data, err := encodeRecordBinary(nil, r)
	if err != nil {
		return nil, err
	}
	return s2.Encode(nil, data), nil
}

// decodeRecord decodes a stored record. Its strings share one allocation.
func decodeRecord(stored []byte, r *vulndb.Record) error {
	n, err := s2.DecodedLen(stored)
	if err != nil {
		return err
	}
	if n > maxRecord {
		return fmt.Errorf("record of %d bytes: over the %d-byte limit", n, maxRecord)
	}
	data, err := s2.Decode(make([]byte, n), stored)
	if err != nil {
		return err
	}
	return decodeRecordBinary(string(data), r)
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Sync flushes the file to disk (after writes with Options.NoSync).
func (db *DB) Sync() error { return db.bolt.Sync() }

// Meta returns the database's schema version, times and feed states.
func (db *DB) Meta() (Meta, error) {
	m := Meta{Path: db.path}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		m.Schema, _ = strconv.Atoi(string(b.Get(keySchema)))
		m.Built, _ = time.Parse(time.RFC3339Nano, string(b.Get(keyBuilt)))
		m.Updated, _ = time.Parse(time.RFC3339Nano, string(b.Get(keyUpdated)))
		return nil
	})
	if err != nil {
		return Meta{}, err
	}
	db.mu.RLock()
	for _, n := range db.names {
		m.Feeds = append(m.Feeds, cloneMeta(db.feeds[n]))
	}
	db.mu.RUnlock()
	return m, nil
}

func cloneMeta(m FeedMeta) FeedMeta {
	m.Ecosystems = slices.Clone(m.Ecosystems)
	if m.Fingerprint != nil {
		fp := make(map[string]string, len(m.Fingerprint))
		for k, v := range m.Fingerprint {
			fp[k] = v
		}
		m.Fingerprint = fp
	}
	return m
}

// ReadMeta opens the database at path read-only, returns its Meta and closes
// it. A missing file returns ErrNoDatabase, another schema a *SchemaError.
func ReadMeta(ctx context.Context, path string, timeout time.Duration) (Meta, error) {
	db, m, err := OpenMeta(ctx, path, timeout)
	if err != nil {
		return Meta{}, err
	}
	return m, db.Close()
}

// OpenMeta is ReadMeta that leaves the database open for the caller to
// read (and close); nil on error.
func OpenMeta(ctx context.Context, path string, timeout time.Duration) (*DB, Meta, error) {
	db, err := Open(ctx, path, Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, Meta{}, err
	}
	m, err := db.Meta()
	if err != nil {
		db.Close()
		return nil, Meta{}, err
	}
	return db, m, nil
}

// Compact writes a compacted copy of the database file src to dst (a new
// file): every page filled, no free pages. The updater compacts a freshly
// built file before renaming it into place.
func Compact(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := bolt.Open(src, 0o644, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compact %s: %w", src, err)
	}
	defer in.Close()
	out, err := bolt.Open(dst, 0o644, &bolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("compact into %s: %w", dst, err)
	}
	if err := bolt.Compact(out, in, 64<<20); err != nil {
		out.Close()
		return fmt.Errorf("compact %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	// bbolt grows its file in large steps; cut it to the pages in use.
	var size int64
	out.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	if err := out.Close(); err != nil {
		return err
	}
	return os.Truncate(dst, size)
}
