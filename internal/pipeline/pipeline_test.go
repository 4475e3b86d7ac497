package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
)

// TestRunAndComplete checks that a scan done in one call and a scan whose
// inventory was made first (as a client does) and completed later (as the
// server does) give the same report bytes, and that the gate's verdict
// follows from the findings.
func TestRunAndComplete(t *testing.T) {
	ctx := context.Background()
	dbPath := testDB(t)
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

var (
	dbOnce sync.Once
	dbPath string
	dbErr  error
	dbDir  string
)

// testDB imports the shared vulnerability data once per test binary.
func testDB(t *testing.T) string {
	t.Helper()
	vd := vulndbtest.Dir(t)
	dbOnce.Do(func() {
		dbDir, dbErr = os.MkdirTemp("", "drydock-pipeline-test-")
		if dbErr != nil {
			return
		}
		dbPath = filepath.Join(dbDir, "drydock.db")
		dbErr = vulndbtest.Import(context.Background(), dbPath, vd, dbDir)
	})
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	return dbPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dbDir != "" {
		os.RemoveAll(dbDir)
	}
	os.Exit(code)
}

// TestInUse applies a recorded run (the exec of debian12-app's Go binary)
// to a scan: the binary's packages and their findings are marked, the
// others not; with Only the other findings are left out and counted, and
// the gate counts only what is shown.
func TestInUse(t *testing.T) {
	ctx := context.Background()
	img := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	inv, err := pipeline.Inventory(ctx, img, pipeline.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin := ""
	for _, p := range inv.Inventory.Packages {
		if p.Type == inventory.TypeGo {
			bin = p.Path
		}
	}
	if bin == "" {
		t.Fatal("no Go binary in debian12-app")
	}
	events := []trace.Event{
		{Time: time.Now(), Kind: trace.KindOpen, PID: 1, Path: bin, Access: trace.AccessExec, Result: 0},
		{Time: time.Now(), Kind: trace.KindExec, PID: 1, Path: bin, Argv: []string{bin}},
	}
	req := pipeline.Request{
		Matcher: &pipeline.LocalMatcher{Path: testDB(t), IncludeOSOwned: true},
		Gate:    &report.Gate{FailOn: finding.Unknown},
		Tool:    report.Tool{Name: "drydock", Version: "test"},
		Started: time.Now(), FixedTime: true,
		InUse: &pipeline.InUse{Events: events, Source: "events.jsonl"},
	}
	marked, err := pipeline.Complete(ctx, req, inv)
	if err != nil {
		t.Fatal(err)
	}
	inUse, notInUse := 0, 0
	for _, p := range marked.Packages {
		if p.InUse != (p.Path == bin) {
			t.Errorf("%s %s at %s: in_use %v", p.Type, p.Name, p.Path, p.InUse)
		}
	}
	for _, f := range marked.Vulnerabilities {
		if f.InUse != (f.Package.Path == bin) {
			t.Errorf("%s in %s at %s: in_use %v", f.ID, f.Package.Name, f.Package.Path, f.InUse)
		}
		if f.InUse {
			inUse++
		} else {
			notInUse++
		}
	}
	if inUse == 0 || notInUse == 0 {
		t.Fatalf("findings in use %d, not %d: nothing to tell apart", inUse, notInUse)
	}
	if rt := marked.Runtime; rt == nil || rt.Events != "events.jsonl" || rt.EventCount != 2 || rt.OnlyInUse || len(rt.Packages) == 0 {
		t.Errorf("runtime section %+v", marked.Runtime)
	}

	req.InUse.Only = true
	only, err := pipeline.Complete(ctx, req, inv)
	if err != nil {
		t.Fatal(err)
	}
	failing := 0
	for _, f := range only.Vulnerabilities {
		if !f.InUse {
			t.Errorf("%s shown with --only-in-use, not in use", f.ID)
		}
		if req.Gate.Fails(&f) {
			failing++
		}
	}
	if len(only.Vulnerabilities) != inUse || only.Runtime.Hidden != notInUse || !only.Runtime.OnlyInUse {
		t.Errorf("only in use: %d shown, %d hidden; want %d, %d", len(only.Vulnerabilities), only.Runtime.Hidden, inUse, notInUse)
	}
	t.Logf("%d findings in use, %d not; gate UNKNOWN: %d failing shown, %d without the filter", inUse, notInUse, only.Gate.Failing, marked.Gate.Failing)
	if failing == 0 {
		t.Fatal("no shown finding fails the gate: the gate case proves nothing")
	}
	if only.Gate.Failing != failing || marked.Gate.Failing <= failing {
		t.Errorf("gate: %d failing with Only, %d without; want %d (the shown ones)", only.Gate.Failing, marked.Gate.Failing, failing)
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
