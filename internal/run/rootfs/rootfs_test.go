package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/drydockscan/drydock/internal/run/rootfs"
	"github.com/drydockscan/drydock/internal/source"
)

const corpus = "../../../../shared/corpus"

var ids = rootfs.IDMap{Host: 200000, Size: 65536, Overflow: 65534}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking with image ownership needs root")
	}
}

func layersOf(img *source.Image) []rootfs.Layer {
	var out []rootfs.Layer
	for _, l := range img.Layers {
		d := ""
		if l.Digest.Hex != "" {
			d = l.Digest.String()
		}
		out = append(out, rootfs.Layer{Name: "layer " + l.DiffID.String(), Digest: d, DiffID: l.DiffID.String(), Open: l.Open})
	}
	return out
}

// entry is one file-system entry as a comparable value.
type entry struct {
	Type string
	Mode fs.FileMode
	UID  int
	Link string
	Sum  string
}

// TestUnpackMatchesFlatten unpacks corpus images from every format and
// compares the result with go-containerregistry's own flattening of the
// same image (mutate.Extract, an independent implementation of whiteouts
// and opaque directories), entry by entry: type, permission bits with
// setuid, owner, link target and content.
func TestUnpackMatchesFlatten(t *testing.T) {
	needRoot(t)
	for _, target := range []string{
		"edge-layers/oci", "edge-layers/docker-archive.tar", "edge-layers/docker-archive-v25.tar",
		"edge-layers/oci.tar", "edge-zstd/oci", "multiarch-busybox/oci",
	} {
		t.Run(target, func(t *testing.T) {
			ctx := context.Background()
			img, err := source.Open(ctx, filepath.Join(corpus, target), source.Options{})
			if err != nil {
				t.Skipf("corpus image: %v", err)
			}
			defer img.Close()
			dir := t.TempDir()
			st, err := rootfs.Unpack(ctx, dir, layersOf(img), rootfs.Options{IDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			want, hard := flatten(t, img)
			skipped := map[string]bool{}
			for _, s := range st.Skipped {
				skipped[strings.TrimPrefix(s.Path, "/")] = true
			}
			got := walk(t, dir)
			for p, w := range want {
				if skipped[p] {
					continue
				}
				g, ok := got[p]
				if !ok {
					t.Errorf("%s: missing", p)
					continue
				}
				w.UID += ids.Host
				if g != w {
					t.Errorf("%s: got %+v, want %+v", p, g, w)
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok && !escapingLink(p, got[p]) {
					t.Errorf("%s: not in the flattened image", p)
				}
			}
			// Hard links share their inode.
			for p, target := range hard {
				a, err1 := os.Lstat(filepath.Join(dir, p))
				b, err2 := os.Lstat(filepath.Join(dir, target))
				if err1 != nil || err2 != nil {
					t.Errorf("hard link %s -> %s: %v %v", p, target, err1, err2)
					continue
				}
				if !os.SameFile(a, b) {
					t.Errorf("hard link %s -> %s: not the same file", p, target)
				}
			}
			if len(want) < 10 {
				t.Fatalf("only %d entries in the flattened image", len(want))
			}
		})
	}
}

// escapingLink reports a relative symbolic link that climbs out of the
// root: mutate.Extract drops those, the unpacker keeps them (inside the
// sandbox they resolve inside the root).
func escapingLink(p string, e entry) bool {
	return e.Type == "l" && !strings.HasPrefix(e.Link, "/") &&
		strings.HasPrefix(path.Clean(path.Join(path.Dir(p), e.Link)), "..")
}

func flatten(t *testing.T, img *source.Image) (map[string]entry, map[string]string) {
	t.Helper()
	rc := mutate.Extract(img.Image)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	hard := map[string]string{}
	var hardOrder [][2]string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(path.Clean(h.Name), "/")
		if p == "." || p == "" {
			continue
		}
		e := entry{UID: h.Uid, Mode: h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Type = "d"
		case tar.TypeSymlink:
			e.Type, e.Link, e.Mode = "l", h.Linkname, 0
		case tar.TypeReg:
			e.Type = "f"
			s := sha256.New()
			if _, err := io.Copy(s, tr); err != nil {
				t.Fatal(err)
			}
			e.Sum = hex.EncodeToString(s.Sum(nil))
		case tar.TypeLink:
			hardOrder = append(hardOrder, [2]string{p, strings.TrimPrefix(path.Clean(h.Linkname), "/")})
			continue
		default:
			e.Type = "o"
		}
		out[p] = e
	}
	for _, h := range hardOrder {
		if e, ok := out[h[1]]; ok {
			out[h[0]] = e
			hard[h[0]] = h[1]
		}
	}
	return out, hard
}

func walk(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{UID: int(info.Sys().(*syscall.Stat_t).Uid), Mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case info.IsDir():
			e.Type = "d"
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type, e.Mode = "l", 0
			e.Link, err = os.Readlink(p)
			if err != nil {
				return err
			}
		case info.Mode().IsRegular():
			e.Type = "f"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			e.Sum = hex.EncodeToString(s[:])
		default:
			e.Type = "o"
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEdgeLayersFinalState checks the final state the corpus records for
// edge-layers (TRUTH.json build_facts.expected_final_state).
func TestEdgeLayersFinalState(t *testing.T) {
	needRoot(t)
	var truth struct {
		BuildFacts struct {
			Expected struct {
				Plugins []string `json:"/opt/app/plugins"`
				Tmp     string   `json:"/opt/app/tmp"`
				OldSo   string   `json:"/opt/app/lib/old.so"`
			} `json:"expected_final_state"`
		} `json:"build_facts"`
	}
	b, err := os.ReadFile(filepath.Join(corpus, "edge-layers/TRUTH.json"))
	if err != nil {
		t.Skipf("corpus: %v", err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := source.Open(ctx, filepath.Join(corpus, "edge-layers/oci"), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	dir := t.TempDir()
	if _, err := rootfs.Unpack(ctx, dir, layersOf(img), rootfs.Options{IDs: ids}); err != nil {
		t.Fatal(err)
	}
	exp := truth.BuildFacts.Expected
	ents, err := os.ReadDir(filepath.Join(dir, "opt/app/plugins"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != strings.Join(exp.Plugins, ",") {
		t.Errorf("/opt/app/plugins holds %v, want %v", names, exp.Plugins)
	}
	if exp.Tmp == "absent" {
		if _, err := os.Lstat(filepath.Join(dir, "opt/app/tmp")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("/opt/app/tmp: want absent, got %v", err)
		}
	}
	old, err := os.ReadFile(filepath.Join(dir, "opt/app/lib/old.so"))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Fields(exp.OldSo)[0]; strings.TrimSpace(string(old)) != w {
		t.Errorf("old.so = %q, want %q", old, w)
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
	uid        int
}

func mkTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Uid: e.uid, Gid: e.uid}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostile applies hostile layers: nothing may be written outside the
// root, and refused entries fail with an error naming the entry.
func TestHostile(t *testing.T) {
	needRoot(t)
	cases := []struct {
		name    string
		layers  [][]tarEntry
		opts    rootfs.Options
		wantErr error
		// check runs on the root afterwards (when no error is expected).
		check func(t *testing.T, root string)
	}{
		{name: "dot-dot name", layers: [][]tarEntry{{{name: "../../escape", typ: tar.TypeReg, body: "x"}}}, wantErr: rootfs.ErrUnsafePath},
		{name: "hard link out", layers: [][]tarEntry{{{name: "passwd", typ: tar.TypeLink, link: "../../../../etc/passwd"}}}, wantErr: rootfs.ErrUnsafePath},
		{name: "write through absolute dir link", layers: [][]tarEntry{
			{{name: "evil", typ: tar.TypeSymlink, link: "/"}},
			{{name: "evil/SENTINEL", typ: tar.TypeReg, body: "inside"}},
		}, check: func(t *testing.T, root string) {
			if b, err := os.ReadFile(filepath.Join(root, "SENTINEL")); err != nil || string(b) != "inside" {
				t.Errorf("file written through /-link should land at the root: %q %v", b, err)
			}
		}},
		{name: "write through climbing dir link", layers: [][]tarEntry{
			{{name: "up", typ: tar.TypeSymlink, link: "../../../../../../tmp"}},
			{{name: "up/SENTINEL", typ: tar.TypeReg, body: "inside"}},
		}, check: func(t *testing.T, root string) {
			if _, err := os.ReadFile(filepath.Join(root, "tmp/SENTINEL")); err != nil {
				t.Errorf("file written through a climbing link should land in the root's /tmp: %v", err)
			}
		}},
		{name: "replace link by file", layers: [][]tarEntry{
			{{name: "etc", typ: tar.TypeDir, mode: 0o755}, {name: "etc/passwd", typ: tar.TypeSymlink, link: "/../../../../etc/passwd"}},
			{{name: "etc/passwd", typ: tar.TypeReg, body: "root:x:0:0::/root:/bin/sh\n"}},
		}, check: func(t *testing.T, root string) {
			st, err := os.Lstat(filepath.Join(root, "etc/passwd"))
			if err != nil || !st.Mode().IsRegular() {
				t.Errorf("etc/passwd should be a regular file now: %v %v", st, err)
			}
		}},
		{name: "device nodes skipped, setuid kept, ids mapped", layers: [][]tarEntry{{
			{name: "dev/sda", typ: tar.TypeBlock}, {name: "dev/null", typ: tar.TypeChar},
			{name: "bin/su", typ: tar.TypeReg, body: "#!", mode: 0o4755},
			{name: "home/u/f", typ: tar.TypeReg, body: "x", uid: 1000},
			{name: "big-uid", typ: tar.TypeReg, body: "x", uid: 1 << 20},
		}}, opts: rootfs.Options{IDs: ids}, check: func(t *testing.T, root string) {
			for _, p := range []string{"dev/sda", "dev/null"} {
				if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: device node created", p)
				}
			}
			st, err := os.Stat(filepath.Join(root, "bin/su"))
			if err != nil || st.Mode()&fs.ModeSetuid == 0 {
				t.Errorf("bin/su lost its setuid bit: %v %v", st, err)
			}
			for p, uid := range map[string]int{"home/u/f": ids.Host + 1000, "big-uid": ids.Host + ids.Overflow, "bin/su": ids.Host} {
				st, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
					t.Errorf("%s: owner %d, want %d", p, got, uid)
				}
			}
		}},
		{name: "whiteout of dot-dot", layers: [][]tarEntry{{{name: "a/.wh...", typ: tar.TypeReg}}}, wantErr: rootfs.ErrUnsafePath},
		{name: "opaque keeps own layer", layers: [][]tarEntry{
			{{name: "d/old", typ: tar.TypeReg, body: "1"}},
			{{name: "d/new", typ: tar.TypeReg, body: "2"}, {name: "d/.wh..wh..opq", typ: tar.TypeReg}},
		}, check: func(t *testing.T, root string) {
			if _, err := os.Stat(filepath.Join(root, "d/old")); !errors.Is(err, fs.ErrNotExist) {
				t.Error("d/old survived the opaque marker")
			}
			if _, err := os.Stat(filepath.Join(root, "d/new")); err != nil {
				t.Error("d/new, from the marker's own layer, was removed")
			}
		}},
		{name: "symlink loop", layers: [][]tarEntry{
			{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "a"}},
			{{name: "a/x", typ: tar.TypeReg, body: "x"}},
		}, wantErr: rootfs.ErrUnsafePath},
		{name: "too many entries", layers: [][]tarEntry{{{name: "a", typ: tar.TypeReg}, {name: "b", typ: tar.TypeReg}, {name: "c", typ: tar.TypeReg}}},
			opts: rootfs.Options{MaxEntries: 2}, wantErr: rootfs.ErrLimit},
		{name: "too many bytes", layers: [][]tarEntry{{{name: "a", typ: tar.TypeReg, body: "0123456789"}}},
			opts: rootfs.Options{MaxBytes: 5}, wantErr: rootfs.ErrLimit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "a", "b", "root")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			for _, l := range c.layers {
				if _, err = rootfs.Tar(context.Background(), root, bytes.NewReader(mkTar(t, l)), c.opts); err != nil {
					break
				}
			}
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("got %v, want %v", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// Nothing outside the root.
			for _, d := range []string{parent, filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
				ents, _ := os.ReadDir(d)
				if len(ents) != 1 {
					t.Errorf("%s holds %d entries: something was written outside the root", d, len(ents))
				}
			}
			if c.check != nil && c.wantErr == nil {
				c.check(t, root)
			}
		})
	}
}

// FuzzTar applies arbitrary bytes as a layer: no panic, and nothing
// written outside the root.
func FuzzTar(f *testing.F) {
	f.Add(mkTar(f, []tarEntry{{name: "a/b", typ: tar.TypeReg, body: "x"}, {name: "l", typ: tar.TypeSymlink, link: "/a"}, {name: "l/c", typ: tar.TypeReg, body: "y"}}))
	f.Add(mkTar(f, []tarEntry{{name: "h", typ: tar.TypeLink, link: "../x"}, {name: "d/.wh..wh..opq", typ: tar.TypeReg}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = rootfs.Tar(context.Background(), root, bytes.NewReader(b), rootfs.Options{MaxEntries: 64, MaxBytes: 1 << 16})
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 {
			t.Fatalf("%d entries beside the root", len(ents))
		}
	})
}
