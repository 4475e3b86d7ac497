package analyze

import (
	"errors"
	"path"
	"strings"
)

// View is the image's final file system: every layer applied bottom-up,
// with whiteouts and opaque directories. Each node remembers the layer
// that last wrote it.
type View struct {
	root *node
}

type node struct {
	children map[string]*node
	// layer is the index of the layer that last wrote this node, -1 for
	// directories only implied by their children.
	layer int
	entry *Entry
}

// NewView applies layers in order.
func NewView(layers []*LayerResult) *View {
	v := &View{root: &node{layer: -1}}
	for i, l := range layers {
		for _, d := range l.Opaques {
			if n := v.lookup(d); n != nil {
				n.children = nil
			}
		}
		for _, w := range l.Whiteouts {
			v.remove(w)
		}
		for j := range l.Entries {
			v.insert(&l.Entries[j], i)
		}
	}
	return v
}

func (v *View) lookup(p string) *node {
	n := v.root
	if p == "" {
		return n
	}
	for part := range strings.SplitSeq(p, "/") {
		n = n.children[part]
		if n == nil {
			return nil
		}
	}
	return n
}

func (v *View) remove(p string) {
	dir, base := path.Split(p)
	parent := v.lookup(strings.TrimSuffix(dir, "/"))
	if parent != nil {
		delete(parent.children, base)
	}
}

func (v *View) insert(e *Entry, layer int) {
	n := v.root
	for part := range strings.SplitSeq(e.Path, "/") {
		if n != v.root && n.entry != nil && n.entry.Type != EntryDir {
			// A layer writing below a lower layer's file or symlink turns
			// it into a directory (overlayfs: an upper directory hides a
			// lower non-directory).
			n.entry, n.layer = nil, -1
		}
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c := n.children[part]
		if c == nil {
			c = &node{layer: -1}
			n.children[part] = c
		}
		n = c
	}
	if e.Type != EntryDir {
		n.children = nil
	}
	n.layer, n.entry = layer, e
}

// Stat returns the entry at p (clean, relative, not following a final
// symlink) and the index of the layer that wrote it.
func (v *View) Stat(p string) (*Entry, int, bool) {
	n := v.lookup(p)
	if n == nil || n.entry == nil {
		return nil, 0, false
	}
	return n.entry, n.layer, true
}

// Exists reports whether p exists in the final file system (as an entry or
// an implied directory), without following symlinks.
func (v *View) Exists(p string) bool { return v.lookup(p) != nil }

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
		n := v.lookup(cur)
		if n == nil || n.entry == nil || n.entry.Type != EntrySymlink {
			done = append(done, part)
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", ErrLinkLoop
		}
		target := n.entry.Link
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return strings.Join(done, "/"), nil
}

// Walk calls fn for every entry of the final file system in no particular
// order.
func (v *View) Walk(fn func(p string, e *Entry, layer int)) {
	var rec func(prefix string, n *node)
	rec = func(prefix string, n *node) {
		for name, c := range n.children {
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			if c.entry != nil {
				fn(p, c.entry, c.layer)
			}
			rec(p, c)
		}
	}
	rec("", v.root)
}
