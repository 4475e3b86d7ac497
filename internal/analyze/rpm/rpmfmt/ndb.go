package rpmfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// rpm's own "ndb" format (Packages.db, rpm 4.16+, SUSE): a 32-byte
// header, slot pages of 16-byte slots (magic, package index, block
// offset, block count), and blobs at block offsets (16-byte blocks): a
// 16-byte blob header (magic, package index, checksum, length) followed
// by the package header. Layout from rpm's lib/backend/ndb/rpmpkg.c.
// The blob checksum is not verified.

// ErrNDB is wrapped by every NDB error.
var ErrNDB = errors.New("malformed NDB rpm database")

const (
	ndbMagic       = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic   = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic   = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbPageSize    = 4096
	ndbBlockSize   = 16
	ndbMaxSlotPage = 2048
)

// EachNDB calls fn with every package header of an NDB database.
func EachNDB(r io.ReaderAt, size int64, fn func([]byte) error) error {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("%w: header: %w", ErrNDB, err)
	}
	le := binary.LittleEndian
	if le.Uint32(hdr[0:]) != ndbMagic || le.Uint32(hdr[4:]) != 0 {
		return fmt.Errorf("%w: bad magic or version", ErrNDB)
	}
	npages := int64(le.Uint32(hdr[12:]))
	if npages == 0 || npages > ndbMaxSlotPage || npages*ndbPageSize > size {
		return fmt.Errorf("%w: %d slot pages in a %d-byte file", ErrNDB, npages, size)
	}
	slots := make([]byte, npages*ndbPageSize)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return fmt.Errorf("%w: slot pages: %w", ErrNDB, err)
	}
	var bh [16]byte
	for s := 32; s+16 <= len(slots); s += 16 { // the header takes the first two slots
		slot := slots[s:]
		if le.Uint32(slot) != ndbSlotMagic {
			return fmt.Errorf("%w: slot %d: bad magic", ErrNDB, s/16)
		}
		pkg := le.Uint32(slot[4:])
		if pkg == 0 {
			continue
		}
		off := int64(le.Uint32(slot[8:])) * ndbBlockSize
		if off < npages*ndbPageSize || off+16 > size {
			return fmt.Errorf("%w: package %d: blob offset %d", ErrNDB, pkg, off)
		}
		if _, err := r.ReadAt(bh[:], off); err != nil {
			return fmt.Errorf("%w: package %d: %w", ErrNDB, pkg, err)
		}
		if le.Uint32(bh[0:]) != ndbBlobMagic || le.Uint32(bh[4:]) != pkg {
			return fmt.Errorf("%w: package %d: bad blob header", ErrNDB, pkg)
		}
		n := int64(le.Uint32(bh[12:]))
		if n > maxHeaderData || off+16+n > size {
			return fmt.Errorf("%w: package %d: blob of %d bytes at %d in a %d-byte file", ErrNDB, pkg, n, off, size)
		}
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, off+16); err != nil {
			return fmt.Errorf("%w: package %d: %w", ErrNDB, pkg, err)
		}
		if err := fn(blob); err != nil {
			return err
		}
	}
	return nil
}
