// Package rootfs unpacks an image's layers into a root file-system
// directory that an OCI runtime can run: whiteouts and opaque directories
// applied, hard links and symbolic links recreated, device nodes skipped,
// setuid bits kept, and every file owned by the host id its image owner maps
// to in the sandbox's user namespace.
//
// Layers are hostile input: no entry may land outside the directory, no
// symbolic link is ever followed out of it (links are resolved inside the
// root, as the container will see them), the number of entries and bytes are
// capped, and every error names the layer and the path.
package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/drydockscan/drydock/internal/layerio"
)

// Whiteout markers (OCI image spec, AUFS convention).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// ErrUnsafePath is returned for entries that would land outside the root.
var ErrUnsafePath = errors.New("unsafe path")

// ErrLimit is returned when the layers exceed a cap.
var ErrLimit = errors.New("limit exceeded")

// Layer is one layer to unpack.
type Layer struct {
	// Name identifies the layer in errors ("layer 2 (sha256:…)").
	Name string
	// Digest and DiffID are checked when set ("sha256:…").
	Digest, DiffID string
	// Open returns the blob as stored (compressed or not).
	Open func() (io.ReadCloser, error)
}

// IDMap maps image user and group ids to host ids: an image id below Size
// becomes Host+id; ids at or above Size become Host+Overflow.
type IDMap struct {
	Host, Size, Overflow int
}

func (m IDMap) host(id int) int {
	if m.Size == 0 {
		return id
	}
	if id < 0 || id >= m.Size {
		return m.Host + m.Overflow
	}
	return m.Host + id
}

// Options configure an unpack.
type Options struct {
	IDs IDMap
	// MaxEntries caps the entries of all layers together; MaxBytes the
	// bytes of regular files written.
	MaxEntries int
	MaxBytes   int64
	// LayerLimits bound what one compressed layer may expand to.
	LayerLimits layerio.Limits
}

// Defaults.
const (
	DefaultMaxEntries = 1 << 20
	DefaultMaxBytes   = 16 << 30
)

// Skipped is an entry that was not recreated, and why.
type Skipped struct {
	Layer  string `json:"layer"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Stats describe an unpack.
type Stats struct {
	Entries int
	Bytes   int64
	Skipped []Skipped
}

// Unpack writes the layers, bottom first, into dir, which must exist and
// be empty.
func Unpack(ctx context.Context, dir string, layers []Layer, opts Options) (*Stats, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.LayerLimits == (layerio.Limits{}) {
		opts.LayerLimits = layerio.DefaultLimits
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := root.Chown(".", opts.IDs.host(0), opts.IDs.host(0)); err != nil {
		return nil, err
	}
	u := &unpacker{root: root, opts: opts, stats: &Stats{}, dirs: map[string]bool{}}
	for _, l := range layers {
		if err := u.layer(ctx, l); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name, err)
		}
	}
	return u.stats, nil
}

type unpacker struct {
	root  *os.Root
	opts  Options
	stats *Stats
	// added holds the paths the current layer created, which its own
	// opaque markers must not remove.
	added map[string]bool
	// dirModes are directory modes applied once the layer is done, so a
	// read-only directory can still be filled.
	dirModes map[string]fs.FileMode
	// dirs caches the paths known to be real directories (not links),
	// which saves walking the root component by component per entry;
	// every removal forgets what it removed.
	dirs map[string]bool
	// cur is the directory entries currently go to, open.
	cur     *os.Root
	curPath string
}

func (u *unpacker) layer(ctx context.Context, l Layer) error {
	rc, err := l.Open()
	if err != nil {
		return err
	}
	s, err := layerio.Open(rc, l.Digest, l.DiffID, u.opts.LayerLimits)
	if err != nil {
		rc.Close()
		return err
	}
	defer s.Close()
	s.ReadAhead()
	return u.stream(ctx, l.Name, s, s.Finish)
}

// Tar applies one uncompressed layer tar (tests and fuzzing).
func Tar(ctx context.Context, dir string, r io.Reader, opts Options) (*Stats, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	u := &unpacker{root: root, opts: opts, stats: &Stats{}, dirs: map[string]bool{}}
	return u.stats, u.stream(ctx, "layer", r, func() error { return nil })
}

func (u *unpacker) stream(ctx context.Context, name string, r io.Reader, finish func() error) error {
	u.added = map[string]bool{}
	u.dirModes = map[string]fs.FileMode{}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			u.closeDir()
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := u.entry(name, hdr, tr); err != nil {
			u.closeDir()
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
	}
	u.closeDir()
	if err := finish(); err != nil {
		return err
	}
	for p, m := range u.dirModes {
		if st, err := u.root.Lstat(p); err != nil || !st.IsDir() {
			continue
		}
		if err := u.root.Chmod(p, m); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
	}
	return nil
}

// cleanPath turns an entry name into a clean path relative to the root;
// "" is the root itself.
func cleanPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		// Some tools write absolute names; they mean the image root.
		name = strings.TrimLeft(name, "/")
	}
	p := path.Clean(name)
	if p == "." || p == "" {
		return "", nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: escapes the image root", ErrUnsafePath)
	}
	return p, nil
}

func (u *unpacker) entry(layer string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	p, err := cleanPath(hdr.Name)
	if err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	u.stats.Entries++
	if u.stats.Entries > u.opts.MaxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, u.opts.MaxEntries)
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	// The parent, with every symbolic link resolved inside the root, as
	// the container would see it.
	parent, err := u.resolve(dir)
	if err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(parent, base)
	}
	if err := u.mkdirs(parent); err != nil {
		return err
	}
	target := path.Join(parent, base)
	if parent == "" {
		target = base
	}
	uid, gid := u.opts.IDs.host(hdr.Uid), u.opts.IDs.host(hdr.Gid)
	mode := hdr.FileInfo().Mode()
	perm := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)

	d, err := u.dirRoot(parent)
	if err != nil {
		return err
	}
	existing, lerr := d.Lstat(base)
	if lerr == nil && !(existing.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := u.removeAll(target); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if lerr != nil || !existing.IsDir() {
			if err := d.Mkdir(base, 0o700); err != nil {
				return err
			}
		}
		if err := d.Lchown(base, uid, gid); err != nil {
			return err
		}
		u.dirs[target] = true
		u.dirModes[target] = perm
	case tar.TypeReg:
		if hdr.Size > u.opts.MaxBytes-u.stats.Bytes {
			return fmt.Errorf("%w: more than %d bytes of files", ErrLimit, u.opts.MaxBytes)
		}
		f, err := d.OpenFile(base, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		n, err := io.Copy(f, io.LimitReader(r, hdr.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		u.stats.Bytes += n
		if err == nil && n != hdr.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if err := d.Lchown(base, uid, gid); err != nil {
			return err
		}
		// After the chown, which clears setuid and setgid bits.
		if err := d.Chmod(base, perm); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := d.Symlink(hdr.Linkname, base); err != nil {
			return err
		}
		if err := d.Lchown(base, uid, gid); err != nil {
			return err
		}
	case tar.TypeLink:
		lp, err := cleanPath(hdr.Linkname)
		if err != nil || lp == "" {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, errors.Join(err, ErrUnsafePath))
		}
		ldir, lbase := path.Split(lp)
		lparent, err := u.resolve(strings.TrimSuffix(ldir, "/"))
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		old := path.Join(lparent, lbase)
		st, err := u.root.Lstat(old)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		if st.IsDir() {
			return fmt.Errorf("hard link to directory %q: %w", hdr.Linkname, ErrUnsafePath)
		}
		if err := u.root.Link(old, target); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		u.stats.Skipped = append(u.stats.Skipped, Skipped{Layer: layer, Path: "/" + target, Reason: "device node or FIFO"})
		return nil
	default:
		u.stats.Skipped = append(u.stats.Skipped, Skipped{Layer: layer, Path: "/" + target, Reason: fmt.Sprintf("tar type %q", hdr.Typeflag)})
		return nil
	}
	u.added[target] = true
	return nil
}

// mkdirs creates the missing directories of p (already resolved), owned by
// the sandbox's root.
func (u *unpacker) mkdirs(p string) error {
	if p == "" {
		return nil
	}
	cur := ""
	for _, c := range strings.Split(p, "/") {
		cur = path.Join(cur, c)
		if u.dirs[cur] {
			continue
		}
		st, err := u.root.Lstat(cur)
		switch {
		case err == nil && st.IsDir():
			u.dirs[cur] = true
			continue
		case err == nil:
			// A file where a directory is needed: the layer replaces it.
			if err := u.removeAll(cur); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := u.root.Mkdir(cur, 0o755); err != nil {
			return err
		}
		if err := u.root.Lchown(cur, u.opts.IDs.host(0), u.opts.IDs.host(0)); err != nil {
			return err
		}
		u.dirs[cur] = true
		u.added[cur] = true
	}
	return nil
}

func (u *unpacker) whiteout(parent, base string) error {
	switch {
	case base == whiteoutOpaque:
		entries, err := fs.ReadDir(u.root.FS(), dirName(parent))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := path.Join(parent, e.Name())
			if parent == "" {
				p = e.Name()
			}
			if u.added[p] {
				continue
			}
			if err := u.removeAll(p); err != nil {
				return err
			}
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	}
	name := base[len(whiteoutPrefix):]
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout of %q: %w", name, ErrUnsafePath)
	}
	p := path.Join(parent, name)
	if parent == "" {
		p = name
	}
	if err := u.removeAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// dirRoot returns the directory p (resolved, existing) as a root, kept
// open while entries go to the same directory: operations on its entries
// then cost one system call, not one per path component.
func (u *unpacker) dirRoot(p string) (*os.Root, error) {
	if p == "" {
		return u.root, nil
	}
	if u.cur != nil && u.curPath == p {
		return u.cur, nil
	}
	u.closeDir()
	r, err := u.root.OpenRoot(p)
	if err != nil {
		return nil, err
	}
	u.cur, u.curPath = r, p
	return r, nil
}

func (u *unpacker) closeDir() {
	if u.cur != nil {
		u.cur.Close()
		u.cur, u.curPath = nil, ""
	}
}

// removeAll removes p and forgets the directories it held.
func (u *unpacker) removeAll(p string) error {
	if u.cur != nil && (u.curPath == p || strings.HasPrefix(u.curPath, p+"/")) {
		u.closeDir()
	}
	for d := range u.dirs {
		if d == p || strings.HasPrefix(d, p+"/") {
			delete(u.dirs, d)
		}
	}
	return u.root.RemoveAll(p)
}

// resolve is Resolve with the known directories skipped.
func (u *unpacker) resolve(p string) (string, error) {
	if p == "" || u.dirs[p] {
		return p, nil
	}
	// The longest known prefix needs no checking.
	known := ""
	rest := p
	for i := len(p); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if u.dirs[p[:i]] {
			known, rest = p[:i], strings.TrimPrefix(p[i:], "/")
			break
		}
	}
	if known == "" {
		return Resolve(u.root, p)
	}
	return resolveFrom(u.root, splitPath(known), rest)
}

func dirName(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// maxLinks bounds the symbolic links followed while resolving one path.
const maxLinks = 40

// Resolve returns p (relative to root, "" for the root) with every symbolic
// link among its components resolved inside root, as a process whose root
// is root would see it: absolute targets start at root, ".." never climbs
// above it. Components that do not exist are kept as they are. The result
// is clean, relative and contains no symbolic link that exists now.
func Resolve(root *os.Root, p string) (string, error) {
	return resolveFrom(root, nil, p)
}

// resolveFrom resolves p below done, a resolved directory.
func resolveFrom(root *os.Root, done []string, p string) (string, error) {
	todo := splitPath(p)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := strings.Join(append(done, c), "/")
		st, err := root.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				done = append(done, c)
				continue
			}
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		links++
		if links > maxLinks {
			return "", fmt.Errorf("%w: too many levels of symbolic links at %q", ErrUnsafePath, cur)
		}
		target, err := root.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(splitPath(target), todo...)
	}
	return strings.Join(done, "/"), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
