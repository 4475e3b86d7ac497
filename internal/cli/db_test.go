package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drydockscan/drydock/internal/cli"
)

func TestDBCommands(t *testing.T) {
	mirror := filepath.Join("..", "..", "..", "shared", "vulndata", "osv-mirror")
	db := filepath.Join(t.TempDir(), "sub", "dir", "drydock.db")
	env := map[string]string{"DRYDOCK_DB_PATH": db}

	// A missing database with --offline is an error, not a network request.
	code, _, errOut := run(t, env, "image", corpusImage(t, "edge-layers"), "--offline")
	if code != cli.ExitError || !strings.Contains(errOut, "no vulnerability database") {
		t.Fatalf("missing DB offline: exit %d, stderr %q", code, errOut)
	}
	// db update from a local mirror works offline and builds the file.
	code, _, errOut = run(t, env, "db", "update", "--offline", "--db-mirror", mirror)
	if code != cli.ExitOK {
		t.Fatalf("db update: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, env, "db", "status", "--json")
	if code != cli.ExitOK {
		t.Fatalf("db status: exit %d: %s", code, errOut)
	}
	var st struct {
		Path  string
		Feeds []struct {
			Name    string
			Records int
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("db status --json: %v\n%s", err, out)
	}
	got := map[string]int{}
	for _, f := range st.Feeds {
		got[f.Name] = f.Records
	}
	for _, want := range []string{"osv/Go", "osv/PyPI", "osv/Debian:12", "osv/Debian:13", "osv/crates.io"} {
		if got[want] == 0 {
			t.Errorf("db status: feed %s missing or empty (%v)", want, got)
		}
	}
	code, out, _ = run(t, env, "db", "status")
	if code != cli.ExitOK || !strings.Contains(out, "osv/Go") || !strings.Contains(out, db) {
		t.Errorf("db status table: exit %d\n%s", code, out)
	}

	// A stale database: with --offline the scan warns and goes on …
	code, _, errOut = run(t, env, "image", corpusImage(t, "edge-layers"), "--offline", "--db-max-age", "1ns")
	if code != cli.ExitOK || !strings.Contains(errOut, "older than --db-max-age") {
		t.Errorf("stale DB offline: exit %d, stderr %q", code, errOut)
	}
	// … and --offline sends no request even to a configured mirror URL.
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	code, _, errOut = run(t, env, "image", corpusImage(t, "edge-layers"), "--offline", "--db-max-age", "1ns", "--db-mirror", srv.URL)
	if code != cli.ExitOK || requests.Load() != 0 {
		t.Errorf("offline with a mirror URL: exit %d, %d requests (stderr %q)", code, requests.Load(), errOut)
	}
	// Without --offline a stale database is updated from the mirror; a
	// mirror that fails leaves the old database in use, with a warning.
	code, _, errOut = run(t, map[string]string{"DRYDOCK_DB_PATH": db, "DRYDOCK_OFFLINE": ""}, "image", corpusImage(t, "edge-layers"), "--db-max-age", "1ns", "--db-mirror", srv.URL)
	if code != cli.ExitOK || requests.Load() == 0 || !strings.Contains(errOut, "could not be updated") {
		t.Errorf("failing mirror: exit %d, %d requests, stderr %q", code, requests.Load(), errOut)
	}
	// A database that cannot be built is an error that says how to get one.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	code, _, errOut = run(t, map[string]string{"DRYDOCK_DB_PATH": fresh, "DRYDOCK_OFFLINE": ""}, "image", corpusImage(t, "edge-layers"), "--db-mirror", srv.URL)
	if code != cli.ExitError || !strings.Contains(errOut, "drydock db import") || !strings.Contains(errOut, srv.URL) {
		t.Errorf("unbuildable DB: exit %d, stderr %q", code, errOut)
	}
	// --skip-db-update uses what is there.
	before := requests.Load()
	code, _, errOut = run(t, map[string]string{"DRYDOCK_DB_PATH": db, "DRYDOCK_OFFLINE": ""}, "image", corpusImage(t, "edge-layers"), "--db-max-age", "1ns", "--db-mirror", srv.URL, "--skip-db-update")
	if code != cli.ExitOK || requests.Load() != before {
		t.Errorf("--skip-db-update: exit %d, %d new requests (stderr %q)", code, requests.Load()-before, errOut)
	}
	// db import of something that is no data is an error naming it.
	code, _, errOut = run(t, env, "db", "import", filepath.Join(t.TempDir(), "nothing.txt"))
	if code != cli.ExitError || !strings.Contains(errOut, "nothing.txt") {
		t.Errorf("bad import: exit %d, stderr %q", code, errOut)
	}
}

// TestUncheckedEcosystems: packages of ecosystems the database has no data
// for are reported as not checked, counted from the inventory.
func TestUncheckedEcosystems(t *testing.T) {
	code, out, errOut := run(t, nil, "image", corpusImage(t, "debian12-app"), "-o", "json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Packages []struct{ Type string } `json:"packages"`
		Database struct {
			Unchecked []struct {
				Ecosystem string
				Packages  int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	npm := 0
	for _, p := range r.Packages {
		if p.Type == "npm" {
			npm++
		}
	}
	if npm == 0 {
		t.Fatal("debian12-app has no npm package")
	}
	got := map[string]int{}
	for _, u := range r.Database.Unchecked {
		got[u.Ecosystem] = u.Packages
	}
	// The shared data has no npm feed; it has Go, PyPI and Debian 12.
	if got["npm"] != npm {
		t.Errorf("unchecked npm packages %d, want %d (all of them)", got["npm"], npm)
	}
	for _, covered := range []string{"Go", "PyPI", "Debian:12"} {
		if _, ok := got[covered]; ok {
			t.Errorf("%s reported unchecked, but the database has it", covered)
		}
	}
	if !strings.Contains(errOut, "not checked") || !strings.Contains(errOut, "ecosystem=npm") {
		t.Errorf("no warning about unchecked npm packages: %s", errOut)
	}
}
