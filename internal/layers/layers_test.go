package layers_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/layers"
	"github.com/drydockscan/drydock/internal/source"
)

// The expected numbers are computed here from the layer blobs with a
// second, deliberately plain implementation of dive's definition (maps
// of paths instead of trees): a layer's "nodes" are its tar entries and
// their parent directories; its leaves are the nodes with nothing below
// them; a leaf weighs its entry's size, a whiteout leaf the size of the
// directory tree it deletes (0 for a file); efficiency is the sum over
// paths of the smallest weight seen over the sum of all weights; wasted
// bytes sum the weights of paths seen in more than one layer.

type node struct {
	size  int64
	isDir bool
}

// layerNodes reads one blob (gzip, zstd or plain tar) into dive's nodes.
func layerNodes(t *testing.T, blob []byte) (map[string]node, int64) {
	t.Helper()
	var r io.Reader = bytes.NewReader(blob)
	switch {
	case bytes.HasPrefix(blob, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case bytes.HasPrefix(blob, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	nodes := map[string]node{}
	var total int64
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(path.Clean(h.Name), "/")
		if p == "." {
			continue
		}
		total += h.Size
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			if _, ok := nodes[strings.Join(parts[:i], "/")]; !ok {
				nodes[strings.Join(parts[:i], "/")] = node{}
			}
		}
		if strings.HasPrefix(parts[len(parts)-1], ".wh..wh.") {
			continue
		}
		nodes[p] = node{size: h.Size, isDir: h.Typeflag == tar.TypeDir}
	}
	return nodes, total
}

type expected struct {
	efficiency    float64
	wasted        int64
	sizes         []int64
	userSize      int64
	inefficient   int
	userWastedPct float64
}

func expect(t *testing.T, blobs [][]byte) expected {
	var trees []map[string]node
	var e expected
	for i, b := range blobs {
		n, size := layerNodes(t, b)
		trees = append(trees, n)
		e.sizes = append(e.sizes, size)
		if i > 0 {
			e.userSize += size
		}
	}
	type acc struct {
		cum, min int64
		n        int
	}
	paths := map[string]*acc{}
	stacked := map[string]node{}
	for p, n := range trees[0] {
		stacked[p] = n
	}
	for i, tree := range trees {
		if i > 0 {
			// Lay layer i-1 on the stack: deletions, then additions.
			for p := range trees[i-1] {
				if dir, base := path.Split(p); strings.HasPrefix(base, ".wh.") {
					gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
					for q := range stacked {
						if q == gone || strings.HasPrefix(q, gone+"/") {
							delete(stacked, q)
						}
					}
				}
			}
			for p, n := range trees[i-1] {
				if !strings.HasPrefix(path.Base(p), ".wh.") {
					stacked[p] = n
				}
			}
		}
		parents := map[string]bool{}
		for p := range tree {
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				parents[d] = true
			}
		}
		for p, n := range tree {
			if parents[p] {
				continue
			}
			weight := n.size
			dir, base := path.Split(p)
			if strings.HasPrefix(base, ".wh.") {
				p = path.Join(dir, strings.TrimPrefix(base, ".wh."))
				weight = 0
				if s, ok := stacked[p]; ok && s.isDir {
					for q, m := range stacked {
						if q == p || strings.HasPrefix(q, p+"/") {
							weight += m.size
						}
					}
				}
			}
			a := paths[p]
			if a == nil {
				a = &acc{min: weight}
				paths[p] = a
			}
			a.cum += weight
			a.min = min(a.min, weight)
			a.n++
		}
	}
	var minSum, cumSum int64
	for _, a := range paths {
		minSum += a.min
		cumSum += a.cum
		if a.n > 1 {
			e.wasted += a.cum
			e.inefficient++
		}
	}
	e.efficiency = 1
	if cumSum > 0 {
		e.efficiency = float64(minSum) / float64(cumSum)
	}
	if e.userSize > 0 {
		e.userWastedPct = float64(e.wasted) / float64(e.userSize)
	}
	return e
}

// blobs returns the layer blobs of a corpus OCI layout, read by hand.
func blobs(t *testing.T, layout string) [][]byte {
	t.Helper()
	read := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var idx struct {
		Manifests []struct {
			Digest, MediaType string
			Platform          *struct{ Architecture string }
		}
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	digest := idx.Manifests[0].Digest
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.Architecture == "amd64" {
			digest = m.Digest
		}
	}
	var man struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(read(digest), &man); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range man.Layers {
		out = append(out, read(l.Digest))
	}
	return out
}

func analyse(t *testing.T, target string) *layers.Analysis {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, target, source.Options{Platform: &platformAMD64})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	entries, err := layers.Read(ctx, img, layers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return layers.Analyze(target, nil, entries)
}

var platformAMD64 = source.DefaultPlatform()

func TestDiveMetricsOnCorpus(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	dirs, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		layout := filepath.Join(corpus, d.Name(), "oci")
		if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			want := expect(t, blobs(t, layout))
			got := analyse(t, layout)
			if got.Efficiency != want.efficiency {
				t.Errorf("efficiency %v, want %v", got.Efficiency, want.efficiency)
			}
			if got.WastedBytes != want.wasted {
				t.Errorf("wasted bytes %d, want %d", got.WastedBytes, want.wasted)
			}
			if len(got.Wasted) != want.inefficient {
				t.Errorf("%d wasted paths, want %d", len(got.Wasted), want.inefficient)
			}
			if got.UserSizeBytes != want.userSize {
				t.Errorf("user size %d, want %d", got.UserSizeBytes, want.userSize)
			}
			if got.UserWastedPercent == nil || *got.UserWastedPercent != want.userWastedPct {
				t.Errorf("user wasted %v, want %v", got.UserWastedPercent, want.userWastedPct)
			}
			var sizes []int64
			for _, l := range got.Layers {
				sizes = append(sizes, l.Size)
			}
			if !slices.Equal(sizes, want.sizes) {
				t.Errorf("layer sizes %v, want %v", sizes, want.sizes)
			}
			t.Logf("efficiency %.6f, wasted %d bytes, user wasted %.6f", got.Efficiency, got.WastedBytes, *got.UserWastedPercent)
		})
	}
	if n < 4 {
		t.Fatalf("only %d corpus layouts found", n)
	}
}

// TestFormatsAgree reads the same image from every format the corpus has
// it in: the analyses must be equal.
func TestFormatsAgree(t *testing.T) {
	dir := filepath.Join(analyzetest.Corpus(t), "edge-layers")
	want := analyse(t, filepath.Join(dir, "oci"))
	for _, f := range []string{"docker-archive.tar", "docker-archive-v25.tar", "oci.tar", "../edge-zstd/oci"} {
		got := analyse(t, filepath.Join(dir, f))
		got.Image = want.Image
		for i := range got.Layers {
			got.Layers[i].BlobSize, got.Layers[i].Digest = 0, ""
		}
		w := *want
		w.Layers = slices.Clone(want.Layers)
		for i := range w.Layers {
			w.Layers[i].BlobSize, w.Layers[i].Digest = 0, ""
		}
		if diff := cmp.Diff(&w, got); diff != "" {
			t.Errorf("%s differs from oci/ (-oci +%s):\n%s", f, f, diff)
		}
	}
}

// TestChangesEdgeLayers checks the change sets against what the corpus
// records of how edge-layers was built (TRUTH.json build_facts).
func TestChangesEdgeLayers(t *testing.T) {
	a := analyse(t, filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci"))
	change := func(layer int, p string) string {
		for _, c := range a.Layers[layer].Files {
			if c.Path == p {
				return c.Change
			}
		}
		return ""
	}
	tree := map[string]layers.TreeEntry{}
	for _, e := range a.Tree {
		tree[e.Path] = e
	}
	checks := []struct {
		layer int
		path  string
		want  string
	}{
		{1, "/opt/app/plugins/package-lock.json", layers.Added},
		{2, "/opt/app/plugins/package-lock.json", layers.Removed}, // opaque directory
		{2, "/opt/app/lib/old.so", layers.Removed},                // file whiteout
		{3, "/opt/app/lib/old.so", layers.Added},                  // re-added a layer later
		{2, "/var/lib/dpkg/status", layers.Modified},
		{2, "/opt/app/plugins/d.conf", layers.Added},
	}
	for _, c := range checks {
		if got := change(c.layer, c.path); got != c.want {
			t.Errorf("layer %d %s: %q, want %q", c.layer, c.path, got, c.want)
		}
	}
	if e, ok := tree["/opt/app/lib/old.so"]; !ok || e.Layer != 3 {
		t.Errorf("/opt/app/lib/old.so in the tree: %+v, %v; want layer 3", e, ok)
	}
	for p := range tree {
		if p == "/opt/app/tmp" || strings.HasPrefix(p, "/opt/app/tmp/") || strings.HasPrefix(p, "/opt/app/plugins/package-lock") {
			t.Errorf("%s is in the final tree; a whiteout removed it", p)
		}
	}
	var plugins []string
	for p := range tree {
		if strings.HasPrefix(p, "/opt/app/plugins/") {
			plugins = append(plugins, path.Base(p))
		}
	}
	if !slices.Equal(plugins, []string{"d.conf"}) {
		t.Errorf("/opt/app/plugins holds %v, want [d.conf]", plugins)
	}
	// Every removal of layer 2 is a file the layers below had.
	for _, c := range a.Layers[2].Files {
		if c.Change != layers.Removed {
			continue
		}
		found := false
		for _, b := range a.Layers[:2] {
			for _, x := range b.Files {
				found = found || x.Path == c.Path
			}
		}
		if !found {
			t.Errorf("layer 2 removes %s, which no lower layer added", c.Path)
		}
	}
}

// TestHostileTar: unsafe names and limits fail with the entry named.
func TestHostileTar(t *testing.T) {
	mk := func(names ...string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, n := range names {
			if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		return b.Bytes()
	}
	for _, name := range []string{"../etc/passwd", "a/../../x", "/abs"} {
		_, err := layers.ReadTar(context.Background(), bytes.NewReader(mk("ok", name)))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the entry", name, err)
		}
	}
	if _, err := layers.ReadTar(context.Background(), bytes.NewReader([]byte("not a tar at all, not at all, no"))); err == nil {
		t.Error("garbage read as a tar")
	}
}

func FuzzReadTar(f *testing.F) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "a/", Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "a/.wh.b", Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "a/.wh..wh..opq", Typeflag: tar.TypeReg})
	tw.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		le, err := layers.ReadTar(context.Background(), bytes.NewReader(data))
		if err != nil {
			return
		}
		a := layers.Analyze("fuzz", nil, []*layers.LayerEntries{le, le})
		if a.Efficiency < 0 || a.Efficiency > 1 {
			t.Fatalf("efficiency %v", a.Efficiency)
		}
	})
}
