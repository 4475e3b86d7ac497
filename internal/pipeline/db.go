package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/match"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// DB locates the vulnerability database and says how it may be refreshed.
type DB struct {
	Path string
	// Update are the updater's options (mirror, offline, feeds, progress).
	Update updater.Options
	// FeedsChosen is set when the user named the feeds; otherwise an
	// update refreshes the feeds the database already holds.
	FeedsChosen bool
	// SkipUpdate forbids updating before a scan.
	SkipUpdate bool
	// MaxAge is the age above which a database is updated (or warned
	// about when it may not be).
	MaxAge time.Duration
	// MirrorIsLocal is set when the mirror is a local directory, which
	// may be read even offline.
	MirrorIsLocal bool
	Logger        *slog.Logger
}

// dbOpenTimeout is how long a scan waits for a database file another
// process holds for writing.
const dbOpenTimeout = 30 * time.Second

// DefaultDBPath is <user cache dir>/drydock/db/drydock.db.
func DefaultDBPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no database path given and no user cache directory: %w", err)
	}
	return filepath.Join(dir, "drydock", "db", "drydock.db"), nil
}

// EnsureDB makes the database usable for a scan: a missing one is built
// and a stale one updated, unless offline or SkipUpdate forbid it, in which
// case a missing database is an error and a stale one a warning.
func EnsureDB(ctx context.Context, d DB) error {
	db, err := OpenDB(ctx, d)
	if db != nil {
		db.Close()
	}
	return err
}

// OpenDB makes the database usable as EnsureDB does and returns it opened
// for reading, for a scan to match against (the caller closes it): the
// file is opened once, not once to check it and again to match.
func OpenDB(ctx context.Context, d DB) (*store.DB, error) {
	log := logger(d.Logger)
	db, m, err := store.OpenMeta(ctx, d.Path, dbOpenTimeout)
	missing := errors.Is(err, store.ErrNoDatabase) || errors.Is(err, store.ErrSchema)
	if err != nil && !missing {
		return nil, err
	}
	age := time.Duration(math.MaxInt64)
	if !missing {
		age = updater.AgeAt(m, time.Now())
	}
	stale := missing || age > d.MaxAge
	if !stale {
		return db, nil
	}
	mayUpdate := !d.SkipUpdate && (!d.Update.Offline || d.MirrorIsLocal)
	if !mayUpdate {
		if missing {
			how := "run `drydock db update` (or `drydock db import` for air-gapped use)"
			if errors.Is(err, store.ErrSchema) {
				// The file is there, written by another drydock: say so.
				return nil, fmt.Errorf("%w (or `drydock db import` for air-gapped use)", err)
			}
			return nil, fmt.Errorf("%w at %s: %s", store.ErrNoDatabase, d.Path, how)
		}
		log.Warn("vulnerability database is older than --db-max-age", "path", d.Path, "age", FormatAge(age), "max_age", d.MaxAge)
		return db, nil
	}
	if db != nil {
		// The update writes a new file in place of this one.
		db.Close()
	}
	o := d.Update
	if !missing && !d.FeedsChosen && o.Feeds == nil {
		// Refresh the feeds the database holds rather than adding others.
		o.Feeds = heldFeeds(m)
	}
	if missing {
		log.Info("building the vulnerability database", "path", d.Path)
	} else {
		log.Info("updating the vulnerability database", "path", d.Path, "age", FormatAge(age))
	}
	if _, err := UpdateDB(ctx, d.Path, o, !missing, log); err != nil {
		if missing {
			return nil, fmt.Errorf("%w\nno vulnerability database could be built at %s: for air-gapped use load one with `drydock db import PATH` (or --offline --db-mirror DIR), or scan the inventory only with --scanners none", err, d.Path)
		}
		log.Warn("vulnerability database update failed; scanning with the old one", "path", d.Path, "age", FormatAge(age), "error", err)
	}
	db, _, err = store.OpenMeta(ctx, d.Path, dbOpenTimeout)
	return db, err
}

// UpdateDB updates the database at path. A feed that fails is reported;
// the update fails when any feed failed (the others are still updated).
// With lenient set, a failed feed is a warning when a usable database
// remains.
func UpdateDB(ctx context.Context, path string, o updater.Options, lenient bool, log *slog.Logger) (updater.Result, error) {
	log = logger(log)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return updater.Result{}, fmt.Errorf("database directory: %w", err)
	}
	start := time.Now()
	res, err := updater.Update(ctx, path, o)
	if p, ok := o.Progress.(*updater.TTYProgress); ok {
		p.Finish()
	}
	if err != nil {
		return res, err
	}
	if ferr := res.Err(); ferr != nil {
		if lenient {
			log.Warn("some vulnerability feeds could not be updated; using what the database holds", "failed", strings.Join(res.Failed(), ","), "error", ferr)
			return res, nil
		}
		return res, fmt.Errorf("updating %s: %w", path, ferr)
	}
	log.Info("vulnerability database updated", "path", path, "feeds", len(res.Feeds), "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// heldFeeds returns the updatable feeds a database holds (nil: defaults).
func heldFeeds(m store.Meta) []updater.Feed {
	var feeds []updater.Feed
	for _, f := range m.Feeds {
		// Feeds of an import ("import/…") have no origin to update from.
		if sel, err := updater.SelectFeeds(f.Name); err == nil {
			feeds = append(feeds, sel...)
		}
	}
	return feeds
}

// LocalMatcher matches against a database file on this machine.
type LocalMatcher struct {
	Path string
	// DB, when not nil, is the database at Path, opened by the caller
	// (who closes it); otherwise each Match opens the file.
	DB *store.DB
	// IncludeOSOwned also matches language packages an OS package
	// installed against their own ecosystem's feed.
	IncludeOSOwned bool
	Logger         *slog.Logger
}

// Match implements Matcher.
func (l *LocalMatcher) Match(ctx context.Context, inv *inventory.Inventory, at time.Time) (*Matched, error) {
	db := l.DB
	if db == nil {
		var err error
		if db, err = store.Open(ctx, l.Path, store.Options{ReadOnly: true, Timeout: dbOpenTimeout}); err != nil {
			return nil, err
		}
		defer db.Close()
	}
	return MatchStore(ctx, db, l.Path, inv, at, match.Options{IncludeOSOwned: l.IncludeOSOwned}, l.Logger)
}

// MatchStore matches an inventory against an opened database; name is
// how errors refer to the database.
func MatchStore(ctx context.Context, db *store.DB, name string, inv *inventory.Inventory, at time.Time, o match.Options, log *slog.Logger) (*Matched, error) {
	log = logger(log)
	m, err := db.Meta()
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", name, err)
	}
	out := &Matched{Database: DatabaseFacts(m, at)}
	t := time.Now()
	fs, err := match.Match(ctx, db, inv, o)
	if err != nil {
		return nil, fmt.Errorf("matching against %s: %w", name, err)
	}
	log.Debug("matched", "findings", len(fs), "duration", time.Since(t))
	out.Findings = fs
	out.Database.Unchecked = Unchecked(inv, m, log)
	return out, nil
}

// Unchecked lists the inventory's packages the database holds no data
// for, and warns about them: a package without findings there is
// unchecked, not clean.
func Unchecked(inv *inventory.Inventory, m store.Meta, log *slog.Logger) []report.Unchecked {
	have := map[string]bool{}
	for _, f := range m.Feeds {
		for _, e := range f.Ecosystems {
			have[e] = true
		}
	}
	missing := match.Uncovered(inv, func(eco string) bool { return have[eco] })
	ecos := make([]string, 0, len(missing))
	for e := range missing {
		ecos = append(ecos, e)
	}
	slices.Sort(ecos)
	var out []report.Unchecked
	for _, e := range ecos {
		logger(log).Warn("no vulnerability data for these packages: they were not checked", "ecosystem", e, "packages", missing[e])
		out = append(out, report.Unchecked{Ecosystem: e, Packages: missing[e]})
	}
	return out
}

// DatabaseFacts describes a database for reports, its age taken at at.
func DatabaseFacts(m store.Meta, at time.Time) *report.Database {
	// Updated keeps its fraction of a second: it names the database's
	// version, and two updates can fall within one second (a server that
	// compares versions would take the second for the first).
	d := &report.Database{SchemaVersion: m.Schema, Built: RFC3339(m.Built), Updated: rfc3339Nano(m.Updated)}
	if age := updater.AgeAt(m, at); age >= 0 {
		d.AgeHours = int(AgeHours(age))
	}
	for _, f := range m.Feeds {
		d.Feeds = append(d.Feeds, report.DatabaseFeed{Name: f.Name, Updated: RFC3339(f.Updated), Records: f.Records + f.Enrichments})
	}
	return d
}

// rfc3339Nano formats t in UTC with its fraction of a second, "" for the
// zero time.
func rfc3339Nano(t time.Time) string { return utcFormat(t, time.RFC3339Nano) }

// RFC3339 formats t in UTC, "" for the zero time.
func RFC3339(t time.Time) string { return utcFormat(t, time.RFC3339) }

func utcFormat(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// FormatAge prints a database age for people.
func FormatAge(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "no feed"
	}
	if d < time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dh (%.1f days)", int64(d.Hours()), d.Hours()/24)
}

// AgeHours is an age in whole hours, -1 for "no feed".
func AgeHours(d time.Duration) int64 {
	if d == time.Duration(math.MaxInt64) {
		return -1
	}
	return int64(d.Hours())
}
