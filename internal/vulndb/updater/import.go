package updater

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/osv"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// Import loads local data into the database at path, without any network
// access (for air-gapped use). src is one of:
//
//   - a mirror directory laid out like the OSV bucket (<Ecosystem>/all.zip
//     and modified_id.csv, listed by ecosystems.txt or found as
//     sub-directories), optionally with the other feeds at their
//     MirrorPath (debian-tracker/data.json, kev/…, alpine-secdb/<branch>/…,
//     nvd/*.json): each feed found is replaced;
//   - an OSV all.zip file: feed "osv/<Ecosystem>" when its directory is
//     named after an OSV ecosystem (as in the bucket layout), else
//     "import/<file name>";
//   - a directory of OSV JSON records, searched recursively: feed
//     "import/<directory name>".
//
// opts.Feeds, Mirror and Offline are set by Import; the other options
// apply.
func Import(ctx context.Context, path, src string, opts Options) (Result, error) {
	opts.Offline = true
	opts.Full = true
	opts.Mirror = ""
	opts.Feeds = nil
	opts.defaults()
	st, err := os.Stat(src)
	if err != nil {
		return Result{Path: path}, fmt.Errorf("import: %w", err)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return Result{Path: path}, err
	}
	if !st.IsDir() {
		if !strings.HasSuffix(src, ".zip") {
			return Result{Path: path}, fmt.Errorf("import %s: not a directory or a .zip file", src)
		}
		return importZip(ctx, path, abs, opts)
	}
	feeds, err := mirrorFeeds(abs)
	if err != nil {
		return Result{Path: path}, fmt.Errorf("import %s: %w", src, err)
	}
	if len(feeds) > 0 {
		opts.Mirror = abs
		opts.Feeds = feeds
		return withDB(ctx, path, opts, runFeeds)
	}
	return importJSONDir(ctx, path, abs, opts)
}

// mirrorFeeds returns the feeds present in a mirror directory.
func mirrorFeeds(dir string) ([]Feed, error) {
	var ecos []string
	if data, err := os.ReadFile(filepath.Join(dir, "ecosystems.txt")); err == nil {
		for _, e := range strings.Split(string(data), "\n") {
			if e = strings.TrimSpace(e); e != "" && fileExists(filepath.Join(dir, e, "all.zip")) {
				ecos = append(ecos, e)
			}
		}
	} else {
		subs, err := listDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range subs {
			if fileExists(filepath.Join(dir, e, "all.zip")) {
				ecos = append(ecos, e)
			}
		}
	}
	feeds := OSVFeeds(ecos...)
	for _, f := range AllFeeds() {
		if f.Kind == KindOSV {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, f.MirrorPath)); err == nil && (st.Mode().IsRegular() || st.IsDir()) {
			feeds = append(feeds, f)
		}
	}
	return feeds, nil
}

// importZip imports one all.zip file.
func importZip(ctx context.Context, path, zipPath string, opts Options) (Result, error) {
	dir := filepath.Dir(zipPath)
	eco := filepath.Base(dir)
	if filepath.Base(zipPath) == "all.zip" && vulndb.KnownEcosystem(eco) {
		opts.Mirror = filepath.Dir(dir)
		opts.Feeds = OSVFeeds(eco)
		return withDB(ctx, path, opts, runFeeds)
	}
	feed := Feed{Name: "import/" + strings.TrimSuffix(filepath.Base(zipPath), ".zip"), Kind: KindOSV}
	return withDB(ctx, path, opts, func(ctx context.Context, db *store.DB, opts Options) []FeedResult {
		u := &feedUpdate{db: db, feed: feed, opts: &opts, f: newFetcher(opts), loc: zipPath, start: opts.Now()}
		return []FeedResult{u.report(ctx, func(ctx context.Context) error {
			f, err := os.Open(zipPath)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			u.res.Fetched = 1
			return u.replace(ctx, func(put func(vulndb.Record) error) error {
				return osv.ReadZip(ctx, f, st.Size(), opts.Zip, put)
			})
		})}
	})
}

// importJSONDir imports a directory tree of OSV JSON records. Only regular
// files ending in .json are read (symbolic links are not followed), each
// at most osv.MaxRecordSize bytes.
func importJSONDir(ctx context.Context, path, dir string, opts Options) (Result, error) {
	feed := Feed{Name: "import/" + filepath.Base(dir), Kind: KindOSV}
	maxFiles := opts.Zip.MaxEntries
	if maxFiles <= 0 {
		maxFiles = 4_000_000
	}
	return withDB(ctx, path, opts, func(ctx context.Context, db *store.DB, opts Options) []FeedResult {
		u := &feedUpdate{db: db, feed: feed, opts: &opts, f: newFetcher(opts), loc: dir, start: opts.Now()}
		return []FeedResult{u.report(ctx, func(ctx context.Context) error {
			return u.replace(ctx, func(put func(vulndb.Record) error) error {
				seen := map[string]string{}
				return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					if err := ctx.Err(); err != nil {
						return err
					}
					if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".json") {
						return nil
					}
					if len(seen) >= maxFiles {
						return fmt.Errorf("more than %d records", maxFiles)
					}
					f, err := os.Open(p)
					if err != nil {
						return err
					}
					rec, err := osv.Decode(f, osv.MaxRecordSize)
					f.Close()
					if err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
					if other, dup := seen[rec.ID]; dup {
						return fmt.Errorf("%s: record %s already read from %s", p, rec.ID, other)
					}
					seen[rec.ID] = p
					u.res.Fetched++
					return put(rec)
				})
			})
		})}
	})
}

// replace replaces the feed's records with those each delivers, in one
// transaction.
func (u *feedUpdate) replace(ctx context.Context, each func(put func(vulndb.Record) error) error) error {
	err := u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.SetURL(u.loc)
		w.SetScope(u.feed.Ecosystem)
		n := 0
		err := each(func(r vulndb.Record) error {
			n++
			return w.Put(&r)
		})
		u.res.Added = n
		u.opts.Progress.Imported(u.feed.Name, n)
		return err
	})
	if err != nil {
		return err
	}
	u.done(ModeFull)
	return nil
}

// MirrorFeeds returns the feeds a local mirror directory holds (see
// Import): the feeds an update from that directory can refresh.
func MirrorFeeds(dir string) ([]Feed, error) { return mirrorFeeds(dir) }
