package layers

import (
	"slices"
	"strings"
)

// This file computes image efficiency and wasted space as dive defines
// them (docs/layers.md): every layer is a tree of the entries its tar
// holds; the leaves of every layer's tree are the paths it "touches"; a
// whiteout leaf weighs what it deletes when it deletes a directory.

const (
	whiteoutPrefix = ".wh."
	// metaPrefix marks the opaque marker and other AUFS metadata, which
	// dive leaves out of its trees entirely.
	metaPrefix = ".wh..wh."
)

// diveNode is a node of a dive-style tree.
type diveNode struct {
	name     string
	parent   *diveNode
	children map[string]*diveNode
	size     int64
	isDir    bool
}

func newDiveTree() *diveNode { return &diveNode{children: map[string]*diveNode{}} }

// addPath adds p with the given payload, creating intermediate nodes with
// an empty payload, and replaces the payload of an existing node (keeping
// its children). Names starting with ".wh..wh." are not added.
func (root *diveNode) addPath(p string, size int64, isDir bool) {
	n := root
	names := strings.Split(p, "/")
	for i, name := range names {
		if name == "" {
			continue
		}
		c := n.children[name]
		if c == nil {
			if strings.HasPrefix(name, metaPrefix) {
				return
			}
			c = &diveNode{name: name, parent: n, children: map[string]*diveNode{}}
			n.children[name] = c
		}
		n = c
		if i == len(names)-1 {
			n.size, n.isDir = size, isDir
		}
	}
}

func (root *diveNode) get(p string) *diveNode {
	n := root
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		n = n.children[name]
		if n == nil {
			return nil
		}
	}
	return n
}

func (root *diveNode) remove(p string) {
	if n := root.get(p); n != nil && n.parent != nil {
		delete(n.parent.children, n.name)
	}
}

func (n *diveNode) copyTree(parent *diveNode) *diveNode {
	c := &diveNode{name: n.name, parent: parent, size: n.size, isDir: n.isDir, children: make(map[string]*diveNode, len(n.children))}
	for k, ch := range n.children {
		c.children[k] = ch.copyTree(c)
	}
	return c
}

func (n *diveNode) isWhiteout() bool { return strings.HasPrefix(n.name, whiteoutPrefix) }

// path is the node's path from the root ("a/b"); a whiteout leaf's path
// is the path it deletes.
func (n *diveNode) path() string {
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		name := c.name
		if c == n {
			name = strings.TrimPrefix(name, whiteoutPrefix)
		}
		parts = append(parts, name)
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}

// visitChildFirst visits every node below n (and n itself unless it is
// the root), children before parents, siblings in name order.
func (n *diveNode) visitChildFirst(visit func(*diveNode)) {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		n.children[k].visitChildFirst(visit)
	}
	if n.parent != nil {
		visit(n)
	}
}

// stack lays upper on top of t: whiteouts remove what they name, every
// other node (intermediate nodes too) is added or replaces its payload.
func (t *diveNode) stack(upper *diveNode) {
	upper.visitChildFirst(func(n *diveNode) {
		if n.isWhiteout() {
			t.remove(n.path())
		} else {
			t.addPath(n.path(), n.size, n.isDir)
		}
	})
}

func (n *diveNode) subtreeSize() int64 {
	var s int64
	n.visitChildFirst(func(c *diveNode) { s += c.size }) // n included
	return s
}

// diveTree builds one layer's tree from its entries.
func diveTree(le *LayerEntries) (*diveNode, int64) {
	t := newDiveTree()
	var size int64
	for _, e := range le.Entries {
		size += e.Size
		t.addPath(e.Path, e.Size, e.Type == '5')
	}
	return t, size
}

// pathWaste is one path's record across layers.
type pathWaste struct {
	cumulative int64
	min        int64
	count      int
}

// diveMetrics computes dive's efficiency, its inefficient paths and each
// layer's size. A whiteout of a path that no lower layer holds weighs 0
// bytes (dive stops evaluating the rest of that layer instead).
func diveMetrics(layers []*LayerEntries) (efficiency float64, wasted []Waste, layerSizes []int64) {
	trees := make([]*diveNode, len(layers))
	layerSizes = make([]int64, len(layers))
	for i, le := range layers {
		trees[i], layerSizes[i] = diveTree(le)
	}
	paths := map[string]*pathWaste{}
	var order []string
	var stacked *diveNode
	for i, t := range trees {
		// The tree a whiteout of layer i is looked up in: layer 0's
		// tree with layers 0…i-1 stacked on it.
		switch i {
		case 0:
			stacked = t.copyTree(nil)
		default:
			stacked.stack(trees[i-1])
		}
		t.visitChildFirst(func(n *diveNode) {
			if len(n.children) > 0 {
				return
			}
			p := n.path()
			var size int64
			if n.isWhiteout() {
				if prev := stacked.get(p); prev != nil && prev.isDir {
					size = prev.subtreeSize()
				}
			} else {
				size = n.size
			}
			w := paths[p]
			if w == nil {
				w = &pathWaste{min: -1}
				paths[p] = w
				order = append(order, p)
			}
			w.cumulative += size
			if w.min < 0 || size < w.min {
				w.min = size
			}
			w.count++
		})
	}
	var minSum, cumSum int64
	for _, p := range order {
		w := paths[p]
		minSum += w.min
		cumSum += w.cumulative
		if w.count >= 2 {
			wasted = append(wasted, Waste{Path: "/" + p, Count: w.count, Bytes: w.cumulative})
		}
	}
	efficiency = 1
	if cumSum > 0 {
		efficiency = float64(minSum) / float64(cumSum)
	}
	slices.SortStableFunc(wasted, func(a, b Waste) int {
		if a.Bytes != b.Bytes {
			if a.Bytes > b.Bytes {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return efficiency, wasted, layerSizes
}
