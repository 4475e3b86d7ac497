// Package imagetest builds small images for tests, including broken and
// hostile ones, as OCI layouts written by hand (so any part can be wrong).
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Entry is one tar entry.
type Entry struct {
	Name string
	// Type is a tar type flag; 0 means a regular file.
	Type byte
	Body string
	Link string
	Mode int64
}

// File, Dir, Symlink and Hardlink build entries.
func File(name, body string) Entry { return Entry{Name: name, Body: body, Mode: 0o644} }
func Dir(name string) Entry        { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Link: target, Mode: 0o644}
}

// Tar returns an uncompressed tar of the entries, names written as given.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Link, Mode: e.Mode, Format: tar.FormatPAX}
		if e.Type == 0 {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.Name, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Layer is one layer: its blob as stored and the uncompressed tar's digest.
type Layer struct {
	Blob   []byte
	DiffID string
	// MediaType defaults to the OCI gzip layer type.
	MediaType string
}

// GzipLayer makes a gzip layer from tar entries.
func GzipLayer(t testing.TB, entries ...Entry) Layer {
	t.Helper()
	raw := Tar(t, entries...)
	return Layer{Blob: Gzip(t, raw), DiffID: Digest(raw)}
}

// Parts are the documents of an image before they are written; tests
// change them to make broken images.
type Parts struct {
	Layers []Layer
	// Config is the config JSON; ConfigRaw, when set, replaces it verbatim.
	Config    map[string]any
	ConfigRaw []byte
	// Manifest returns the manifest given the config's descriptor and the
	// layers' descriptors; replace it to lie about digests.
	ManifestRaw []byte
}

// Layout writes an OCI layout of the layers into a new directory; mutate,
// when not nil, may change the parts before they are written.
func Layout(t testing.TB, layers []Layer, mutate func(*Parts)) string {
	t.Helper()
	p := &Parts{Layers: layers}
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, l.DiffID)
	}
	p.Config = map[string]any{
		"architecture": "amd64", "os": "linux",
		"config":  map[string]any{},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"created": "2026-01-01T00:00:00Z",
	}
	if mutate != nil {
		mutate(p)
	}
	dir := t.TempDir()
	write := func(b []byte) string {
		d := Digest(b)
		path := filepath.Join(dir, "blobs", "sha256", d[len("sha256:"):])
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfg := p.ConfigRaw
	if cfg == nil {
		cfg, _ = json.Marshal(p.Config)
	}
	cfgDigest := write(cfg)
	var ldesc []map[string]any
	for _, l := range p.Layers {
		mt := l.MediaType
		if mt == "" {
			mt = "application/vnd.oci.image.layer.v1.tar+gzip"
		}
		ldesc = append(ldesc, map[string]any{"mediaType": mt, "digest": write(l.Blob), "size": len(l.Blob)})
	}
	man := p.ManifestRaw
	if man == nil {
		man, _ = json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": len(cfg)},
			"layers":        ldesc,
		})
	}
	manDigest := write(man)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manDigest, "size": len(man),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// BlobPath returns the path of a blob in a layout written by Layout.
func BlobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs", "sha256", digest[len("sha256:"):])
}
