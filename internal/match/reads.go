package match

import (
	"sync"
	"sync/atomic"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// maxSharedRecords and maxSharedPackages bound what a Reads keeps: past
// them, what is read is still read for each match, but no longer kept.
// debian12-app's 193 packages and 205 records take 1.2 MB once decoded, so
// a re-match holds at most some 60 MB of them.
const (
	maxSharedRecords  = 10000
	maxSharedPackages = 10000
)

// Reads holds what matching read from one open database: each package's
// candidate records, full records, CVE enrichment ratings and KEV
// entries, decoded. Every Match keeps its own unless Options.Reads gives
// one; several matches against the same open database — a server
// matching its stored inventories again after an update — can share one,
// so that a record every image hits is decoded once rather than once per
// image. It is safe for concurrent use. It must never outlive the
// database handle it was filled from: findings are always built from the
// database being matched, never from another version of it.
type Reads struct {
	cands   shared[candKey, []store.Candidate]
	records shared[recordKey, *vulndb.Record]
	sevs    shared[string, []vulndb.Severity]
	kev     shared[string, *vulndb.KEV]
	// decoded counts the records read from the database.
	decoded atomic.Int64
}

// candKey names a package in an ecosystem.
type candKey struct{ eco, name string }

// recordKey names a record: the feed it was read from and its id.
type recordKey struct{ feed, id string }

// NewReads returns an empty Reads.
func NewReads() *Reads {
	return &Reads{
		cands:   shared[candKey, []store.Candidate]{m: map[candKey][]store.Candidate{}, max: maxSharedPackages},
		records: shared[recordKey, *vulndb.Record]{m: map[recordKey]*vulndb.Record{}, max: maxSharedRecords},
		sevs:    shared[string, []vulndb.Severity]{m: map[string][]vulndb.Severity{}, max: maxSharedRecords},
		kev:     shared[string, *vulndb.KEV]{m: map[string]*vulndb.KEV{}, max: maxSharedRecords},
	}
}

// Decoded is how many records were read from the database through r.
func (r *Reads) Decoded() int { return int(r.decoded.Load()) }

// shared is a map safe for concurrent use that keeps at most max entries.
type shared[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

func (s *shared[K, V]) get(k K) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

// put keeps v unless the map is full.
func (s *shared[K, V]) put(k K, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) < s.max {
		s.m[k] = v
	}
}
