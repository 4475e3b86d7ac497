package updater

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/osv"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// osv updates an OSV ecosystem folder.
//
// Incremental: modified_id.csv is fetched conditionally; its
// <modified>,<id> lines are compared, as strings, with the map stored by the
// last run; only new or changed ids are fetched (<ID>.json) and ids gone
// from the index are deleted, all in one transaction. A first run, a large
// change set, Options.Full or a feed without index state reads all.zip.
func (u *feedUpdate) osv(ctx context.Context) error {
	csvLoc := joinLoc(u.loc, "modified_id.csv")
	prev, hasPrev := u.prev()
	var prevMods map[string]string
	if hasPrev && !u.opts.Full && prev.Scope == u.feed.Ecosystem {
		var err error
		if prevMods, err = u.db.Modified(u.feed.Name); err != nil {
			return err
		}
	}
	if len(prevMods) == 0 {
		return u.osvFull(ctx, nil)
	}

	csv, err := u.f.get(ctx, u.feed.Name, csvLoc, u.cond("csv"))
	if err != nil {
		return err
	}
	defer csv.Close()
	u.res.Fetched++
	if csv.NotModified {
		return u.notModified(ctx)
	}
	index, err := readIndex(csv.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", csvLoc, err)
	}
	newMods := make(map[string]string, len(index))
	var changed []string
	for _, m := range index {
		newMods[m.ID] = m.Modified
		if prevMods[m.ID] != m.Modified {
			changed = append(changed, m.ID)
		}
	}
	var deleted []string
	for id := range prevMods {
		if _, ok := newMods[id]; !ok {
			deleted = append(deleted, id)
		}
	}
	if n := len(changed) + len(deleted); n > 500 || float64(n) > u.opts.FullThreshold*float64(max(len(index), len(prevMods))) {
		u.opts.Logger.Info("large change set, reading the full archive", "feed", u.feed.Name, "changes", n)
		return u.osvFull(ctx, csv)
	}
	if len(changed) == 0 && len(deleted) == 0 {
		err := u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
			setCond(w, "csv", csv)
			u.res.Records = w.Meta().Records
			return nil
		})
		u.res.Status, u.res.Mode = StatusUnchanged, ModeIncremental
		return err
	}

	recs, err := u.fetchRecords(ctx, changed)
	if err != nil {
		return err
	}
	err = u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		for i := range recs {
			if w.Has(recs[i].ID) {
				u.res.Changed++
			} else {
				u.res.Added++
			}
			if err := w.Put(&recs[i]); err != nil {
				return err
			}
			if err := w.SetModified(recs[i].ID, newMods[recs[i].ID]); err != nil {
				return err
			}
		}
		for _, id := range deleted {
			if err := w.Delete(id); err != nil {
				return err
			}
			if err := w.SetModified(id, ""); err != nil {
				return err
			}
			u.res.Deleted++
		}
		setCond(w, "csv", csv)
		u.opts.Progress.Imported(u.feed.Name, len(recs)+len(deleted))
		return nil
	})
	if err != nil {
		return err
	}
	u.done(ModeIncremental)
	return nil
}

// readIndex parses a downloaded modified_id.csv.
func readIndex(path string) ([]osv.ModifiedID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return osv.ParseModifiedIDs(f, 0)
}

// fetchRecords fetches <ID>.json for each id, a few at a time, and checks
// each holds the record it is named after.
func (u *feedUpdate) fetchRecords(ctx context.Context, ids []string) ([]vulndb.Record, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make([]vulndb.Record, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, u.opts.RecordConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			loc := joinLoc(u.loc, id+".json")
			data, err := u.f.readSmall(ctx, u.feed.Name, loc, osv.MaxRecordSize)
			if err == nil {
				recs[i], err = osv.Parse(data)
				if err == nil && recs[i].ID != id {
					err = fmt.Errorf("holds record %s", recs[i].ID)
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", loc, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	u.res.Fetched += len(ids)
	// Report the first real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return recs, nil
}

// osvFull replaces the feed with all.zip's records. csv is the index
// already fetched, if any.
func (u *feedUpdate) osvFull(ctx context.Context, csv *fetched) error {
	if csv == nil {
		var err error
		csv, err = u.f.get(ctx, u.feed.Name, joinLoc(u.loc, "modified_id.csv"), conditional{})
		switch {
		case errors.Is(err, errNotFound):
			csv = nil // no index: no incremental updates for this feed
		case err != nil:
			return err
		default:
			defer csv.Close()
			u.res.Fetched++
		}
	}
	mods := map[string]string{}
	if csv != nil {
		index, err := readIndex(csv.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", joinLoc(u.loc, "modified_id.csv"), err)
		}
		for _, m := range index {
			mods[m.ID] = m.Modified
		}
	}
	zipLoc := joinLoc(u.loc, "all.zip")
	zf, err := u.f.get(ctx, u.feed.Name, zipLoc, conditional{})
	if err != nil {
		return err
	}
	defer zf.Close()
	u.res.Fetched++
	file, err := os.Open(zf.Path)
	if err != nil {
		return err
	}
	defer file.Close()
	err = u.db.UpdateFeed(ctx, u.feed.Name, func(w *store.FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.SetURL(u.loc)
		w.SetScope(u.feed.Ecosystem)
		w.SetFingerprint("csv.etag", "")
		w.SetFingerprint("csv.last-modified", "")
		if csv != nil {
			setCond(w, "csv", csv)
		}
		setCond(w, "zip", zf)
		n := 0
		err := osv.ReadZip(ctx, file, zf.Size, u.opts.Zip, func(r vulndb.Record) error {
			if err := w.Put(&r); err != nil {
				return err
			}
			if m, ok := mods[r.ID]; ok {
				if err := w.SetModified(r.ID, m); err != nil {
					return err
				}
			}
			n++
			if n%1000 == 0 {
				u.opts.Progress.Imported(u.feed.Name, 1000)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", zipLoc, err)
		}
		u.opts.Progress.Imported(u.feed.Name, n%1000)
		u.res.Added = n
		return nil
	})
	if err != nil {
		return err
	}
	u.done(ModeFull)
	return nil
}
