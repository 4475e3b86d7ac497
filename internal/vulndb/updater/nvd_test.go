package updater

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/vulndb/feeds/nvd"
)

// TestNVD serves vunnel's NVD API page through a loopback API that pages
// ten CVEs at a time and checks the key, then checks the stored ratings,
// the incremental second run, and that the key stays out of errors.
func TestNVD(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json"))
	if err != nil {
		t.Fatal(err)
	}
	var page map[string]any
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	vulns := page["vulnerabilities"].([]any)
	want, err := nvd.ParsePage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		queries []map[string]string
		fail    bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("apiKey") != "secret-key" {
			http.Error(w, "no key", http.StatusForbidden)
			return
		}
		mu.Lock()
		q := map[string]string{}
		for k := range r.URL.Query() {
			q[k] = r.URL.Query().Get(k)
		}
		queries = append(queries, q)
		f := fail
		mu.Unlock()
		if f {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		start, _ := strconv.Atoi(q["startIndex"])
		end := min(start+10, len(vulns))
		if _, ok := q["lastModStartDate"]; ok {
			end = min(start+10, 3) // three CVEs changed since
		}
		p := map[string]any{"resultsPerPage": end - start, "startIndex": start, "totalResults": end, "format": "NVD_CVE", "version": "2.0",
			"timestamp": "2026-11-22T00:00:00.000", "vulnerabilities": vulns[start:end]}
		if _, ok := q["lastModStartDate"]; !ok {
			p["totalResults"] = len(vulns)
		}
		json.NewEncoder(w).Encode(p)
	}))
	defer srv.Close()

	path := filepath.Join(t.TempDir(), "vuln.db")
	feeds, _ := SelectFeeds("nvd")
	feeds[0].URL = srv.URL + "/rest/json/cves/2.0"
	opts := testOptions(feeds, "")
	opts.NVDAPIKey = "secret-key"
	opts.NVDDelay = time.Millisecond
	res, err := Update(ctx, path, opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	mu.Lock()
	nq := len(queries)
	mu.Unlock()
	if nq != (len(vulns)+9)/10 {
		t.Errorf("%d requests for %d CVEs", len(queries), len(vulns))
	}
	db := openRO(t, path)
	for _, e := range want.Entries {
		got, err := db.Severities(e.CVE)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e.Severities, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", e.CVE, diff)
		}
	}
	db.Close()

	// Second run: incremental, from the last run's time.
	mu.Lock()
	queries = nil
	mu.Unlock()
	res, err = Update(ctx, path, opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	rated := 0
	for _, e := range want.Entries {
		if len(e.Severities) > 0 {
			rated++
		}
	}
	if fr := feedResult(t, res, "nvd"); fr.Mode != ModeIncremental || fr.Changed != 3 || fr.Records != rated || rated == 0 {
		t.Errorf("incremental run: %+v", fr)
	}
	mu.Lock()
	if len(queries) != 1 || queries[0]["lastModStartDate"] == "" || queries[0]["lastModEndDate"] == "" {
		t.Errorf("incremental queries %v", queries)
	}
	// A failure names the feed and URL but not the key.
	fail = true
	mu.Unlock()
	res, _ = Update(ctx, path, opts)
	fr := feedResult(t, res, "nvd")
	if fr.Err == nil || !strings.Contains(fr.Err.Error(), "nvd") || strings.Contains(fr.Err.Error(), "secret-key") {
		t.Errorf("failure: %v", fr.Err)
	}
}

// TestRetry checks that a server error and a dropped connection are
// retried.
func TestRetry(t *testing.T) {
	root := t.TempDir()
	copyDir(t, filepath.Join(mirrorDir, "crates.io"), filepath.Join(root, "crates.io"))
	srv := newMirrorServer(t, root)
	zipData, _ := os.ReadFile(filepath.Join(root, "crates.io", "all.zip"))
	var mu sync.Mutex
	n := 0
	srv.breakPath = func(p string) http.HandlerFunc {
		if p != "/crates.io/all.zip" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		switch n {
		case 1:
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }
		case 2:
			return dropConnection(len(zipData))
		}
		return nil
	}
	opts := testOptions(OSVFeeds("crates.io"), srv.URL)
	opts.Retries = 2
	opts.RetryWait = time.Millisecond
	res, err := Update(ctx, filepath.Join(t.TempDir(), "vuln.db"), opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 3 {
		t.Errorf("all.zip requested %d times, want 3", n)
	}
}
