package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
			name: "hardlink out of the image",
			build: func(t *testing.T) string {
				return it.Layout(t, []it.Layer{baseLayer(t), it.GzipLayer(t, it.Hardlink("app/passwd", "../../etc/passwd"))}, nil)
			},
			want: []string{"layer 1", "app/passwd"}, wantErr: analyze.ErrUnsafePath,
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
