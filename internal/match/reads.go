package match

import (
	"sync"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// MaxSharedRecords bounds the records a Reads keeps: past it, records are
// still read for each match, but no longer kept (a decoded record takes a
// few kilobytes; the bound keeps a fleet's re-match under ~50 MB).
const MaxSharedRecords = 10000

// maxSharedPackages bounds the packages whose candidates a Reads keeps.
const maxSharedPackages = 50000

// Reads holds what matching read from one open database: each package's
// candidate records, full records, CVE enrichment ratings and KEV
// entries, decoded. Every Match keeps its
// own unless Options.Reads gives one; several matches against the same
// open database — a server matching its stored inventories again after an
// update — can share one, so that a record every image hits is decoded
// once rather than once per image. It is safe for concurrent use. It must
// never outlive the database handle it was filled from: findings are
// always built from the database being matched, never from another
// version of it.
type Reads struct {
	mu      sync.Mutex
	cands   map[candKey][]store.Candidate
	records map[recordKey]*vulndb.Record
	sevs    map[string][]vulndb.Severity
	kev     map[string]*vulndb.KEV
	// decoded counts the records read from the database (the tests look
	// at it).
	decoded int
}

// recordKey names a record: the feed it was read from ("" when read
// through DB.Record, which chooses among the feeds) and its id.
type recordKey struct{ feed, id string }

// candKey names a package in an ecosystem.
type candKey struct{ eco, name string }

// NewReads returns an empty Reads.
func NewReads() *Reads {
	return &Reads{
		cands:   map[candKey][]store.Candidate{},
		records: map[recordKey]*vulndb.Record{},
		sevs:    map[string][]vulndb.Severity{},
		kev:     map[string]*vulndb.KEV{},
	}
}

func (r *Reads) candidates(k candKey) ([]store.Candidate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cands[k]
	return c, ok
}

func (r *Reads) putCandidates(k candKey, c []store.Candidate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cands) < maxSharedPackages {
		r.cands[k] = c
	}
}

func (r *Reads) record(k recordKey) (*vulndb.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[k]
	return rec, ok
}

func (r *Reads) putRecord(k recordKey, rec *vulndb.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decoded++
	if len(r.records) < MaxSharedRecords {
		r.records[k] = rec
	}
}

func (r *Reads) severities(cve string) ([]vulndb.Severity, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sevs[cve]
	return s, ok
}

func (r *Reads) putSeverities(cve string, s []vulndb.Severity) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sevs) < MaxSharedRecords {
		r.sevs[cve] = s
	}
}

func (r *Reads) kevEntry(cve string) (*vulndb.KEV, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.kev[cve]
	return k, ok
}

func (r *Reads) putKEV(cve string, k *vulndb.KEV) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.kev) < MaxSharedRecords {
		r.kev[cve] = k
	}
}

// Decoded is how many records were read from the database through r.
func (r *Reads) Decoded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decoded
}
