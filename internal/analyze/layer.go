package analyze

import "time"

// Entry types.
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
	// LinkBelow marks a hard link whose target is not earlier in the same
	// layer: the target must then be in the layers below, which only the
	// merge can check.
	LinkBelow bool `json:"b,omitempty"`
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
// other layer: a plain value that can be cached by a verified digest of
// the layer, the analyzers' versions and IndexFormat.
//
// Its size follows what the layer holds of interest, not how many files
// it has: every path is in Index (17 bytes each); only the entries Merge
// needs by name (symbolic and hard links) are kept whole, and the
// analyzers' results name their own files.
type LayerResult struct {
	DiffID string `json:"diff_id"`
	// Index records every path of the layer: entries, the directories
	// they imply, whiteouts and opaque directories. It is nil only in a
	// result written by hand (see Whiteouts); Prune shrinks it.
	Index PathIndex `json:"index,omitempty"`
	// Entries lists, in archive order, the symbolic and hard links, or
	// every entry except whiteout markers when the walker keeps them all
	// (Walker.KeepEntries).
	Entries []Entry `json:"entries,omitempty"`
	// Whiteouts are paths this layer deletes from the layers below, and
	// Opaques directories whose content from the layers below this layer
	// hides. The walker lists them only with Walker.KeepEntries (Index
	// always has them); a result without an Index (written by hand) is
	// read from Entries, Whiteouts and Opaques.
	Whiteouts []string     `json:"whiteouts,omitempty"`
	Opaques   []string     `json:"opaques,omitempty"`
	Files     []FileResult `json:"files,omitempty"`
	Errors    []FileError  `json:"errors,omitempty"`
	// Warnings are non-fatal oddities worth telling the user (a wanted
	// file over the size cap, a name that is not valid UTF-8, …).
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
