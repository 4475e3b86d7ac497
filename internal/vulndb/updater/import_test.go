package updater

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drydockscan/drydock/internal/vulndb/feeds/alpinesecdb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/debiantracker"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/kev"
	"github.com/drydockscan/drydock/internal/vulndb/store"
)

func offlineOptions(t testing.TB) Options {
	return Options{Logger: quietLogger(), HTTPClient: &http.Client{Transport: noNetwork{t}}}
}

// csvCount counts the lines of a modified_id.csv.
func csvCount(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n
}

// TestImportMirror imports the whole mirror with the network forbidden and
// checks each ecosystem's record count against the archive and the index.
func TestImportMirror(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vuln.db")
	res, err := Import(ctx, path, mirrorDir, offlineOptions(t))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	db := openRO(t, path)
	meta, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	ecos := mirrorEcosystems(t)
	if len(meta.Feeds) != len(ecos) {
		t.Errorf("%d feeds, mirror has %d ecosystems", len(meta.Feeds), len(ecos))
	}
	for _, eco := range ecos {
		entries := zipEntries(t, filepath.Join(mirrorDir, eco, "all.zip"))
		withdrawn := 0
		for _, m := range entries {
			if m["withdrawn"] != nil {
				withdrawn++
			}
		}
		lines := csvCount(t, filepath.Join(mirrorDir, eco, "modified_id.csv"))
		f, ok := meta.Feed("osv/" + eco)
		if !ok {
			t.Errorf("no feed for %s", eco)
			continue
		}
		if f.Records != len(entries) || f.Records != lines || f.Withdrawn != withdrawn || f.Scope != eco {
			t.Errorf("%s: %d records (%d withdrawn, scope %q); archive %d (%d withdrawn), index %d", eco, f.Records, f.Withdrawn, f.Scope, len(entries), withdrawn, lines)
		}
		mods, err := db.Modified("osv/" + eco)
		if err != nil || len(mods) != lines {
			t.Errorf("%s: %d modification entries, %v", eco, len(mods), err)
		}
		n := 0
		db.FeedRecordIDs("osv/"+eco, func(id string) error {
			if _, ok := entries[id]; !ok {
				t.Errorf("%s: unexpected record %s", eco, id)
			}
			n++
			return nil
		})
		if n != len(entries) {
			t.Errorf("%s: %d ids stored", eco, n)
		}
	}
}

// TestImportZipAndDir imports one all.zip, then a directory of JSON
// records extracted from another.
func TestImportZipAndDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vuln.db")
	res, err := Import(ctx, path, filepath.Join(mirrorDir, "crates.io", "all.zip"), offlineOptions(t))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	want := len(zipEntries(t, filepath.Join(mirrorDir, "crates.io", "all.zip")))
	if fr := feedResult(t, res, "osv/crates.io"); fr.Records != want {
		t.Errorf("crates.io: %+v, want %d records", fr, want)
	}

	dir := filepath.Join(t.TempDir(), "go-records")
	goRecs := zipEntries(t, filepath.Join(mirrorDir, "Go", "all.zip"))
	i := 0
	for id, m := range goRecs {
		sub := filepath.Join(dir, id[:7]) // GO-2022 …: nested folders
		os.MkdirAll(sub, 0o755)
		data, _ := json.Marshal(m)
		os.WriteFile(filepath.Join(sub, id+".json"), data, 0o644)
		if i++; i == 300 {
			break
		}
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a record"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd.json"))
	res, err = Import(ctx, path, dir, offlineOptions(t))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if fr := feedResult(t, res, "import/go-records"); fr.Records != 300 {
		t.Errorf("directory import: %+v", fr)
	}
	db := openRO(t, path)
	m, _ := db.Meta()
	if len(m.Feeds) != 2 {
		t.Errorf("feeds %+v", m.Feeds)
	}
	db.Close()

	// A bad record fails the import and names the file; the previous
	// content stays.
	bad := filepath.Join(dir, "GO-2022", "GO-2022-9999.json")
	os.WriteFile(bad, []byte(`{"id": "GO-2022-9999", "modified": "never"}`), 0o644)
	res, err = Import(ctx, path, dir, offlineOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if fr := feedResult(t, res, "import/go-records"); fr.Err == nil || !strings.Contains(fr.Err.Error(), bad) {
		t.Errorf("bad record: %+v", fr)
	}
	db = openRO(t, path)
	m, _ = db.Meta()
	if f, _ := m.Feed("import/go-records"); f.Records != 300 {
		t.Errorf("after failed import: %+v", f)
	}
}

// otherFeedsMirror lays out the non-OSV feeds' real data as a mirror.
func otherFeedsMirror(t testing.TB) string {
	root := t.TempDir()
	copyFile := func(src, dst string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(vulndata, "debian-tracker/changelog-derived-tracker.json"), filepath.Join(root, "debian-tracker/data.json"))
	copyFile(filepath.Join(vulndata, "kev/known_exploited_vulnerabilities.json"), filepath.Join(root, "kev/known_exploited_vulnerabilities.json"))
	copyFile(filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json"), filepath.Join(root, "wolfi-secdb/security.json"))
	copyDir(t, filepath.Join(vulndata, "alpine-secdb"), filepath.Join(root, "alpine-secdb"))
	return root
}

// TestOtherFeeds imports the Debian tracker, KEV, Alpine and Wolfi secdb
// data from a mirror directory, then serves the same mirror over HTTP: a
// second update is answered "not modified".
func TestOtherFeeds(t *testing.T) {
	root := otherFeedsMirror(t)
	path := filepath.Join(t.TempDir(), "vuln.db")
	res, err := Import(ctx, path, root, offlineOptions(t))
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	parse := func(p string, fn func(*os.File) (int, error)) int {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n, err := fn(f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := map[string]int{
		"debian-tracker": parse(filepath.Join(root, "debian-tracker/data.json"), func(f *os.File) (int, error) {
			r, err := debiantracker.Parse(f)
			return len(r), err
		}),
		"kev": parse(filepath.Join(root, "kev/known_exploited_vulnerabilities.json"), func(f *os.File) (int, error) {
			c, err := kev.Parse(f)
			return len(c.Entries), err
		}),
		"wolfi-secdb": parse(filepath.Join(root, "wolfi-secdb/security.json"), func(f *os.File) (int, error) {
			r, err := alpinesecdb.Parse(f, alpinesecdb.Options{Ecosystem: "Wolfi"})
			return len(r), err
		}),
	}
	files, _ := filepath.Glob(filepath.Join(root, "alpine-secdb/*/*.json"))
	var sets [][]string
	ids := map[string]bool{}
	for _, p := range files {
		parse(p, func(f *os.File) (int, error) {
			r, err := alpinesecdb.Parse(f, alpinesecdb.Options{})
			var s []string
			for _, x := range r {
				ids[x.ID] = true
				s = append(s, x.ID)
			}
			sets = append(sets, s)
			return len(r), err
		})
	}
	want["alpine-secdb"] = len(ids)
	for feed, n := range want {
		if fr := feedResult(t, res, feed); fr.Records != n || fr.Status != StatusUpdated {
			t.Errorf("%s: %+v, want %d", feed, fr, n)
		}
	}
	db := openRO(t, path)
	if k, ok, err := db.KEV("CVE-2025-48384"); err != nil || !ok || k.DateAdded != "2025-08-25" || k.VendorProject != "Git" {
		t.Errorf("KEV: %+v %v %v", k, ok, err)
	}
	if c, err := db.Candidates("Debian:12", "389-ds-base"); err != nil || len(c) == 0 {
		t.Errorf("Debian tracker candidates: %v %v", c, err)
	}
	if c, err := db.Candidates("Alpine:3.10.2", "ansible"); err != nil || len(c) == 0 {
		t.Errorf("Alpine candidates: %v %v", c, err)
	}
	db.Close()

	// Over HTTP: the first update fetches everything again (an import
	// records no validators); the second is answered 304.
	srv := newMirrorServer(t, root)
	opts := testOptions(nil, srv.URL)
	opts.Feeds, _ = SelectFeeds("debian-tracker", "kev", "alpine-secdb", "wolfi-secdb")
	opts.AlpineBranches = []string{"v3.10", "v3.9", "v3.3"}
	for run := range 2 {
		res, err := Update(ctx, path, opts)
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		for _, fr := range res.Feeds {
			wantStatus := StatusUpdated
			if run == 1 {
				wantStatus = StatusUnchanged
			}
			if fr.Status != wantStatus {
				t.Errorf("run %d: %s %s", run, fr.Feed, fr.Status)
			}
		}
	}
	// The Alpine index page lists branches when none are given.
	idx := `<html><a href="../">../</a><a href="v3.10/">v3.10/</a> <a href="v3.9/">v3.9/</a><a href="edge/">edge/</a></html>`
	srv.breakPath = func(p string) http.HandlerFunc {
		if p != "/alpine-secdb/" {
			return nil
		}
		return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(idx)) }
	}
	opts.AlpineBranches = nil
	opts.Feeds, _ = SelectFeeds("alpine-secdb")
	opts.Full = true
	srv.take()
	res, err = Update(ctx, path, opts)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	reqs := srv.take()
	for _, p := range []string{"/alpine-secdb/v3.10/main.json", "/alpine-secdb/v3.9/community.json", "/alpine-secdb/edge/main.json"} {
		if reqs[p] == 0 {
			t.Errorf("%s not requested: %v", p, reqs)
		}
	}
	if reqs["/alpine-secdb/v3.8/main.json"] != 0 {
		t.Error("branch not in the index requested")
	}
}

// TestOffline checks that an offline update makes no request and fails
// every feed that needs the network, and that no database is left behind.
func TestOffline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vuln.db")
	opts := offlineOptions(t)
	opts.Offline = true
	res, err := Update(ctx, path, opts)
	if err == nil {
		t.Fatal("offline build succeeded")
	}
	for _, fr := range res.Feeds {
		if !errors.Is(fr.Err, ErrOffline) {
			t.Errorf("%s: %v", fr.Feed, fr.Err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database left behind: %v", err)
	}
	// With a local mirror, offline works.
	opts.Mirror = mirrorDir
	opts.Feeds = OSVFeeds("crates.io")
	if res, err := Update(ctx, path, opts); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
}

// TestSchemaRebuild checks that a database of another schema is refused
// for reading and rebuilt by an update.
func TestSchemaRebuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vuln.db")
	opts := offlineOptions(t)
	opts.Offline, opts.Mirror, opts.Feeds = true, mirrorDir, OSVFeeds("crates.io")
	if _, err := Update(ctx, path, opts); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("0")) })
	b.Close()
	if _, err := store.Open(ctx, path, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("old schema opened: %v", err)
	}
	fr, err := CheckFreshness(ctx, path, opts.Feeds, time.Hour, time.Now())
	if err != nil || !fr.Missing || !fr.NeedsUpdate() {
		t.Errorf("freshness of an old schema: %+v, %v", fr, err)
	}
	res, err := Update(ctx, path, opts)
	if err != nil || !res.Rebuilt {
		t.Fatalf("%+v, %v", res, err)
	}
	db := openRO(t, path)
	m, _ := db.Meta()
	if m.Schema != store.SchemaVersion || len(m.Feeds) != 1 {
		t.Errorf("rebuilt: %+v", m)
	}
}

func TestFreshness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vuln.db")
	feeds := OSVFeeds("crates.io", "Go")
	fr, err := CheckFreshness(ctx, path, feeds, time.Hour, time.Now())
	if err != nil || !fr.Missing {
		t.Errorf("missing file: %+v, %v", fr, err)
	}
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	opts := offlineOptions(t)
	opts.Offline, opts.Mirror, opts.Feeds = true, mirrorDir, feeds[:1]
	opts.Now = func() time.Time { return t0 }
	if _, err := Update(ctx, path, opts); err != nil {
		t.Fatal(err)
	}
	fr, err = CheckFreshness(ctx, path, feeds, time.Hour, t0.Add(time.Minute))
	if err != nil || fr.Missing || !cmpStrings(fr.MissingFeeds, "osv/Go") || len(fr.StaleFeeds) != 0 || !fr.NeedsUpdate() {
		t.Errorf("one feed missing: %+v, %v", fr, err)
	}
	fr, err = CheckFreshness(ctx, path, feeds[:1], time.Hour, t0.Add(2*time.Hour))
	if err != nil || !cmpStrings(fr.StaleFeeds, "osv/crates.io") || fr.Age != 2*time.Hour {
		t.Errorf("stale: %+v, %v", fr, err)
	}
	fr, err = CheckFreshness(ctx, path, feeds[:1], time.Hour, t0.Add(30*time.Minute))
	if err != nil || fr.NeedsUpdate() {
		t.Errorf("fresh: %+v, %v", fr, err)
	}
	m, _ := store.ReadMeta(ctx, path, 0)
	if got := AgeAt(m, t0.Add(3*time.Hour)); got != 3*time.Hour {
		t.Errorf("AgeAt = %v", got)
	}
}

func cmpStrings(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}
