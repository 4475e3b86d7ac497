// Package analyze defines how drydock looks inside a layer: the walker reads
// each layer once as a stream and offers every entry to the analyzers whose
// Required rule wants it; an analyzer turns one file into packages, OS facts
// or ownership facts. Analyzers live in sub-packages, one per ecosystem, and
// are listed explicitly in the analyzers package.
package analyze

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/drydockscan/drydock/internal/inventory"
)

// ResultSchema versions the shape and meaning of LayerResult (and of
// everything it holds: Result, inventory.Package, …). The layer cache keys
// its entries by it, so whoever changes what a LayerResult holds, or what
// the walker puts into one, bumps it and every cached layer is analysed
// again.
const ResultSchema = 2

// Analyzer extracts facts from the files it asks for.
type Analyzer interface {
	// Name is a short stable identifier ("dpkg", "npm", "gobinary").
	Name() string
	// Version changes whenever the analyzer's output for the same input
	// may change; cached layer results are keyed by it.
	Version() int
	// Required reports whether the analyzer wants the file. path is clean,
	// relative to the image root, without a leading slash
	// ("var/lib/dpkg/status"). It is called for every regular file of every
	// layer and must be cheap.
	Required(path string, info FileInfo) bool
	// Analyze reads one wanted file. A returned error means the file is
	// malformed (or hostile); the walker records it against the layer and
	// path. A nil Result means "nothing here".
	Analyze(ctx context.Context, f *File) (*Result, error)
}

// Configurable is an analyzer whose output also depends on options the
// user chose (allow rules, size caps). Fingerprint names those options;
// caches of layer results keep results found with other options apart.
type Configurable interface {
	Fingerprint() string
}

// Mode says how the target is being scanned. Some analyzers (lock files
// that only describe what would be installed, such as requirements.txt or
// go.mod) only run on source trees.
type Mode int

const (
	// ModeImage scans a container image or a root filesystem.
	ModeImage Mode = iota
	// ModeFS scans a project directory.
	ModeFS
)

// FileInfo is what Required sees of an entry.
type FileInfo struct {
	Size int64
	Mode fs.FileMode
}

// File is a wanted file's content, fully available for random access.
type File struct {
	// Path is clean and relative to the root ("usr/lib/os-release").
	Path string
	Size int64
	Mode fs.FileMode
	// Content reads the file; it is valid only during Analyze.
	Content io.ReaderAt
}

// Reader returns a fresh sequential reader over the file.
func (f *File) Reader() io.Reader { return io.NewSectionReader(f.Content, 0, f.Size) }

// ReadAll returns the file's bytes. The walker has already enforced the
// analyzer-independent size cap, so this is bounded.
func (f *File) ReadAll() ([]byte, error) {
	if b, ok := f.Content.(interface{ Bytes() []byte }); ok {
		return b.Bytes(), nil
	}
	buf := make([]byte, f.Size)
	_, err := f.Content.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return buf, err
}

// Result is what an analyzer found in one file.
type Result struct {
	// Packages found in the file. The walker fills in Path when empty.
	Packages []inventory.Package `json:"packages,omitempty"`
	// OS facts found in the file (os-release, alpine-release, …).
	OS *inventory.OS `json:"os,omitempty"`
	// Owned lists files an OS package installed (dpkg info/*.list).
	Owned *Ownership `json:"owned,omitempty"`
	// License gives the licences of an OS package (dpkg copyright files).
	License *License `json:"license,omitempty"`
	// Secrets found in the file, redacted.
	Secrets []Secret `json:"secrets,omitempty"`
}

// Secret is a secret found in a file: the rule that found it, the line,
// and the secret redacted (a few leading characters and a short
// fingerprint). The secret itself is never kept.
type Secret struct {
	Rule        string `json:"rule"`
	Line        int    `json:"line,omitempty"`
	Match       string `json:"match"`
	Fingerprint string `json:"fingerprint"`
}

// Ownership ties files to the OS package that installed them.
type Ownership struct {
	Type    string   `json:"type"`
	Package string   `json:"package"`
	Arch    string   `json:"arch,omitempty"`
	Files   []string `json:"files"`
}

// License gives licences for an OS package, by package name.
type License struct {
	Type     string   `json:"type"`
	Package  string   `json:"package"`
	Licenses []string `json:"licenses"`
}
