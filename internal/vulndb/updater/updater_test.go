package updater

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/vulndb/store"
)

func testOptions(feeds []Feed, mirror string) Options {
	return Options{Feeds: feeds, Mirror: mirror, Logger: quietLogger(), RetryWait: 1, Retries: -1}
}

func openRO(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func feedResult(t testing.TB, res Result, name string) FeedResult {
	t.Helper()
	for _, f := range res.Feeds {
		if f.Feed == name {
			return f
		}
	}
	t.Fatalf("no result for %s", name)
	return FeedResult{}
}

// fixedOf returns the first fixed version of a generic OSV record.
func fixedOf(m map[string]any) (ai, ri, ei int, fixed string) {
	for ai, a := range m["affected"].([]any) {
		rs, _ := a.(map[string]any)["ranges"].([]any)
		for ri, r := range rs {
			for ei, e := range r.(map[string]any)["events"].([]any) {
				if f, ok := e.(map[string]any)["fixed"].(string); ok {
					return ai, ri, ei, f
				}
			}
		}
	}
	return -1, -1, -1, ""
}

// TestUpdateOSV builds the database from the mirror served on loopback,
// checks that a second run only revalidates the indexes, then serves a
// modified copy of the mirror and checks that exactly the changed, added,
// withdrawn and deleted records are fetched and applied.
func TestUpdateOSV(t *testing.T) {
	ecos := mirrorEcosystems(t)
	srv := newMirrorServer(t, mirrorDir)
	path := filepath.Join(t.TempDir(), "vuln.db")
	opts := testOptions(OSVFeeds(ecos...), srv.URL)

	// Full build.
	res, err := Update(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !res.Rebuilt {
		t.Error("first build not reported as a rebuild")
	}
	reqs := srv.take()
	for _, eco := range ecos {
		want := len(zipEntries(t, filepath.Join(mirrorDir, eco, "all.zip")))
		fr := feedResult(t, res, "osv/"+eco)
		if fr.Status != StatusUpdated || fr.Mode != ModeFull || fr.Records != want || fr.Added != want {
			t.Errorf("%s: %+v, want %d records", eco, fr, want)
		}
		for _, f := range []string{"all.zip", "modified_id.csv"} {
			if reqs["/"+eco+"/"+f] != 1 {
				t.Errorf("%s/%s requested %d times", eco, f, reqs["/"+eco+"/"+f])
			}
		}
	}

	// Nothing changed: one conditional GET per index, answered 304.
	res, err = Update(ctx, path, opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	reqs = srv.take()
	if len(reqs) != len(ecos) {
		t.Errorf("requests %v, want one index per ecosystem", reqs)
	}
	for _, f := range res.Feeds {
		if f.Status != StatusUnchanged || f.Mode != ModeNotModified {
			t.Errorf("%s: %s/%s", f.Feed, f.Status, f.Mode)
		}
	}

	// A modified copy: in PyPI three records changed (newer modified
	// time and fixed version), one withdrawn, one deleted, two added; in
	// crates.io one changed.
	copyRoot := t.TempDir()
	copyDir(t, mirrorDir, copyRoot)
	pypi := zipEntries(t, filepath.Join(mirrorDir, "PyPI", "all.zip"))
	var ids []string
	for id, m := range pypi {
		if _, _, _, f := fixedOf(m); f != "" && m["withdrawn"] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	changed, withdrawn, deleted := ids[:3], ids[3], ids[4]
	wantFixed := map[string]string{}
	for i, id := range changed {
		m := pypi[id]
		m["modified"] = fmt.Sprintf("2026-11-2%dT00:00:00Z", i)
		ai, ri, ei, f := fixedOf(m)
		m["affected"].([]any)[ai].(map[string]any)["ranges"].([]any)[ri].(map[string]any)["events"].([]any)[ei].(map[string]any)["fixed"] = f + ".post1"
		wantFixed[id] = f + ".post1"
	}
	pypi[withdrawn]["modified"] = "2026-11-25T00:00:00Z"
	pypi[withdrawn]["withdrawn"] = "2026-11-25T00:00:00Z"
	delete(pypi, deleted)
	added := []string{"PYSEC-2026-9001", "PYSEC-2026-9002"}
	for i, id := range added {
		m := map[string]any{}
		for k, v := range pypi[changed[0]] {
			m[k] = v
		}
		m["id"] = id
		m["modified"] = fmt.Sprintf("2026-11-1%dT00:00:00Z", i)
		m["affected"] = []any{map[string]any{
			"package": map[string]any{"ecosystem": "PyPI", "name": "Drydock_Test." + id},
			"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "1.0"}}}},
		}}
		pypi[id] = m
	}
	perRecord := append(append(slices.Clone(changed), withdrawn), added...)
	writeEcosystem(t, filepath.Join(copyRoot, "PyPI"), pypi, perRecord)

	crates := zipEntries(t, filepath.Join(mirrorDir, "crates.io", "all.zip"))
	var crateID string
	for id, m := range crates {
		if _, _, _, f := fixedOf(m); f != "" && (crateID == "" || id < crateID) {
			crateID = id
		}
	}
	crates[crateID]["modified"] = "2026-11-30T00:00:00Z"
	writeEcosystem(t, filepath.Join(copyRoot, "crates.io"), crates, []string{crateID})
	srv.setRoot(copyRoot)

	res, err = Update(ctx, path, opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	reqs = srv.take()
	var fetched []string
	for p := range reqs {
		if strings.HasSuffix(p, ".json") {
			fetched = append(fetched, strings.TrimPrefix(p, "/"))
		}
		if strings.HasSuffix(p, "all.zip") {
			t.Errorf("incremental update fetched %s", p)
		}
	}
	var wantFetched []string
	for _, id := range perRecord {
		wantFetched = append(wantFetched, "PyPI/"+id+".json")
	}
	wantFetched = append(wantFetched, "crates.io/"+crateID+".json")
	slices.Sort(fetched)
	slices.Sort(wantFetched)
	if diff := cmp.Diff(wantFetched, fetched); diff != "" {
		t.Errorf("records fetched (-want +got):\n%s", diff)
	}
	fr := feedResult(t, res, "osv/PyPI")
	if fr.Mode != ModeIncremental || fr.Added != 2 || fr.Changed != 4 || fr.Deleted != 1 || fr.Records != len(pypi) {
		t.Errorf("PyPI result %+v; want 2 added, 4 changed, 1 deleted, %d records", fr, len(pypi))
	}
	if fr := feedResult(t, res, "osv/crates.io"); fr.Mode != ModeIncremental || fr.Changed != 1 {
		t.Errorf("crates.io result %+v", fr)
	}
	if fr := feedResult(t, res, "osv/Go"); fr.Status != StatusUnchanged {
		t.Errorf("Go result %+v", fr)
	}

	db := openRO(t, path)
	for id, fixed := range wantFixed {
		rec, err := db.Record(id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range rec.Affected {
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					found = found || e.Fixed == fixed
				}
			}
		}
		if !found || rec.Modified.Format("2006-01-02T15:04:05Z") != pypi[id]["modified"] {
			t.Errorf("%s: not updated: %+v", id, rec)
		}
		// The candidate index has the new fixed version too.
		a := rec.Affected[0]
		cands, _ := db.Candidates(a.Package.Ecosystem, a.Package.Name)
		ok := false
		for _, c := range cands {
			for _, r := range c.Affected.Ranges {
				for _, e := range r.Events {
					ok = ok || (c.ID == id && e.Fixed == fixed)
				}
			}
		}
		if !ok {
			t.Errorf("%s: index does not have fixed %s", id, fixed)
		}
	}
	if rec, err := db.Record(withdrawn); err != nil || rec.Withdrawn.IsZero() {
		t.Errorf("%s: %+v, %v; want withdrawn", withdrawn, rec, err)
	}
	if _, err := db.Record(deleted); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted %s: %v", deleted, err)
	}
	for _, id := range added {
		// Looked up with a spelling PEP 503 folds to the same name.
		c, err := db.Candidates("pypi", "DRYDOCK.test_"+id)
		if err != nil || len(c) != 1 || c[0].ID != id {
			t.Errorf("added %s: %+v, %v", id, c, err)
		}
	}
	meta, _ := db.Meta()
	if f, _ := meta.Feed("osv/PyPI"); f.Records != len(pypi) {
		t.Errorf("PyPI records %d, want %d", f.Records, len(pypi))
	}
}

// TestBrokenDownloads breaks one feed's downloads in several ways: the
// feed fails with an error naming it and the URL, its previous content
// stays, and the other feed is still updated.
func TestBrokenDownloads(t *testing.T) {
	ecos := []string{"PyPI", "crates.io"}
	root := t.TempDir()
	for _, e := range ecos {
		copyDir(t, filepath.Join(mirrorDir, e), filepath.Join(root, e))
	}
	srv := newMirrorServer(t, root)
	path := filepath.Join(t.TempDir(), "vuln.db")
	opts := testOptions(OSVFeeds(ecos...), srv.URL)
	if res, err := Update(ctx, path, opts); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	snapshot := func() (store.FeedMeta, []store.Candidate) {
		db := openRO(t, path)
		defer db.Close()
		m, _ := db.Meta()
		f, _ := m.Feed("osv/PyPI")
		c, _ := db.Candidates("PyPI", "django")
		return f, c
	}
	beforeMeta, beforeCands := snapshot()
	if len(beforeCands) == 0 {
		t.Fatal("no django candidates")
	}

	pypi := zipEntries(t, filepath.Join(root, "PyPI", "all.zip"))
	crates := zipEntries(t, filepath.Join(root, "crates.io", "all.zip"))
	zipData, _ := os.ReadFile(filepath.Join(root, "PyPI", "all.zip"))
	var someID string
	for id := range pypi {
		if someID == "" || id < someID {
			someID = id
		}
	}

	for i, tc := range []struct {
		name    string
		full    bool
		perID   bool // make the change incremental
		breakFn func(path string) http.HandlerFunc
		want    string
	}{
		{"truncated zip", true, false, func(p string) http.HandlerFunc {
			if p != "/PyPI/all.zip" {
				return nil
			}
			return func(w http.ResponseWriter, r *http.Request) { w.Write(zipData[:len(zipData)/2]) }
		}, "all.zip"},
		{"corrupt zip", true, false, func(p string) http.HandlerFunc {
			if p != "/PyPI/all.zip" {
				return nil
			}
			bad := slices.Clone(zipData)
			bad[len(bad)/3] ^= 0xff
			return func(w http.ResponseWriter, r *http.Request) { w.Write(bad) }
		}, "all.zip"},
		{"invalid json", false, true, func(p string) http.HandlerFunc {
			if p != "/PyPI/"+someID+".json" {
				return nil
			}
			return func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"id": "` + someID + `", "affected": [`))
			}
		}, someID + ".json"},
		{"server error", false, true, func(p string) http.HandlerFunc {
			if p != "/PyPI/modified_id.csv" {
				return nil
			}
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }
		}, "500"},
		{"dropped connection", true, false, func(p string) http.HandlerFunc {
			if p != "/PyPI/all.zip" {
				return nil
			}
			return dropConnection(len(zipData))
		}, "all.zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Change one record in each ecosystem, so both have work.
			stamp := fmt.Sprintf("2027-01-0%dT00:00:00Z", i+1)
			pypi[someID]["modified"] = stamp
			writeEcosystem(t, filepath.Join(root, "PyPI"), pypi, []string{someID})
			var crateID string
			for id := range crates {
				if crateID == "" || id < crateID {
					crateID = id
				}
			}
			crates[crateID]["modified"] = stamp
			writeEcosystem(t, filepath.Join(root, "crates.io"), crates, []string{crateID})

			srv.mu.Lock()
			srv.breakPath = tc.breakFn
			srv.mu.Unlock()
			defer func() {
				srv.mu.Lock()
				srv.breakPath = nil
				srv.mu.Unlock()
				// Undo the PyPI change so the next case starts from the
				// database's content.
			}()
			o := opts
			o.Full = tc.full
			res, err := Update(ctx, path, o)
			if err != nil {
				t.Fatal(err)
			}
			fr := feedResult(t, res, "osv/PyPI")
			if fr.Status != StatusFailed || fr.Err == nil {
				t.Fatalf("PyPI: %+v", fr)
			}
			msg := fr.Err.Error()
			if !strings.Contains(msg, "osv/PyPI") || !strings.Contains(msg, srv.URL) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name the feed, the URL and %q", msg, tc.want)
			}
			if cr := feedResult(t, res, "osv/crates.io"); cr.Status != StatusUpdated {
				t.Errorf("crates.io not updated: %+v", cr)
			}
			db := openRO(t, path)
			rec, err := db.Record(crateID)
			if err != nil || rec.Modified.Format("2006-01-02T15:04:05Z") != stamp {
				t.Errorf("crates.io record %s not updated: %v, %v", crateID, rec.Modified, err)
			}
			db.Close()
			afterMeta, afterCands := snapshot()
			if diff := cmp.Diff(beforeCands, afterCands); diff != "" {
				t.Errorf("PyPI candidates changed (-before +after):\n%s", diff)
			}
			if afterMeta.Records != beforeMeta.Records || !afterMeta.Updated.Equal(beforeMeta.Updated) || !cmp.Equal(afterMeta.Fingerprint, beforeMeta.Fingerprint) {
				t.Errorf("PyPI feed state changed: %+v -> %+v", beforeMeta, afterMeta)
			}
		})
	}
}
