package report

import (
	"strconv"
)

// LayerStats is the layer analysis (drydock layers, docs/layers.md) the
// HTML report shows: size and files per layer, waste and efficiency as
// dive defines them. It is not part of the JSON report.
type LayerStats struct {
	Efficiency  float64
	WastedBytes int64
	// UserWastedPercent is a fraction; nil when undefined (the layers
	// above the first hold no bytes while something is wasted).
	UserWastedPercent *float64
	SizeBytes         int64
	Layers            []LayerStat
	// Wasted are the biggest paths found in several layers.
	Wasted []WastedPath
	// WastedPaths counts every such path (Wasted may be cut).
	WastedPaths int
}

// LayerStat is one layer's size and changes.
type LayerStat struct {
	Index     int
	DiffID    string
	CreatedBy string
	Size      int64
	Added     int
	Modified  int
	Removed   int
	// AddedBytes etc. are the changed files' sizes.
	AddedBytes, ModifiedBytes, RemovedBytes int64
}

// WastedPath is a path found in several layers with the bytes it takes
// over all of them.
type WastedPath struct {
	Path  string
	Count int
	Bytes int64
}

// htmlLayers is the layers section as the page template reads it.
type htmlLayers struct {
	*LayerStats
	Efficiency string
	UserWasted string
	Rows       []htmlLayerRow
	BarW       int
}

type htmlLayerRow struct {
	LayerStat
	W int // bar width for the size, of BarW
}

const layerBarW = 160

func newHTMLLayers(s *LayerStats) *htmlLayers {
	if s == nil {
		return nil
	}
	h := &htmlLayers{LayerStats: s, BarW: layerBarW, Efficiency: strconv.FormatFloat(s.Efficiency*100, 'f', 2, 64) + " %", UserWasted: "∞"}
	if s.UserWastedPercent != nil {
		h.UserWasted = strconv.FormatFloat(*s.UserWastedPercent*100, 'f', 2, 64) + " %"
	}
	var max int64
	for _, l := range s.Layers {
		if l.Size > max {
			max = l.Size
		}
	}
	for _, l := range s.Layers {
		w := 0
		if max > 0 && l.Size > 0 {
			w = int(l.Size * layerBarW / max)
			if w < 1 {
				w = 1
			}
		}
		h.Rows = append(h.Rows, htmlLayerRow{LayerStat: l, W: w})
	}
	return h
}
