package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Candidates returns the affected entries that name the package, from every
// feed, in feed order then record id order: the matcher's prefilter. The
// ecosystem and name are normalised with vulndb.Normalize, as they were for
// indexing. Withdrawn records are included (Candidate.Withdrawn); the
// caller must not report them.
func (db *DB) Candidates(ecosystem, name string) ([]Candidate, error) {
	var out []Candidate
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = db.candidates(tx, out, ecosystem, name)
		return err
	})
	return out, err
}

// Lookup runs fn with a Lookup on one consistent snapshot of the database:
// cheaper than separate calls when looking up many packages.
func (db *DB) Lookup(fn func(*Lookup) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		return fn(&Lookup{db: db, tx: tx})
	})
}

// Lookups runs fn with up to n Lookups on one snapshot of the database, one
// for each goroutine that reads it (a read transaction serves one
// goroutine). A read-only handle gives n: it holds the file's shared lock,
// so no writer can commit and every transaction sees the same snapshot.
// A read-write handle gives one: a second read transaction begun while
// the first is open could wait forever on a writer that must remap the
// file.
func (db *DB) Lookups(n int, fn func([]*Lookup) error) error {
	if n <= 1 || !db.readOnly {
		return db.Lookup(func(l *Lookup) error { return fn([]*Lookup{l}) })
	}
	ls := make([]*Lookup, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.tx.Rollback()
		}
	}()
	for range n {
		tx, err := db.bolt.Begin(false)
		if err != nil {
			return err
		}
		ls = append(ls, &Lookup{db: db, tx: tx})
	}
	return fn(ls)
}

// Lookup reads one snapshot; it is valid only inside DB.Lookup's or
// DB.Lookups' function, and serves one goroutine at a time.
type Lookup struct {
	db *DB
	tx *bolt.Tx
}

// FeedRecord is DB.FeedRecord on the lookup's snapshot.
func (l *Lookup) FeedRecord(feed, id string) (vulndb.Record, error) {
	return feedRecord(l.tx, feed, id)
}

// Candidates is DB.Candidates on the lookup's snapshot; it appends to dst.
func (l *Lookup) Candidates(dst []Candidate, ecosystem, name string) ([]Candidate, error) {
	return l.db.candidates(l.tx, dst, ecosystem, name)
}

func (db *DB) candidates(tx *bolt.Tx, out []Candidate, ecosystem, name string) ([]Candidate, error) {
	eco, n := vulndb.Normalize(ecosystem, name)
	db.mu.RLock()
	feeds := db.byEco[eco]
	db.mu.RUnlock()
	if len(feeds) == 0 {
		return out, nil
	}
	prefix := make([]byte, 0, len(eco)+len(n)+2)
	prefix = append(append(append(append(prefix, eco...), 0), n...), 0)
	root := tx.Bucket(bucketFeeds)
	// Collect the matching values (they point into the file's memory map,
	// valid for the transaction), copy them into one string of the exact
	// size and decode every candidate from it.
	var (
		vals  [][]byte
		owner []string
		total int
	)
	for _, f := range feeds {
		fb := root.Bucket([]byte(f))
		if fb == nil {
			continue
		}
		idx := fb.Bucket(bucketIdx)
		if idx == nil {
			continue
		}
		c := idx.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			vals = append(vals, v)
			owner = append(owner, f)
			total += len(v)
		}
	}
	if len(vals) == 0 {
		return out, nil
	}
	var buf strings.Builder // String() does not copy
	buf.Grow(total)
	ends := make([]int, len(vals))
	for i, v := range vals {
		buf.Write(v)
		ends[i] = buf.Len()
	}
	all := buf.String()
	out = slices.Grow(out, len(ends))
	var a arena
	start := 0
	for i, end := range ends {
		out = append(out, Candidate{})
		if err := decodeCandidateString(owner[i], all[start:end], &a, &out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("vulnerability database %s: feed %s: index entry %d for %s %s: %w", db.path, owner[i], i, eco, n, err)
		}
		start = end
	}
	return out, nil
}

// Record returns the full record with that id. When several feeds hold the
// id, the most recently modified copy is returned (the first feed by name
// on a tie). An unknown id returns ErrNotFound.
func (db *DB) Record(id string) (vulndb.Record, error) {
	var (
		best  vulndb.Record
		found bool
	)
	db.mu.RLock()
	names := db.names
	db.mu.RUnlock()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketFeeds)
		for _, f := range names {
			data := get(root, f, bucketRec, id)
			if data == nil {
				continue
			}
			var r vulndb.Record
			if err := decodeRecord(data, &r); err != nil {
				return fmt.Errorf("vulnerability database %s: feed %s: record %s: %w", db.path, f, id, err)
			}
			if !found || r.Modified.After(best.Modified) {
				best, found = r, true
			}
		}
		return nil
	})
	if err != nil {
		return vulndb.Record{}, err
	}
	if !found {
		return vulndb.Record{}, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return best, nil
}

// FeedRecord returns the record with that id held by one feed.
func (db *DB) FeedRecord(feed, id string) (vulndb.Record, error) {
	var r vulndb.Record
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		r, err = feedRecord(tx, feed, id)
		return err
	})
	return r, err
}

func feedRecord(tx *bolt.Tx, feed, id string) (vulndb.Record, error) {
	var r vulndb.Record
	data := get(tx.Bucket(bucketFeeds), feed, bucketRec, id)
	if data == nil {
		return r, fmt.Errorf("record %s in feed %s: %w", id, feed, ErrNotFound)
	}
	err := decodeRecord(data, &r)
	return r, err
}

// FeedRecordIDs calls fn with the id of every record of a feed, in id order.
func (db *DB) FeedRecordIDs(feed string, fn func(id string) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFeeds).Bucket([]byte(feed))
		if fb == nil || fb.Bucket(bucketRec) == nil {
			return nil
		}
		return fb.Bucket(bucketRec).ForEach(func(k, _ []byte) error { return fn(string(k)) })
	})
}

// Modified returns a feed's id → modification string map.
func (db *DB) Modified(feed string) (map[string]string, error) {
	out := map[string]string{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFeeds).Bucket([]byte(feed))
		if fb == nil || fb.Bucket(bucketMod) == nil {
			return nil
		}
		return fb.Bucket(bucketMod).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

func get(root *bolt.Bucket, feed string, bucket []byte, key string) []byte {
	fb := root.Bucket([]byte(feed))
	if fb == nil {
		return nil
	}
	b := fb.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

// Severities returns the CVSS ratings the enrichment feeds (NVD, CVE
// records) hold for a CVE, in feed order.
func (db *DB) Severities(cve string) ([]vulndb.Severity, error) {
	var out []vulndb.Severity
	db.mu.RLock()
	names := db.enriching
	db.mu.RUnlock()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketFeeds)
		for _, f := range names {
			data := get(root, f, bucketSev, cve)
			if data == nil {
				continue
			}
			var s []vulndb.Severity
			if err := json.Unmarshal(data, &s); err != nil {
				return fmt.Errorf("vulnerability database %s: feed %s: severities of %s: %w", db.path, f, cve, err)
			}
			out = append(out, s...)
		}
		return nil
	})
	return out, err
}

// KEV returns the CVE's entry in the Known Exploited Vulnerabilities
// catalogue, and whether it has one.
func (db *DB) KEV(cve string) (vulndb.KEV, bool, error) {
	var (
		k     vulndb.KEV
		found bool
	)
	db.mu.RLock()
	names := db.enriching
	db.mu.RUnlock()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketFeeds)
		for _, f := range names {
			if data := get(root, f, bucketKEV, cve); data != nil {
				found = true
				return json.Unmarshal(data, &k)
			}
		}
		return nil
	})
	return k, found, err
}
