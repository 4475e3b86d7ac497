package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/cache"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
	"github.com/drydockscan/drydock/internal/testutil/redistest"
)

// layerResult walks a small real layer, so the test does not depend on
// what a LayerResult holds.
func layerResult(t *testing.T, pkg string) (*analyze.LayerResult, string) {
	t.Helper()
	raw := it.Tar(t, it.Dir("etc/"), it.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
		it.Dir("var/lib/dpkg/"), it.File("var/lib/dpkg/status", "Package: "+pkg+"\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n"))
	w := analyze.Walker{Analyzers: analyzers.For(analyze.ModeImage)}
	lr, err := w.WalkTar(context.Background(), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return lr, it.Digest(raw)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// warnings collects the cache's log lines.
type warnings struct{ buf bytes.Buffer }

func (w *warnings) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&w.buf, nil)) }

// fsCache opens a file cache in dir whose warnings go to the returned
// buffer.
func fsCache(t *testing.T, dir string) (*cache.Cache, *warnings) {
	t.Helper()
	s, err := cache.OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	return cache.New(s, w.logger()), w
}

// entryPath is where a file cache in dir keeps the entry of k.
func entryPath(dir string, k cache.Key) string {
	return filepath.Join(dir, string(k)[:2], string(k))
}

func inputs() cache.Inputs {
	in := cache.NewInputs(analyze.ModeImage, analyzers.For(analyze.ModeImage))
	in.Limits["walk.max_file_size"] = 1 << 30
	return in
}

func TestKeyChangesWithEveryInput(t *testing.T) {
	base := inputs()
	id := "sha256:" + strings.Repeat("a", 64)
	k := base.Key(id)
	if len(k) != 64 {
		t.Fatalf("key %q is not hex SHA-256", k)
	}
	// The same inputs built again (maps filled in another order) give the
	// same key.
	again := cache.Inputs{Mode: "image", Analyzers: map[string]int{}, Limits: map[string]int64{"walk.max_file_size": 1 << 30}}
	list := analyzers.For(analyze.ModeImage)
	for i := len(list) - 1; i >= 0; i-- {
		again.Analyzers[list[i].Name()] = list[i].Version()
	}
	if again.Key(id) != k {
		t.Errorf("the same inputs give another key")
	}
	for name, change := range map[string]func(*cache.Inputs) string{
		"identity":         func(*cache.Inputs) string { return "sha256:" + strings.Repeat("b", 64) },
		"analyzer version": func(in *cache.Inputs) string { in.Analyzers["dpkg"]++; return id },
		"analyzer added":   func(in *cache.Inputs) string { in.Analyzers["new"] = 1; return id },
		"analyzer removed": func(in *cache.Inputs) string { delete(in.Analyzers, "npm"); return id },
		"limit":            func(in *cache.Inputs) string { in.Limits["walk.max_file_size"]--; return id },
		"mode":             func(in *cache.Inputs) string { in.Mode = "fs"; return id },
	} {
		in := inputs()
		got := in.Key(change(&in))
		if got == k {
			t.Errorf("%s: key unchanged", name)
		}
	}
}

// stores are the backends every store test runs on.
func stores(t *testing.T) map[string]func(t *testing.T) cache.Store {
	return map[string]func(t *testing.T) cache.Store{
		"fs": func(t *testing.T) cache.Store {
			s, err := cache.OpenFS(filepath.Join(t.TempDir(), "layers"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"redis": func(t *testing.T) cache.Store {
			srv := redistest.Start(t, redistest.Options{Password: "s3cret-pw"})
			s, err := cache.OpenRedis(context.Background(), cache.RedisOptions{URL: srv.URL, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"rediss": func(t *testing.T) cache.Store {
			srv := redistest.Start(t, redistest.Options{Password: "s3cret-pw", TLS: true})
			s, err := cache.OpenRedis(context.Background(), cache.RedisOptions{URL: srv.URL, CAFile: srv.CAFile, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func TestStores(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			var w warnings
			c := cache.New(s, w.logger())
			lr, diffID := layerResult(t, "hello")
			in := inputs()
			key := in.Key(diffID)
			if _, ok := c.Get(ctx, key); ok {
				t.Fatal("hit in an empty store")
			}
			c.Put(ctx, key, &cache.Entry{Blob: diffID, DiffID: diffID, Result: lr})
			e, ok := c.Get(ctx, key)
			if !ok {
				t.Fatalf("miss after put; log:\n%s", w.buf.String())
			}
			if e.Blob != diffID || e.DiffID != diffID {
				t.Errorf("entry identities %s %s, want %s", e.Blob, e.DiffID, diffID)
			}
			if got, want := mustJSON(t, e.Result), mustJSON(t, lr); got != want {
				t.Errorf("result changed in the store:\n got %s\nwant %s", got, want)
			}
			if !strings.Contains(mustJSON(t, e.Result), `"hello"`) {
				t.Errorf("the cached result lost the package: %s", mustJSON(t, e.Result))
			}
			// A second layer, then usage, pruning by size and cleaning.
			lr2, diff2 := layerResult(t, "other")
			c.Put(ctx, in.Key(diff2), &cache.Entry{Blob: diff2, DiffID: diff2, Result: lr2})
			u, err := s.Usage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if u.Entries != 2 || u.Bytes <= 0 {
				t.Errorf("usage %+v, want 2 entries", u)
			}
			if w.buf.Len() > 0 {
				t.Errorf("warnings on a healthy store:\n%s", w.buf.String())
			}
			// Scan log, newest first.
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			c.Record(ctx, "a", 0, 3, t0)
			c.Record(ctx, "b", 3, 0, t0.Add(time.Second))
			scans, err := s.Scans(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(scans) != 2 || scans[0].Target != "b" || scans[0].Hits != 3 || scans[1].Target != "a" || scans[1].Misses != 3 {
				t.Errorf("scans %+v", scans)
			}
			removed, err := s.Prune(ctx, cache.PruneOptions{MaxSize: u.Bytes - 1})
			if err != nil {
				t.Fatal(err)
			}
			if removed.Entries != 1 {
				t.Errorf("prune to %d bytes removed %+v, want one entry", u.Bytes-1, removed)
			}
			removed, err = s.Clean(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if removed.Entries != 1 {
				t.Errorf("clean removed %+v, want the last entry", removed)
			}
			if u, _ := s.Usage(ctx); u.Entries != 0 {
				t.Errorf("after clean: %+v", u)
			}
			if scans, _ := s.Scans(ctx, 10); len(scans) != 0 {
				t.Errorf("after clean, scans %+v", scans)
			}
		})
	}
}

// damages spoil the entry file at path every way a crash, a full disk or
// a meddler can; other is another entry's file.
func damages() map[string]func(t *testing.T, path, other string) {
	return map[string]func(t *testing.T, path, other string){
		"truncated": func(t *testing.T, p, _ string) { b, _ := os.ReadFile(p); os.WriteFile(p, b[:len(b)/2], 0o644) },
		"empty":     func(t *testing.T, p, _ string) { os.WriteFile(p, nil, 0o644) },
		"header only": func(t *testing.T, p, _ string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len("drydock-layer")+1], 0o644)
		},
		"bit flipped": func(t *testing.T, p, _ string) { b, _ := os.ReadFile(p); b[len(b)-10] ^= 1; os.WriteFile(p, b, 0o644) },
		"garbage":     func(t *testing.T, p, _ string) { os.WriteFile(p, []byte("not an entry at all"), 0o644) },
		"other key's entry": func(t *testing.T, p, other string) {
			b, _ := os.ReadFile(other)
			os.WriteFile(p, b, 0o644)
		},
		"a directory": func(t *testing.T, p, _ string) { os.Remove(p); os.Mkdir(p, 0o755) },
	}
}

// TestCorruptEntries damages a stored entry every way a crash, a full
// disk or a meddler can: each is a miss and a warning, never a result.
func TestCorruptEntries(t *testing.T) {
	ctx := context.Background()
	lr, diffID := layerResult(t, "hello")
	lr2, diff2 := layerResult(t, "other")
	in := inputs()
	key, key2 := in.Key(diffID), in.Key(diff2)
	for name, damage := range damages() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c, w := fsCache(t, dir)
			c.Put(ctx, key, &cache.Entry{Blob: diffID, DiffID: diffID, Result: lr})
			c.Put(ctx, key2, &cache.Entry{Blob: diff2, DiffID: diff2, Result: lr2})
			path := entryPath(dir, key)
			damage(t, path, entryPath(dir, key2))
			if e, ok := c.Get(ctx, key); ok {
				t.Fatalf("a damaged entry gave a result: %s", mustJSON(t, e.Result))
			}
			if !strings.Contains(w.buf.String(), "level=WARN") {
				t.Errorf("no warning for a damaged entry")
			}
			// The next write repairs it.
			if name != "a directory" {
				c.Put(ctx, key, &cache.Entry{Blob: diffID, DiffID: diffID, Result: lr})
				if _, ok := c.Get(ctx, key); !ok {
					t.Errorf("entry not repaired by a new write")
				}
			}
		})
	}
}

// TestMalformedIndex checks that an entry whose checksum is right but
// whose path index is not well formed (written by another build, or by
// hand) is a miss: a bad index gives wrong answers about the image's
// files, so it is never used.
func TestMalformedIndex(t *testing.T) {
	ctx := context.Background()
	lr, diffID := layerResult(t, "hello")
	if lr.Index.Len() < 2 {
		t.Fatalf("layer index has %d paths, want several", lr.Index.Len())
	}
	for name, bad := range map[string]func(analyze.PathIndex) analyze.PathIndex{
		"partial record": func(x analyze.PathIndex) analyze.PathIndex { return x[:len(x)-1] },
		"out of order": func(x analyze.PathIndex) analyze.PathIndex {
			y := append(analyze.PathIndex(nil), x[analyze.IndexRecordSize:2*analyze.IndexRecordSize]...)
			y = append(y, x[:analyze.IndexRecordSize]...)
			return append(y, x[2*analyze.IndexRecordSize:]...)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, w := fsCache(t, t.TempDir())
			key := inputs().Key(diffID)
			bent := *lr
			bent.Index = bad(lr.Index)
			c.Put(ctx, key, &cache.Entry{Blob: diffID, DiffID: diffID, Result: &bent})
			if _, ok := c.Get(ctx, key); ok {
				t.Fatal("an entry with a malformed index was used")
			}
			if !strings.Contains(w.buf.String(), "malformed path index") {
				t.Errorf("warning does not name the cause: %s", w.buf.String())
			}
			c.Put(ctx, key, &cache.Entry{Blob: diffID, DiffID: diffID, Result: lr})
			if _, ok := c.Get(ctx, key); !ok {
				t.Error("a well-formed entry is a miss")
			}
		})
	}
}

// TestFSPruneOrder checks that pruning removes the least recently used
// entries first, and everything unused for longer than the age limit.
func TestFSPruneOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := cache.OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(s, nil)
	in := inputs()
	now := time.Now()
	var keys []cache.Key
	var sizes []int64
	for i, pkg := range []string{"p0", "p1", "p2", "p3"} {
		lr, d := layerResult(t, pkg)
		k := in.Key(d)
		c.Put(ctx, k, &cache.Entry{Blob: d, DiffID: d, Result: lr})
		// p0 used 40 days ago, p1 3 days ago, p2 2 days ago, p3 1 day ago.
		used := now.Add(-time.Duration([]int{40, 3, 2, 1}[i]) * 24 * time.Hour)
		p := entryPath(dir, k)
		if err := os.Chtimes(p, used, used); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		sizes = append(sizes, st.Size())
		keys = append(keys, k)
	}
	// A hit is a use: p1 becomes the most recently used.
	if _, ok := c.Get(ctx, keys[1]); !ok {
		t.Fatal("miss")
	}
	removed, err := s.Prune(ctx, cache.PruneOptions{MaxAge: 30 * 24 * time.Hour, MaxSize: sizes[1] + sizes[3], Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if removed.Entries != 2 {
		t.Errorf("removed %+v, want p0 (too old) and p2 (least recently used)", removed)
	}
	for i, want := range []bool{false, true, false, true} {
		if _, ok := c.Get(ctx, keys[i]); ok != want {
			t.Errorf("p%d kept=%v, want %v", i, ok, want)
		}
	}
}

// TestRedisAuth checks that a wrong password fails to open and that the
// error does not carry the password.
func TestRedisAuth(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "right-pw"})
	url := strings.Replace(srv.URL, "right-pw", "wrong-pw", 1)
	_, err := cache.OpenRedis(context.Background(), cache.RedisOptions{URL: url})
	if err == nil {
		t.Fatal("opened with a wrong password")
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("error shows the password: %v", err)
	}
	// The password given apart from the URL.
	plain := strings.Replace(srv.URL, ":right-pw@", "", 1)
	s, err := cache.OpenRedis(context.Background(), cache.RedisOptions{URL: plain, Password: "right-pw"})
	if err != nil {
		t.Fatalf("password apart from the URL: %v", err)
	}
	s.Close()
}

// TestRedisTTL checks that entries get their time to live, that a hit
// renews it, and that an expired entry is a miss.
func TestRedisTTL(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{})
	s, err := cache.OpenRedis(ctx, cache.RedisOptions{URL: srv.URL, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opt, _ := redis.ParseURL(srv.URL)
	raw := redis.NewClient(opt)
	defer raw.Close()
	c := cache.New(s, nil)
	lr, d := layerResult(t, "hello")
	k := inputs().Key(d)
	c.Put(ctx, k, &cache.Entry{Blob: d, DiffID: d, Result: lr})
	name := "drydock:layer:" + string(k)
	if ttl := raw.PTTL(ctx, name).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL after put %v, want about an hour", ttl)
	}
	raw.PExpire(ctx, name, 10*time.Second)
	if _, ok := c.Get(ctx, k); !ok {
		t.Fatal("miss")
	}
	if ttl := raw.PTTL(ctx, name).Val(); ttl <= 59*time.Minute {
		t.Errorf("TTL after a hit %v: not renewed", ttl)
	}
	raw.PExpire(ctx, name, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if _, ok := c.Get(ctx, k); ok {
		t.Error("hit on an expired entry")
	}
}

// TestBlobMemoWindow checks when a blob memo is believed: only for the same
// file identity, and only when the file's last change lies before the hash
// by more than the racy window; a shared store keeps none.
func TestBlobMemoWindow(t *testing.T) {
	ctx := context.Background()
	s, err := cache.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(s, nil)
	now := time.Now()
	digest := "sha256:" + strings.Repeat("ab", 32)
	old := cache.FileID{Boot: "b", Dev: 1, Ino: 2, Size: 3, MtimeNS: now.Add(-time.Hour).UnixNano(), CtimeNS: now.Add(-time.Hour).UnixNano(), Length: 3}
	fresh := old
	fresh.Ino, fresh.CtimeNS = 9, now.UnixNano()
	c.RememberBlob(ctx, old, digest)
	c.RememberBlob(ctx, fresh, digest)
	for _, tc := range []struct {
		name string
		id   cache.FileID
		want bool
	}{
		{"same identity, changed long before", old, true},
		{"changed within the racy window", fresh, false},
		{"another inode", func() cache.FileID { x := old; x.Ino = 3; return x }(), false},
		{"changed since (ctime)", func() cache.FileID { x := old; x.CtimeNS++; return x }(), false},
		{"another boot", func() cache.FileID { x := old; x.Boot = "c"; return x }(), false},
		{"no boot id", func() cache.FileID { x := old; x.Boot = ""; return x }(), false},
	} {
		got, ok := c.VerifiedBlob(ctx, tc.id)
		if ok != tc.want || (ok && got != digest) {
			t.Errorf("%s: VerifiedBlob = %q, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
	if _, err := s.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.VerifiedBlob(ctx, old); ok {
		t.Error("a memo survived clean")
	}
}

// TestImageKey: an image entry's key changes with each of its parts and
// never equals a layer entry's.
func TestImageKey(t *testing.T) {
	layers := []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64)}
	k := inputs().ImageKey(layers, "v1", "x")
	if len(k) != 64 || k != inputs().ImageKey(slices.Clone(layers), "v1", "x") {
		t.Fatalf("key %q is not a stable hex SHA-256", k)
	}
	changed := map[string]cache.Key{
		"layer order": inputs().ImageKey([]string{layers[1], layers[0]}, "v1", "x"),
		"one layer":   inputs().ImageKey(layers[:1], "v1", "x"),
		"version":     inputs().ImageKey(layers, "v2", "x"),
		"extra":       inputs().ImageKey(layers, "v1", "y"),
		"inputs": func() cache.Key {
			in := inputs()
			in.Analyzers["dpkg"]++
			return in.ImageKey(layers, "v1", "x")
		}(),
		"a layer entry's key": inputs().Key(layers[0]),
	}
	for name, got := range changed {
		if got == k {
			t.Errorf("%s: key unchanged", name)
		}
	}
}

// TestCorruptImageEntries: a damaged image entry, or another kind of
// entry under its key, is a miss with a warning, never a result.
func TestCorruptImageEntries(t *testing.T) {
	ctx := context.Background()
	lr, diffID := layerResult(t, "hello")
	in := inputs()
	key := in.ImageKey([]string{diffID}, "v1", "")
	layerKey := in.Key(diffID)
	entry := &cache.ImageEntry{Layers: []cache.LayerID{{Blob: diffID, DiffID: diffID}}, Result: []byte(`{"Inventory":{}}`)}
	// "other" is the layer entry: another kind of entry under the image's key.
	for name, damage := range damages() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c, w := fsCache(t, dir)
			c.PutImage(ctx, key, entry)
			c.Put(ctx, layerKey, &cache.Entry{Blob: diffID, DiffID: diffID, Result: lr})
			if got, ok := c.GetImage(ctx, key); !ok || mustJSON(t, got) != mustJSON(t, entry) {
				t.Fatalf("the sound entry did not read back: %v %s", ok, mustJSON(t, got))
			}
			damage(t, entryPath(dir, key), entryPath(dir, layerKey))
			if e, ok := c.GetImage(ctx, key); ok {
				t.Fatalf("a damaged image entry gave a result: %s", mustJSON(t, e))
			}
			if !strings.Contains(w.buf.String(), "level=WARN") {
				t.Errorf("no warning for a damaged image entry")
			}
		})
	}
}
