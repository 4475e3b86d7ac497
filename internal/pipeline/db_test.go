package pipeline_test

import (
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/vulndb/store"
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
