package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The queries that look at every image read SQLite's indexes, not the
// images' rows, whose stored inventory and findings come first: a trend
// update over 1,000 images read them all, twice a second.
func TestSummaryQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"trend", fleetCountsSQL, []any{"2026-01-01"}, "USING COVERING INDEX images_trend"},
		{"stale images", staleImagesSQL, []any{"2026-01-01", "", 100}, "USING INDEX images_stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.SQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notUsed int
				var detail string
				if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(plan, "; "); !strings.Contains(got, tc.want) {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
		})
	}
}
