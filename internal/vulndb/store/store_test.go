package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/vulndb"
	"github.com/drydockscan/drydock/internal/vulndb/feeds/osv"
)

const mirror = "../../../../shared/vulndata/osv-mirror"

var ctx = context.Background()

// readMirror returns the records of one ecosystem archive of the mirror.
func readMirror(t testing.TB, eco string) []vulndb.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(mirror, eco, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var recs []vulndb.Record
	err = osv.ReadZip(ctx, f, st.Size(), osv.Limits{}, func(r vulndb.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func openRW(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func putAll(t testing.TB, db *DB, feed, scope string, recs []vulndb.Record) {
	t.Helper()
	err := db.UpdateFeed(ctx, feed, func(w *FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.SetScope(scope)
		w.SetURL("file://" + feed)
		for i := range recs {
			if err := w.Put(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantCandidate is the candidate a record's affected entry must give.
func wantCandidate(feed string, r *vulndb.Record, a vulndb.Affected) Candidate {
	a.EcosystemSpecific, a.DatabaseSpecific = nil, nil
	return Candidate{Feed: feed, ID: r.ID, Aliases: r.Aliases, Modified: r.Modified, Withdrawn: !r.Withdrawn.IsZero(), Affected: a}
}

// TestCodecRoundTrip encodes and decodes every affected entry of the
// mirror's records.
func TestCodecRoundTrip(t *testing.T) {
	n := 0
	for _, eco := range []string{"Go", "PyPI", "crates.io", "Debian:12"} {
		for _, r := range readMirror(t, eco) {
			for _, a := range r.Affected {
				b := encodeCandidate(nil, &r, &a)
				var got Candidate
				if err := decodeCandidate("f", b, &got); err != nil {
					t.Fatalf("%s: %v", r.ID, err)
				}
				if diff := cmp.Diff(wantCandidate("f", &r, a), got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%s (-want +got):\n%s", r.ID, diff)
				}
				// Every truncation is detected.
				for i := 0; i < len(b); i += 1 + len(b)/16 {
					if decodeCandidate("f", b[:i], &got) == nil {
						t.Fatalf("%s: truncated at %d of %d decoded", r.ID, i, len(b))
					}
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no entries")
	}
}

// TestStoreFeed stores the PyPI archive and checks that every in-scope
// affected entry is found by Candidates under its normalised name (and
// under the name as published), and that Record returns each record.
func TestStoreFeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openRW(t, path)
	recs := readMirror(t, "PyPI")
	putAll(t, db, "osv/PyPI", "PyPI", recs)

	byPkg := map[string][]Candidate{}
	withdrawn := 0
	for i := range recs {
		r := &recs[i]
		if !r.Withdrawn.IsZero() {
			withdrawn++
		}
		for _, a := range r.Affected {
			key := a.Package.Ecosystem + "\x00" + vulndb.NormalizeName("PyPI", a.Package.Name)
			byPkg[key] = append(byPkg[key], wantCandidate("osv/PyPI", r, a))
		}
	}
	for key, want := range byPkg {
		eco, name, _ := strings.Cut(key, "\x00")
		// Look up with a name spelled differently: upper case and "_".
		got, err := db.Candidates(strings.ToLower(eco), strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
		if err != nil {
			t.Fatal(err)
		}
		sortC := cmpopts.SortSlices(func(a, b Candidate) bool { return a.ID < b.ID })
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), sortC); diff != "" {
			t.Errorf("%s (-want +got):\n%s", key, diff)
		}
	}
	for i := range recs {
		got, err := db.Record(recs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		want := recs[i]
		want.Feed = "osv/PyPI"
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Record(%s) (-want +got):\n%s", want.ID, diff)
		}
	}
	if _, err := db.Record("PYSEC-0000-0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	m, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	f, ok := m.Feed("osv/PyPI")
	if !ok || f.Records != len(recs) || f.Withdrawn != withdrawn || f.Scope != "PyPI" || !sameStrings(f.Ecosystems, "PyPI") {
		t.Errorf("feed meta %+v; want %d records, %d withdrawn", f, len(recs), withdrawn)
	}
	if m.Schema != SchemaVersion || m.Built.IsZero() || m.Updated.IsZero() {
		t.Errorf("meta %+v", m)
	}
}

func sameStrings(got []string, want ...string) bool { return cmp.Equal(got, want) }

// TestScope stores the Debian:12 and Debian:13 archives, which share the
// records affecting both releases: each release's lookup must give each
// record once, from the feed of that release.
func TestScope(t *testing.T) {
	db := openRW(t, filepath.Join(t.TempDir(), "db"))
	d12, d13 := readMirror(t, "Debian:12"), readMirror(t, "Debian:13")
	putAll(t, db, "osv/Debian:12", "Debian:12", d12)
	putAll(t, db, "osv/Debian:13", "Debian:13", d13)
	want := map[string]int{}
	for _, set := range [][]vulndb.Record{d12, d13} {
		for _, r := range set {
			for _, a := range r.Affected {
				want[a.Package.Ecosystem+"/"+a.Package.Name+"/"+r.ID]++
			}
		}
	}
	shared := 0
	got := map[string]int{}
	done := map[string]bool{}
	for key, n := range want {
		if n == 2 {
			shared++ // the record is in both archives
		}
		parts := strings.SplitN(key, "/", 3)
		if done[parts[0]+"/"+parts[1]] {
			continue
		}
		done[parts[0]+"/"+parts[1]] = true
		cands, err := db.Candidates(parts[0], parts[1])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			if c.Feed != "osv/"+parts[0] {
				t.Errorf("%s/%s: %s from feed %s", parts[0], parts[1], c.ID, c.Feed)
			}
			got[parts[0]+"/"+parts[1]+"/"+c.ID]++
		}
	}
	for key := range want {
		if got[key] != 1 {
			t.Errorf("%s: %d candidates, want 1", key, got[key])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d candidates, want %d", len(got), len(want))
	}
	if shared == 0 {
		t.Fatal("no record shared by both archives")
	}
}

// TestAtomicUpdate checks that a failed update leaves the previous content,
// and that replacing and deleting records keeps the index exact.
func TestAtomicUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openRW(t, path)
	recs := readMirror(t, "crates.io")
	putAll(t, db, "osv/crates.io", "crates.io", recs)
	before, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	target := recs[0]
	pkg := target.Affected[0].Package.Name
	orig, err := db.Candidates("crates.io", pkg)
	if err != nil || len(orig) == 0 {
		t.Fatalf("%v, %v", orig, err)
	}

	boom := errors.New("download failed")
	err = db.UpdateFeed(ctx, "osv/crates.io", func(w *FeedWriter) error {
		if err := w.Clear(); err != nil {
			return err
		}
		w.Put(&vulndb.Record{ID: "X-1", Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "crates.io", Name: pkg}}}})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	after, _ := db.Meta()
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("meta changed by a failed update (-before +after):\n%s", diff)
	}
	got, _ := db.Candidates("crates.io", pkg)
	if diff := cmp.Diff(orig, got); diff != "" {
		t.Errorf("candidates changed by a failed update (-before +after):\n%s", diff)
	}

	// Replace the record with one naming another package, withdrawn.
	changed := target
	changed.Affected = []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "crates.io", Name: "drydock-test-crate"}}}
	changed.Withdrawn = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = db.UpdateFeed(ctx, "osv/crates.io", func(w *FeedWriter) error {
		if err := w.Put(&changed); err != nil {
			return err
		}
		return w.Delete(recs[1].ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mustCandidates(t, db, "crates.io", pkg) {
		if c.ID == target.ID {
			t.Errorf("%s still indexed under %s", c.ID, pkg)
		}
	}
	got = mustCandidates(t, db, "crates.io", "drydock-test-crate")
	if len(got) != 1 || got[0].ID != target.ID || !got[0].Withdrawn {
		t.Errorf("replacement: %+v", got)
	}
	if _, err := db.Record(recs[1].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted record: %v", err)
	}
	for _, a := range recs[1].Affected {
		for _, c := range mustCandidates(t, db, a.Package.Ecosystem, a.Package.Name) {
			if c.ID == recs[1].ID {
				t.Errorf("deleted record %s still indexed", c.ID)
			}
		}
	}
	m, _ := db.Meta()
	f, _ := m.Feed("osv/crates.io")
	b, _ := before.Feed("osv/crates.io")
	if f.Records != b.Records-1 || f.Withdrawn != b.Withdrawn+boolInt(target.Withdrawn.IsZero()) {
		t.Errorf("counts %d/%d, before %d/%d", f.Records, f.Withdrawn, b.Records, b.Withdrawn)
	}

	// A cancelled context also rolls back.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.UpdateFeed(cctx, "osv/crates.io", func(w *FeedWriter) error { return w.Clear() }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled update: %v", err)
	}
	if len(mustCandidates(t, db, "crates.io", "drydock-test-crate")) != 1 {
		t.Error("cancelled update changed the feed")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustCandidates(t testing.TB, db *DB, eco, name string) []Candidate {
	t.Helper()
	c, err := db.Candidates(eco, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnrichment(t *testing.T) {
	db := openRW(t, filepath.Join(t.TempDir(), "db"))
	sev := []vulndb.Severity{{Type: vulndb.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Source: "nvd"}}
	k := vulndb.KEV{CVE: "CVE-2024-1234", DateAdded: "2024-05-01", KnownRansomwareCampaignUse: "Known"}
	err := db.UpdateFeed(ctx, "nvd", func(w *FeedWriter) error { return w.PutSeverities("CVE-2024-1234", sev) })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateFeed(ctx, "kev", func(w *FeedWriter) error { return w.PutKEV(k) }); err != nil {
		t.Fatal(err)
	}
	got, err := db.Severities("CVE-2024-1234")
	if err != nil || !cmp.Equal(sev, got) {
		t.Errorf("Severities = %v, %v", got, err)
	}
	gk, ok, err := db.KEV("CVE-2024-1234")
	if err != nil || !ok || !cmp.Equal(gk, k) {
		t.Errorf("KEV = %+v, %v, %v", gk, ok, err)
	}
	if _, ok, _ := db.KEV("CVE-2024-9999"); ok {
		t.Error("KEV of an unknown CVE")
	}
	if err := db.UpdateFeed(ctx, "kev", func(w *FeedWriter) error { return w.PutKEV(vulndb.KEV{CVE: "x"}) }); err == nil {
		t.Error("invalid KEV entry accepted")
	}
	// Reopened, the feeds holding enrichments are found from their state.
	path := db.Path()
	db.Close()
	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ro.Severities("CVE-2024-1234"); err != nil || !cmp.Equal(sev, got) {
		t.Errorf("reopened: Severities = %v, %v", got, err)
	}
	if gk, ok, err := ro.KEV("CVE-2024-1234"); err != nil || !ok || !cmp.Equal(gk, k) {
		t.Errorf("reopened: KEV = %+v, %v, %v", gk, ok, err)
	}
	ro.Close()
	// A cleared feed holds none.
	db = openRW(t, path)
	if err := db.UpdateFeed(ctx, "kev", func(w *FeedWriter) error { return w.Clear() }); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.KEV("CVE-2024-1234"); ok || err != nil {
		t.Errorf("KEV of a cleared feed: %v, %v", ok, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	if _, err := Open(ctx, path, Options{ReadOnly: true}); !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), "drydock db update") {
		t.Errorf("missing file: %v", err)
	}
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A second writer waits for the lock, then gives up.
	if _, err := Open(ctx, path, Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("second writer: %v", err)
	}
	db.Close()

	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.UpdateFeed(ctx, "x", func(*FeedWriter) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write on read-only: %v", err)
	}
	ro.Close()

	for _, schema := range []string{"0", strconv.Itoa(SchemaVersion - 1), strconv.Itoa(SchemaVersion + 1), "x"} {
		b, err := bolt.Open(path, 0o644, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte(schema)) })
		b.Close()
		for _, ro := range []bool{true, false} {
			_, err := Open(ctx, path, Options{ReadOnly: ro})
			var se *SchemaError
			if !errors.As(err, &se) || !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "drydock db update") {
				t.Errorf("schema %s, read-only %v: %v", schema, ro, err)
			}
		}
	}

	// A file that is not a database.
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte(strings.Repeat("not a database ", 1000)), 0o644)
	if _, err := Open(ctx, junk, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk file: %v", err)
	}
}

func FuzzDecodeCandidate(f *testing.F) {
	r := vulndb.Record{ID: "GHSA-1", Aliases: []string{"CVE-2024-1"}, Modified: time.Unix(1700000000, 5).UTC()}
	a := vulndb.Affected{
		Package:  vulndb.Package{Ecosystem: "PyPI", Name: "x"},
		Ranges:   []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "1"}}}},
		Versions: []string{"0.1"},
		Severity: []vulndb.Severity{{Type: vulndb.Vendor, Score: "high", Source: "debian"}},
	}
	f.Add(encodeCandidate(nil, &r, &a))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Candidate
		if decodeCandidate("f", data, &c) != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		r := vulndb.Record{ID: c.ID, Aliases: c.Aliases, Modified: c.Modified}
		if c.Withdrawn {
			r.Withdrawn = time.Unix(1, 0)
		}
		again := encodeCandidate(nil, &r, &c.Affected)
		var c2 Candidate
		if err := decodeCandidate("f", again, &c2); err != nil || !cmp.Equal(c, c2, cmpopts.EquateEmpty()) {
			t.Fatalf("re-encoding differs: %+v / %+v, %v", c, c2, err)
		}
	})
}

// TestLookups: a read-only handle gives one Lookup per goroutine asked
// for, each reading the same snapshot on its own goroutine; a read-write
// handle gives one.
func TestLookups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	recs := readMirror(t, "crates.io")
	rw := openRW(t, path)
	putAll(t, rw, "osv/crates.io", "crates.io", recs)
	var got int
	if err := rw.Lookups(4, func(ls []*Lookup) error { got = len(ls); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Errorf("read-write handle: %d lookups, want 1", got)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.Lookups(4, func(ls []*Lookup) error {
		if len(ls) != 4 {
			return fmt.Errorf("read-only handle: %d lookups, want 4", len(ls))
		}
		var g errgroup.Group
		for w, l := range ls {
			g.Go(func() error {
				for i := w; i < len(recs); i += len(ls) {
					id, name := recs[i].ID, recs[i].Affected[0].Package.Name
					want, err := ro.FeedRecord("osv/crates.io", id)
					if err != nil {
						return err
					}
					r, err := l.FeedRecord("osv/crates.io", id)
					if err != nil {
						return err
					}
					if diff := cmp.Diff(want, r); diff != "" {
						return fmt.Errorf("FeedRecord(%s) (-DB +Lookup):\n%s", id, diff)
					}
					cands, err := l.Candidates(nil, "crates.io", name)
					if err != nil {
						return err
					}
					if !slices.ContainsFunc(cands, func(c Candidate) bool { return c.ID == id }) {
						return fmt.Errorf("Candidates(%s) lacks %s", name, id)
					}
				}
				return nil
			})
		}
		return g.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	err = ro.Lookups(2, func(ls []*Lookup) error {
		_, err := ls[len(ls)-1].FeedRecord("osv/crates.io", "RUSTSEC-0000-0000")
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}
