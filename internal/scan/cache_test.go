package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cache"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
	"github.com/drydockscan/drydock/internal/testutil/redistest"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
)

// fsCache opens a layer cache in a new directory; log collects its
// warnings and the scan's.
func fsCache(t *testing.T, dir string, log *bytes.Buffer) *cache.Cache {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := cache.OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cache.New(s, logger(log))
}

func logger(buf *bytes.Buffer) *slog.Logger {
	if buf == nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(buf, nil))
}

// scanWith opens and scans target with opts.
func scanWith(t *testing.T, target string, opts scan.Options, src source.Options) (*scan.Result, error) {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, target, src)
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	defer img.Close()
	if opts.Analyzers == nil {
		opts.Analyzers = analyzers.For(opts.Mode)
	}
	return scan.Image(ctx, img, opts)
}

// inventoryJSON is the comparable form of a scan's inventory.
func inventoryJSON(t *testing.T, r *scan.Result) string {
	t.Helper()
	b, err := json.Marshal(r.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func countCached(c []bool) (n int) {
	for _, v := range c {
		if v {
			n++
		}
	}
	return n
}

// TestCacheHit scans each kind of local image twice into one cache: the
// first scan analyses every layer, the second none, and both give the
// inventory of a scan without a cache.
func TestCacheHit(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	for _, target := range []string{
		"debian12-app/oci",
		"edge-layers/docker-archive.tar", // classic docker save: no blob digests
		"edge-layers/docker-archive-v25.tar",
		"edge-layers/oci.tar",
		"edge-zstd/oci",
		"multiarch-busybox/oci",
	} {
		for _, drop := range []bool{false, true} {
			// Without the files lists, the second scan is answered by the
			// image's cached merge; with them, by the layers' entries.
			t.Run(fmt.Sprintf("%s/drop-files=%t", target, drop), func(t *testing.T) {
				path := filepath.Join(corpus, target)
				plain, err := scanWith(t, path, scan.Options{DropFiles: drop}, source.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if plain.Stats.Cached != nil || plain.Stats.CacheHits+plain.Stats.CacheMisses != 0 {
					t.Errorf("a scan without a cache reports cache use: %+v", plain.Stats)
				}
				var log bytes.Buffer
				c := fsCache(t, "", &log)
				n := plain.Stats.Layers
				for round, wantHits := range []int{0, n} {
					res, err := scanWith(t, path, scan.Options{Cache: c, DropFiles: drop}, source.Options{})
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					if res.Stats.CacheHits != wantHits || res.Stats.CacheMisses != n-wantHits || countCached(res.Stats.Cached) != wantHits {
						t.Errorf("round %d: hits %d misses %d cached %v, want %d hits of %d layers",
							round, res.Stats.CacheHits, res.Stats.CacheMisses, res.Stats.Cached, wantHits, n)
					}
					if wantImage := drop && round == 1; res.Stats.ImageHit != wantImage {
						t.Errorf("round %d: answered by the image entry: %v, want %v", round, res.Stats.ImageHit, wantImage)
					}
					if got, want := inventoryJSON(t, res), inventoryJSON(t, plain); got != want {
						t.Errorf("round %d: inventory differs from the uncached scan's", round)
					}
				}
				if strings.Contains(log.String(), "level=WARN") {
					t.Errorf("warnings:\n%s", log.String())
				}
			})
		}
	}
}

// bumped reports another version for one analyzer.
type bumped struct{ analyze.Analyzer }

func (b bumped) Version() int { return b.Analyzer.Version() + 1 }

// TestCacheInvalidation changes each input of the key in turn: every
// change misses every layer, the unchanged options hit.
func TestCacheInvalidation(t *testing.T) {
	path := filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci")
	c := fsCache(t, "", nil)
	warm, err := scanWith(t, path, scan.Options{Cache: c, DropFiles: true, ExamineKey: "x"}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := warm.Stats.Layers
	bumpDpkg := func() []analyze.Analyzer {
		var list []analyze.Analyzer
		for _, a := range analyzers.For(analyze.ModeImage) {
			if a.Name() == "dpkg" {
				a = bumped{a}
			}
			list = append(list, a)
		}
		return list
	}
	// Each case runs with the options of the first scan but the one it
	// changes (the files lists dropped, the same examination), so the
	// image's merge is cached too and must miss with every layer.
	tests := []struct {
		name      string
		opts      scan.Options
		wantHits  int
		wantImage bool
	}{
		{"same options", scan.Options{}, n, true},
		{"one analyzer's version", scan.Options{Analyzers: bumpDpkg()}, 0, false},
		{"file size limit", scan.Options{Walker: analyze.Walker{MaxFileSize: 1 << 20}}, 0, false},
		{"entry limit", scan.Options{Walker: analyze.Walker{MaxEntries: 1 << 16}}, 0, false},
		{"decompression limit", scan.Options{Limits: layerio.Limits{MaxBytes: 1 << 30, MaxRatio: 100, RatioFloor: 1 << 20}}, 0, false},
		{"scan mode", scan.Options{Mode: analyze.ModeFS, Analyzers: analyzers.For(analyze.ModeImage)}, 0, false},
		// What the caller draws besides the inventory is the image's
		// alone: every layer's entry still serves.
		{"examination", scan.Options{ExamineKey: "y"}, n, false},
		{"unrelated option (parallelism)", scan.Options{Parallel: 1}, n, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Cache, tt.opts.DropFiles = c, true
			if tt.opts.ExamineKey == "" {
				tt.opts.ExamineKey = "x"
			}
			res, err := scanWith(t, path, tt.opts, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stats.CacheHits != tt.wantHits || res.Stats.ImageHit != tt.wantImage {
				t.Errorf("%d hits, image entry used %v; want %d, %v", res.Stats.CacheHits, res.Stats.ImageHit, tt.wantHits, tt.wantImage)
			}
		})
	}
}

// dockerArchive writes a classic `docker save` archive (uncompressed
// layers, no blob digests) of the layer tars, with a config claiming
// diffIDs (nil: the tars' own).
func dockerArchive(t *testing.T, tars [][]byte, diffIDs []string) string {
	t.Helper()
	if diffIDs == nil {
		for _, b := range tars {
			diffIDs = append(diffIDs, it.Digest(b))
		}
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgName := strings.TrimPrefix(it.Digest(cfg), "sha256:") + ".json"
	var layers []string
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(b)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	for i, b := range tars {
		name := strings.Repeat(string(rune('a'+i)), 64) + "/layer.tar"
		add(name, b)
		layers = append(layers, name)
	}
	add(cfgName, cfg)
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"test/image:latest"}, "Layers": layers}})
	add("manifest.json", man)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func dpkgLayer(t *testing.T, pkg string) []byte {
	return it.Tar(t, it.Dir("etc/"), it.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
		it.Dir("var/lib/dpkg/"), it.File("var/lib/dpkg/status", "Package: "+pkg+"\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n"))
}

// TestCacheLyingImages caches an image's layer, then scans images that
// claim that layer — by its blob digest or its diffID — but ship other
// bytes. None may get the cached inventory: each must fail as it does
// without a cache, with the digest mismatch.
func TestCacheLyingImages(t *testing.T) {
	cachedTar, otherTar := dpkgLayer(t, "cached-pkg"), dpkgLayer(t, "shipped-pkg")
	cachedLayer := it.Layer{Blob: it.Gzip(t, cachedTar), DiffID: it.Digest(cachedTar)}
	otherLayer := it.Layer{Blob: it.Gzip(t, otherTar), DiffID: it.Digest(otherTar)}
	tests := []lyingCase{
		{
			// The manifest names the cached blob's digest (and the config
			// its diffID), but the blob holds other bytes.
			name:   "manifest lies about the blob",
			hit:    true,
			honest: func(t *testing.T) string { return it.Layout(t, []it.Layer{cachedLayer}, nil) },
			liar: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{cachedLayer}, nil)
				if err := os.WriteFile(it.BlobPath(dir, it.Digest(cachedLayer.Blob)), otherLayer.Blob, 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
		{
			// The manifest and blob are the other layer's, honest; the
			// config claims the cached layer's diffID for them.
			name:   "config lies about the diffID of a compressed blob",
			honest: func(t *testing.T) string { return it.Layout(t, []it.Layer{cachedLayer}, nil) },
			liar: func(t *testing.T) string {
				l := otherLayer
				l.DiffID = cachedLayer.DiffID
				return it.Layout(t, []it.Layer{l}, nil)
			},
		},
		{
			// The cached blob itself, with a config that claims another
			// diffID for it.
			name:   "config lies about the cached blob",
			hit:    true,
			honest: func(t *testing.T) string { return it.Layout(t, []it.Layer{cachedLayer}, nil) },
			liar: func(t *testing.T) string {
				l := cachedLayer
				l.DiffID = otherLayer.DiffID
				return it.Layout(t, []it.Layer{l}, nil)
			},
		},
		{
			// Classic docker save archive: no blob digest, the config's
			// diffID is the only claim, and it names the cached layer.
			name:   "docker archive config lies about the diffID",
			hit:    true,
			honest: func(t *testing.T) string { return dockerArchive(t, [][]byte{cachedTar}, nil) },
			liar: func(t *testing.T) string {
				return dockerArchive(t, [][]byte{otherTar}, []string{it.Digest(cachedTar)})
			},
		},
		{
			// An OCI layout with an uncompressed layer: blob digest and
			// diffID are the same; both claim the cached layer.
			name: "uncompressed OCI layer replaced",
			hit:  true,
			honest: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{{Blob: cachedTar, DiffID: it.Digest(cachedTar), MediaType: "application/vnd.oci.image.layer.v1.tar"}}, nil)
			},
			liar: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{{Blob: cachedTar, DiffID: it.Digest(cachedTar), MediaType: "application/vnd.oci.image.layer.v1.tar"}}, nil)
				if err := os.WriteFile(it.BlobPath(dir, it.Digest(cachedTar)), otherTar, 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
	}
	for _, tt := range tests {
		for _, drop := range []bool{false, true} {
			// With the files lists dropped the honest scan also caches the
			// image's merge, which a liar claiming the same layers must
			// not get either.
			t.Run(fmt.Sprintf("%s/drop-files=%t", tt.name, drop), func(t *testing.T) { tt.run(t, drop) })
		}
	}
}

type lyingCase struct {
	name string
	// honest is an image whose scan fills the cache with the layer; liar
	// claims it.
	honest, liar func(t *testing.T) string
	// hit is set when the lie finds the cached entry (and is refused with
	// a warning) rather than missing it outright.
	hit bool
}

func (tt lyingCase) run(t *testing.T, drop bool) {
	var log bytes.Buffer
	c := fsCache(t, "", &log)
	res, err := scanWith(t, tt.honest(t), scan.Options{Cache: c, DropFiles: drop}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inventoryJSON(t, res), "cached-pkg") || res.Stats.CacheMisses != 1 {
		t.Fatalf("the honest image did not fill the cache: %+v", res.Stats)
	}
	liar := tt.liar(t)
	_, plainErr := scanWith(t, liar, scan.Options{DropFiles: drop}, source.Options{})
	if !errors.Is(plainErr, layerio.ErrDigest) {
		t.Fatalf("without a cache the lie is not a digest mismatch: %v", plainErr)
	}
	res, err = scanWith(t, liar, scan.Options{Cache: c, Logger: logger(&log), DropFiles: drop}, source.Options{})
	if err == nil {
		t.Fatalf("the lying image was scanned (hits %d): %s", res.Stats.CacheHits, inventoryJSON(t, res))
	}
	if !errors.Is(err, layerio.ErrDigest) || err.Error() != plainErr.Error() {
		t.Errorf("with the cache: %v\nwithout:        %v", err, plainErr)
	}
	if refused := strings.Contains(log.String(), "layer cache not used"); refused != tt.hit {
		t.Errorf("entry refused with a warning: %v, want %v; log:\n%s", refused, tt.hit, log.String())
	}
}

// counter counts the registry's blob downloads, by digest.
type counter struct {
	mu    sync.Mutex
	blobs map[string]int
}

func (c *counter) count(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blobs[digest]
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blobs = map[string]int{}
}

// countingProxy puts a reverse proxy on loopback in front of the real
// registry and counts the GETs of blobs.
func countingProxy(t *testing.T, host string) (string, *counter) {
	t.Helper()
	c := &counter{blobs: map[string]int{}}
	target, _ := url.Parse("http://" + host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
			c.mu.Lock()
			c.blobs[r.URL.Path[i+len("/blobs/"):]]++
			c.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), c
}

// TestCacheRegistry pushes an image to the real registry and scans it
// through a counting proxy: a cold scan downloads every layer blob; with
// every layer cached (here by scanning the same image from its OCI
// layout: the blobs have the same digests) no layer blob is downloaded,
// only the manifest and the config; with one entry gone, only that layer.
func TestCacheRegistry(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	reg := registrytest.Start(t, registrytest.Options{})
	layout := filepath.Join(corpus, "edge-layers", "oci")
	img, err := source.Open(context.Background(), "oci:"+layout, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	ref, _ := name.ParseReference(reg.Host + "/corpus/edge-layers:v1")
	if err := remote.Write(ref, img.Image); err != nil {
		t.Fatal(err)
	}
	host, counts := countingProxy(t, reg.Host)
	target := host + "/corpus/edge-layers:v1"
	configDigest, _ := img.Image.ConfigName()
	layerFetches := func() (n int) {
		for _, l := range img.Layers {
			n += counts.count(l.Digest.String())
		}
		return n
	}

	for _, drop := range []bool{false, true} {
		// With the files lists dropped, the image's cached merge answers
		// the warm scan; without, the layers' entries.
		t.Run(fmt.Sprintf("drop-files=%t", drop), func(t *testing.T) {
			opts := func(c *cache.Cache) scan.Options { return scan.Options{Cache: c, DropFiles: drop} }
			counts.reset()
			c := fsCache(t, t.TempDir(), nil)
			cold, err := scanWith(t, target, opts(c), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := layerFetches(); got != len(img.Layers) || cold.Stats.CacheMisses != len(img.Layers) {
				t.Errorf("cold scan: %d layer blob GETs, %d misses; want %d", got, cold.Stats.CacheMisses, len(img.Layers))
			}

			// Every layer cached, by a scan of another source of the same blobs.
			dir := t.TempDir()
			c2 := fsCache(t, dir, nil)
			if _, err := scanWith(t, "oci:"+layout, opts(c2), source.Options{}); err != nil {
				t.Fatal(err)
			}
			counts.reset()
			warm, err := scanWith(t, target, opts(c2), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := layerFetches(); got != 0 || warm.Stats.CacheHits != len(img.Layers) || warm.Stats.ImageHit != drop {
				t.Errorf("warm scan: %d layer blob GETs, %d hits, image entry used %v; want none, %d and %v",
					got, warm.Stats.CacheHits, warm.Stats.ImageHit, len(img.Layers), drop)
			}
			if counts.count(configDigest.String()) != 1 {
				t.Errorf("config fetched %d times, want once", counts.count(configDigest.String()))
			}
			if inventoryJSON(t, warm) != inventoryJSON(t, cold) {
				t.Error("warm registry inventory differs from the cold one")
			}

			// One layer entry removed (and the image's merge, which would
			// answer without it): only that layer is downloaded.
			var layerEntries []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || len(d.Name()) != 64 {
					return nil
				}
				b, _ := os.ReadFile(p)
				if bytes.HasPrefix(b, []byte("drydock-image\x00")) {
					os.Remove(p)
				} else {
					layerEntries = append(layerEntries, p)
				}
				return nil
			})
			if len(layerEntries) != len(img.Layers) {
				t.Fatalf("%d layer cache entries, want %d", len(layerEntries), len(img.Layers))
			}
			os.Remove(layerEntries[0])
			counts.reset()
			part, err := scanWith(t, target, opts(c2), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := layerFetches(); got != 1 || part.Stats.CacheHits != len(img.Layers)-1 {
				t.Errorf("one entry missing: %d layer blob GETs, %d hits; want 1 and %d", got, part.Stats.CacheHits, len(img.Layers)-1)
			}
			if inventoryJSON(t, part) != inventoryJSON(t, cold) {
				t.Error("partly cached registry inventory differs from the cold one")
			}
		})
	}
}

// TestCacheRedis runs scans against a real Redis server: the second scan
// of an image, from any process, hits every layer.
func TestCacheRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "pw-for-test"})
	path := filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci")
	open := func() *cache.Cache {
		s, err := cache.OpenRedis(context.Background(), cache.RedisOptions{URL: srv.URL, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return cache.New(s, nil)
	}
	cold, err := scanWith(t, path, scan.Options{Cache: open()}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	warm, err := scanWith(t, path, scan.Options{Cache: open()}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := cold.Stats.Layers
	if cold.Stats.CacheMisses != n || warm.Stats.CacheHits != n {
		t.Errorf("cold misses %d, warm hits %d, want %d", cold.Stats.CacheMisses, warm.Stats.CacheHits, n)
	}
	if inventoryJSON(t, warm) != inventoryJSON(t, cold) {
		t.Error("inventory from Redis differs")
	}
}

// TestBlobMemo checks that a local blob verified once, by the scan that
// analysed it or by a warm scan that hashed it, is not hashed again while
// its file is unchanged, and that rewriting the blob in place (the same
// file, other bytes) is noticed: the cached result is refused and the
// scan fails as an uncached scan of the changed image does.
func TestBlobMemo(t *testing.T) {
	layout := copyLayout(t, filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci"))
	var log bytes.Buffer
	dir := t.TempDir()
	c := fsCache(t, dir, &log)
	c.SetRacyWindow(0)
	scanOnce := func() *scan.Result {
		t.Helper()
		res, err := scanWith(t, layout, scan.Options{Cache: c}, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	cold := scanOnce()
	n := cold.Stats.Layers
	if cold.Stats.CacheMisses != n || cold.Stats.BlobsHashed != 0 {
		t.Fatalf("cold: %d misses, %d blobs hashed; want %d, 0", cold.Stats.CacheMisses, cold.Stats.BlobsHashed, n)
	}
	first := scanOnce()
	if first.Stats.CacheHits != n || first.Stats.BlobsHashed != 0 {
		t.Errorf("first warm scan: %d hits, %d blobs hashed; want %d, 0 (verified by the memos of the cold scan's reading)", first.Stats.CacheHits, first.Stats.BlobsHashed, n)
	}
	// Without the memos (another cache filled the layer entries), the
	// warm scan hashes every blob, and leaves memos for the next.
	if err := os.RemoveAll(filepath.Join(dir, "verified")); err != nil {
		t.Fatal(err)
	}
	second := scanOnce()
	if second.Stats.CacheHits != n || second.Stats.BlobsHashed != n {
		t.Errorf("warm scan without memos: %d hits, %d blobs hashed; want %d, %d", second.Stats.CacheHits, second.Stats.BlobsHashed, n, n)
	}
	third := scanOnce()
	if third.Stats.CacheHits != n || third.Stats.BlobsHashed != 0 {
		t.Errorf("next warm scan: %d hits, %d blobs hashed; want %d, 0 (verified by the memo)", third.Stats.CacheHits, third.Stats.BlobsHashed, n)
	}
	for _, r := range []*scan.Result{first, third} {
		if got, want := inventoryJSON(t, r), inventoryJSON(t, cold); got != want {
			t.Errorf("inventory from memo-verified layers differs from the cold scan's")
		}
	}

	// Rewrite the first layer's blob in place with other bytes of the same
	// size: same path and inode, new change time.
	blob := layerBlob(t, layout, 0)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	_, err = scanWith(t, layout, scan.Options{Cache: c, Logger: logger(&log)}, source.Options{})
	if err == nil || !strings.Contains(err.Error(), "layer 0 ") {
		t.Errorf("blob rewritten in place: scan error %v, want the layer read again and refused", err)
	}
	if !strings.Contains(log.String(), "do not have the digest the image claims") {
		t.Errorf("the rewritten blob was not hashed and refused:\n%s", log.String())
	}
}

// copyLayout copies an OCI layout directory into a temporary directory.
func copyLayout(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "oci")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// layerBlob returns the path of the blob of layer i of the layout's only
// image.
func layerBlob(t *testing.T, layout string, i int) string {
	t.Helper()
	img, err := source.Open(context.Background(), layout, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	d := img.Layers[i].Digest
	return filepath.Join(layout, "blobs", d.Algorithm, d.Hex)
}

// TestCacheImageEntryDamaged: a damaged image entry costs the merge, not
// the answer: the layers' entries serve, with a warning.
func TestCacheImageEntryDamaged(t *testing.T) {
	path := filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci")
	dir := t.TempDir()
	var log bytes.Buffer
	c := fsCache(t, dir, &log)
	first, err := scanWith(t, path, scan.Options{Cache: c, DropFiles: true}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if b, rerr := os.ReadFile(p); err == nil && !d.IsDir() && rerr == nil && bytes.HasPrefix(b, []byte("drydock-image\x00")) {
			b[len(b)-1] ^= 0xff
			os.WriteFile(p, b, 0o644)
			damaged++
		}
		return nil
	})
	if damaged != 1 {
		t.Fatalf("%d image entries, want 1", damaged)
	}
	res, err := scanWith(t, path, scan.Options{Cache: c, DropFiles: true}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.ImageHit || res.Stats.CacheHits != first.Stats.Layers {
		t.Errorf("image entry used %v, %d hits; want false and %d", res.Stats.ImageHit, res.Stats.CacheHits, first.Stats.Layers)
	}
	if inventoryJSON(t, res) != inventoryJSON(t, first) {
		t.Error("inventory differs from the first scan's")
	}
	if !strings.Contains(log.String(), "image entry corrupt") {
		t.Errorf("no warning about the damaged entry:\n%s", log.String())
	}
	// The scan wrote the entry again: the next one is answered by it.
	if again, err := scanWith(t, path, scan.Options{Cache: c, DropFiles: true}, source.Options{}); err != nil || !again.Stats.ImageHit {
		t.Errorf("after the repair: %v, image entry used %v", err, again != nil && again.Stats.ImageHit)
	}
}

// TestCacheImageEntryHoldsNoHistory: history commands can hold build
// arguments' tokens; the image's cached merge must not keep them (the
// layers' descriptions come from the image on every scan).
func TestCacheImageEntryHoldsNoHistory(t *testing.T) {
	const token = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
	tarb := dpkgLayer(t, "hello")
	layout := it.Layout(t, []it.Layer{{Blob: it.Gzip(t, tarb), DiffID: it.Digest(tarb)}}, func(p *it.Parts) {
		p.Config["history"] = []map[string]any{{"created_by": "RUN |1 TOKEN=" + token + " /bin/sh -c make"}}
	})
	dir := t.TempDir()
	c := fsCache(t, dir, nil)
	for round := range 2 {
		res, err := scanWith(t, layout, scan.Options{Cache: c, DropFiles: true}, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Inventory.Layers) != 1 || !strings.Contains(res.Inventory.Layers[0].CreatedBy, token) {
			t.Fatalf("round %d: the scan lost the layer's history: %+v", round, res.Inventory.Layers)
		}
		if round == 1 && !res.Stats.ImageHit {
			t.Fatal("the second scan was not answered by the image entry")
		}
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		raw, _ := os.ReadFile(p)
		if bytes.HasPrefix(raw, []byte("drydock-")) {
			if plain := decompressEntry(t, raw); bytes.Contains(plain, []byte(token)) {
				t.Errorf("%s holds the history's token", p)
			}
		}
		return nil
	})
}

// decompressEntry returns the plain payload of a cache entry file (either
// kind): header, SHA-256, zstd.
func decompressEntry(t *testing.T, raw []byte) []byte {
	t.Helper()
	i := bytes.IndexByte(raw, 0)
	if i < 0 || len(raw) < i+1+32 {
		t.Fatalf("not a cache entry: %q", raw[:min(len(raw), 20)])
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	plain, err := d.DecodeAll(raw[i+1+32:], nil)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}
