package server_test

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// writeGoMirror writes a one-feed OSV mirror (Go) holding the shared Go
// records except those named in without.
func writeGoMirror(t *testing.T, dir string, without ...string) {
	t.Helper()
	src := filepath.Join(vulndata, "osv-mirror", "Go")
	if err := os.MkdirAll(filepath.Join(dir, "Go"), 0o755); err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{}
	for _, id := range without {
		skip[id] = true
	}
	zr, err := zip.OpenReader(filepath.Join(src, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := os.Create(filepath.Join(dir, "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, f := range zr.File {
		if skip[strings.TrimSuffix(f.Name, ".json")] {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	writeIndex(t, dir, without...)
}

// writeIndex writes Go/modified_id.csv without the given ids, atomically.
func writeIndex(t *testing.T, dir string, without ...string) {
	t.Helper()
	in, err := os.Open(filepath.Join(vulndata, "osv-mirror", "Go", "modified_id.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var b strings.Builder
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		_, id, _ := strings.Cut(line, ",")
		keep := true
		for _, w := range without {
			if id == w {
				keep = false
			}
		}
		if keep {
			b.WriteString(line + "\n")
		}
	}
	tmp := filepath.Join(dir, "Go", ".modified_id.csv.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "Go", "modified_id.csv")); err != nil {
		t.Fatal(err)
	}
}

// writeRecord puts one record's JSON beside the index, as OSV buckets
// serve <ID>.json.
func writeRecord(t *testing.T, dir, id string) {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(vulndata, "osv-mirror", "Go", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == id+".json" {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			if err := os.WriteFile(filepath.Join(dir, "Go", id+".json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no record %s in the Go archive", id)
}

// TestRematchEvents: an image's inventory is stored once; the mirror then
// gains one record and loses another; after the scheduled database update
// the stored inventory is matched again — no pull, no layer read — and
// the new and the resolved finding are events.
func TestRematchEvents(t *testing.T) {
	needDB(t)
	ctx := context.Background()
	app := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	inv, err := pipeline.Inventory(ctx, app, pipeline.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Two Go findings of the image that come from one record each: the
	// first is added by the second mirror, the other removed.
	full, err := (&pipeline.LocalMatcher{Path: dbPath}).Match(ctx, &inv.Inventory, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var picked []finding.Finding
	seen := map[string]bool{}
	for _, f := range full.Findings {
		if f.Package.Ecosystem != "Go" || len(f.Records) != 1 || seen[f.Records[0]] {
			continue
		}
		seen[f.Records[0]] = true
		picked = append(picked, f)
		if len(picked) == 2 {
			break
		}
	}
	if len(picked) < 2 {
		t.Fatalf("debian12-app has fewer than two single-record Go findings: %d", len(picked))
	}
	added, removed := picked[0], picked[1]
	addedRec := strings.TrimPrefix(added.Records[0], "osv/Go:")
	removedRec := strings.TrimPrefix(removed.Records[0], "osv/Go:")

	mirror := t.TempDir()
	writeGoMirror(t, mirror, addedRec)
	feeds, err := updater.MirrorFeeds(mirror)
	if err != nil {
		t.Fatal(err)
	}
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	tok, _, err := server.CreateToken(ctx, storeURL, "ci", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	cfg.DB = pipeline.DB{
		Path:   filepath.Join(t.TempDir(), "vuln.db"),
		Update: updater.Options{Mirror: mirror, Offline: true, Feeds: feeds}, MirrorIsLocal: true, MaxAge: time.Hour,
	}
	cfg.DBUpdateInterval = 300 * time.Millisecond
	c := newClient(t, startServer(t, cfg))

	var ir api.InventoryResponse
	if code := c.postJSON("/api/v1/inventories", tok, api.InventoryRequest{Target: inv.Target, Inventory: &inv.Inventory}, &ir); code != http.StatusCreated {
		t.Fatalf("POST /inventories: %d", code)
	}
	has := func(fs []finding.Finding, f finding.Finding) bool {
		for _, x := range fs {
			if x.ID == f.ID && x.Package.Name == f.Package.Name && x.Package.Version == f.Package.Version {
				return true
			}
		}
		return false
	}
	if has(ir.Findings, added) || !has(ir.Findings, removed) {
		t.Fatalf("first database: %s present %v (want false), %s present %v (want true)", added.ID, has(ir.Findings, added), removed.ID, has(ir.Findings, removed))
	}
	var evs struct {
		Events []store.Event `json:"events"`
		Next   int64         `json:"next"`
	}
	c.getJSON("/api/v1/events", tok, &evs)
	since := evs.Next

	// The second mirror: one record more, one less.
	writeRecord(t, mirror, addedRec)
	writeIndex(t, mirror, removedRec)

	var newEv, resolvedEv *store.Event
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && (newEv == nil || resolvedEv == nil) {
		time.Sleep(200 * time.Millisecond)
		c.getJSON("/api/v1/events?since="+strconv.FormatInt(since, 10), tok, &evs)
		for i := range evs.Events {
			e := &evs.Events[i]
			if e.Digest != ir.Digest {
				t.Errorf("event for another image: %+v", e)
			}
			switch {
			case e.Type == store.EventFindingNew && e.VulnID == added.ID:
				newEv = e
			case e.Type == store.EventFindingResolved && e.VulnID == removed.ID:
				resolvedEv = e
			default:
				t.Errorf("unexpected event %s %s", e.Type, e.VulnID)
			}
			var data struct {
				Cause string `json:"cause"`
			}
			if json.Unmarshal(e.Data, &data) != nil || data.Cause != store.CauseRematch {
				t.Errorf("event without its cause: %s", e.Data)
			}
		}
		since = evs.Next
	}
	if newEv == nil || resolvedEv == nil {
		t.Fatalf("after the update: new %s event %v, resolved %s event %v\nlogs:\n%s", added.ID, newEv, removed.ID, resolvedEv, logs.String())
	}
	var im api.ImageView
	c.getJSON("/api/v1/images/"+ir.Digest, tok, &im)
	if !has(im.Findings, added) || has(im.Findings, removed) {
		t.Errorf("stored findings after the re-match: %s %v, %s %v", added.ID, has(im.Findings, added), removed.ID, has(im.Findings, removed))
	}
	var vi struct {
		Images int `json:"images"`
	}
	if c.getJSON("/api/v1/vulnerabilities/"+added.ID+"/images", tok, &vi); vi.Images != 1 {
		t.Errorf("images with %s after the re-match: %d", added.ID, vi.Images)
	}
	if c.getJSON("/api/v1/vulnerabilities/"+removed.ID+"/images", tok, &vi); vi.Images != 0 {
		t.Errorf("images with the resolved %s: %d", removed.ID, vi.Images)
	}
	// No pull and no layer read: the only scan is the inventory's.
	if len(im.History) != 1 {
		t.Errorf("%d scans in the history, want the one inventory", len(im.History))
	}
}
