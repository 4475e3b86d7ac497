package analyze_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
)

// recorder is an analyzer that wants files under want/ and records what
// it was given.
type recorder struct {
	seen map[string]string
	fail string // path whose analysis fails
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Version() int { return 1 }
func (r *recorder) Required(p string, _ analyze.FileInfo) bool {
	return strings.HasPrefix(p, "want/")
}
func (r *recorder) Analyze(_ context.Context, f *analyze.File) (*analyze.Result, error) {
	b, err := f.ReadAll()
	if err != nil {
		return nil, err
	}
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	r.seen[f.Path] = string(b)
	if f.Path == r.fail {
		return nil, errors.New("broken")
	}
	return nil, nil
}

func TestWalkTar(t *testing.T) {
	tarball := it.Tar(t,
		it.Dir("./want/"),
		it.File("./want/a", "alpha"),
		it.File("skip/b", "beta"),
		it.File("want/big", strings.Repeat("z", 3<<20)),
		it.Hardlink("want/a-link", "want/a"),
		it.Symlink("want/s", "../skip/b"),
		it.File("want/.wh.gone", ""),
		it.File("want/sub/.wh..wh..opq", ""),
		it.File("want/.wh..wh.plnk", ""),
		it.File("want/broken", "x"),
		it.Hardlink("want/lower-link", "lib/from-below"),
	)
	for _, keep := range []bool{false, true} {
		rec := &recorder{fail: "want/broken"}
		w := &analyze.Walker{Analyzers: []analyze.Analyzer{rec}, MemoryLimit: 1 << 20, KeepEntries: keep}
		res, err := w.WalkTar(context.Background(), bytes.NewReader(tarball))
		if err != nil {
			t.Fatal(err)
		}
		wantSeen := map[string]string{"want/a": "alpha", "want/big": strings.Repeat("z", 3<<20), "want/broken": "x"}
		if diff := cmp.Diff(wantSeen, rec.seen); diff != "" {
			t.Errorf("keep=%v: files analysed (-want +got):\n%s", keep, diff)
		}
		var paths []string
		for _, e := range res.Entries {
			paths = append(paths, fmt.Sprintf("%s:%s>%s below=%v", e.Type, e.Path, e.Link, e.LinkBelow))
		}
		links := []string{"h:want/a-link>want/a below=false", "l:want/s>../skip/b below=false", "h:want/lower-link>lib/from-below below=true"}
		var wantWhiteouts, wantOpaques []string
		wantPaths := links
		if keep {
			wantPaths = []string{"d:want> below=false", "f:want/a> below=false", "f:skip/b> below=false", "f:want/big> below=false",
				links[0], links[1], "f:want/broken> below=false", links[2]}
			wantWhiteouts, wantOpaques = []string{"want/gone"}, []string{"want/sub"}
		}
		if diff := cmp.Diff(wantPaths, paths); diff != "" {
			t.Errorf("keep=%v: entries (-want +got):\n%s", keep, diff)
		}
		if diff := cmp.Diff(wantWhiteouts, res.Whiteouts); diff != "" {
			t.Errorf("keep=%v: whiteouts: %s", keep, diff)
		}
		if diff := cmp.Diff(wantOpaques, res.Opaques); diff != "" {
			t.Errorf("keep=%v: opaques: %s", keep, diff)
		}
		// The index holds every path, the implied directories, whiteouts and
		// opaque directories, and nothing else.
		for _, p := range []string{"want", "want/a", "skip", "skip/b", "want/big", "want/a-link", "want/s", "want/broken", "want/lower-link", "want/sub"} {
			if !res.Index.Has(p) {
				t.Errorf("keep=%v: index lacks %s", keep, p)
			}
		}
		for _, p := range []string{"want/gone", "want/.wh.gone", "want/sub/.wh..wh..opq", "want/.wh..wh.plnk", "lib/from-below", "want/sub/x", ""} {
			if res.Index.Has(p) {
				t.Errorf("keep=%v: index has %s", keep, p)
			}
		}
		if n := res.Index.Len(); n != 11 {
			t.Errorf("keep=%v: index holds %d paths, want 11 (9 entries and directories, an opaque directory, a whiteout)", keep, n)
		}
		if len(res.Errors) != 1 || res.Errors[0].Path != "/want/broken" || res.Errors[0].Err != "broken" {
			t.Errorf("keep=%v: errors: %+v", keep, res.Errors)
		}
		if res.Stats.WantedFiles != 3 {
			t.Errorf("keep=%v: wanted files %d", keep, res.Stats.WantedFiles)
		}
	}
}

func TestWalkTarLimits(t *testing.T) {
	rec := &recorder{}
	tarball := it.Tar(t, it.File("want/huge", strings.Repeat("h", 2048)), it.File("want/ok", "ok"), it.File("a", ""), it.File("b", ""))
	w := &analyze.Walker{Analyzers: []analyze.Analyzer{rec}, MaxFileSize: 1024}
	res, err := w.WalkTar(context.Background(), bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.seen["want/huge"]; ok {
		t.Error("file over the size cap was analysed")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Err, "over the 1024-byte limit") {
		t.Errorf("warnings: %+v", res.Warnings)
	}
	w = &analyze.Walker{Analyzers: []analyze.Analyzer{rec}, MaxEntries: 3}
	if _, err := w.WalkTar(context.Background(), bytes.NewReader(tarball)); !errors.Is(err, analyze.ErrLimit) {
		t.Errorf("entry cap: %v", err)
	}
	// Truncated archive.
	if _, err := w.WalkTar(context.Background(), bytes.NewReader(tarball[:700])); err == nil {
		t.Error("truncated tar: no error")
	}
}

type panicker struct{}

func (panicker) Name() string                           { return "panicker" }
func (panicker) Version() int                           { return 1 }
func (panicker) Required(string, analyze.FileInfo) bool { return true }
func (panicker) Analyze(context.Context, *analyze.File) (*analyze.Result, error) {
	panic("parser bug")
}

func TestAnalyzerPanicIsAnError(t *testing.T) {
	w := &analyze.Walker{Analyzers: []analyze.Analyzer{panicker{}}}
	res, err := w.WalkTar(context.Background(), bytes.NewReader(it.Tar(t, it.File("x", "y"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err, "panicked: parser bug") {
		t.Errorf("errors: %+v", res.Errors)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"etc/passwd", "etc/passwd", false},
		{"./etc/passwd", "etc/passwd", false},
		{"a/b/../c", "a/c", false},
		{"./", "", false},
		{"a/../..", "", true},
		{"../x", "", true},
		{"/etc/x", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got, err := analyze.CleanPath(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("CleanPath(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// FuzzWalkTar feeds arbitrary bytes to the tar walker: it must return a
// result or an error, never panic, never report an unclean path, and
// always build a well-formed index that a view, the merge and the link
// check can use.
func FuzzWalkTar(f *testing.F) {
	f.Add(it.Tar(f, it.File("want/a", "x"), it.Symlink("l", "../../x"), it.Hardlink("want/h", "want/a")))
	f.Add(it.Tar(f, it.File("want/.wh..wh..opq", ""), it.File("want/.wh.x", ""), it.File("a/../.wh.b", "")))
	f.Add(it.Tar(f, it.File("a", ""), it.File("a/b", ""), it.Hardlink("c", "a/b"), it.File("\xff/\n", "")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keep := range []bool{false, true} {
			w := &analyze.Walker{Analyzers: []analyze.Analyzer{&recorder{}}, MaxEntries: 1000, MaxFileSize: 1 << 20, KeepEntries: keep}
			res, err := w.WalkTar(context.Background(), io.LimitReader(bytes.NewReader(data), 1<<22))
			if err != nil {
				return
			}
			for _, e := range res.Entries {
				if c, err := analyze.CleanPath(e.Path); err != nil || c != e.Path {
					t.Errorf("entry path %q is not clean", e.Path)
				}
			}
			if err := res.Index.Check(); err != nil {
				t.Errorf("index: %v", err)
			}
			layers := []*analyze.LayerResult{res, res}
			m := analyze.Merge(layers, nil)
			_ = m.View.CheckLinks()
			for _, e := range res.Entries {
				m.View.Stat(e.Path)
				m.View.RemovedBy(e.Path, 0)
				_, _ = m.View.Resolve(e.Path)
			}
			analyze.Prune(layers)
		}
	})
}

// FuzzView builds views over arbitrary index bytes, as a corrupt cache
// could hold: answers may be wrong, but nothing panics.
func FuzzView(f *testing.F) {
	res, err := (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(it.Tar(f, it.File("a/b", ""), it.File(".wh.c", ""), it.Symlink("d", "a"))))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(res.Index), "a/b")
	f.Add([]byte{1, 2, 3}, "")
	f.Fuzz(func(t *testing.T, index []byte, p string) {
		lr := &analyze.LayerResult{Index: index, Entries: []analyze.Entry{{Path: "d", Type: analyze.EntrySymlink, Link: "a"}}}
		v := analyze.NewView([]*analyze.LayerResult{lr, lr})
		v.Stat(p)
		v.RemovedBy(p, 0)
		_, _ = v.Resolve(p)
		_ = v.CheckLinks()
		_ = analyze.PathIndex(index).Check()
	})
}
