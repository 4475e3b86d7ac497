package layers

import (
	"archive/tar"
	"math"
	"path"
	"slices"
	"strings"
)

// Change kinds.
const (
	Added    = "added"
	Modified = "modified"
	Removed  = "removed"
)

// Analysis is what `drydock layers` reports (docs/layers.md).
type Analysis struct {
	Image string `json:"image"`
	// Efficiency, WastedBytes and UserWastedPercent are dive's metrics.
	Efficiency  float64 `json:"efficiency"`
	WastedBytes int64   `json:"wasted_bytes"`
	// UserWastedPercent is wasted bytes over the bytes of the layers
	// above the first, as a fraction (0.1 is 10%). Nil when those layers
	// hold no bytes and something is wasted (the ratio is infinite).
	UserWastedPercent *float64 `json:"user_wasted_percent"`
	// SizeBytes is the sum of every layer's size, UserSizeBytes without
	// the first layer (sizes as dive counts them: the tar entries' sizes).
	SizeBytes     int64   `json:"size_bytes"`
	UserSizeBytes int64   `json:"user_size_bytes"`
	Layers        []Layer `json:"layers"`
	// Wasted lists the paths found in more than one layer, biggest first.
	Wasted []Waste `json:"wasted"`
	// Tree is the final file system: every path with the layer it last
	// came from, in path order.
	Tree []TreeEntry `json:"tree"`
}

// UserWasted returns the user wasted fraction, +Inf when undefined.
func (a *Analysis) UserWasted() float64 {
	if a.UserWastedPercent == nil {
		return math.Inf(1)
	}
	return *a.UserWastedPercent
}

// Layer is one layer's change set.
type Layer struct {
	Index     int    `json:"index"`
	DiffID    string `json:"diff_id"`
	Digest    string `json:"digest,omitempty"`
	CreatedBy string `json:"created_by"`
	// Size is the sum of the layer's tar entry sizes; BlobSize the blob as
	// stored (compressed).
	Size     int64  `json:"size"`
	BlobSize int64  `json:"blob_size"`
	Added    Counts `json:"added"`
	Modified Counts `json:"modified"`
	Removed  Counts `json:"removed"`
	// Files lists every path the layer adds, modifies or removes, in path
	// order.
	Files []Change `json:"files"`
}

// Counts count files (every non-directory entry) and their bytes.
type Counts struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Change is one path a layer adds, modifies or removes. Directories that
// only reappear (as every layer's tar repeats parent directories) are not
// changes.
type Change struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
}

// Waste is a path found in several layers: Bytes is its size summed over
// every layer that holds or deletes it (dive's "cumulative size").
type Waste struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// TreeEntry is one path of the final file system.
type TreeEntry struct {
	Path  string `json:"path"`
	Type  string `json:"type"`
	Size  int64  `json:"size"`
	Layer int    `json:"layer"`
	Link  string `json:"link,omitempty"`
}

// LayerInfo is what the source says about a layer.
type LayerInfo struct {
	DiffID, Digest, CreatedBy string
	BlobSize                  int64
}

// Analyze computes the analysis of an image from its layers' entries.
func Analyze(image string, infos []LayerInfo, layers []*LayerEntries) *Analysis {
	a := &Analysis{Image: image, Wasted: []Waste{}, Tree: []TreeEntry{}}
	eff, wasted, sizes := diveMetrics(layers)
	a.Efficiency = eff
	if wasted != nil {
		a.Wasted = wasted
	}
	for _, w := range wasted {
		a.WastedBytes += w.Bytes
	}
	for i, s := range sizes {
		a.SizeBytes += s
		if i > 0 {
			a.UserSizeBytes += s
		}
	}
	switch {
	case a.UserSizeBytes > 0:
		f := float64(a.WastedBytes) / float64(a.UserSizeBytes)
		a.UserWastedPercent = &f
	case a.WastedBytes == 0:
		f := 0.0
		a.UserWastedPercent = &f
	}
	view := map[string]*viewEntry{}
	for i, le := range layers {
		l := Layer{Index: i, Size: sizes[i], Files: []Change{}}
		if i < len(infos) {
			l.DiffID, l.Digest, l.CreatedBy, l.BlobSize = infos[i].DiffID, infos[i].Digest, infos[i].CreatedBy, infos[i].BlobSize
		}
		applyLayer(&l, i, le, view)
		a.Layers = append(a.Layers, l)
	}
	for p, v := range view {
		a.Tree = append(a.Tree, TreeEntry{Path: "/" + p, Type: typeName(v.typ), Size: v.size, Layer: v.layer, Link: v.link})
	}
	slices.SortFunc(a.Tree, func(x, y TreeEntry) int { return strings.Compare(x.Path, y.Path) })
	return a
}

type viewEntry struct {
	layer int
	typ   byte
	size  int64
	link  string
}

// applyLayer applies one layer to the view with the OCI rules (whiteouts
// and opaque directories hide the layers below, whatever their position
// in the tar) and records its changes.
func applyLayer(l *Layer, idx int, le *LayerEntries, view map[string]*viewEntry) {
	// Whiteouts and opaque markers concern the layers below only,
	// wherever they stand in the tar.
	whiteouts, opaques := map[string]bool{}, map[string]bool{}
	for _, e := range le.Entries {
		dir, base := path.Split(e.Path)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			opaques[dir] = true
		case strings.HasPrefix(base, metaPrefix):
		case strings.HasPrefix(base, whiteoutPrefix):
			whiteouts[path.Join(dir, base[len(whiteoutPrefix):])] = true
		}
	}
	below := map[string]*viewEntry{}
	removed := map[string]bool{}
	if len(whiteouts)+len(opaques) > 0 {
		for q, v := range view {
			if hidden(q, whiteouts, opaques) {
				below[q] = v
				removed[q] = true
				delete(view, q)
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range le.Entries {
		if strings.HasPrefix(path.Base(e.Path), whiteoutPrefix) {
			continue
		}
		prev, existed := view[e.Path]
		if !existed {
			prev, existed = below[e.Path]
		}
		if existed && prev.layer == idx {
			existed = false // repeated in the same tar
			prev = nil
		}
		delete(removed, e.Path)
		view[e.Path] = &viewEntry{layer: idx, typ: e.Type, size: e.Size, link: e.Link}
		if seen[e.Path] {
			continue
		}
		seen[e.Path] = true
		switch {
		case existed && e.Type == tar.TypeDir && prev.typ == tar.TypeDir:
			// A directory listed again: not a change.
			view[e.Path].layer = prev.layer
		case existed:
			l.Files = append(l.Files, Change{Path: "/" + e.Path, Change: Modified, Type: typeName(e.Type), Size: e.Size})
			if e.Type != tar.TypeDir {
				l.Modified.Files++
				l.Modified.Bytes += e.Size
			}
		default:
			l.Files = append(l.Files, Change{Path: "/" + e.Path, Change: Added, Type: typeName(e.Type), Size: e.Size})
			if e.Type != tar.TypeDir {
				l.Added.Files++
				l.Added.Bytes += e.Size
			}
		}
	}
	for q := range removed {
		v := below[q]
		l.Files = append(l.Files, Change{Path: "/" + q, Change: Removed, Type: typeName(v.typ), Size: v.size})
		if v.typ != tar.TypeDir {
			l.Removed.Files++
			l.Removed.Bytes += v.size
		}
	}
	slices.SortFunc(l.Files, func(x, y Change) int {
		if c := strings.Compare(x.Path, y.Path); c != 0 {
			return c
		}
		return strings.Compare(x.Change, y.Change)
	})
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg, '\x00': // '\x00' is the pre-POSIX regular file flag
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	default:
		return "other"
	}
}

// hidden reports whether a whiteout names p or one of its parents, or an
// opaque marker stands in one of its parents ("" is the root).
func hidden(p string, whiteouts, opaques map[string]bool) bool {
	if whiteouts[p] {
		return true
	}
	for {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return opaques[""]
		}
		p = p[:i]
		if whiteouts[p] || opaques[p] {
			return true
		}
	}
}
