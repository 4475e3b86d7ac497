package analyze_test

import (
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
)

func entries(es ...analyze.Entry) []analyze.Entry { return es }

func file(p string) analyze.Entry { return analyze.Entry{Path: p, Type: analyze.EntryFile} }
func dir(p string) analyze.Entry  { return analyze.Entry{Path: p, Type: analyze.EntryDir} }
func link(p, target string) analyze.Entry {
	return analyze.Entry{Path: p, Type: analyze.EntrySymlink, Link: target}
}

func TestViewWhiteouts(t *testing.T) {
	layers := []*analyze.LayerResult{
		{Entries: entries(dir("a"), file("a/1"), file("a/2"), dir("b"), file("b/1"), file("c"), link("lib", "usr/lib"), dir("usr/lib"), file("usr/lib/x"))},
		{Whiteouts: []string{"a/1", "b"}, Opaques: []string{"usr/lib"}, Entries: entries(file("usr/lib/y"))},
		{Entries: entries(file("b/new"), dir("c"), file("c/inside"))},
		{Entries: entries(file("lib/z"))},
	}
	v := analyze.NewView(layers)
	tests := []struct {
		path   string
		exists bool
		layer  int
	}{
		{"a/1", false, 0}, {"a/2", true, 0}, {"b/1", false, 0}, {"b/new", true, 2},
		{"usr/lib/x", false, 0}, {"usr/lib/y", true, 1},
		{"c/inside", true, 2},
		// A later layer writing below a lower layer's symlink makes it a directory.
		{"lib/z", true, 3},
	}
	for _, tc := range tests {
		_, layer, ok := v.Stat(tc.path)
		if ok != tc.exists || (ok && layer != tc.layer) {
			t.Errorf("%s: exists=%v layer=%d, want exists=%v layer=%d", tc.path, ok, layer, tc.exists, tc.layer)
		}
	}
	if e, _, _ := v.Stat("c"); e.Type != analyze.EntryDir {
		t.Errorf("c is %s, want a directory", e.Type)
	}
}

func TestViewResolve(t *testing.T) {
	v := analyze.NewView([]*analyze.LayerResult{{Entries: entries(
		dir("usr/lib"), file("usr/lib/os-release"), dir("etc"),
		link("etc/os-release", "../usr/lib/os-release"),
		link("etc/abs", "/usr/lib/os-release"),
		link("etc/escape", "../../../../../usr/lib/os-release"),
		link("etc/loop-a", "loop-b"), link("etc/loop-b", "loop-a"),
		link("lib", "usr/lib"), dir("usr/bin"), link("usr/bin/bin", "usr/bin"),
		link("etc/dangling", "/nonexistent/file"),
	)}})
	tests := []struct {
		in, want string
		loop     bool
	}{
		{"etc/os-release", "usr/lib/os-release", false},
		{"etc/abs", "usr/lib/os-release", false},
		{"etc/escape", "usr/lib/os-release", false},
		{"lib/os-release", "usr/lib/os-release", false},
		{"etc/dangling", "nonexistent/file", false},
		{"etc/loop-a", "", true},
		{"usr/bin/bin/x", "usr/bin/usr/bin/x", false},
		{"etc/../../..", "", false},
	}
	for _, tc := range tests {
		got, err := v.Resolve(tc.in)
		if (err != nil) != tc.loop || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q loop=%v", tc.in, got, err, tc.want, tc.loop)
		}
	}
}
