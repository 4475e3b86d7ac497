package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"
)

// tarFS is a read-only fs.FS over an uncompressed tar file: the archive is
// indexed once, then every member is opened at its offset without copying.
// Links inside the archive are followed (bounded), never outside it.
type tarFS struct {
	f       *os.File
	entries map[string]*tarEntry
}

type tarEntry struct {
	hdr    *tar.Header
	offset int64
}

// maxTarMembers caps the members of an image archive.
const maxTarMembers = 1 << 20

// openTarFS indexes the tar file at p.
func openTarFS(p string) (*tarFS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	t := &tarFS{f: f, entries: map[string]*tarEntry{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading archive: %w", p, err)
		}
		if len(t.entries) >= maxTarMembers {
			f.Close()
			return nil, fmt.Errorf("%s: more than %d members", p, maxTarMembers)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return nil, err
		}
		name := path.Clean("/" + hdr.Name)[1:]
		if name == "" {
			continue
		}
		t.entries[name] = &tarEntry{hdr: hdr, offset: off}
	}
	return t, nil
}

func (t *tarFS) Close() error { return t.f.Close() }

// Open implements fs.FS.
func (t *tarFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	e, err := t.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &tarFile{SectionReader: io.NewSectionReader(t.f, e.offset, e.hdr.Size), e: e, archive: t.f}, nil
}

func (t *tarFS) resolve(name string) (*tarEntry, error) {
	for hops := 0; hops < 16; hops++ {
		e, ok := t.entries[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		switch e.hdr.Typeflag {
		case tar.TypeReg:
			return e, nil
		case tar.TypeLink:
			name = path.Clean("/" + e.hdr.Linkname)[1:]
		case tar.TypeSymlink:
			target := e.hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			name = path.Clean("/" + target)[1:]
		default:
			return nil, fmt.Errorf("not a regular file")
		}
	}
	return nil, fmt.Errorf("too many links")
}

type tarFile struct {
	*io.SectionReader
	e       *tarEntry
	archive *os.File
}

// Backing returns the archive file the member is read from, its offset
// and length there: a cache may identify the member's bytes by the
// archive's identity instead of reading them.
func (f *tarFile) Backing() (*os.File, int64, int64) { return f.archive, f.e.offset, f.e.hdr.Size }

func (f *tarFile) Stat() (fs.FileInfo, error) { return tarInfo{f.e.hdr}, nil }
func (f *tarFile) Close() error               { return nil }

type tarInfo struct{ h *tar.Header }

func (i tarInfo) Name() string       { return path.Base(i.h.Name) }
func (i tarInfo) Size() int64        { return i.h.Size }
func (i tarInfo) Mode() fs.FileMode  { return i.h.FileInfo().Mode() }
func (i tarInfo) ModTime() time.Time { return i.h.ModTime }
func (i tarInfo) IsDir() bool        { return false }
func (i tarInfo) Sys() any           { return nil }
