package rpmfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Berkeley DB hash database, as rpm up to 4.15 wrote var/lib/rpm/Packages
// (layout from Berkeley DB's dbinc/db_page.h): a metadata page, then
// pages of the same size. Hash pages hold key/value item pairs; a value
// is either inline (H_KEYDATA) or, for the package headers, a reference
// to a chain of overflow pages (H_OFFPAGE).

// ErrBDB is wrapped by every Berkeley DB error.
var ErrBDB = errors.New("malformed Berkeley DB rpm database")

const (
	bdbHashMagic     = 0x00061561
	bdbPageHeader    = 26
	bdbPageHashUnsrt = 2
	bdbPageOverflow  = 7
	bdbPageHashMeta  = 8
	bdbPageHash      = 13
	bdbItemKeyData   = 1
	bdbItemOffPage   = 3
	bdbOffPageSize   = 12
)

// EachBDB calls fn with every value of a Berkeley DB hash database. All
// offsets, lengths and page chains are checked against the file.
func EachBDB(r io.ReaderAt, size int64, fn func([]byte) error) error {
	meta := make([]byte, 512)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return fmt.Errorf("%w: metadata page: %w", ErrBDB, err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(meta[12:]) == bdbHashMagic:
	case binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic:
		bo = binary.BigEndian
	default:
		return fmt.Errorf("%w: not a hash database", ErrBDB)
	}
	pageSize := bo.Uint32(meta[20:])
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrBDB, pageSize)
	}
	if meta[24] != 0 {
		return fmt.Errorf("%w: encrypted", ErrBDB)
	}
	if meta[25] != bdbPageHashMeta {
		return fmt.Errorf("%w: first page has type %d", ErrBDB, meta[25])
	}
	last := int64(bo.Uint32(meta[32:]))
	pages := size / int64(pageSize)
	if last >= pages {
		return fmt.Errorf("%w: last page %d but the file holds %d pages", ErrBDB, last, pages)
	}
	page := make([]byte, pageSize)
	for pgno := int64(1); pgno <= last; pgno++ {
		if _, err := r.ReadAt(page, pgno*int64(pageSize)); err != nil {
			return fmt.Errorf("%w: page %d: %w", ErrBDB, pgno, err)
		}
		if t := page[25]; t != bdbPageHash && t != bdbPageHashUnsrt {
			continue
		}
		n := int(bo.Uint16(page[20:]))
		if bdbPageHeader+2*n > int(pageSize) {
			return fmt.Errorf("%w: page %d: %d items do not fit", ErrBDB, pgno, n)
		}
		for i := 1; i < n; i += 2 { // values are the odd items
			off := int(bo.Uint16(page[bdbPageHeader+2*i:]))
			end := int(pageSize)
			if i > 0 {
				end = int(bo.Uint16(page[bdbPageHeader+2*(i-1):]))
			}
			if off < bdbPageHeader+2*n || off >= end || end > int(pageSize) {
				return fmt.Errorf("%w: page %d: item %d at %d..%d", ErrBDB, pgno, i, off, end)
			}
			var value []byte
			switch page[off] {
			case bdbItemKeyData:
				value = append([]byte(nil), page[off+1:end]...)
			case bdbItemOffPage:
				if off+bdbOffPageSize > end {
					return fmt.Errorf("%w: page %d: short off-page item", ErrBDB, pgno)
				}
				var err error
				value, err = bdbOverflow(r, bo, pageSize, last, bo.Uint32(page[off+4:]), bo.Uint32(page[off+8:]))
				if err != nil {
					return fmt.Errorf("%w: page %d item %d: %w", ErrBDB, pgno, i, err)
				}
			default:
				continue
			}
			if len(value) < 8 {
				// Not a header (rpm keeps small bookkeeping records).
				continue
			}
			if err := fn(value); err != nil {
				return err
			}
		}
	}
	return nil
}

// bdbOverflow reads a chain of overflow pages holding total bytes.
func bdbOverflow(r io.ReaderAt, bo binary.ByteOrder, pageSize uint32, last int64, pgno, total uint32) ([]byte, error) {
	if total > maxHeaderData {
		return nil, fmt.Errorf("value of %d bytes", total)
	}
	out := make([]byte, 0, total)
	page := make([]byte, pageSize)
	for visited := int64(0); pgno != 0; visited++ {
		if int64(pgno) > last || visited > last {
			return nil, fmt.Errorf("overflow chain reaches page %d (last %d) after %d pages", pgno, last, visited)
		}
		if _, err := r.ReadAt(page, int64(pgno)*int64(pageSize)); err != nil {
			return nil, fmt.Errorf("overflow page %d: %w", pgno, err)
		}
		if page[25] != bdbPageOverflow {
			return nil, fmt.Errorf("page %d in an overflow chain has type %d", pgno, page[25])
		}
		n := int(bo.Uint16(page[22:])) // bytes on an overflow page
		if bdbPageHeader+n > int(pageSize) || len(out)+n > int(total) {
			return nil, fmt.Errorf("overflow page %d holds %d bytes", pgno, n)
		}
		out = append(out, page[bdbPageHeader:bdbPageHeader+n]...)
		pgno = bo.Uint32(page[16:])
	}
	if len(out) != int(total) {
		return nil, fmt.Errorf("overflow chain holds %d of %d bytes", len(out), total)
	}
	return out, nil
}
