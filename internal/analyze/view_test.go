package analyze_test

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	it "github.com/drydockscan/drydock/internal/testutil/imagetest"
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

// op is one entry of a generated layer.
type op struct {
	kind string // f, d, l, h, o (a fifo), w (whiteout), q (opaque directory)
	path string // for w the deleted path, for q the directory
	link string
}

// modelLayer is a layer as the overlay rules see it, computed from the
// entries by a plain forward application, without hashes.
type modelLayer struct {
	final     map[string]string // path → type of the last entry, directories implied by entries below included
	link      map[string]string // symlink path → target of the last one
	whiteouts map[string]bool
	opaques   map[string]bool
}

func ancestorsOf(p string) []string {
	var out []string
	for p != "" {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			p = ""
		} else {
			p = p[:i]
		}
		out = append(out, p)
	}
	return out
}

func newModelLayer(ops []op) modelLayer {
	m := modelLayer{final: map[string]string{}, link: map[string]string{}, whiteouts: map[string]bool{}, opaques: map[string]bool{}}
	for _, o := range ops {
		marker := o.path
		switch o.kind {
		case "w":
			m.whiteouts[o.path] = true
		case "q":
			marker = path.Join(o.path, ".wh..wh..opq")
			m.opaques[o.path] = true
		}
		for _, a := range ancestorsOf(marker) {
			if a != "" {
				m.final[a] = "d"
			}
		}
		switch o.kind {
		case "w", "q":
		case "l":
			m.final[o.path] = "l"
			m.link[o.path] = o.link
		default:
			m.final[o.path] = o.kind
		}
	}
	return m
}

func nonDir(t string) bool { return t != "" && t != "d" }

// has: the layer's own entry at p survives the layer's own later entries.
func (m modelLayer) has(p string) bool {
	if m.final[p] == "" {
		return false
	}
	for _, a := range ancestorsOf(p) {
		if nonDir(m.final[a]) {
			return false
		}
	}
	return true
}

// hides: the layer removes what the layers below hold at p.
func (m modelLayer) hides(p string) bool {
	if m.whiteouts[p] {
		return true
	}
	for _, a := range ancestorsOf(p) {
		if m.whiteouts[a] || m.opaques[a] || nonDir(m.final[a]) {
			return true
		}
	}
	return false
}

type modelEntry struct {
	typ   string
	layer int
}

func applyModel(layers []modelLayer) map[string]modelEntry {
	state := map[string]modelEntry{}
	for j, l := range layers {
		next := map[string]modelEntry{}
		for p, e := range state {
			if l.final[p] == "" && !l.hides(p) {
				next[p] = e
			}
		}
		for p, typ := range l.final {
			if l.has(p) {
				next[p] = modelEntry{typ, j}
			}
		}
		state = next
	}
	return state
}

func modelRemovedBy(layers []modelLayer, p string, i int) int {
	for j := i + 1; j < len(layers); j++ {
		l := layers[j]
		if (l.final[p] != "" && !(l.final[p] == "d" && layers[i].final[p] == "d")) || l.hides(p) {
			return j
		}
	}
	return -1
}

// tarOf writes a generated layer as a tar, names spelt as an extractor
// would see them.
func tarOf(t *testing.T, ops []op) []byte {
	var es []it.Entry
	for _, o := range ops {
		switch o.kind {
		case "f":
			es = append(es, it.File(o.path, "x"))
		case "d":
			es = append(es, it.Dir(o.path+"/"))
		case "l":
			es = append(es, it.Symlink(o.path, o.link))
		case "h":
			es = append(es, it.Hardlink(o.path, o.link))
		case "o":
			es = append(es, it.Entry{Name: o.path, Type: tar.TypeFifo, Mode: 0o644})
		case "w":
			es = append(es, it.File(path.Join(path.Dir(o.path), ".wh."+path.Base(o.path)), ""))
		case "q":
			es = append(es, it.File(path.Join(o.path, ".wh..wh..opq"), ""))
		}
	}
	return it.Tar(t, es...)
}

// TestViewAgainstModel generates random layers over a small name space,
// where every overlay rule meets every other, and compares the view built
// from the walker's path indexes (and from hand-written results) with a
// plain forward application of the rules.
func TestViewAgainstModel(t *testing.T) {
	names := []string{"a", "b", "c"}
	var space []string
	for _, x := range names {
		space = append(space, x)
		for _, y := range names {
			space = append(space, x+"/"+y)
			for _, z := range names {
				space = append(space, x+"/"+y+"/"+z)
			}
		}
	}
	// Cases the random ones may miss: a directory replaced by a file and
	// turned back into a directory within one layer, in both orders.
	fixed := [][][]op{
		{{{kind: "f", path: "a/b"}, {kind: "f", path: "a"}, {kind: "f", path: "a/c"}}},
		{{{kind: "f", path: "a/b/c"}, {kind: "l", path: "a/b", link: "x"}, {kind: "f", path: "a/b/a"}}},
		{{{kind: "f", path: "a/b"}, {kind: "f", path: "a/c"}}, {{kind: "f", path: "a/b/c"}, {kind: "f", path: "a"}}},
		{{{kind: "d", path: "a"}, {kind: "f", path: "a/b"}}, {{kind: "w", path: "a"}, {kind: "f", path: "a/c"}}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"f", "f", "f", "d", "d", "l", "h", "o", "w", "w", "q"}
	for iter := 0; iter < 400+len(fixed); iter++ {
		nLayers := 1 + rng.IntN(4)
		if iter < len(fixed) {
			nLayers = len(fixed[iter])
		}
		var ops [][]op
		var results, handMade []*analyze.LayerResult
		var model, handModel []modelLayer
		for li := range nLayers {
			var l []op
			for range rng.IntN(10) {
				o := op{kind: kinds[rng.IntN(len(kinds))], path: space[rng.IntN(len(space))]}
				switch o.kind {
				case "l", "h":
					o.link = space[rng.IntN(len(space))]
				case "q":
					if rng.IntN(8) == 0 {
						o.path = "" // the root made opaque
					}
				}
				l = append(l, o)
			}
			if iter < len(fixed) {
				l = fixed[iter][li]
			}
			ops = append(ops, l)
			res, err := (&analyze.Walker{}).WalkTar(context.Background(), bytes.NewReader(tarOf(t, l)))
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
			hand := &analyze.LayerResult{}
			for _, o := range l {
				switch o.kind {
				case "w":
					hand.Whiteouts = append(hand.Whiteouts, o.path)
				case "q":
					hand.Opaques = append(hand.Opaques, o.path)
				default:
					hand.Entries = append(hand.Entries, analyze.Entry{Path: o.path, Type: map[string]string{"o": analyze.EntryOther}[o.kind] + strings.TrimPrefix(o.kind, "o"), Link: o.link})
				}
			}
			handMade = append(handMade, hand)
			model = append(model, newModelLayer(l))
			// A hand-made result does not say in which order its entries,
			// whiteouts and opaque directories came: they are read opaque
			// directories first, then whiteouts, then entries.
			order := map[string]int{"q": 0, "w": 1}
			reordered := slices.Clone(l)
			slices.SortStableFunc(reordered, func(a, b op) int {
				oa, ok := order[a.kind]
				if !ok {
					oa = 2
				}
				ob, ok := order[b.kind]
				if !ok {
					ob = 2
				}
				return oa - ob
			})
			handModel = append(handModel, newModelLayer(reordered))
		}
		for _, tc := range []struct {
			name   string
			layers []*analyze.LayerResult
			model  []modelLayer
		}{{"walked", results, model}, {"hand-made", handMade, handModel}} {
			name, layers, model := tc.name, tc.layers, tc.model
			want := applyModel(model)
			v := analyze.NewView(layers)
			for _, p := range space {
				e, layer, ok := v.Stat(p)
				w, wok := want[p]
				if ok != wok || (ok && (e.Type != w.typ || layer != w.layer)) {
					t.Fatalf("%s layers %v: Stat(%s) = %v %d %v, want %+v %v", name, ops, p, e, layer, ok, w, wok)
				}
				if ok && e.Type == analyze.EntrySymlink && e.Link != model[layer].link[p] {
					t.Fatalf("%s layers %v: %s links to %q, want %q", name, ops, p, e.Link, model[layer].link[p])
				}
				for i := range layers {
					if model[i].final[p] == "" {
						continue
					}
					j, removed := v.RemovedBy(p, i)
					if wj := modelRemovedBy(model, p, i); j != wj || removed != (wj >= 0) {
						t.Fatalf("%s layers %v: RemovedBy(%s, %d) = %d %v, want %d", name, ops, p, i, j, removed, wj)
					}
				}
			}
		}
	}
}
