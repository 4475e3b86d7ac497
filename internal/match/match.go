// Package match finds the known vulnerabilities of an inventory's packages
// in the local vulnerability database and turns them into findings.
//
// Matching is done in two steps, as the store is built for: a prefilter
// (store.Lookup.Candidates, one index seek per package on one snapshot of
// the database) and a precise check of each candidate's affected entry with
// the ecosystem's own version order (version.For, version.Affected). Full
// records, CVSS enrichment and KEV entries are read only for the
// candidates that matched. Packages are looked up, and their matched
// records read, by one worker per CPU on the same snapshot.
//
// # What is matched where
//
//   - OS packages (deb, apk, rpm) by their SOURCE package and version in the
//     image's distribution release: "Debian:12" (os-release VERSION_ID, or the
//     code name), "Ubuntu:22.04", "Alpine:v3.19", "AlmaLinux:9", "Rocky
//     Linux:9", "Wolfi", "Chainguard". Debian's signed kernel sources
//     (linux-signed-*) are matched as "linux" with the binary's version, as
//     the Debian tracker tracks them. Other distributions have no feed the
//     matcher can use: their OS packages are skipped (a debug log says so).
//   - Language packages in their ecosystem (golang → Go, npm → npm, pypi →
//     PyPI, maven → Maven "group:artifact", cargo → crates.io, gem →
//     RubyGems, composer → Packagist, nuget → NuGet), name normalised by the
//     store. The Go standard library of a binary is the package "stdlib" at
//     the toolchain's version; a "stdlib" read from a go.mod directive is
//     only a minimum and is not matched.
//   - Every inventory package once: the inventory has already made one
//     package of the records of the same package in one project
//     (inventory.Consolidate) — an npm package installed in a project's
//     node_modules and listed in its lock file is one package with two
//     locations, and gets its findings once.
//   - A language package whose files an OS package installed
//     (Package.OwnedBy) is matched only through the OS feed, unless
//     Options.IncludeOSOwned: the distribution patches its own copy, so the
//     upstream version number would report fixed issues. When no feed
//     covers the distribution, it is matched in its own ecosystem rather
//     than not at all.
//
// # Verdicts
//
// A distribution's status decides first: not-affected never matches;
// unfixed and will-not-fix match (the ranges, when given, must include the
// version); end-of-life — the release no longer gets fixes for the package
// — matches as will-not-fix, since the installed package stays exposed and
// nothing will change that. Otherwise the OSV ranges (ECOSYSTEM and SEMVER,
// both in the ecosystem's order; GIT ranges are skipped) and the explicit
// versions list decide. Withdrawn records never match. Versions the
// ecosystem cannot order are skipped with a debug log.
//
// # One finding per package and vulnerability
//
// The records matched for one package are merged when their ids or aliases
// overlap (GO-…, GHSA-…, CVE-…, DEBIAN-CVE-… from two Debian feeds): one
// finding, whose id is the CVE (the lowest, if several), the other ids
// sorted in Aliases, and every matched "feed:id" in Records. A record
// without a CVE alias whose id embeds one ("UBUNTU-CVE-2024-1234") takes
// that CVE as its id.
//
// # Severity
//
// The first available rating in this order, with SeveritySource naming
// who gave it: for OS packages the distribution's own rating (Debian
// urgency, Ubuntu priority); then GitHub's (GHSA); then the CVE numbering
// authority's CVSS; then the ecosystem database's CVSS (RustSec, PyPA…);
// then NVD's. Within one source a qualitative word wins over a vector,
// then the newest CVSS version. "not yet assigned" is no rating. Without
// any rating the severity is UNKNOWN and SeveritySource is empty. CVSS
// lists every valid vector known, with its score.
package match

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// DB is the database the matcher reads; *store.DB satisfies it. A record
// is read from the feed that matched (store.Lookup.FeedRecord) instead of
// from every feed holding it.
type DB interface {
	// Lookups runs fn with up to n Lookups on one snapshot of the
	// database, one for each goroutine.
	Lookups(n int, fn func([]*store.Lookup) error) error
	// Severities returns the CVSS enrichment of a CVE.
	Severities(cve string) ([]vulndb.Severity, error)
	// KEV returns a CVE's Known Exploited Vulnerabilities entry.
	KEV(cve string) (vulndb.KEV, bool, error)
}

var _ DB = (*store.DB)(nil)

// Options adjust Match.
type Options struct {
	// IncludeOSOwned also matches language packages owned by an OS
	// package (Package.OwnedBy) in their language ecosystem.
	IncludeOSOwned bool
	// Logger receives debug logs about skipped packages and versions
	// (nil: none).
	Logger *slog.Logger
	// Reads, when not nil, is shared with other matches against the same
	// open database (see Reads); nil: this match reads for itself.
	Reads *Reads
}

// Match returns the findings of every package of inv, sorted with
// finding.Compare. The result depends only on the inventory and the
// database content.
func Match(ctx context.Context, db DB, inv *inventory.Inventory, opts Options) ([]finding.Finding, error) {
	if inv == nil || len(inv.Packages) == 0 {
		return nil, ctx.Err()
	}
	m := &matcher{
		ctx:     ctx,
		db:      db,
		opts:    opts,
		log:     opts.Logger,
		records: map[string]*vulndb.Record{},
		reads:   opts.Reads,
	}
	if m.reads == nil {
		m.reads = NewReads()
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	targets := m.targets(inv)
	hits, err := m.lookup(targets)
	if err != nil {
		return nil, err
	}
	var out []finding.Finding
	for i := range targets {
		if len(hits[i]) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs, err := m.findings(&targets[i], &inv.Packages[targets[i].pkg], hits[i])
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	// Targets follow the inventory's order and findings of one package are
	// built in id order, so a stable sort is deterministic even where
	// finding.Compare sees ties.
	slices.SortStableFunc(out, finding.Compare)
	return out, nil
}

// matcher holds one Match call's state: the records it uses by id (fixed
// before findings are built, then only read), and what was read from the
// database (its own, or shared).
type matcher struct {
	ctx     context.Context
	db      DB
	opts    Options
	log     *slog.Logger
	records map[string]*vulndb.Record
	reads   *Reads
}

// lookupBatch is how many targets a lookup worker takes at a time: enough
// to keep neighbouring packages, whose index entries share pages, on one
// worker.
const lookupBatch = 16

// lookup runs the prefilter and the version check for every target, and
// reads the full records of each target's hits as soon as they are found,
// on up to one worker per CPU, each with its own Lookup on one snapshot of
// the database: reading records while other packages are still being
// looked up keeps both cores busy through most of a match's cost. hits[i]
// are target i's matching candidates; m.records gets, for every record id
// they name, the copy a match uses (see better): only that copy is read
// of those several feeds hold, and what the shared reads hold already is
// not read again.
func (m *matcher) lookup(targets []target) ([][]hit, error) {
	hits := make([][]hit, len(targets))
	var (
		next atomic.Int64
		mu   sync.Mutex
		// chosen is the best copy of each record id among the hits so
		// far; records holds the copies read, by feed and id.
		chosen  = map[string]*store.Candidate{}
		records = map[recordKey]*vulndb.Record{}
	)
	// claim reports whether the caller is to read c's record: no better
	// copy of it was chosen yet, and the shared reads do not hold it.
	claim := func(c *store.Candidate) bool {
		mu.Lock()
		defer mu.Unlock()
		if cur, ok := chosen[c.ID]; ok && !better(c, cur) {
			return false
		}
		chosen[c.ID] = c
		k := recordKey{c.Feed, c.ID}
		if r, ok := m.reads.records.get(k); ok {
			records[k] = r
			return false
		}
		return true
	}
	read := func(l *store.Lookup, c *store.Candidate) error {
		r, err := l.FeedRecord(c.Feed, c.ID)
		if err != nil {
			return fmt.Errorf("record %s: %w", c.ID, err)
		}
		k := recordKey{c.Feed, c.ID}
		m.reads.records.put(k, &r)
		m.reads.decoded.Add(1)
		mu.Lock()
		records[k] = &r
		mu.Unlock()
		return nil
	}
	// one finds target i's hits and reads the records of their best
	// copies; best is scratch space, returned for the next target.
	one := func(l *store.Lookup, i int, best []*store.Candidate) ([]*store.Candidate, error) {
		t := &targets[i]
		k := candKey{t.eco, t.name}
		cands, ok := m.reads.cands.get(k)
		if !ok {
			var err error
			if cands, err = l.Candidates(nil, t.eco, t.name); err != nil {
				return best, fmt.Errorf("match %s %s: %w", t.eco, t.name, err)
			}
			m.reads.cands.put(k, cands)
		}
		best = best[:0]
		for j := range cands {
			c := &cands[j]
			if c.Withdrawn {
				continue
			}
			h, ok := m.check(t, c)
			if !ok {
				continue
			}
			hits[i] = append(hits[i], h)
			// The target's best copy of each record (feeds hold the same
			// ids: both Debian feeds, say).
			if j := slices.IndexFunc(best, func(b *store.Candidate) bool { return b.ID == c.ID }); j < 0 {
				best = append(best, c)
			} else if better(c, best[j]) {
				best[j] = c
			}
		}
		for _, c := range best {
			if !claim(c) {
				continue
			}
			if err := read(l, c); err != nil {
				return best, err
			}
		}
		return best, nil
	}
	work := func(ctx context.Context, l *store.Lookup) error {
		var best []*store.Candidate
		for {
			start := int(next.Add(lookupBatch)) - lookupBatch
			if start >= len(targets) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for i := start; i < min(start+lookupBatch, len(targets)); i++ {
				var err error
				if best, err = one(l, i, best); err != nil {
					return err
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(targets)+lookupBatch-1)/lookupBatch)
	err := m.db.Lookups(workers, func(ls []*store.Lookup) error {
		if len(ls) == 1 {
			return work(m.ctx, ls[0])
		}
		g, ctx := errgroup.WithContext(m.ctx)
		for _, l := range ls {
			g.Go(func() error { return work(ctx, l) })
		}
		return g.Wait()
	})
	if err != nil {
		return nil, err
	}
	// Every target's best copy was claimed, so the best of all is chosen,
	// and was read.
	for id, c := range chosen {
		m.records[id] = records[recordKey{c.Feed, id}]
	}
	return hits, nil
}

// better reports whether a is the copy of a record to use rather than b:
// the most recently modified one, the first feed by name on a tie, as
// DB.Record chooses among all copies.
func better(a, b *store.Candidate) bool {
	return a.Modified.After(b.Modified) || (a.Modified.Equal(b.Modified) && a.Feed < b.Feed)
}

// cmpFixed orders fixed versions with the ecosystem's comparer, falling
// back to byte order for versions it cannot read.
func cmpFixed(t *target) func(a, b string) int {
	return func(a, b string) int {
		if c, err := t.cmp.Compare(a, b); err == nil {
			return c
		}
		return cmp.Compare(a, b)
	}
}
