package updater

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb/feeds/osv"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// Options adjusts Update and Import.
type Options struct {
	// Feeds to update; DefaultFeeds() when nil.
	Feeds []Feed
	// Mirror replaces every feed's origin: an http(s) URL or a local
	// directory laid out as the OSV bucket (<Ecosystem>/all.zip, …) with
	// the other feeds at their MirrorPath (debian-tracker/data.json,
	// kev/known_exploited_vulnerabilities.json, alpine-secdb/<branch>/…,
	// nvd/*.json).
	Mirror string
	// Offline forbids any network request: only local files (a mirror
	// directory, Import) are read; feeds needing the network fail with
	// ErrOffline.
	Offline bool
	// Full ignores incremental and conditional state and rebuilds each
	// feed from its full source.
	Full bool
	// HTTPClient makes the requests (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Progress receives progress (none when nil).
	Progress Progress
	// Logger receives diagnostics (slog.Default() when nil).
	Logger *slog.Logger
	// Concurrency bounds the feeds fetched at once (default 4) and the
	// OSV records fetched at once in an incremental update (default 8).
	Concurrency       int
	RecordConcurrency int
	// FullThreshold: an OSV incremental update whose change set (new,
	// changed and deleted ids) exceeds this fraction of the index, or 500
	// ids, downloads all.zip instead. Default 0.1.
	FullThreshold float64
	// MaxDownload caps one download (default 4 GiB); Zip caps all.zip
	// content (see osv.Limits).
	MaxDownload int64
	Zip         osv.Limits
	// Retries of a failed request (server error, dropped connection;
	// default 2, negative for none) and the base wait between them
	// (default 1s, growing with each attempt).
	Retries   int
	RetryWait time.Duration
	// TempDir holds downloads (os.TempDir() when empty).
	TempDir string
	// AlpineBranches lists the secdb branches ("v3.20", "edge"); when
	// empty they are read from the secdb's index.
	AlpineBranches []string
	// NVDAPIKey is sent as the apiKey header; NVDDelay is the pause
	// between API requests (default 6s without a key, 1s with one, as NVD
	// asks).
	NVDAPIKey string
	NVDDelay  time.Duration
	// LockTimeout bounds the wait for another process using the database
	// (default 5 minutes).
	LockTimeout time.Duration
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Feeds == nil {
		o.Feeds = DefaultFeeds()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.RecordConcurrency <= 0 {
		o.RecordConcurrency = 8
	}
	if o.FullThreshold <= 0 {
		o.FullThreshold = 0.1
	}
	if o.MaxDownload <= 0 {
		o.MaxDownload = 4 << 30
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 2
	}
	if o.RetryWait <= 0 {
		o.RetryWait = time.Second
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Status is the outcome of one feed's update.
type Status string

// Statuses.
const (
	StatusUpdated   Status = "updated"   // content written
	StatusUnchanged Status = "unchanged" // the source said nothing changed
	StatusFailed    Status = "failed"    // the previous content is kept
)

// Mode says how a feed was updated.
type Mode string

// Modes.
const (
	ModeFull        Mode = "full"
	ModeIncremental Mode = "incremental"
	ModeNotModified Mode = "not-modified"
)

// FeedResult reports one feed.
type FeedResult struct {
	Feed   string
	URL    string
	Status Status
	Mode   Mode
	// Records is the feed's record (or enrichment entry) count after the
	// update.
	Records int
	// Added, Changed and Deleted count the ids an update touched.
	Added, Changed, Deleted int
	// Fetched counts the files fetched (index, archive, records).
	Fetched  int
	Duration time.Duration
	// Err names the feed and the URL or file that failed.
	Err error
}

// Result reports an update.
type Result struct {
	Path  string
	Feeds []FeedResult
	// Rebuilt is set when the database file was (re)created.
	Rebuilt bool
}

// Err joins the feeds' errors (nil when every feed succeeded).
func (r Result) Err() error {
	var errs []error
	for _, f := range r.Feeds {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	return errors.Join(errs...)
}

// Failed returns the names of the feeds that failed.
func (r Result) Failed() []string {
	var out []string
	for _, f := range r.Feeds {
		if f.Status == StatusFailed {
			out = append(out, f.Feed)
		}
	}
	return out
}

// Update brings the database at path up to date with the feeds of opts.
// Each feed is updated in its own transaction: a feed that fails (download
// error, corrupt archive, invalid data) keeps its previous content and is
// reported in the Result with an error naming it and its URL; the other
// feeds are still updated.
//
// A missing file, or one of another schema version, is built afresh into a
// temporary file next to path and renamed into place when at least one
// feed succeeded, so readers never see a half-built database. The returned
// error is set only when no feed could be attempted or, on a fresh build,
// when every feed failed.
func Update(ctx context.Context, path string, opts Options) (Result, error) {
	opts.defaults()
	return withDB(ctx, path, opts, runFeeds)
}

// withDB opens the database at path for writing and runs run on it; a
// missing file, or one of another schema version or unreadable, is built
// afresh by run into a temporary file that replaces path when at least one
// feed succeeded. It first removes the temporary files of builds that were
// killed (removeStale).
func withDB(ctx context.Context, path string, opts Options, run func(context.Context, *store.DB, Options) []FeedResult) (Result, error) {
	res := Result{Path: path}
	removeStale(path, opts.Logger)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return rebuild(ctx, path, opts, run)
	}
	db, err := store.Open(ctx, path, store.Options{Timeout: opts.LockTimeout, Now: opts.Now})
	var schemaErr *store.SchemaError
	switch {
	case err == nil:
		defer db.Close()
		res.Feeds = run(ctx, db, opts)
		return res, nil
	case errors.As(err, &schemaErr):
		opts.Logger.Info("rebuilding vulnerability database", "path", path, "schema", schemaErr.Have, "want", schemaErr.Want)
	case errors.Is(err, store.ErrLocked), ctx.Err() != nil:
		return res, err
	default:
		opts.Logger.Warn("rebuilding unreadable vulnerability database", "path", path, "error", err)
	}
	return rebuild(ctx, path, opts, run)
}

// rebuild builds a new database file and renames it over path.
func rebuild(ctx context.Context, path string, opts Options, run func(context.Context, *store.DB, Options) []FeedResult) (Result, error) {
	res := Result{Path: path, Rebuilt: true}
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return res, err
	}
	tmp.Close()
	os.Remove(tmp.Name())
	defer os.Remove(tmp.Name())
	db, err := store.Open(ctx, tmp.Name(), store.Options{NoSync: true, Now: opts.Now})
	if err != nil {
		return res, err
	}
	opts.Full = true
	res.Feeds = run(ctx, db, opts)
	ok := false
	for _, f := range res.Feeds {
		if f.Err == nil {
			ok = true
		}
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return res, err
	}
	if err := db.Close(); err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("building vulnerability database %s: every feed failed: %w", path, res.Err())
	}
	compact := tmp.Name() + ".compact"
	defer os.Remove(compact)
	if err := store.Compact(ctx, tmp.Name(), compact); err != nil {
		return res, err
	}
	if err := os.Rename(compact, path); err != nil {
		return res, err
	}
	return res, nil
}

// runFeeds updates the feeds, a few at a time; results are in feed order.
func runFeeds(ctx context.Context, db *store.DB, opts Options) []FeedResult {
	f := newFetcher(opts)
	results := make([]FeedResult, len(opts.Feeds))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, feed := range opts.Feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = FeedResult{Feed: feed.Name, Status: StatusFailed, Err: fmt.Errorf("feed %s: %w", feed.Name, ctx.Err())}
				return
			}
			defer func() { <-sem }()
			u := &feedUpdate{db: db, feed: feed, opts: &opts, f: f, loc: feed.location(opts.Mirror), start: opts.Now()}
			results[i] = u.report(ctx, u.run)
		}()
	}
	wg.Wait()
	return results
}

// report runs one feed's update and makes its result.
func (u *feedUpdate) report(ctx context.Context, run func(context.Context) error) FeedResult {
	u.res = FeedResult{Feed: u.feed.Name, URL: u.loc}
	u.opts.Progress.FeedStarted(u.feed.Name)
	if err := run(ctx); err != nil {
		u.res.Status = StatusFailed
		u.res.Err = fmt.Errorf("feed %s (%s): %w", u.feed.Name, u.loc, err)
		u.opts.Logger.Warn("feed update failed", "feed", u.feed.Name, "url", u.loc, "error", err)
	} else {
		u.opts.Logger.Info("feed updated", "feed", u.feed.Name, "status", u.res.Status, "mode", u.res.Mode, "records", u.res.Records,
			"added", u.res.Added, "changed", u.res.Changed, "deleted", u.res.Deleted, "fetched", u.res.Fetched)
	}
	u.res.Duration = u.opts.Now().Sub(u.start)
	u.opts.Progress.FeedDone(u.feed.Name, u.res.Err)
	return u.res
}

func newFetcher(opts Options) *fetcher {
	return &fetcher{
		client:    opts.HTTPClient,
		offline:   opts.Offline,
		tempDir:   opts.TempDir,
		maxSize:   opts.MaxDownload,
		retries:   opts.Retries,
		retryWait: opts.RetryWait,
		progress:  opts.Progress,
		userAgent: "drydock-vulndb",
	}
}

// feedUpdate is one feed's update in progress.
type feedUpdate struct {
	db    *store.DB
	feed  Feed
	opts  *Options
	f     *fetcher
	loc   string
	start time.Time
	res   FeedResult
}

func (u *feedUpdate) run(ctx context.Context) error {
	switch u.feed.Kind {
	case KindOSV:
		return u.osv(ctx)
	case KindDebianTracker:
		return u.debianTracker(ctx)
	case KindAlpineSecDB:
		return u.alpine(ctx)
	case KindSecDB:
		return u.secdb(ctx)
	case KindKEV:
		return u.kev(ctx)
	case KindNVD:
		return u.nvd(ctx)
	}
	return fmt.Errorf("unknown feed kind %q", u.feed.Kind)
}

// prev returns the feed's state before the update.
func (u *feedUpdate) prev() (store.FeedMeta, bool) {
	m, err := u.db.Meta()
	if err != nil {
		return store.FeedMeta{}, false
	}
	return m.Feed(u.feed.Name)
}

// cond returns the stored validators of a resource, unless the update is
// full.
func (u *feedUpdate) cond(key string) conditional {
	if u.opts.Full {
		return conditional{}
	}
	m, ok := u.prev()
	if !ok {
		return conditional{}
	}
	return conditional{ETag: m.Fingerprint[key+".etag"], LastModified: m.Fingerprint[key+".last-modified"]}
}

func setCond(w *store.FeedWriter, key string, r *fetched) {
	w.SetFingerprint(key+".etag", r.ETag)
	w.SetFingerprint(key+".last-modified", r.LastModified)
}

// notModified records a successful check that found nothing new.
func (u *feedUpdate) notModified(ctx context.Context) error {
	u.res.Status, u.res.Mode = StatusUnchanged, ModeNotModified
	err := u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		u.res.Records = w.Meta().Records + w.Meta().Enrichments
		return nil
	})
	return err
}

// done fills the result from the feed's state after a write.
func (u *feedUpdate) done(mode Mode) {
	u.res.Status, u.res.Mode = StatusUpdated, mode
	if m, ok := u.prev(); ok {
		u.res.Records = m.Records + m.Enrichments
	}
}
