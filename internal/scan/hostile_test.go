package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

const goodStatus = "Package: hello\nStatus: install ok installed\nVersion: 2.10-3\nArchitecture: amd64\n\n"

// baseLayer is a valid layer every hostile image starts from.
func baseLayer(t *testing.T) it.Layer {
	return it.GzipLayer(t,
		it.Dir("etc/"), it.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
		it.Dir("var/lib/dpkg/"), it.File("var/lib/dpkg/status", goodStatus))
}

// bomb returns a gzip layer whose tar holds one file of n MiB of zeros,
// made of repeated gzip members so that building it costs nothing.
func bomb(t *testing.T, mib int) it.Layer {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: int64(mib) << 20, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	mb := member(make([]byte, 1<<20))
	blob := member(hdr.Bytes())
	for i := 0; i < mib; i++ {
		blob = append(blob, mb...)
	}
	return it.Layer{Blob: blob, DiffID: "sha256:" + strings.Repeat("0", 64)}
}

// rewriteConfig changes the config of a layout written by imagetest.
func withConfig(raw string) func(*it.Parts) {
	return func(p *it.Parts) { p.ConfigRaw = []byte(raw) }
}

func TestHostileImages(t *testing.T) {
	tests := []struct {
		name   string
		build  func(t *testing.T) string // returns the scan target
		limits layerio.Limits
		// want are substrings the error must contain; wantErr the sentinel.
		want    []string
		wantErr error
	}{
		{
			name: "truncated layer",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/data", strings.Repeat("x", 1<<16)))
				dir := it.Layout(t, []it.Layer{baseLayer(t), l}, nil)
				p := it.BlobPath(dir, it.Digest(l.Blob))
				b, _ := os.ReadFile(p)
				os.WriteFile(p, b[:len(b)/2], 0o644)
				return dir
			},
			want: []string{"layer 1", "sha256:"},
		},
		{
			name: "layer digest mismatch",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "original"))
				dir := it.Layout(t, []it.Layer{baseLayer(t), l}, nil)
				other := it.GzipLayer(t, it.File("app/a", "replaced"))
				os.WriteFile(it.BlobPath(dir, it.Digest(l.Blob)), other.Blob, 0o644)
				return dir
			},
			want: []string{"layer 1", "manifest says " + "sha256:"}, wantErr: layerio.ErrDigest,
		},
		{
			name: "diff_id mismatch",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "content"))
				l.DiffID = it.Digest([]byte("something else"))
				return it.Layout(t, []it.Layer{baseLayer(t), l}, nil)
			},
			want: []string{"layer 1", "config says " + it.Digest([]byte("something else"))}, wantErr: layerio.ErrDigest,
		},
		{
			name: "parent directory in entry name",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/../../../etc/evil", "x"))}, nil)
			},
			want: []string{"layer 1", "app/../../../etc/evil", "escapes"}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "absolute entry name",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("/etc/cron.d/evil", "x"))}, nil)
			},
			want: []string{"layer 1", "/etc/cron.d/evil", "absolute"}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "whiteout of the parent directory",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File("etc/.wh...", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"etc/.wh..."`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "whiteout of the root's parent",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File(".wh...", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `".wh..."`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "whiteout of the directory itself",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File("etc/.wh..", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"etc/.wh.."`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "whiteout of nothing",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File("etc/.wh.", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"etc/.wh."`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "whiteout reached through a parent segment",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File("app/../.wh.etc", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"app/../.wh.etc"`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "opaque marker reached through a parent segment",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/x", "x"), it.File("app/../etc/.wh..wh..opq", ""))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"app/../etc/.wh..wh..opq"`}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "hardlink out of the image",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.Hardlink("app/passwd", "../../etc/passwd"))}, nil)
			},
			want: []string{"layer 1", "app/passwd"}, wantErr: analyze.ErrUnsafePath,
		},
		{
			name: "hardlink to a file in no layer",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.Dir("app/"), it.Hardlink("app/shadow", "etc/shadow"))}, nil)
			},
			want: []string{"layer 1", "sha256:", `"/app/shadow"`, `"/etc/shadow"`}, wantErr: analyze.ErrLinkTarget,
		},
		{
			name: "hardlink to a file a lower layer deleted",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("etc/.wh.os-release", "")),
					it.GzipLayer(t, it.Hardlink("os-release", "etc/os-release"))}, nil)
			},
			want: []string{"layer 2", "sha256:", `"/os-release"`}, wantErr: analyze.ErrLinkTarget,
		},
		{
			name: "hardlink before its target in the same layer",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.Hardlink("b", "a"), it.File("a", "x"))}, nil)
			},
			want: []string{"layer 1", `"/b"`}, wantErr: analyze.ErrLinkTarget,
		},
		{
			name: "layer with a config media type",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "x"))
				l.MediaType = "application/vnd.oci.image.config.v1+json"
				return it.Layout(t, []it.Layer{baseLayer(t), l}, nil)
			},
			want: []string{"layer 1", "sha256:", `"application/vnd.oci.image.config.v1+json"`}, wantErr: source.ErrMediaType,
		},
		{
			name: "layer with a manifest media type in an OCI archive",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "x"))
				l.MediaType = "application/vnd.oci.image.manifest.v1+json"
				return "oci-archive:" + tarDir(t, it.Layout(t, []it.Layer{baseLayer(t), l}, nil))
			},
			want: []string{"layer 1", `"application/vnd.oci.image.manifest.v1+json"`}, wantErr: source.ErrMediaType,
		},
		{
			name: "layer with an arbitrary media type",
			build: func(t *testing.T) string {
				l := baseLayer(t)
				l.MediaType = "text/plain"
				return it.Layout(t, []it.Layer{l}, nil)
			},
			want: []string{"layer 0", `"text/plain"`}, wantErr: source.ErrMediaType,
		},
		{
			name: "layer with an arbitrary media type in a Docker 25 archive",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "x"))
				l.MediaType = "application/octet-stream"
				return dockerArchive25(t, it.Layout(t, []it.Layer{baseLayer(t), l}, nil))
			},
			want: []string{"layer 1", `"application/octet-stream"`}, wantErr: source.ErrMediaType,
		},
		{
			name: "unknown OCI layout version",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`), 0o644)
				return dir
			},
			want: []string{`"2.0.0"`}, wantErr: source.ErrLayoutVersion,
		},
		{
			name: "unknown OCI layout version in an OCI archive",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.1.0"}`), 0o644)
				return tarDir(t, dir)
			},
			want: []string{`"1.1.0"`}, wantErr: source.ErrLayoutVersion,
		},
		{
			name: "unknown OCI layout version in a Docker 25 archive",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"9"}`), 0o644)
				return dockerArchive25(t, dir)
			},
			want: []string{`"9"`}, wantErr: source.ErrLayoutVersion,
		},
		{
			name: "malformed oci-layout",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":1}`), 0o644)
				return dir
			},
			want: []string{"oci-layout is malformed"}, wantErr: source.ErrLayoutVersion,
		},
		{
			name: "missing oci-layout",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				os.Remove(filepath.Join(dir, "oci-layout"))
				return dir
			},
			want: []string{"no oci-layout file"}, wantErr: source.ErrLayoutVersion,
		},
		{
			name: "gzip bomb",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), bomb(t, 1200)}, nil)
			},
			want: []string{"layer 1", "200:1"}, wantErr: layerio.ErrBomb,
		},
		{
			name: "corrupt config JSON",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t)}, withConfig(`{"rootfs": {"diff_ids": [`))
			},
			want: []string{"config"},
		},
		{
			name: "config lists fewer layers than the manifest",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), baseLayer(t)}, func(p *it.Parts) {
					p.Config["rootfs"] = map[string]any{"type": "layers", "diff_ids": []string{p.Layers[0].DiffID}}
				})
			},
			want: []string{"2 layers", "1 diff_ids"},
		},
		{
			name: "missing blob",
			build: func(t *testing.T) string {
				l := it.GzipLayer(t, it.File("app/a", "x"))
				dir := it.Layout(t, []it.Layer{baseLayer(t), l}, nil)
				os.Remove(it.BlobPath(dir, it.Digest(l.Blob)))
				return dir
			},
			want: []string{"layer 1", it.Digest(nil)[:7]},
		},
		{
			name: "malformed dpkg status",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{it.GzipLayer(t,
					it.File("var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1.0\n this line continues\nno colon here\n"))}, nil)
			},
			want: []string{"layer 0", "/var/lib/dpkg/status", "dpkg", "line 5"}, wantErr: scan.ErrUnreadable,
		},
		{
			name: "manifest digest of a tampered manifest",
			build: func(t *testing.T) string {
				dir := it.Layout(t, []it.Layer{baseLayer(t)}, nil)
				var idx map[string]any
				b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
				json.Unmarshal(b, &idx)
				d := idx["manifests"].([]any)[0].(map[string]any)["digest"].(string)
				mp := it.BlobPath(dir, d)
				m, _ := os.ReadFile(mp)
				os.WriteFile(mp, bytes.Replace(m, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":2 `), 1), 0o644)
				return dir
			},
			want: []string{"digest mismatch"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.build(t)
			ctx := context.Background()
			img, err := source.Open(ctx, target, source.Options{})
			if err == nil {
				defer img.Close()
				_, err = scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage), Limits: tc.limits})
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
		})
	}
}

// TestSymlinksStayInside checks that links pointing out of the image, and
// loops, are resolved inside the image or not at all: the host's own
// /etc/os-release must never be read.
func TestSymlinksStayInside(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		layers []it.Layer
		wantID string // "" for no OS
	}{
		{"escaping link resolves inside", []it.Layer{it.GzipLayer(t,
			it.Dir("etc/"), it.Symlink("etc/os-release", "../../../../../../usr/lib/os-release"),
			it.Dir("usr/lib/"), it.File("usr/lib/os-release", "ID=insideos\n"))}, "insideos"},
		{"absolute link resolves inside", []it.Layer{it.GzipLayer(t,
			it.Dir("etc/"), it.Symlink("etc/os-release", "/usr/lib/os-release"),
			it.Dir("usr/lib/"), it.File("usr/lib/os-release", "ID=insideos\n"))}, "insideos"},
		{"link to a host-only path", []it.Layer{it.GzipLayer(t,
			it.Dir("etc/"), it.Symlink("etc/os-release", "../../../../etc/os-release"))}, ""},
		{"loop", []it.Layer{it.GzipLayer(t,
			it.Dir("etc/"), it.Symlink("etc/os-release", "os-release-b"), it.Symlink("etc/os-release-b", "os-release"))}, ""},
		{"link through a directory link in a later layer", []it.Layer{
			it.GzipLayer(t, it.Dir("usr/lib/"), it.File("usr/lib/os-release", "ID=insideos\n")),
			it.GzipLayer(t, it.Symlink("etc", "usr/lib"))}, "insideos"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := it.Layout(t, tc.layers, nil)
			img, err := source.Open(ctx, dir, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			got := ""
			if res.Inventory.OS != nil {
				got = res.Inventory.OS.ID
			}
			if got != tc.wantID {
				t.Errorf("OS %q, want %q", got, tc.wantID)
			}
		})
	}
}

// TestNothingWrittenOutside scans hostile images with TMPDIR pointed at a
// fresh directory and checks that the scan leaves no file anywhere: not in
// the working directory, not in the temp directory, not where the entry
// names point.
func TestNothingWrittenOutside(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	work := t.TempDir()
	t.Chdir(work)
	big := strings.Repeat("j", 40<<20) // spooled to a temporary file
	layers := []it.Layer{
		baseLayer(t),
		it.GzipLayer(t, it.Symlink("app", "../../../../"+work), it.File("lib.jar", big), it.File("app/x/../../../escape.txt", "x")),
	}
	dir := it.Layout(t, layers, nil)
	ctx := context.Background()
	img, err := source.Open(ctx, dir, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	img.Close()
	if err == nil {
		t.Fatal("the escaping entry name was not refused")
	}
	for _, d := range []string{tmp, work} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			t.Errorf("%s: left %s behind", d, e.Name())
		}
	}
}

// tarDir packs a directory (an OCI layout) into a tar file.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerArchive25 turns an OCI layout written by imagetest into a docker
// save archive as Docker 25 and later write it: the OCI layout plus a
// manifest.json that names the config and layer blobs.
func dockerArchive25(t *testing.T, dir string) string {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	var m struct {
		Config struct{ Digest string }   `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	readJSON(t, it.BlobPath(dir, idx.Manifests[0].Digest), &m)
	blob := func(d string) string { return "blobs/sha256/" + strings.TrimPrefix(d, "sha256:") }
	entry := map[string]any{"Config": blob(m.Config.Digest), "RepoTags": []string{"hostile/image:latest"}}
	var layers []string
	for _, l := range m.Layers {
		layers = append(layers, blob(l.Digest))
	}
	entry["Layers"] = layers
	b, _ := json.Marshal([]any{entry})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "docker-archive:" + tarDir(t, dir)
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// TestHostileHelpersReadValidImages checks that the archives the hostile
// cases are built from are read when nothing is wrong with them, so that
// each case fails for its own reason.
func TestHostileHelpersReadValidImages(t *testing.T) {
	ctx := context.Background()
	base := it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.File("app/a", "x"), it.Hardlink("app/os-release", "etc/os-release"))}, nil)
	for _, target := range []string{base, "oci-archive:" + tarDir(t, base), dockerArchive25(t, base)} {
		img, err := source.Open(ctx, target, source.Options{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
		img.Close()
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if len(res.Inventory.Packages) != 1 || res.Inventory.OS == nil || len(res.Inventory.Layers) != 2 {
			t.Errorf("%s: inventory %+v", target, res.Inventory)
		}
	}
}

// TestOddNamesAreScanned scans an image and a directory whose file names
// are not valid UTF-8: the scan goes on, the packages under those names
// are found with their names byte for byte, and each odd name is a warning
// naming its layer.
func TestOddNamesAreScanned(t *testing.T) {
	ctx := context.Background()
	pkgJSON := `{"name":"odd-pkg","version":"1.2.3"}`
	list := "/usr/bin/hello\n/usr/share/doc/caf\xe9/README\n"
	odd := it.GzipLayer(t,
		it.Dir("app/node_modules/caf\xe9/"), it.File("app/node_modules/caf\xe9/package.json", pkgJSON),
		it.Dir("var/lib/dpkg/info/"), it.File("var/lib/dpkg/info/hello.list", list),
		it.File("app/line\nbreak", "x"))
	dir := it.Layout(t, []it.Layer{baseLayer(t), odd}, nil)

	root := t.TempDir()
	for p, body := range map[string]string{
		"etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n", "var/lib/dpkg/status": goodStatus,
		"app/node_modules/caf\xe9/package.json": pkgJSON, "var/lib/dpkg/info/hello.list": list, "app/line\nbreak": "x",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for target, layer := range map[string]int{dir: 1, "dir:" + root: 0} {
		img, err := source.Open(ctx, target, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
		img.Close()
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		var found bool
		for _, p := range res.Inventory.Packages {
			if p.Name == "odd-pkg" {
				found = p.Path == "/app/node_modules/caf\xe9/package.json"
			}
			if p.Name == "hello" && !slices.Contains(p.Files, "/usr/share/doc/caf\xe9/README") {
				t.Errorf("%s: hello's files %q lack the odd name", target, p.Files)
			}
		}
		if !found {
			t.Errorf("%s: the package under an odd name was not found byte for byte: %+v", target, res.Inventory.Packages)
		}
		var warned []string
		for _, w := range res.Warnings {
			if w.Layer == layer {
				warned = append(warned, w.Error())
			}
		}
		for _, want := range []string{`"/app/node_modules/caf\xe9": name is not valid UTF-8`, `"/app/line\nbreak": name holds control characters`} {
			if !slices.ContainsFunc(warned, func(w string) bool {
				return strings.Contains(w, want) && strings.HasPrefix(w, fmt.Sprintf("layer %d (", layer))
			}) {
				t.Errorf("%s: no warning %s in layer %d: %q", target, want, layer, warned)
			}
		}
	}
}
