package updater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/alpinesecdb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/debiantracker"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/kev"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/nvd"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// single fetches the feed's one file conditionally and, when it changed,
// parses it and replaces the feed's content with what put writes.
func (u *feedUpdate) single(ctx context.Context, parse func(io.Reader) (func(*store.FeedWriter) (int, error), error)) error {
	res, err := u.f.get(ctx, u.feed.Name, u.loc, u.cond("file"))
	if err != nil {
		return err
	}
	defer res.Close()
	u.res.Fetched++
	if res.NotModified {
		return u.notModified(ctx)
	}
	file, err := os.Open(res.Path)
	if err != nil {
		return err
	}
	defer file.Close()
	put, err := parse(file)
	if err != nil {
		return err
	}
	err = u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.SetURL(u.loc)
		setCond(w, "file", res)
		n, err := put(w)
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

func putRecords(recs []vulndb.Record) func(*store.FeedWriter) (int, error) {
	return func(w *store.FeedWriter) (int, error) {
		for i := range recs {
			if err := w.Put(&recs[i]); err != nil {
				return i, err
			}
		}
		return len(recs), nil
	}
}

func (u *feedUpdate) debianTracker(ctx context.Context) error {
	return u.single(ctx, func(r io.Reader) (func(*store.FeedWriter) (int, error), error) {
		recs, err := debiantracker.Parse(r)
		if err != nil {
			return nil, err
		}
		return putRecords(recs), nil
	})
}

func (u *feedUpdate) secdb(ctx context.Context) error {
	return u.single(ctx, func(r io.Reader) (func(*store.FeedWriter) (int, error), error) {
		recs, err := alpinesecdb.Parse(r, alpinesecdb.Options{Ecosystem: u.feed.Ecosystem})
		if err != nil {
			return nil, err
		}
		return putRecords(recs), nil
	})
}

func (u *feedUpdate) kev(ctx context.Context) error {
	return u.single(ctx, func(r io.Reader) (func(*store.FeedWriter) (int, error), error) {
		c, err := kev.Parse(r)
		if err != nil {
			return nil, err
		}
		return func(w *store.FeedWriter) (int, error) {
			w.SetFingerprint("catalog-version", c.CatalogVersion)
			for _, e := range c.Entries {
				if err := w.PutKEV(e); err != nil {
					return 0, err
				}
			}
			return len(c.Entries), nil
		}, nil
	})
}

// branchRE matches the release branches of Alpine's secdb index.
var branchRE = regexp.MustCompile(`href="(v[0-9]+\.[0-9]+|edge)/"`)

// alpineBranches returns the secdb branches: Options.AlpineBranches, the
// sub-directories of a local mirror, or the links of the secdb's index
// page.
func (u *feedUpdate) alpineBranches(ctx context.Context) ([]string, error) {
	if len(u.opts.AlpineBranches) > 0 {
		return u.opts.AlpineBranches, nil
	}
	if !isURL(u.loc) {
		return listDir(u.loc)
	}
	page, err := u.f.readSmall(ctx, u.feed.Name, u.loc+"/", 4<<20)
	if err != nil {
		return nil, err
	}
	u.res.Fetched++
	var out []string
	for _, m := range branchRE.FindAllStringSubmatch(string(page), 1000) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no release branches in the index", u.loc)
	}
	return out, nil
}

// alpine updates the Alpine secdb: every branch's main.json and
// community.json (a missing one is skipped), fetched conditionally; when
// any changed, all are parsed, merged and replace the feed.
func (u *feedUpdate) alpine(ctx context.Context) error {
	branches, err := u.alpineBranches(ctx)
	if err != nil {
		return err
	}
	slices.Sort(branches)
	type file struct {
		key, loc string
		res      *fetched
	}
	var files []file
	defer func() {
		for _, f := range files {
			f.res.Close()
		}
	}()
	changed := false
	for _, b := range branches {
		for _, repo := range []string{"main", "community"} {
			key := b + "/" + repo
			loc := joinLoc(u.loc, key+".json")
			res, err := u.f.get(ctx, u.feed.Name, loc, u.cond(key))
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			u.res.Fetched++
			if !res.NotModified {
				changed = true
			}
			files = append(files, file{key, loc, res})
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no secdb files", u.loc)
	}
	if !changed {
		return u.notModified(ctx)
	}
	var sets [][]vulndb.Record
	for i := range files {
		f := &files[i]
		if f.res.NotModified { // changed elsewhere: read this one again in full
			res, err := u.f.get(ctx, u.feed.Name, f.loc, conditional{})
			if err != nil {
				return err
			}
			u.res.Fetched++
			f.res = res
		}
		fh, err := os.Open(f.res.Path)
		if err != nil {
			return err
		}
		recs, err := alpinesecdb.Parse(fh, alpinesecdb.Options{})
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.loc, err)
		}
		sets = append(sets, recs)
	}
	recs := alpinesecdb.Merge(sets...)
	err = u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.SetURL(u.loc)
		for _, f := range files {
			setCond(w, f.key, f.res)
		}
		n, err := putRecords(recs)(w)
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

// nvdPageSize is the API's maximum page size.
const nvdPageSize = 2000

// nvd reads CVSS ratings from the NVD CVE API 2.0: every CVE on the first
// run (or with Options.Full, or when the last run is more than 120 days
// ago, the API's longest window), else the CVEs modified since the last
// run. A local mirror directory of API pages (*.json) is read in full.
func (u *feedUpdate) nvd(ctx context.Context) error {
	if !isURL(u.loc) {
		return u.nvdDir(ctx)
	}
	now := u.opts.Now().UTC()
	var since time.Time
	if m, ok := u.prev(); ok && !u.opts.Full {
		since, _ = time.Parse(time.RFC3339, m.Fingerprint["last-run"])
	}
	full := since.IsZero() || now.Sub(since) > 120*24*time.Hour
	delay := u.opts.NVDDelay
	if delay <= 0 {
		delay = 6 * time.Second
		if u.opts.NVDAPIKey != "" {
			delay = time.Second
		}
	}
	if u.opts.NVDAPIKey != "" {
		u.f = u.f.withHeader("apiKey", u.opts.NVDAPIKey)
	}
	var entries []nvd.Entry
	for start, total := 0, 1; start < total; {
		q := url.Values{}
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("resultsPerPage", strconv.Itoa(nvdPageSize))
		if !full {
			q.Set("lastModStartDate", since.Format("2006-01-02T15:04:05.000Z"))
			q.Set("lastModEndDate", now.Format("2006-01-02T15:04:05.000Z"))
		}
		if start > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
		loc := u.loc + "?" + q.Encode()
		data, err := u.f.readSmall(ctx, u.feed.Name, loc, nvd.MaxPageSize)
		if err != nil {
			return err
		}
		u.res.Fetched++
		page, err := nvd.ParsePage(strings.NewReader(string(data)))
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		if page.StartIndex != start {
			return fmt.Errorf("%s: page starts at %d", loc, page.StartIndex)
		}
		entries = append(entries, page.Entries...)
		total = page.TotalResults
		if len(page.Entries) == 0 && start < total {
			return fmt.Errorf("%s: empty page before the end (%d of %d)", loc, start, total)
		}
		start += len(page.Entries)
	}
	return u.writeNVD(ctx, entries, full, now)
}

func (u *feedUpdate) writeNVD(ctx context.Context, entries []nvd.Entry, full bool, now time.Time) error {
	err := u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		if full {
			if err := w.Clear(); err != nil {
				return err
			}
		}
		w.SetURL(u.loc)
		w.SetFingerprint("last-run", now.Format(time.RFC3339))
		for _, e := range entries {
			if err := w.PutSeverities(e.CVE, e.Severities); err != nil {
				return err
			}
		}
		u.res.Changed = len(entries)
		u.opts.Progress.Imported(u.feed.Name, len(entries))
		return nil
	})
	if err != nil {
		return err
	}
	if full {
		u.done(ModeFull)
	} else {
		u.done(ModeIncremental)
	}
	return nil
}

// nvdDir reads every *.json API page of a mirror directory.
func (u *feedUpdate) nvdDir(ctx context.Context) error {
	dir := strings.TrimPrefix(u.loc, "file://")
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var entries []nvd.Entry
	for _, e := range names {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		loc := dir + "/" + e.Name()
		res, err := u.f.get(ctx, u.feed.Name, loc, conditional{})
		if err != nil {
			return err
		}
		u.res.Fetched++
		f, err := os.Open(res.Path)
		if err != nil {
			return err
		}
		page, err := nvd.ParsePage(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", loc, err)
		}
		entries = append(entries, page.Entries...)
	}
	return u.writeNVD(ctx, entries, true, u.opts.Now().UTC())
}
