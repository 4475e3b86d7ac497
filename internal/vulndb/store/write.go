package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// FeedWriter changes one feed's content inside one transaction; see
// DB.UpdateFeed.
type FeedWriter struct {
	ctx     context.Context
	db      *DB
	tx      *bolt.Tx
	name    string
	feed    *bolt.Bucket
	meta    FeedMeta
	ecos    map[string]struct{}
	changed bool
	buf     []byte
	keyBuf  []byte
}

// UpdateFeed runs fn in one write transaction on the named feed (created
// when missing). If fn returns an error, or ctx is cancelled, nothing fn did
// is kept: the feed's previous content, records and state stay as they
// were. Otherwise the changes and the feed's state (record counts, Checked,
// and Updated if the content changed) are committed together.
//
// Writes go to the database file itself through bbolt transactions: a
// commit is atomic and durable (bbolt writes new pages, then switches its
// meta page), and a crash or a failed feed leaves the previous content.
func (db *DB) UpdateFeed(ctx context.Context, name string, fn func(*FeedWriter) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if name == "" || strings.ContainsRune(name, 0) || len(name) > 256 {
		return fmt.Errorf("invalid feed name %q", name)
	}
	var meta FeedMeta
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		feeds := tx.Bucket(bucketFeeds)
		b := feeds.Bucket([]byte(name))
		w := &FeedWriter{ctx: ctx, db: db, tx: tx, name: name, ecos: map[string]struct{}{}}
		if b == nil {
			var err error
			if b, err = feeds.CreateBucket([]byte(name)); err != nil {
				return err
			}
			w.meta = FeedMeta{Name: name}
		} else if err := json.Unmarshal(b.Get(keyFeedMeta), &w.meta); err != nil {
			return fmt.Errorf("feed %s: state: %w", name, err)
		}
		w.feed = b
		for _, e := range w.meta.Ecosystems {
			w.ecos[e] = struct{}{}
		}
		if err := fn(w); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		now := db.now().UTC()
		w.meta.Checked = now
		if w.changed {
			w.meta.Updated = now
			if err := tx.Bucket(bucketMeta).Put(keyUpdated, []byte(now.Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		w.meta.Ecosystems = w.meta.Ecosystems[:0]
		for e := range w.ecos {
			w.meta.Ecosystems = append(w.meta.Ecosystems, e)
		}
		slices.Sort(w.meta.Ecosystems)
		data, err := json.Marshal(w.meta)
		if err != nil {
			return err
		}
		meta = w.meta
		return b.Put(keyFeedMeta, data)
	})
	if err != nil {
		return err
	}
	db.mu.RLock()
	feeds := make(map[string]FeedMeta, len(db.feeds)+1)
	for k, v := range db.feeds {
		feeds[k] = v
	}
	db.mu.RUnlock()
	feeds[name] = meta
	db.setFeeds(feeds)
	return nil
}

// DeleteFeed removes a feed and everything it holds.
func (db *DB) DeleteFeed(ctx context.Context, name string) error {
	if db.readOnly {
		return ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketFeeds).DeleteBucket([]byte(name))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return db.loadFeeds()
}

// Meta returns the feed's state as it stands in the transaction.
func (w *FeedWriter) Meta() FeedMeta { return cloneMeta(w.meta) }

// SetURL records where the feed's content came from.
func (w *FeedWriter) SetURL(url string) { w.meta.URL = url }

// SetScope sets the OSV ecosystem the feed covers (see FeedMeta.Scope); it
// applies to the records put after it.
func (w *FeedWriter) SetScope(ecosystem string) { w.meta.Scope = ecosystem }

// SetFingerprint stores a value for the updater (empty value deletes).
func (w *FeedWriter) SetFingerprint(key, value string) {
	if value == "" {
		delete(w.meta.Fingerprint, key)
		return
	}
	if w.meta.Fingerprint == nil {
		w.meta.Fingerprint = map[string]string{}
	}
	w.meta.Fingerprint[key] = value
}

// Clear removes all of the feed's records, index entries, modification
// map, severities and KEV entries.
func (w *FeedWriter) Clear() error {
	for _, name := range [][]byte{bucketRec, bucketIdx, bucketMod, bucketSev, bucketKEV} {
		if err := w.feed.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
	}
	w.meta.Records, w.meta.Withdrawn, w.meta.Enrichments = 0, 0, 0
	clear(w.ecos)
	w.changed = true
	return nil
}

// fillPercent fills pages to 90% when a transaction's pages are written
// (bbolt's default, 50%, suits keys appended over many transactions; a feed
// is mostly written whole in one).
const fillPercent = 0.9

func (w *FeedWriter) bucket(name []byte) (*bolt.Bucket, error) {
	b, err := w.feed.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	b.FillPercent = fillPercent
	return b, nil
}

// inScope reports whether an affected entry of the (normalised) ecosystem
// belongs to the feed's index.
func (w *FeedWriter) inScope(eco string) bool {
	s := w.meta.Scope
	if s == "" {
		return true
	}
	if strings.Contains(s, ":") {
		return eco == vulndb.NormalizeEcosystem(s)
	}
	return vulndb.EcosystemBase(eco) == vulndb.EcosystemBase(s)
}

// idxKey is the index key of a record's affected entry: normalised
// ecosystem, normalised name, record id, entry position.
func idxKey(b []byte, eco, name, id string, i int) []byte {
	b = append(b, eco...)
	b = append(b, 0)
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, id...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(i))
}

// Put stores a record, replacing the feed's record of the same id, and
// indexes its affected entries (those in the feed's scope).
func (w *FeedWriter) Put(r *vulndb.Record) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if r.ID == "" || len(r.ID) > 1024 || strings.ContainsRune(r.ID, 0) {
		return fmt.Errorf("feed %s: invalid record id %q", w.name, r.ID)
	}
	recs, err := w.bucket(bucketRec)
	if err != nil {
		return err
	}
	idx, err := w.bucket(bucketIdx)
	if err != nil {
		return err
	}
	if old := recs.Get([]byte(r.ID)); old != nil {
		if err := w.unindex(idx, old); err != nil {
			return err
		}
	} else {
		w.meta.Records++
	}
	if !r.Withdrawn.IsZero() {
		w.meta.Withdrawn++
	}
	rec := *r
	rec.Feed = w.name
	data, err := encodeRecord(&rec)
	if err != nil {
		return fmt.Errorf("feed %s: record %s: %w", w.name, r.ID, err)
	}
	if err := recs.Put([]byte(r.ID), data); err != nil {
		return err
	}
	for i := range rec.Affected {
		a := &rec.Affected[i]
		if a.Package.Name == "" {
			continue
		}
		eco, name := vulndb.Normalize(a.Package.Ecosystem, a.Package.Name)
		if !w.inScope(eco) || strings.ContainsRune(eco, 0) || strings.ContainsRune(name, 0) {
			continue
		}
		w.keyBuf = idxKey(w.keyBuf[:0], eco, name, rec.ID, i)
		w.buf = encodeCandidate(w.buf[:0], &rec, a)
		if err := idx.Put(slices.Clone(w.keyBuf), slices.Clone(w.buf)); err != nil {
			return err
		}
		w.ecos[eco] = struct{}{}
	}
	w.changed = true
	return nil
}

// unindex removes the index entries of a stored record and its count.
func (w *FeedWriter) unindex(idx *bolt.Bucket, stored []byte) error {
	var old vulndb.Record
	if err := decodeRecord(stored, &old); err != nil {
		return fmt.Errorf("feed %s: stored record: %w", w.name, err)
	}
	if !old.Withdrawn.IsZero() {
		w.meta.Withdrawn--
	}
	for i, a := range old.Affected {
		eco, name := vulndb.Normalize(a.Package.Ecosystem, a.Package.Name)
		w.keyBuf = idxKey(w.keyBuf[:0], eco, name, old.ID, i)
		if err := idx.Delete(w.keyBuf); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the feed's record with that id, if any.
func (w *FeedWriter) Delete(id string) error {
	recs := w.feed.Bucket(bucketRec)
	if recs == nil {
		return nil
	}
	old := recs.Get([]byte(id))
	if old == nil {
		return nil
	}
	idx, err := w.bucket(bucketIdx)
	if err != nil {
		return err
	}
	if err := w.unindex(idx, old); err != nil {
		return err
	}
	w.meta.Records--
	w.changed = true
	return recs.Delete([]byte(id))
}

// Has reports whether the feed holds a record with that id.
func (w *FeedWriter) Has(id string) bool {
	recs := w.feed.Bucket(bucketRec)
	return recs != nil && recs.Get([]byte(id)) != nil
}

// Modified returns the feed's id → modification string map, as stored by
// SetModified.
func (w *FeedWriter) Modified() (map[string]string, error) {
	out := map[string]string{}
	b := w.feed.Bucket(bucketMod)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	})
	return out, err
}

// SetModified records the modification string the source gave an id (an
// empty string deletes it).
func (w *FeedWriter) SetModified(id, modified string) error {
	b, err := w.bucket(bucketMod)
	if err != nil {
		return err
	}
	if modified == "" {
		return b.Delete([]byte(id))
	}
	return b.Put([]byte(id), []byte(modified))
}

// PutSeverities stores the ratings of a CVE (an empty list deletes them).
func (w *FeedWriter) PutSeverities(cve string, sevs []vulndb.Severity) error {
	b, err := w.bucket(bucketSev)
	if err != nil {
		return err
	}
	key := []byte(cve)
	exists := b.Get(key) != nil
	w.changed = true
	if len(sevs) == 0 {
		if exists {
			w.meta.Enrichments--
		}
		return b.Delete(key)
	}
	data, err := json.Marshal(sevs)
	if err != nil {
		return err
	}
	if !exists {
		w.meta.Enrichments++
	}
	return b.Put(key, data)
}

// PutKEV stores a KEV catalogue entry.
func (w *FeedWriter) PutKEV(k vulndb.KEV) error {
	if !vulndb.ValidCVE(k.CVE) {
		return fmt.Errorf("feed %s: invalid CVE id %q", w.name, k.CVE)
	}
	b, err := w.bucket(bucketKEV)
	if err != nil {
		return err
	}
	data, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if b.Get([]byte(k.CVE)) == nil {
		w.meta.Enrichments++
	}
	w.changed = true
	return b.Put([]byte(k.CVE), data)
}
