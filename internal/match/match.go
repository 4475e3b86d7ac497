// Package match finds the known vulnerabilities of an inventory's packages
// in the local vulnerability database and turns them into findings.
//
// Matching is done in two steps, as the store is built for: a prefilter
// (store.Lookup.Candidates, one index seek per package on one snapshot of
// the database) and a precise check of each candidate's affected entry with
// the ecosystem's own version order (version.For, version.Affected). Full
// records, CVSS enrichment and KEV entries are read only for the
// candidates that matched.
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

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// DB is the database the matcher reads; *store.DB satisfies it. When the
// database also has FeedRecord(feed, id) (as *store.DB has), a record is
// read from the feed that matched instead of from every feed holding it.
type DB interface {
	// Lookup runs fn on one snapshot of the database.
	Lookup(fn func(*store.Lookup) error) error
	// Record returns the full record with that id.
	Record(id string) (vulndb.Record, error)
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
	if err := m.prefetch(hits); err != nil {
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

// matcher holds one Match call's state: the records it uses by id, and
// what was read from the database (its own, or shared).
type matcher struct {
	ctx     context.Context
	db      DB
	opts    Options
	log     *slog.Logger
	records map[string]*vulndb.Record
	reads   *Reads
}

// lookup runs the prefilter and the version check for every target on one
// snapshot. hits[i] are target i's matching candidates.
func (m *matcher) lookup(targets []target) ([][]hit, error) {
	hits := make([][]hit, len(targets))
	err := m.db.Lookup(func(l *store.Lookup) error {
		for i := range targets {
			t := &targets[i]
			if i%64 == 0 {
				if err := m.ctx.Err(); err != nil {
					return err
				}
			}
			k := candKey{t.eco, t.name}
			cands, ok := m.reads.cands.get(k)
			if !ok {
				var err error
				cands, err = l.Candidates(nil, t.eco, t.name)
				if err != nil {
					return fmt.Errorf("match %s %s: %w", t.eco, t.name, err)
				}
				m.reads.cands.put(k, cands)
			}
			for j := range cands {
				c := &cands[j]
				if c.Withdrawn {
					continue
				}
				if h, ok := m.check(t, c); ok {
					hits[i] = append(hits[i], h)
				}
			}
		}
		return nil
	})
	return hits, err
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

// feedRecorder is implemented by *store.DB: reading a record from the one
// feed that matched it decodes one copy instead of every feed's.
type feedRecorder interface {
	FeedRecord(feed, id string) (vulndb.Record, error)
}

// prefetch reads the full records of every hit, in parallel: decoding
// them is most of a match's cost. Of the copies several feeds hold, the
// most recently modified one matched is read (the first feed by name on a
// tie), as DB.Record chooses among all copies.
func (m *matcher) prefetch(hits [][]hit) error {
	from := map[string]*store.Candidate{}
	for _, hs := range hits {
		for i := range hs {
			c := hs[i].cand
			if best, ok := from[c.ID]; !ok || c.Modified.After(best.Modified) ||
				(c.Modified.Equal(best.Modified) && c.Feed < best.Feed) {
				from[c.ID] = c
			}
		}
	}
	ids := make([]string, 0, len(from))
	for id := range from {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fr, byFeed := m.db.(feedRecorder)
	key := func(id string) recordKey {
		if byFeed {
			return recordKey{from[id].Feed, id}
		}
		return recordKey{"", id}
	}
	// What the shared reads hold already is not read again.
	var missing []string
	for _, id := range ids {
		if r, ok := m.reads.records.get(key(id)); ok {
			m.records[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	recs := make([]vulndb.Record, len(missing))
	g, ctx := errgroup.WithContext(m.ctx)
	workers := min(runtime.GOMAXPROCS(0), len(missing)/16+1)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(missing); i += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				var (
					r   vulndb.Record
					err error
				)
				if byFeed {
					r, err = fr.FeedRecord(from[missing[i]].Feed, missing[i])
				} else {
					r, err = m.db.Record(missing[i])
				}
				if err != nil {
					return fmt.Errorf("record %s: %w", missing[i], err)
				}
				recs[i] = r
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, id := range missing {
		m.records[id] = &recs[i]
		m.reads.records.put(key(id), &recs[i])
		m.reads.decoded.Add(1)
	}
	return nil
}
