// Package rpmfmt reads the storage formats of rpm databases, Berkeley DB
// hash files and NDB files, and rpm package headers, checking every
// offset, length and page chain against the data: the input is hostile.
package rpmfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
)

// Header tags read (rpm's lib/rpmtag.h).
const (
	tagName         = 1000
	tagVersion      = 1001
	tagRelease      = 1002
	tagEpoch        = 1003
	tagLicense      = 1014
	tagArch         = 1022
	tagOldFilenames = 1027
	tagSourceRPM    = 1044
	tagDirIndexes   = 1116
	tagBasenames    = 1117
	tagDirnames     = 1118
)

// Header data types.
const (
	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
)

// Header caps (rpm itself refuses headers over 256 MiB; real ones are
// rarely over 1 MiB).
const (
	maxIndexEntries = 1 << 16
	maxHeaderData   = 64 << 20
)

// ErrHeader is wrapped by every header parse error.
var ErrHeader = errors.New("malformed rpm header")

// header is one package header as stored in the database: a big-endian
// index entry count, a data length, the index and the data store.
type header struct {
	index []byte
	data  []byte
	n     int
}

func parseHeader(b []byte) (*header, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrHeader, len(b))
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if il == 0 || il > maxIndexEntries || dl > maxHeaderData {
		return nil, fmt.Errorf("%w: %d index entries, %d data bytes", ErrHeader, il, dl)
	}
	end := 8 + 16*int64(il) + int64(dl)
	if end > int64(len(b)) {
		return nil, fmt.Errorf("%w: needs %d bytes, has %d", ErrHeader, end, len(b))
	}
	return &header{index: b[8 : 8+16*il], data: b[8+16*il : end], n: int(il)}, nil
}

// entry finds a tag: its type, data offset and count.
func (h *header) entry(tag uint32) (typ, off, count uint32, ok bool) {
	for i := 0; i < h.n; i++ {
		e := h.index[16*i:]
		if binary.BigEndian.Uint32(e) == tag {
			return binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:]), true
		}
	}
	return 0, 0, 0, false
}

// cstring reads a NUL-terminated string at off.
func (h *header) cstring(off uint32) (string, uint32, error) {
	if int64(off) >= int64(len(h.data)) {
		return "", 0, fmt.Errorf("%w: string offset %d past %d data bytes", ErrHeader, off, len(h.data))
	}
	i := bytes.IndexByte(h.data[off:], 0)
	if i < 0 {
		return "", 0, fmt.Errorf("%w: unterminated string at %d", ErrHeader, off)
	}
	return string(h.data[off : int(off)+i]), off + uint32(i) + 1, nil
}

// str returns a string tag, "" when absent.
func (h *header) str(tag uint32) (string, error) {
	typ, off, _, ok := h.entry(tag)
	if !ok {
		return "", nil
	}
	if typ != typeString && typ != typeI18NString && typ != typeStringArray {
		return "", fmt.Errorf("%w: tag %d has type %d, want a string", ErrHeader, tag, typ)
	}
	s, _, err := h.cstring(off)
	return s, err
}

// strings returns a string array tag.
func (h *header) strings(tag uint32) ([]string, error) {
	typ, off, count, ok := h.entry(tag)
	if !ok {
		return nil, nil
	}
	if typ != typeStringArray {
		return nil, fmt.Errorf("%w: tag %d has type %d, want a string array", ErrHeader, tag, typ)
	}
	if int64(count) > int64(len(h.data)) {
		return nil, fmt.Errorf("%w: tag %d claims %d strings in %d bytes", ErrHeader, tag, count, len(h.data))
	}
	out := make([]string, 0, count)
	for range count {
		s, next, err := h.cstring(off)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		off = next
	}
	return out, nil
}

// int32s returns an INT32 array tag.
func (h *header) int32s(tag uint32) ([]int32, bool, error) {
	typ, off, count, ok := h.entry(tag)
	if !ok {
		return nil, false, nil
	}
	if typ != typeInt32 {
		return nil, false, fmt.Errorf("%w: tag %d has type %d, want INT32", ErrHeader, tag, typ)
	}
	if int64(off)+4*int64(count) > int64(len(h.data)) {
		return nil, false, fmt.Errorf("%w: tag %d: %d integers at %d past %d data bytes", ErrHeader, tag, count, off, len(h.data))
	}
	out := make([]int32, count)
	for i := range out {
		out[i] = int32(binary.BigEndian.Uint32(h.data[int(off)+4*i:]))
	}
	return out, true, nil
}

// Package is what drydock keeps of a package header.
type Package struct {
	Name, Version, Release, Arch, SourceRPM, License string
	// Epoch is nil when the header has none.
	Epoch *int32
	// Files are absolute, cleaned paths.
	Files []string
}

func ReadHeader(b []byte) (*Package, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	var p Package
	for _, f := range []struct {
		tag uint32
		dst *string
	}{
		{tagName, &p.Name}, {tagVersion, &p.Version}, {tagRelease, &p.Release}, {tagArch, &p.Arch},
		{tagSourceRPM, &p.SourceRPM}, {tagLicense, &p.License},
	} {
		if *f.dst, err = h.str(f.tag); err != nil {
			return nil, err
		}
	}
	if p.Name == "" || p.Version == "" {
		return nil, fmt.Errorf("%w: no name or version", ErrHeader)
	}
	ep, ok, err := h.int32s(tagEpoch)
	if err != nil {
		return nil, err
	}
	if ok && len(ep) > 0 {
		p.Epoch = &ep[0]
	}
	if p.Files, err = h.fileNames(); err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	return &p, nil
}

// fileNames joins DIRNAMES[DIRINDEXES[i]] and BASENAMES[i] (or reads the
// OLDFILENAMES of packages built before compressed file lists).
func (h *header) fileNames() ([]string, error) {
	base, err := h.strings(tagBasenames)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return h.strings(tagOldFilenames)
	}
	dirs, err := h.strings(tagDirnames)
	if err != nil {
		return nil, err
	}
	idx, _, err := h.int32s(tagDirIndexes)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, fmt.Errorf("%w: %d base names but %d directory indexes", ErrHeader, len(base), len(idx))
	}
	out := make([]string, len(base))
	for i, b := range base {
		d := idx[i]
		if d < 0 || int(d) >= len(dirs) {
			return nil, fmt.Errorf("%w: directory index %d of %d", ErrHeader, d, len(dirs))
		}
		out[i] = path.Join("/", dirs[d], b)
	}
	return out, nil
}
