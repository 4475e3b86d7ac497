// Package analyzetest helps test analyzers on real layers and on single
// files.
package analyzetest

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/layerio"
)

// Corpus returns the path of the shared image corpus, skipping the test
// when it is absent.
func Corpus(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "corpus")
		if st, err := os.Stat(p); err == nil && st.IsDir() && fileExists(filepath.Join(d, "go.mod")) {
			return filepath.Clean(p)
		}
	}
	t.Skip("../shared/corpus not found next to the repository")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Layers returns the layer blob paths of a corpus image's OCI layout, in
// order (image is "debian12-app", …; the first manifest of index.json).
func Layers(t testing.TB, image string) []string {
	t.Helper()
	root := filepath.Join(Corpus(t), image, "oci")
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON(t, filepath.Join(root, "index.json"), &idx)
	var m struct {
		MediaType string                    `json:"mediaType"`
		Manifests []struct{ Digest string } `json:"manifests"`
		Layers    []struct{ Digest string } `json:"layers"`
	}
	readJSON(t, blob(root, idx.Manifests[0].Digest), &m)
	for len(m.Layers) == 0 && len(m.Manifests) > 0 {
		d := m.Manifests[0].Digest
		m.Manifests = nil
		readJSON(t, blob(root, d), &m)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, blob(root, l.Digest))
	}
	return out
}

func blob(root, digest string) string {
	return filepath.Join(root, "blobs", strings.Replace(digest, ":", "/", 1))
}

func readJSON(t testing.TB, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// WalkBlob runs the analyzers over one layer blob (gzip, zstd or plain
// tar) with the real walker.
func WalkBlob(t testing.TB, blobPath string, analyzers ...analyze.Analyzer) *analyze.LayerResult {
	t.Helper()
	f, err := os.Open(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &analyze.Walker{Analyzers: analyzers}
	res, err := w.WalkTar(context.Background(), s)
	if err != nil {
		t.Fatalf("%s: %v", blobPath, err)
	}
	return res
}

// File runs one analyzer on one file's content, as the walker would.
func File(t testing.TB, a analyze.Analyzer, path string, content []byte) (*analyze.Result, error) {
	t.Helper()
	f := &analyze.File{Path: path, Size: int64(len(content)), Mode: 0o644, Content: strings.NewReader(string(content))}
	return a.Analyze(context.Background(), f)
}

// ReadFromBlob returns the content of one regular file of a layer blob, or
// nil when the layer does not contain it.
func ReadFromBlob(t testing.TB, blobPath, name string) []byte {
	t.Helper()
	f, err := os.Open(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := tar.NewReader(s)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatalf("%s: %v", blobPath, err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name && hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
