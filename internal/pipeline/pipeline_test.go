package pipeline_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
)

// TestRunAndComplete checks that a scan done in one call and a scan whose
// inventory was made first (as a client does) and completed later (as the
// server does) give the same report bytes, and that the gate's verdict
// follows from the findings.
func TestRunAndComplete(t *testing.T) {
	ctx := context.Background()
	vd := vulndbtest.Dir(t)
	tmp := t.TempDir()
	dbPath := filepath.Join(tmp, "drydock.db")
	if err := vulndbtest.Import(ctx, dbPath, vd, tmp); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := pipeline.Request{
		Target:    img,
		Matcher:   &pipeline.LocalMatcher{Path: dbPath, IncludeOSOwned: true},
		Gate:      &report.Gate{FailOn: finding.High},
		Tool:      report.Tool{Name: "drydock", Version: "test"},
		Started:   started,
		FixedTime: true,
	}
	whole, err := pipeline.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := pipeline.Inventory(ctx, img, req.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	split, err := pipeline.Complete(ctx, req, inv)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := report.WriteJSON(&a, whole, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&b, split, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.String(), b.String()); d != "" {
		t.Errorf("split pipeline differs from the whole one (-whole +split):\n%s", d)
	}

	high := 0
	for _, f := range whole.Vulnerabilities {
		if f.Severity.Rank() >= finding.High.Rank() {
			high++
		}
	}
	if high == 0 {
		t.Fatal("no HIGH finding in debian12-app with OS-owned matching: the gate case cannot be checked")
	}
	if whole.Gate == nil || !whole.Gate.Failed || whole.Gate.Failing != high {
		t.Errorf("gate = %+v, want failed with %d failing", whole.Gate, high)
	}
	err = pipeline.Failed(whole, 7)
	if code, ok := pipeline.IsGate(err); !ok || code != 7 {
		t.Errorf("Failed = %v (code %d, gate %v), want a gate error with code 7", err, code, ok)
	}
	if whole.Database == nil || len(whole.Database.Feeds) == 0 {
		t.Errorf("report has no database facts: %+v", whole.Database)
	}
}

// TestInventoryOnly checks that a request without a matcher gives the
// inventory and no vulnerability list.
func TestInventoryOnly(t *testing.T) {
	img := filepath.Join(analyzetest.Corpus(t), "debian13-slim", "oci")
	rep, err := pipeline.Run(context.Background(), pipeline.Request{Target: img, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Packages) == 0 || rep.Vulnerabilities != nil || rep.Database != nil || rep.Gate != nil {
		t.Errorf("inventory-only report: %d packages, vulnerabilities %v, database %v, gate %v",
			len(rep.Packages), rep.Vulnerabilities, rep.Database, rep.Gate)
	}
	if rep.Scan == nil || rep.Scan.DurationMS < 0 {
		t.Errorf("scan timing = %+v", rep.Scan)
	}
}

func TestParseScanners(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    pipeline.Scanners
		wantErr bool
	}{
		{in: []string{"vuln"}, want: pipeline.Scanners{Vuln: true}},
		{in: []string{"none"}, want: pipeline.Scanners{}},
		{in: []string{"Vulnerabilities", " "}, want: pipeline.Scanners{Vuln: true}},
		{in: []string{"bogus"}, wantErr: true},
	} {
		got, err := pipeline.ParseScanners(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseScanners(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
