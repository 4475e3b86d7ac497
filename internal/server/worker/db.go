package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/match"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/server/store"
	vstore "github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// DBKeeper keeps a worker's vulnerability database current and matches
// against it. After every update that changed the database, it matches
// every stored inventory again (no pull, no layer read) and the store
// records what changed as events.
type DBKeeper struct {
	// DB says where the database is and how it is updated (the CLI's
	// feeds, mirror and offline options).
	DB pipeline.DB
	// Interval between updates; 0 never updates after the first.
	Interval       time.Duration
	IncludeOSOwned bool
	Store          *store.Store
	Logger         *slog.Logger
	// OnRematch, when set, is told what each re-match pass did.
	OnRematch func(RematchStats)

	mu sync.Mutex // one update or re-match at a time
}

// RematchStats sums up one re-match pass.
type RematchStats struct {
	Images, New, Resolved int
	DBUpdated             string
}

// Ensure builds a missing database (or updates a stale one).
func (k *DBKeeper) Ensure(ctx context.Context) error {
	return pipeline.EnsureDB(ctx, k.DB)
}

// Match matches an inventory against the database.
func (k *DBKeeper) Match(ctx context.Context, inv *inventory.Inventory, at time.Time) (*pipeline.Matched, error) {
	m := pipeline.LocalMatcher{Path: k.DB.Path, IncludeOSOwned: k.IncludeOSOwned, Logger: k.Logger}
	return m.Match(ctx, inv, at)
}

// Run updates the database every Interval and re-matches the stored
// inventories after each change, until ctx ends. It re-matches once at
// start, for inventories stored against an older database.
func (k *DBKeeper) Run(ctx context.Context) {
	if _, err := k.Rematch(ctx); err != nil && ctx.Err() == nil {
		k.Logger.Error("re-match failed", "error", err)
	}
	if k.Interval <= 0 {
		return
	}
	t := time.NewTicker(k.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.UpdateAndRematch(ctx); err != nil && ctx.Err() == nil {
			k.Logger.Error("database update or re-match failed", "error", err)
		}
	}
}

// UpdateAndRematch updates the database now and re-matches when it
// changed.
func (k *DBKeeper) UpdateAndRematch(ctx context.Context) error {
	k.mu.Lock()
	before, _ := vstore.ReadMeta(ctx, k.DB.Path, 30*time.Second)
	o := k.DB.Update
	if !k.DB.FeedsChosen && o.Feeds == nil {
		// Refresh the feeds the database holds rather than adding others.
		for _, f := range before.Feeds {
			if sel, err := updater.SelectFeeds(f.Name); err == nil {
				o.Feeds = append(o.Feeds, sel...)
			}
		}
	}
	_, err := pipeline.UpdateDB(ctx, k.DB.Path, o, true, k.Logger)
	k.mu.Unlock()
	if err != nil {
		return err
	}
	after, err := vstore.ReadMeta(ctx, k.DB.Path, 30*time.Second)
	if err != nil {
		return err
	}
	if after.Updated.Equal(before.Updated) {
		k.Logger.Debug("vulnerability database unchanged", "path", k.DB.Path)
		return nil
	}
	_, err = k.Rematch(ctx)
	return err
}

// Rematch matches every inventory stored against an older database
// again.
func (k *DBKeeper) Rematch(ctx context.Context) (RematchStats, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var st RematchStats
	db, err := vstore.Open(ctx, k.DB.Path, vstore.Options{ReadOnly: true, Timeout: 30 * time.Second})
	if err != nil {
		return st, err
	}
	defer db.Close()
	meta, err := db.Meta()
	if err != nil {
		return st, err
	}
	st.DBUpdated = store.Stamp(meta.Updated)
	start := time.Now()
	// The images share their bases and so most of their records: each
	// record is decoded once for the whole fleet, from this database.
	opts := match.Options{IncludeOSOwned: k.IncludeOSOwned, Reads: match.NewReads()}
	after := ""
	for {
		batch, err := k.Store.StaleImages(ctx, st.DBUpdated, after, 100)
		if err != nil {
			return st, err
		}
		if len(batch) == 0 {
			break
		}
		for _, im := range batch {
			after = im.Digest
			m, err := pipeline.MatchStore(ctx, db, k.DB.Path, &im.Inventory, time.Now(), opts, discard)
			if err != nil {
				return st, fmt.Errorf("re-matching %s: %w", im.Digest, err)
			}
			ch, err := k.Store.Rematch(ctx, im.Digest, m.Findings, m.Database)
			if err != nil {
				return st, err
			}
			st.Images++
			st.New += ch.New
			st.Resolved += ch.Resolved
		}
	}
	if st.Images > 0 {
		k.Logger.Info("stored inventories matched again", "images", st.Images, "new", st.New, "resolved", st.Resolved, "db_updated", st.DBUpdated, "duration", time.Since(start).Round(time.Millisecond))
	}
	if k.OnRematch != nil {
		k.OnRematch(st)
	}
	return st, nil
}

var discard = slog.New(slog.DiscardHandler)
