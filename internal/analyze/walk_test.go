package analyze_test

import (
	"bytes"
	"context"
	"errors"
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
	)
	rec := &recorder{fail: "want/broken"}
	w := &analyze.Walker{Analyzers: []analyze.Analyzer{rec}, MemoryLimit: 1 << 20}
	res, err := w.WalkTar(context.Background(), bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	wantSeen := map[string]string{"want/a": "alpha", "want/big": strings.Repeat("z", 3<<20), "want/broken": "x"}
	if diff := cmp.Diff(wantSeen, rec.seen); diff != "" {
		t.Errorf("files analysed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"want/gone"}, res.Whiteouts); diff != "" {
		t.Errorf("whiteouts: %s", diff)
	}
	if diff := cmp.Diff([]string{"want/sub"}, res.Opaques); diff != "" {
		t.Errorf("opaques: %s", diff)
	}
	var paths []string
	for _, e := range res.Entries {
		paths = append(paths, e.Type+":"+e.Path+">"+e.Link)
	}
	wantPaths := []string{"d:want>", "f:want/a>", "f:skip/b>", "f:want/big>", "h:want/a-link>want/a", "l:want/s>../skip/b", "f:want/broken>"}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if len(res.Errors) != 1 || res.Errors[0].Path != "/want/broken" || res.Errors[0].Err != "broken" {
		t.Errorf("errors: %+v", res.Errors)
	}
	if res.Stats.WantedFiles != 3 {
		t.Errorf("wanted files %d", res.Stats.WantedFiles)
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
// result or an error, never panic, and never report an unclean path.
func FuzzWalkTar(f *testing.F) {
	f.Add(it.Tar(f, it.File("want/a", "x"), it.Symlink("l", "../../x"), it.Hardlink("want/h", "want/a")))
	f.Add(it.Tar(f, it.File("want/.wh..wh..opq", ""), it.File("want/.wh.x", "")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &analyze.Walker{Analyzers: []analyze.Analyzer{&recorder{}}, MaxEntries: 1000, MaxFileSize: 1 << 20}
		res, err := w.WalkTar(context.Background(), io.LimitReader(bytes.NewReader(data), 1<<22))
		if err != nil {
			return
		}
		for _, e := range res.Entries {
			if c, err := analyze.CleanPath(e.Path); err != nil || c != e.Path {
				t.Errorf("entry path %q is not clean", e.Path)
			}
		}
	})
}
