package analyze

import "time"

// Entry types of LayerResult.Entries.
const (
	EntryFile     = "f"
	EntryDir      = "d"
	EntrySymlink  = "l"
	EntryHardlink = "h"
	EntryOther    = "o"
)

// Entry is one file-system entry a layer adds or replaces.
type Entry struct {
	// Path is clean and relative to the root, without a leading slash.
	Path string `json:"p"`
	Type string `json:"t"`
	Size int64  `json:"s,omitempty"`
	Mode uint32 `json:"m,omitempty"`
	// Link is the symlink target as written, or the hardlink's target path
	// (clean, relative to the root).
	Link string `json:"l,omitempty"`
}

// FileResult is one analyzer's result for one file of a layer.
type FileResult struct {
	Path     string `json:"path"`
	Analyzer string `json:"analyzer"`
	Result
}

// FileError records a file an analyzer could not read. It only fails the
// scan when the file is still present in the image's final file system.
type FileError struct {
	Path     string `json:"path"`
	Analyzer string `json:"analyzer"`
	Err      string `json:"error"`
}

// LayerResult is everything learnt from one layer, independent of every
// other layer: a plain value that can be cached by the layer's diffID and
// the analyzers' versions.
type LayerResult struct {
	DiffID string `json:"diff_id"`
	// Entries lists every entry except whiteout markers, in archive order.
	Entries []Entry `json:"entries"`
	// Whiteouts are paths this layer deletes from the layers below.
	Whiteouts []string `json:"whiteouts,omitempty"`
	// Opaques are directories whose content from the layers below this
	// layer hides.
	Opaques []string     `json:"opaques,omitempty"`
	Files   []FileResult `json:"files,omitempty"`
	Errors  []FileError  `json:"errors,omitempty"`
	// Warnings are non-fatal oddities worth telling the user (a wanted
	// file over the size cap, …).
	Warnings []FileError `json:"warnings,omitempty"`
	// Stats are measurements of this walk; they are not part of the
	// cached value.
	Stats Stats `json:"-"`
}

// Stats measure one layer walk.
type Stats struct {
	Entries     int
	Bytes       int64
	WantedFiles int
	WantedBytes int64
	Duration    time.Duration
	// PerAnalyzer is the time each analyzer spent in Analyze.
	PerAnalyzer map[string]time.Duration
}
