package updater

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb/store"
)

// Age returns how old the database's content is: the time since the
// least recently checked feed was last checked successfully. A database
// without feeds is infinitely old.
func Age(m store.Meta) time.Duration { return AgeAt(m, time.Now()) }

// AgeAt is Age at a given time.
func AgeAt(m store.Meta, now time.Time) time.Duration {
	if len(m.Feeds) == 0 {
		return time.Duration(math.MaxInt64)
	}
	oldest := now
	for _, f := range m.Feeds {
		if f.Checked.Before(oldest) {
			oldest = f.Checked
		}
	}
	return now.Sub(oldest)
}

// Freshness says whether a database needs an update before a scan.
type Freshness struct {
	// Missing: there is no usable database (no file, or another schema
	// version).
	Missing bool
	// MissingFeeds lists wanted feeds the database does not hold.
	MissingFeeds []string
	// StaleFeeds lists wanted feeds last checked longer than maxAge ago.
	StaleFeeds []string
	// Age is the age of the oldest wanted feed.
	Age time.Duration
}

// NeedsUpdate reports whether anything is missing or stale.
func (f Freshness) NeedsUpdate() bool {
	return f.Missing || len(f.MissingFeeds) > 0 || len(f.StaleFeeds) > 0
}

// CheckFreshness reads the database at path (read-only) and reports, for
// the wanted feeds (DefaultFeeds() when nil), which are missing or were
// last checked more than maxAge before now.
func CheckFreshness(ctx context.Context, path string, feeds []Feed, maxAge time.Duration, now time.Time) (Freshness, error) {
	if feeds == nil {
		feeds = DefaultFeeds()
	}
	m, err := store.ReadMeta(ctx, path, 0)
	if errors.Is(err, store.ErrNoDatabase) || errors.Is(err, store.ErrSchema) {
		return Freshness{Missing: true, Age: time.Duration(math.MaxInt64)}, nil
	}
	if err != nil {
		return Freshness{}, err
	}
	var fr Freshness
	for _, f := range feeds {
		fm, ok := m.Feed(f.Name)
		if !ok {
			fr.MissingFeeds = append(fr.MissingFeeds, f.Name)
			continue
		}
		age := now.Sub(fm.Checked)
		fr.Age = max(fr.Age, age)
		if age > maxAge {
			fr.StaleFeeds = append(fr.StaleFeeds, f.Name)
		}
	}
	if len(fr.MissingFeeds) > 0 {
		fr.Age = time.Duration(math.MaxInt64)
	}
	return fr, nil
}
