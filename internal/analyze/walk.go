package analyze

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/drydockscan/drydock/internal/inventory"
)

// Whiteout markers (OCI image spec, AUFS convention).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// ErrUnsafePath is returned for archive entries that would land outside
// the image root.
var ErrUnsafePath = errors.New("unsafe path")

// ErrLimit is returned when a layer exceeds one of the walker's caps.
var ErrLimit = errors.New("limit exceeded")

// Walker reads layers and runs analyzers on the files they want.
type Walker struct {
	Analyzers []Analyzer
	// MaxFileSize caps the size of one wanted file; bigger files are
	// skipped with a warning.
	MaxFileSize int64
	// MemoryLimit is the size above which a wanted file is spooled to a
	// temporary file instead of memory.
	MemoryLimit int64
	// MaxEntries caps the entries of one layer.
	MaxEntries int
	// KeepEntries keeps every entry of the layer whole (path, type, size,
	// mode, link) in LayerResult.Entries, and whiteouts and opaque
	// directories by name: for tools that show a layer's files. Scans
	// leave it off: the result then holds every path only as a hash.
	KeepEntries bool
	// Keep, when set, names further entries to keep whole in every layer
	// result besides the links: the ones checks of the final file system
	// look at (files with special permission bits, package-manager
	// caches, …). KeepName identifies the rule, for caches of layer
	// results: change it whenever Keep keeps other entries.
	Keep     func(p, typ string, mode fs.FileMode) bool
	KeepName string
	// TempDir holds spooled files ("" means the system default).
	TempDir string
	Logger  *slog.Logger
}

// Walker defaults.
const (
	DefaultMaxFileSize = 1 << 30
	DefaultMemoryLimit = 32 << 20
	DefaultMaxEntries  = 2 << 20
)

// maxNameWarnings caps the warnings about odd names one layer reports one
// by one; the rest are counted in one more warning.
const maxNameWarnings = 16

func (w *Walker) maxFileSize() int64 {
	if w.MaxFileSize > 0 {
		return w.MaxFileSize
	}
	return DefaultMaxFileSize
}

func (w *Walker) memoryLimit() int64 {
	if w.MemoryLimit > 0 {
		return w.MemoryLimit
	}
	return DefaultMemoryLimit
}

func (w *Walker) maxEntries() int {
	if w.MaxEntries > 0 {
		return w.MaxEntries
	}
	return DefaultMaxEntries
}

// CleanPath turns an archive entry name into a clean path relative to the
// root. It returns "" for the root itself and ErrUnsafePath for absolute
// names and names that climb out of the root.
func CleanPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty name", ErrUnsafePath)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafePath, name)
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: %q escapes the image root", ErrUnsafePath, name)
	}
	return p, nil
}

// hasDotDot reports whether a slash-separated name has a ".." segment.
func hasDotDot(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// oddName says why a name is worth a warning ("" when it is not): names
// that are not valid UTF-8 or that hold control characters are kept and
// analysed byte for byte, but JSON and terminals cannot show them as they
// are.
func oddName(p string) string {
	if !utf8.ValidString(p) {
		return "name is not valid UTF-8"
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "name holds control characters"
		}
	}
	return ""
}

// walk is the state of one layer walk.
type walk struct {
	w       *Walker
	ctx     context.Context
	res     *LayerResult
	started time.Time
	// byPath indexes res.Files by path for hardlink duplication.
	byPath map[string][]int
	index  indexBuilder
	// links are the indexes of the hard links in res.Entries.
	links []int
	odd   int
}

func (w *Walker) newWalk(ctx context.Context) *walk {
	return &walk{
		w:       w,
		ctx:     ctx,
		res:     &LayerResult{Stats: Stats{PerAnalyzer: map[string]time.Duration{}}},
		started: time.Now(),
		byPath:  map[string][]int{},
	}
}

// WalkTar reads one uncompressed layer tar and returns what it holds.
// Errors name the offending entry; the caller adds the layer.
func (w *Walker) WalkTar(ctx context.Context, r io.Reader) (*LayerResult, error) {
	wk := w.newWalk(ctx)
	defer wk.index.release()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar after %d entries: %w", wk.res.Stats.Entries, err)
		}
		if err := wk.entry(hdr, tr); err != nil {
			return nil, err
		}
	}
	return wk.finish(), nil
}

// count counts one entry against the cap and gives it its sequence number.
func (wk *walk) count(p string) error {
	wk.res.Stats.Entries++
	if wk.res.Stats.Entries > wk.w.maxEntries() {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, wk.w.maxEntries())
	}
	if why := oddName(p); why != "" {
		wk.odd++
		if wk.odd <= maxNameWarnings {
			wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/" + p, Err: why})
		}
	}
	return nil
}

// keep records an entry in the index and, when it is needed by name,
// whole.
func (wk *walk) keep(e Entry) {
	kind := kindOf(e.Type)
	if kind == kindHardlink {
		// Asked before the link itself is recorded: a link to itself has
		// no target.
		wk.index.linkTarget(e.Link)
	}
	wk.index.entry(e.Path, kind)
	if wk.w.KeepEntries || kind == kindSymlink || kind == kindHardlink || (wk.w.Keep != nil && wk.w.Keep(e.Path, e.Type, fs.FileMode(e.Mode))) {
		if kind == kindHardlink {
			wk.links = append(wk.links, len(wk.res.Entries))
		}
		wk.res.Entries = append(wk.res.Entries, e)
	}
}

// finish builds the layer's index and checks its hard links.
func (wk *walk) finish() *LayerResult {
	if wk.odd > maxNameWarnings {
		wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/",
			Err: fmt.Sprintf("%d more names are not valid UTF-8 or hold control characters", wk.odd-maxNameWarnings)})
	}
	found := map[pathHash][]bool{}
	wk.res.Index = compact(wk.index.sorted(), found)
	// Each link's target question was answered in archive order.
	for _, i := range wk.links {
		e := &wk.res.Entries[i]
		h := hashPath(e.Link)
		e.LinkBelow = !found[h][0]
		found[h] = found[h][1:]
	}
	wk.res.Stats.Duration = time.Since(wk.started)
	return wk.res
}

func (wk *walk) entry(hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeGNUSparse:
		return nil
	}
	p, err := CleanPath(hdr.Name)
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	if p == "" {
		return nil
	}
	if err := wk.count(p); err != nil {
		return err
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		return wk.whiteout(hdr.Name, p, dir, base)
	}
	e := Entry{Path: p, Mode: uint32(hdr.FileInfo().Mode())}
	switch hdr.Typeflag {
	case tar.TypeReg:
		e.Type, e.Size = EntryFile, hdr.Size
		wk.res.Stats.Bytes += hdr.Size
	case tar.TypeDir:
		e.Type = EntryDir
	case tar.TypeSymlink:
		e.Type, e.Link = EntrySymlink, hdr.Linkname
	case tar.TypeLink:
		target, err := CleanPath(hdr.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("entry %q: hardlink target: %w", hdr.Name, errors.Join(err, ErrUnsafePath))
		}
		e.Type, e.Link = EntryHardlink, target
	default:
		e.Type = EntryOther
	}
	wk.keep(e)
	switch e.Type {
	case EntryFile:
		return wk.offer(p, FileInfo{Size: hdr.Size, Mode: hdr.FileInfo().Mode()}, func() (io.Reader, error) { return tr, nil })
	case EntryHardlink:
		wk.linkResults(p, e.Link, hdr)
	}
	return nil
}

// whiteout records a whiteout marker. Its name must say plainly what it
// deletes: a ".." anywhere in it, or a target that is empty, "." or "..",
// means different things to different extractors (some delete the
// parent directory) and is refused.
func (wk *walk) whiteout(name, p, dir, base string) error {
	if hasDotDot(name) {
		return fmt.Errorf("entry %q: %w: whiteout name with a \"..\" segment", name, ErrUnsafePath)
	}
	switch {
	case base == whiteoutOpaque:
		wk.index.parents(p)
		wk.index.add(dir, flagOpaque)
		if wk.w.KeepEntries {
			wk.res.Opaques = append(wk.res.Opaques, dir)
		}
	case strings.HasPrefix(base, whiteoutMeta):
		// Other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs) carries nothing.
	default:
		target := base[len(whiteoutPrefix):]
		if target == "" || target == "." || target == ".." {
			return fmt.Errorf("entry %q: %w: whiteout of %q", name, ErrUnsafePath, target)
		}
		t := path.Join(dir, target)
		wk.index.entry(t, flagWhiteout)
		if wk.w.KeepEntries {
			wk.res.Whiteouts = append(wk.res.Whiteouts, t)
		}
	}
	return nil
}

// linkResults gives a hardlink the results its target produced earlier in
// the same layer, for the analyzers that want the link's path too.
func (wk *walk) linkResults(p, target string, hdr *tar.Header) {
	idx := wk.byPath[target]
	if len(idx) == 0 {
		return
	}
	info := FileInfo{Size: hdr.Size, Mode: hdr.FileInfo().Mode()}
	for _, i := range idx {
		fr := wk.res.Files[i]
		a := wk.analyzer(fr.Analyzer)
		if a == nil || !a.Required(p, info) {
			continue
		}
		dup := FileResult{Path: p, Analyzer: fr.Analyzer, Result: fr.Result}
		dup.Packages = make([]inventory.Package, len(fr.Packages))
		copy(dup.Packages, fr.Packages)
		for j := range dup.Packages {
			if dup.Packages[j].Path == "/"+target {
				dup.Packages[j].Path = "/" + p
			}
		}
		wk.add(dup)
	}
}

func (wk *walk) analyzer(name string) Analyzer {
	for _, a := range wk.w.Analyzers {
		if a.Name() == name {
			return a
		}
	}
	return nil
}

func (wk *walk) add(fr FileResult) {
	wk.byPath[fr.Path] = append(wk.byPath[fr.Path], len(wk.res.Files))
	wk.res.Files = append(wk.res.Files, fr)
}

// offer runs the analyzers that want the file. open returns the content
// stream, which is read at most once.
func (wk *walk) offer(p string, info FileInfo, open func() (io.Reader, error)) error {
	var wanted []Analyzer
	for _, a := range wk.w.Analyzers {
		if a.Required(p, info) {
			wanted = append(wanted, a)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	if info.Size > wk.w.maxFileSize() {
		wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/" + p, Analyzer: wanted[0].Name(),
			Err: fmt.Sprintf("file of %d bytes is over the %d-byte limit: not analysed", info.Size, wk.w.maxFileSize())})
		return nil
	}
	r, err := open()
	if err != nil {
		return fmt.Errorf("opening %q: %w", p, err)
	}
	content, release, err := wk.w.load(r, info.Size)
	if err != nil {
		return fmt.Errorf("reading %q: %w", p, err)
	}
	defer release()
	wk.res.Stats.WantedFiles++
	wk.res.Stats.WantedBytes += info.Size
	f := &File{Path: p, Size: info.Size, Mode: info.Mode, Content: content}
	for _, a := range wanted {
		start := time.Now()
		r, err := analyzeSafely(wk.ctx, a, f)
		wk.res.Stats.PerAnalyzer[a.Name()] += time.Since(start)
		if err != nil {
			if ctxErr := wk.ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			wk.res.Errors = append(wk.res.Errors, FileError{Path: "/" + p, Analyzer: a.Name(), Err: err.Error()})
			continue
		}
		if r == nil || (len(r.Packages) == 0 && r.OS == nil && r.Owned == nil && r.License == nil && len(r.Secrets) == 0) {
			continue
		}
		for i := range r.Packages {
			if r.Packages[i].Path == "" {
				r.Packages[i].Path = "/" + p
			}
		}
		wk.add(FileResult{Path: p, Analyzer: a.Name(), Result: *r})
	}
	return nil
}

// analyzeSafely turns an analyzer panic into an error naming the analyzer:
// a bug in one parser must not take the scan down without saying where.
func analyzeSafely(ctx context.Context, a Analyzer, f *File) (r *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("analyzer %s panicked: %v", a.Name(), p)
		}
	}()
	return a.Analyze(ctx, f)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

type memContent struct {
	*bytes.Reader
	b []byte
}

func (m memContent) Bytes() []byte { return m.b }

// load reads size bytes of r into memory or, when large, a temporary file.
func (w *Walker) load(r io.Reader, size int64) (io.ReaderAt, func(), error) {
	if size <= w.memoryLimit() {
		bp := bufPool.Get().(*[]byte)
		if int64(cap(*bp)) < size {
			*bp = make([]byte, size)
		}
		b := (*bp)[:size]
		if _, err := io.ReadFull(r, b); err != nil {
			bufPool.Put(bp)
			return nil, nil, fmt.Errorf("truncated content: %w", err)
		}
		release := func() {
			if cap(*bp) <= 4<<20 {
				bufPool.Put(bp)
			}
		}
		return memContent{Reader: bytes.NewReader(b), b: b}, release, nil
	}
	f, err := os.CreateTemp(w.TempDir, "drydock-file-*")
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("spooling content: %w", err)
	}
	return f, release, nil
}

// WalkDir reads a directory tree as if it were one layer. Symbolic links
// are recorded, never followed: every file is opened through an os.Root,
// so nothing outside root is read even if the tree changes during the
// walk. Names are taken byte for byte (a name that is not valid UTF-8 is
// read like any other, with a warning); a directory that cannot be read
// is a warning, and its content is missing from the result.
func (w *Walker) WalkDir(ctx context.Context, root string) (*LayerResult, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	wk := w.newWalk(ctx)
	defer wk.index.release()
	if err := wk.dir(r, ""); err != nil {
		return nil, err
	}
	return wk.finish(), nil
}

// dir walks one directory (relative to the root, "" for the root) in name
// order.
func (wk *walk) dir(r *os.Root, dir string) error {
	name := dir
	if name == "" {
		name = "."
	}
	f, err := r.Open(name)
	if err != nil {
		wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/" + dir, Err: err.Error()})
		return nil
	}
	ents, err := f.ReadDir(-1)
	_ = f.Close()
	if err != nil {
		wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/" + dir, Err: err.Error()})
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, d := range ents {
		if err := wk.ctx.Err(); err != nil {
			return err
		}
		p := d.Name()
		if dir != "" {
			p = dir + "/" + p
		}
		info, err := d.Info()
		if err != nil {
			wk.res.Warnings = append(wk.res.Warnings, FileError{Path: "/" + p, Err: err.Error()})
			continue
		}
		if err := wk.count(p); err != nil {
			return err
		}
		e := Entry{Path: p, Mode: uint32(info.Mode())}
		switch {
		case info.Mode().IsRegular():
			e.Type, e.Size = EntryFile, info.Size()
			wk.res.Stats.Bytes += info.Size()
		case info.IsDir():
			e.Type = EntryDir
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := r.Readlink(p)
			if err != nil {
				return fmt.Errorf("reading link %q: %w", p, err)
			}
			e.Type, e.Link = EntrySymlink, link
		default:
			e.Type = EntryOther
		}
		wk.keep(e)
		switch e.Type {
		case EntryDir:
			if err := wk.dir(r, p); err != nil {
				return err
			}
		case EntryFile:
			if err := wk.offerFile(r, p, info); err != nil {
				return err
			}
		}
	}
	return nil
}

func (wk *walk) offerFile(r *os.Root, p string, info fs.FileInfo) error {
	var opened *os.File
	defer func() {
		if opened != nil {
			_ = opened.Close()
		}
	}()
	return wk.offer(p, FileInfo{Size: info.Size(), Mode: info.Mode()}, func() (io.Reader, error) {
		f, err := r.Open(p)
		if err != nil {
			return nil, err
		}
		opened = f
		return f, nil
	})
}
