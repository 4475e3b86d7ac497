package analyze

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// View is the image's final file system: every layer applied bottom-up
// with the overlay rules. It answers from the layers' path indexes, so it
// costs nothing per file beyond what the layer results already hold:
//
//   - a layer's entry replaces the lower layers' entry at the same path;
//   - a whiteout deletes the path and everything below it from the layers
//     below, an opaque directory everything below it;
//   - a non-directory (file, link, device) hides everything the layers
//     below hold below its path, and an entry below a lower layer's
//     non-directory turns that path into a directory.
//
// Within one layer, a later entry for the same path wins. A View is not
// safe for concurrent use.
type View struct {
	layers []viewLayer
	// symlinks holds every path that is a symbolic link in some layer: a
	// path not in it cannot be one in the final file system.
	symlinks map[string]bool
	// links caches the state of the symbolic links resolved so far.
	links map[string]state
	// lastDir and lastAnc cache the ancestors' hashes of the last
	// directory asked about: questions come in archive order, so
	// neighbours share their directory.
	lastDir string
	lastAnc []pathHash
}

type viewLayer struct {
	diffID string
	index  PathIndex
	// named are the links the layer keeps whole, by path (the last one
	// for a path); the index says whether one is still the layer's entry.
	named   map[string]*Entry
	entries []Entry
}

// state is where a path of the final file system comes from.
type state struct {
	kind  byte // kindNone when the path does not exist
	layer int
}

// NewView applies layers in order.
func NewView(layers []*LayerResult) *View {
	v := &View{symlinks: map[string]bool{}, links: map[string]state{}}
	for _, lr := range layers {
		l := viewLayer{diffID: lr.DiffID, index: lr.Index, named: map[string]*Entry{}, entries: lr.Entries}
		if l.index == nil {
			l.index = buildIndex(lr)
		}
		for i := range lr.Entries {
			e := &lr.Entries[i]
			if e.Type == EntrySymlink || e.Type == EntryHardlink {
				l.named[e.Path] = e
				if e.Type == EntrySymlink {
					v.symlinks[e.Path] = true
				}
			}
		}
		v.layers = append(v.layers, l)
	}
	return v
}

// ancestors returns the hashes of p's strict ancestors, the root ("")
// included, nearest first.
func (v *View) ancestors(p string) []pathHash {
	if p == "" {
		return nil
	}
	dir := parentDir(p)
	if v.lastAnc != nil && dir == v.lastDir {
		return v.lastAnc
	}
	var out []pathHash
	for a := dir; ; a = parentDir(a) {
		out = append(out, hashPath(a))
		if a == "" {
			break
		}
	}
	v.lastDir, v.lastAnc = dir, out
	return out
}

// hides reports whether layer j hides from the layers below it what they
// hold at the path with hash h and strict ancestors anc.
func (l *viewLayer) hides(h pathHash, anc []pathHash) bool {
	if l.index.lookup(h)&flagWhiteout != 0 {
		return true
	}
	for _, a := range anc {
		f := l.index.lookup(a)
		if f&(flagWhiteout|flagOpaque) != 0 || isNonDir(f) {
			return true
		}
	}
	return false
}

// below returns the state of p in the file system made of the layers
// under top.
func (v *View) below(p string, top int) state {
	h := hashPath(p)
	anc := v.ancestors(p)
	for j := top - 1; j >= 0; j-- {
		l := &v.layers[j]
		if k := l.index.lookup(h) & kindMask; k != kindNone {
			for _, a := range anc {
				if isNonDir(l.index.lookup(a)) {
					// The same layer put a non-directory above it later.
					return state{layer: -1}
				}
			}
			return state{kind: k, layer: j}
		}
		if l.hides(h, anc) {
			break
		}
	}
	return state{layer: -1}
}

func (v *View) stat(p string) state { return v.below(p, len(v.layers)) }

// Stat returns the entry at p (clean, relative, not following a final
// symlink) and the index of the layer that wrote it. Symbolic and hard
// links come back whole; other entries with their path and type only.
// A directory that a layer only implies (it has entries below it) counts
// as written by that layer.
func (v *View) Stat(p string) (*Entry, int, bool) {
	s := v.stat(p)
	if s.kind == kindNone {
		return nil, 0, false
	}
	if e := v.layers[s.layer].named[p]; e != nil && kindOf(e.Type) == s.kind {
		return e, s.layer, true
	}
	return &Entry{Path: p, Type: kindTypes[s.kind]}, s.layer, true
}

// Exists reports whether p exists in the final file system (as an entry or
// an implied directory), without following symlinks.
func (v *View) Exists(p string) bool { return v.stat(p).kind != kindNone }

// RemovedBy answers, for a path p that layer wrote, which later layer
// removed or replaced it: a whiteout of it or of a directory above it, an
// opaque directory above it, a new entry at p, or a non-directory above
// it. It returns false when what layer wrote at p is still in the final
// file system.
// A directory that a later layer writes again is not replaced: the
// layers' contents merge.
func (v *View) RemovedBy(p string, layer int) (int, bool) {
	if layer < 0 || layer >= len(v.layers) {
		return -1, false
	}
	h := hashPath(p)
	anc := v.ancestors(p)
	dir := v.layers[layer].index.lookup(h)&kindMask == kindDir
	for j := layer + 1; j < len(v.layers); j++ {
		l := &v.layers[j]
		if k := l.index.lookup(h) & kindMask; (k != kindNone && !(dir && k == kindDir)) || l.hides(h, anc) {
			return j, true
		}
	}
	return -1, false
}

// symlink returns the target of p when p is a symbolic link in the final
// file system.
func (v *View) symlink(p string) (string, bool) {
	if !v.symlinks[p] {
		return "", false
	}
	s, ok := v.links[p]
	if !ok {
		s = v.stat(p)
		v.links[p] = s
	}
	if s.kind != kindSymlink {
		return "", false
	}
	e := v.layers[s.layer].named[p]
	if e == nil || e.Type != EntrySymlink {
		return "", false
	}
	return e.Link, true
}

// ErrLinkLoop is returned when resolving a path meets too many symlinks.
var ErrLinkLoop = errors.New("too many levels of symbolic links")

const maxLinkHops = 40

// Resolve follows symbolic links in p the way the kernel would inside a
// chroot at the image root: absolute targets start again at the root and
// ".." never climbs above it, so nothing outside the image is ever reached.
// It returns the clean path of what p names, which may not exist.
func (v *View) Resolve(p string) (string, error) {
	hops := 0
	pending := strings.Split(p, "/")
	var done []string
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, part), "/")
		target, ok := v.symlink(cur)
		if !ok {
			done = append(done, part)
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", ErrLinkLoop
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return strings.Join(done, "/"), nil
}

// Symlinks calls fn, in name order, for every symbolic link of the final
// file system directly inside dir.
func (v *View) Symlinks(dir string, fn func(name, target string)) {
	var names []string
	for j := range v.layers {
		for i := range v.layers[j].entries {
			e := &v.layers[j].entries[i]
			if e.Type == EntrySymlink && parentDir(e.Path) == dir {
				names = append(names, e.Path)
			}
		}
	}
	slices.Sort(names)
	for _, p := range slices.Compact(names) {
		if target, ok := v.symlink(p); ok {
			fn(path.Base(p), target)
		}
	}
}

// Walk calls fn, in layer and archive order, for every entry of the final
// file system that the layer results hold whole: every entry when the
// walker kept them all (Walker.KeepEntries), else the symbolic and hard
// links.
func (v *View) Walk(fn func(p string, e *Entry, layer int)) {
	for i := range v.layers {
		for j := range v.layers[i].entries {
			e := &v.layers[i].entries[j]
			if s := v.stat(e.Path); s.layer == i && s.kind == kindOf(e.Type) {
				fn(e.Path, e, i)
			}
		}
	}
}

// ErrLinkTarget is returned for a hard link whose target is in no layer.
var ErrLinkTarget = errors.New("hard link target is in no layer")

// CheckLinks checks that every hard link's target exists where the link
// is made: earlier in the same layer (the walker checked that) or in the
// file system the layers below make. The error names the layer.
func (v *View) CheckLinks() error {
	for i := range v.layers {
		l := &v.layers[i]
		for j := range l.entries {
			e := &l.entries[j]
			if e.Type != EntryHardlink || !e.LinkBelow {
				continue
			}
			if s := v.below(e.Link, i); s.kind == kindNone || s.kind == kindDir {
				return fmt.Errorf("layer %d (%s): hard link %q to %q: %w", i, l.diffID, "/"+e.Path, "/"+e.Link, ErrLinkTarget)
			}
		}
	}
	return nil
}
