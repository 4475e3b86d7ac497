package analyze_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

// TestWhiteoutSpellings refuses every whiteout whose name does not say
// plainly what it deletes, and reads the plain ones.
func TestWhiteoutSpellings(t *testing.T) {
	refused := []string{
		".wh...",            // the parent of the root
		"etc/.wh...",        // etc's parent: the root
		"etc//.wh...",       // the same, with slashes
		"./etc/./.wh...",    // the same, with dots
		".wh..",             // the directory itself
		"etc/.wh..",         // etc itself
		".wh.",              // nothing
		"etc/.wh.",          // nothing
		"a/../.wh.b",        // a parent segment that stays inside the root
		"a/b/../../.wh.etc", // two of them
		"a/../.wh..wh..opq", // an opaque marker reached through ..
		"a/.wh.b/../.wh.c",  // a whiteout-looking directory on the way
	}
	for _, name := range refused {
		w := &analyze.Walker{}
		_, err := w.WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.File(name, ""))))
		if !errors.Is(err, analyze.ErrUnsafePath) || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("whiteout %q: error %v, want ErrUnsafePath naming the entry", name, err)
		}
		// A directory entry of the same name is refused the same way.
		_, err = w.WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.Dir(name))))
		if !errors.Is(err, analyze.ErrUnsafePath) {
			t.Errorf("whiteout directory %q: error %v, want ErrUnsafePath", name, err)
		}
	}
	accepted := map[string][2]string{ // name → whiteout, opaque
		"etc/.wh.passwd":     {"etc/passwd", ""},
		"./etc/.wh.passwd":   {"etc/passwd", ""},
		".wh.etc":            {"etc", ""},
		"etc/.wh....":        {"etc/...", ""},
		"etc/.wh..hidden":    {"etc/.hidden", ""},
		"etc/.wh..wh..opq":   {"", "etc"},
		".wh..wh..opq":       {"", ""},
		"etc/.wh..wh.plnk/x": {"", ""}, // a file inside an AUFS link directory: an entry
	}
	for name, want := range accepted {
		w := &analyze.Walker{KeepEntries: true}
		res, err := w.WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.File(name, ""))))
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		var got [2]string
		if len(res.Whiteouts) == 1 {
			got[0] = res.Whiteouts[0]
		}
		if len(res.Opaques) == 1 {
			got[1] = res.Opaques[0]
		}
		if got != want || len(res.Whiteouts)+len(res.Opaques) > 1 {
			t.Errorf("%q: whiteouts %q, opaques %q; want %q", name, res.Whiteouts, res.Opaques, want)
		}
	}
	// The root made opaque is a plain opaque directory, at "".
	res, err := (&analyze.Walker{KeepEntries: true}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.File(".wh..wh..opq", ""))))
	if err != nil || !slices.Equal(res.Opaques, []string{""}) {
		t.Errorf("opaque root: %q, %v", res.Opaques, err)
	}
}

// TestOddNames reads entries whose names are not valid UTF-8 or hold
// control characters like any other, byte for byte, and warns about each
// with the name escaped; past a few, the warnings are counted.
func TestOddNames(t *testing.T) {
	odd := []string{"want/caf\xe9.txt", "want/new\nline", "want/\xff\xfe/inside", "want/tab\there", "want/c1\u0085"}
	var entries []it.Entry
	for _, n := range odd {
		entries = append(entries, it.File(n, "content of "+n))
	}
	entries = append(entries, it.File("want/plain-ütf8", "fine"), it.Hardlink("want/link-\xff", "want/caf\xe9.txt"))
	rec := &recorder{}
	res, err := (&analyze.Walker{Analyzers: []analyze.Analyzer{rec}}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, entries...)))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range odd {
		if rec.seen[n] != "content of "+n {
			t.Errorf("%q was not analysed byte for byte: %q", n, rec.seen[n])
		}
		if !res.Index.Has(n) {
			t.Errorf("%q is not in the index", n)
		}
	}
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, fmt.Sprintf("%q: %s", w.Path, w.Err))
	}
	want := []string{
		`"/want/caf\xe9.txt": name is not valid UTF-8`,
		`"/want/new\nline": name holds control characters`,
		`"/want/\xff\xfe/inside": name is not valid UTF-8`,
		`"/want/tab\there": name holds control characters`,
		`"/want/c1\u0085": name holds control characters`,
		`"/want/link-\xff": name is not valid UTF-8`,
	}
	if diff := cmp.Diff(want, warned); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	// Many odd names: a bounded number of warnings, the rest counted.
	entries = nil
	for i := range 100 {
		entries = append(entries, it.File(fmt.Sprintf("x/\xff%d", i), ""))
	}
	res, err = (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, entries...)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Warnings); n > 20 || !strings.Contains(res.Warnings[n-1].Err, fmt.Sprintf("%d more names", 100-(n-1))) {
		t.Errorf("%d warnings for 100 odd names, last %+v", n, res.Warnings[n-1])
	}
}

// TestWalkDirOddNames reads a directory whose names are not valid UTF-8,
// inside and out, and never follows a link out of the root.
func TestWalkDirOddNames(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "want", "d\xffir"), 0o755))
	must(os.WriteFile(filepath.Join(root, "want", "d\xffir", "f\xfe"), []byte("deep"), 0o644))
	must(os.WriteFile(filepath.Join(root, "want", "caf\xe9"), []byte("top"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "want", "out")))
	rec := &recorder{}
	res, err := (&analyze.Walker{Analyzers: []analyze.Analyzer{rec}}).WalkDir(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"want/d\xffir/f\xfe": "deep", "want/caf\xe9": "top"}, rec.seen); diff != "" {
		t.Errorf("analysed (-want +got):\n%s", diff)
	}
	if len(res.Entries) != 1 || res.Entries[0].Link != outside {
		t.Errorf("entries kept: %+v", res.Entries)
	}
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, w.Path)
	}
	if diff := cmp.Diff([]string{"/want/caf\xe9", "/want/d\xffir", "/want/d\xffir/f\xfe"}, warned); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestHardLinkTargets marks the hard links whose target is not earlier in
// the same layer; the view accepts them only when the layers below hold
// the target.
func TestHardLinkTargets(t *testing.T) {
	walk := func(entries ...it.Entry) *analyze.LayerResult {
		t.Helper()
		res, err := (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, entries...)))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := walk(it.File("etc/passwd", "root"), it.Dir("etc/ssl/"), it.File("etc/gone", "x"))
	tests := []struct {
		name  string
		layer *analyze.LayerResult
		ok    bool
	}{
		{"target earlier in the layer", walk(it.File("a", ""), it.Hardlink("b", "a")), true},
		{"target later in the layer", walk(it.Hardlink("b", "a"), it.File("a", "")), false},
		{"link to itself", walk(it.Hardlink("a", "a")), false},
		{"target in a lower layer", walk(it.Hardlink("p", "etc/passwd")), true},
		{"target nowhere", walk(it.Hardlink("p", "etc/shadow")), false},
		{"target a directory", walk(it.Hardlink("p", "etc/ssl")), false},
		{"target a directory earlier in the layer", walk(it.Dir("d/"), it.Hardlink("p", "d")), false},
		{"target deleted below", nil, false},
		{"target a link earlier in the layer", walk(it.Symlink("s", "x"), it.Hardlink("h", "s")), true},
	}
	deleted := walk(it.File("etc/.wh.gone", ""))
	for _, tc := range tests {
		layers := []*analyze.LayerResult{base, tc.layer}
		if tc.layer == nil {
			layers = []*analyze.LayerResult{base, deleted, walk(it.Hardlink("p", "etc/gone"))}
		}
		for i, l := range layers {
			l.DiffID = fmt.Sprintf("sha256:%d", i)
		}
		err := analyze.NewView(layers).CheckLinks()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && (!errors.Is(err, analyze.ErrLinkTarget) || !strings.Contains(err.Error(), fmt.Sprintf("layer %d (sha256:%d)", len(layers)-1, len(layers)-1))) {
			t.Errorf("%s: error %q does not name the layer", tc.name, err)
		}
	}
}

func TestPathIndexCheck(t *testing.T) {
	res, err := (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.File("a/b", ""), it.File("c", ""), it.File(".wh.d", ""))))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Index.Check(); err != nil || res.Index.Len() != 4 {
		t.Fatalf("walker's index: %v, %d paths", err, res.Index.Len())
	}
	bad := map[string]analyze.PathIndex{
		"truncated":    res.Index[:len(res.Index)-1],
		"out of order": append(slices.Clone(res.Index[analyze.IndexRecordSize:2*analyze.IndexRecordSize]), res.Index[:analyze.IndexRecordSize]...),
		"duplicate":    append(slices.Clone(res.Index[:analyze.IndexRecordSize]), res.Index[:analyze.IndexRecordSize]...),
		"bad flags":    append(slices.Clone(res.Index[:analyze.IndexRecordSize-1]), 0xff),
	}
	for name, x := range bad {
		if err := x.Check(); !errors.Is(err, analyze.ErrBadIndex) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIndexOfLargeLayer checks the index of a layer big enough for the
// bucket sort and for chunks outside the heap: every path in, no other.
func TestIndexOfLargeLayer(t *testing.T) {
	var entries []it.Entry
	for i := range 20000 {
		entries = append(entries, it.File(fmt.Sprintf("d%d/f%d", i%97, i), ""))
	}
	// The same path twice, a directory then a file: the file wins.
	entries = append(entries, it.Dir("twice/"), it.File("twice", ""))
	res, err := (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(it.Tar(t, entries...)))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Index.Check(); err != nil {
		t.Fatal(err)
	}
	if n := res.Index.Len(); n != 20000+97+1 {
		t.Errorf("%d paths, want %d", n, 20000+97+1)
	}
	for i := range 20000 {
		if !res.Index.Has(fmt.Sprintf("d%d/f%d", i%97, i)) || res.Index.Has(fmt.Sprintf("d%d/f%d", (i+1)%97, i)) {
			t.Fatalf("index is wrong about f%d", i)
		}
	}
	if e, _, ok := analyze.NewView([]*analyze.LayerResult{res}).Stat("twice"); !ok || e.Type != analyze.EntryFile {
		t.Errorf("twice: %v %v, want a file", e, ok)
	}
}
