package source

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sylabs/sif/v2/pkg/sif"
)

// Singularity/Apptainer and squashfs sources: the root file system is one
// layer, produced as a tar stream from the squashfs image on the fly.
const (
	KindSIF      Kind = "sif"
	KindSquashFS Kind = "squashfs"
)

// Limits of a squashfs tree.
const (
	maxSquashDepth   = 256
	maxSquashEntries = 2 << 20
)

// ErrNoRootFS marks a SIF file without a root file-system partition.
var ErrNoRootFS = errors.New("no root file-system partition")

var (
	sifMagic    = []byte("SIF_MAGIC")
	squashMagic = []byte("hsqs")
)

// sniffSIF recognises a SIF file (its magic follows the 32-byte launch
// script) or a bare squashfs image.
func sniffSIF(p string) (Kind, bool) {
	f, err := os.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
	var b [48]byte
	n, _ := io.ReadFull(f, b[:])
	switch {
	case n >= 41 && bytes.Equal(b[32:41], sifMagic):
		return KindSIF, true
	case n >= 4 && bytes.Equal(b[:4], squashMagic):
		return KindSquashFS, true
	}
	return "", false
}

// openSIF opens a SIF file's primary system partition, or a bare squashfs
// image, as a one-layer image.
func openSIF(kind Kind, p string, _ Options) (img *Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s: malformed %s file: %v", p, kind, r)
		}
	}()
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	offset, size := int64(0), st.Size()
	arch := ""
	createdBy := "squashfs " + path.Base(p)
	if kind == KindSIF {
		fimg, err := sif.LoadContainer(f, sif.OptLoadWithFlag(os.O_RDONLY), sif.OptLoadWithCloseOnUnload(false))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a readable SIF file: %w", p, err)
		}
		d, err := fimg.GetDescriptor(sif.WithPartitionType(sif.PartPrimSys))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w: %v", p, ErrNoRootFS, err)
		}
		fsType, _, a, err := d.PartitionMetadata()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: partition %d: %w", p, d.ID(), err)
		}
		if fsType != sif.FsSquash {
			f.Close()
			return nil, fmt.Errorf("%s: partition %d holds a %s file system; only squashfs is read", p, d.ID(), fsType)
		}
		offset, size, arch = d.Offset(), d.Size(), a
		if offset < 0 || size <= 0 || offset+size > st.Size() {
			f.Close()
			return nil, fmt.Errorf("%s: partition %d (offset %d, %d bytes) lies outside the %d-byte file: truncated SIF", p, d.ID(), offset, size, st.Size())
		}
		createdBy = fmt.Sprintf("SIF %s partition %d (%s)", path.Base(p), d.ID(), d.Name())
		if arch == "unknown" {
			arch = ""
		}
	}
	sq, err := squashfs.Read(file.New(f, true), size, offset, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: root file system is not a readable squashfs image: %w", p, err)
	}
	rootfs := &squashRoot{fs: sq, name: p}
	// The layer's diffID is the digest of the tar stream drydock
	// produces; it is computed here so every later read is verified.
	h := sha256.New()
	if err := rootfs.writeTar(h); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	cf := &v1.ConfigFile{OS: "linux", Architecture: arch}
	cf.RootFS.Type = "layers"
	cf.RootFS.DiffIDs = []v1.Hash{diffID}
	cf.History = []v1.History{{CreatedBy: createdBy}}
	img = &Image{Kind: kind, Name: p, Config: cf, closers: []io.Closer{f}}
	if arch != "" {
		img.Platform = &v1.Platform{OS: "linux", Architecture: arch}
	}
	img.Layers = []Layer{{
		Index: 0, DiffID: diffID, MediaType: "application/vnd.oci.image.layer.v1.tar", Size: size, CreatedBy: createdBy,
		Open: rootfs.open,
	}}
	return img, nil
}

// squashRoot produces a tar stream of a squashfs tree.
type squashRoot struct {
	fs   *squashfs.FileSystem
	name string
}

// open returns the tar stream, produced by a goroutine as it is read.
func (s *squashRoot) open() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(s.writeTar(pw))
	}()
	return pr, nil
}

type opener interface {
	Open() (filesystem.File, error)
}

// writeTar writes every entry of the tree, directories first and names in
// order, as a deterministic tar; files sharing an inode become hardlinks.
func (s *squashRoot) writeTar(w io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed squashfs image: %v", r)
		}
	}()
	tw := tar.NewWriter(w)
	st := &squashWalk{tw: tw, links: map[uint32]string{}}
	if err := s.walk(st, ".", 0); err != nil {
		return err
	}
	return tw.Close()
}

type squashWalk struct {
	tw      *tar.Writer
	links   map[uint32]string
	entries int
}

func (s *squashRoot) walk(st *squashWalk, dir string, depth int) error {
	if depth > maxSquashDepth {
		return fmt.Errorf("%s: directories nested deeper than %d", dir, maxSquashDepth)
	}
	ents, err := s.fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading directory /%s: %w", dir, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	for i, e := range ents {
		name := e.Name()
		if name == "" || name == "." || name == ".." || bytes.ContainsAny([]byte(name), "/\x00") {
			return fmt.Errorf("directory /%s: unsafe entry name %q", dir, name)
		}
		if i > 0 && ents[i-1].Name() == name {
			return fmt.Errorf("directory /%s: entry %q twice", dir, name)
		}
		p := path.Join(dir, name)
		st.entries++
		if st.entries > maxSquashEntries {
			return fmt.Errorf("more than %d entries", maxSquashEntries)
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("/%s: %w", p, err)
		}
		hdr := &tar.Header{Name: p, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime().UTC().Truncate(time.Second), Format: tar.FormatPAX}
		var sys *squashfs.StatT
		if s, ok := info.Sys().(*squashfs.StatT); ok {
			sys = s
			hdr.Uid, hdr.Gid = int(s.UID), int(s.GID)
		}
		mode := info.Mode()
		switch {
		case mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
		case mode&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if sys != nil {
				hdr.Linkname = sys.LinkTarget
			}
		case mode.IsRegular():
			if sys != nil && sys.Inode != 0 {
				if first, ok := st.links[sys.Inode]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					break
				}
				st.links[sys.Inode] = p
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			if hdr.Size < 0 {
				return fmt.Errorf("/%s: negative size", p)
			}
		case mode&fs.ModeNamedPipe != 0:
			hdr.Typeflag = tar.TypeFifo
		case mode&fs.ModeCharDevice != 0:
			hdr.Typeflag = tar.TypeChar
		case mode&fs.ModeDevice != 0:
			hdr.Typeflag = tar.TypeBlock
		default:
			continue // sockets and the unknown carry nothing
		}
		if err := st.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("/%s: %w", p, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if err := copyFile(st.tw, e, hdr.Size); err != nil {
				return fmt.Errorf("/%s: %w", p, err)
			}
		case tar.TypeDir:
			if err := s.walk(st, p, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(w io.Writer, e fs.DirEntry, size int64) error {
	o, ok := e.(opener)
	if !ok {
		return fmt.Errorf("cannot open")
	}
	f, err := o.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("content is %d bytes, the inode says %d: truncated image", n, size)
	}
	return nil
}
