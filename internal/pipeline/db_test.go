package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// TestDatabaseFactsVersion: the updated time names the database's
// version, so two updates within one second must be told apart, each
// reading back as the instant it was.
func TestDatabaseFactsVersion(t *testing.T) {
	base := time.Date(2026, 12, 7, 7, 22, 59, 0, time.UTC)
	tests := []struct {
		name          string
		first, second time.Time
	}{
		{"within one second", base.Add(120 * time.Millisecond), base.Add(959778 * time.Microsecond)},
		{"whole second, then a fraction", base, base.Add(time.Millisecond)},
		{"across a second", base.Add(999 * time.Millisecond), base.Add(time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := pipeline.DatabaseFacts(store.Meta{Updated: tc.first}, tc.second).Updated
			b := pipeline.DatabaseFacts(store.Meta{Updated: tc.second}, tc.second).Updated
			if a == b {
				t.Fatalf("both updates read %s", a)
			}
			for s, want := range map[string]time.Time{a: tc.first, b: tc.second} {
				got, err := time.Parse(time.RFC3339Nano, s)
				if err != nil || !got.Equal(want) {
					t.Errorf("updated %q reads %v (%v), want %v", s, got, err, want)
				}
			}
		})
	}
}

// TestOpenDB: the database a scan checks is the one it gets open for
// matching; a missing one is an error offline, a stale one a warning.
func TestOpenDB(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	built := filepath.Join(dir, "vuln.db")
	db, err := store.Open(ctx, built, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.UpdateFeed(ctx, "osv/Go", func(w *store.FeedWriter) error {
		return w.Put(&vulndb.Record{ID: "GO-2024-0001", Feed: "osv/Go", Modified: time.Now(),
			Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "Go", Name: "example.com/m"}}}})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	// The same database as another drydock's schema would have written it.
	other := filepath.Join(dir, "other.db")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(other, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(strconv.Itoa(store.SchemaVersion-1)))
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	offline := updater.Options{Offline: true}
	tests := []struct {
		name    string
		d       pipeline.DB
		wantErr error
		warn    bool
	}{
		{"current", pipeline.DB{Path: built, Update: offline, MaxAge: 24 * time.Hour}, nil, false},
		{"stale, offline", pipeline.DB{Path: built, Update: offline, MaxAge: time.Nanosecond}, nil, true},
		{"stale, updates forbidden", pipeline.DB{Path: built, SkipUpdate: true, MaxAge: time.Nanosecond}, nil, true},
		{"missing, offline", pipeline.DB{Path: filepath.Join(dir, "none.db"), Update: offline, MaxAge: 24 * time.Hour}, store.ErrNoDatabase, false},
		// Another schema: the error names the versions, not a missing file.
		{"other schema, offline", pipeline.DB{Path: other, Update: offline, MaxAge: 24 * time.Hour}, store.ErrSchema, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tc.d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			db, err := pipeline.OpenDB(ctx, tc.d)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || db != nil {
					t.Fatalf("OpenDB = %v, %v; want no database and %v", db, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m, err := db.Meta()
			if err != nil || len(m.Feeds) != 1 || m.Feeds[0].Name != "osv/Go" {
				t.Fatalf("the opened database reads %+v, %v; want the one built", m.Feeds, err)
			}
			if got := strings.Contains(logs.String(), "older than --db-max-age"); got != tc.warn {
				t.Errorf("warned about age: %v, want %v (logs: %s)", got, tc.warn, logs.String())
			}
		})
	}
}
