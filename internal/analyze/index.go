package analyze

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// PathIndex is the compact record of every path one layer holds: what the
// overlay rules need to know about a path (is it there, is it a
// directory, does the layer delete it from the layers below) without the
// path itself. It is a sorted sequence of IndexRecordSize-byte records:
// the first 16 bytes of SHA-256 of the clean path (relative to the root,
// no leading slash, the root itself is ""), then one byte of flags. No two
// records share a hash.
//
// A cryptographic hash is used so that a crafted image cannot make two
// paths collide and hide one behind the other; 128 bits of SHA-256 leave
// a birthday bound of 2^64 operations.
//
// The format is part of the cached layer result: a change to it must
// change IndexFormat.
type PathIndex []byte

// IndexFormat identifies the PathIndex encoding; a layer-result cache must
// include it in its key.
const IndexFormat = 1

// IndexRecordSize is the size of one PathIndex record.
const IndexRecordSize = hashSize + 1

const hashSize = 16

// pathHash is the index key of a path.
type pathHash [hashSize]byte

func hashPath(p string) pathHash {
	s := sha256.Sum256([]byte(p))
	var h pathHash
	copy(h[:], s[:hashSize])
	return h
}

// Flags of a PathIndex record. The low three bits are the kind of entry
// the layer leaves at the path (0 when it only deletes it); whiteout and
// opaque say what the layer deletes from the layers below.
const (
	kindNone     = 0
	kindDir      = 1
	kindFile     = 2
	kindHardlink = 3
	kindSymlink  = 4
	kindOther    = 5
	kindMask     = 0x07

	// flagWhiteout: the layer deletes the path (and everything below it)
	// from the layers below.
	flagWhiteout = 0x08
	// flagOpaque: the layer hides what the layers below hold inside this
	// directory.
	flagOpaque = 0x10
)

func isNonDir(flags byte) bool {
	k := flags & kindMask
	return k != kindNone && k != kindDir
}

// kindTypes names every kind the flags can hold: the two that drydock
// never writes, which only a malformed index has (PathIndex.Check refuses
// them), read as "other".
var kindTypes = [kindMask + 1]string{kindDir: EntryDir, kindFile: EntryFile, kindHardlink: EntryHardlink, kindSymlink: EntrySymlink, kindOther: EntryOther, 6: EntryOther, 7: EntryOther}

func kindOf(entryType string) byte {
	switch entryType {
	case EntryDir:
		return kindDir
	case EntryFile:
		return kindFile
	case EntryHardlink:
		return kindHardlink
	case EntrySymlink:
		return kindSymlink
	default:
		return kindOther
	}
}

// Len returns the number of paths in the index.
func (x PathIndex) Len() int { return len(x) / IndexRecordSize }

// ErrBadIndex is returned by PathIndex.Check.
var ErrBadIndex = errors.New("malformed path index")

// Check reports whether x is well formed: whole records, sorted, no hash
// twice, known flags. A layer-result cache checks a decoded value before
// using it (a malformed index gives wrong answers, never a panic).
func (x PathIndex) Check() error {
	if len(x)%IndexRecordSize != 0 {
		return fmt.Errorf("%w: %d bytes is not a whole number of records", ErrBadIndex, len(x))
	}
	for i := 0; i < len(x); i += IndexRecordSize {
		if f := x[i+hashSize]; f&kindMask > kindOther || f&^(kindMask|flagWhiteout|flagOpaque) != 0 {
			return fmt.Errorf("%w: record %d has unknown flags %#x", ErrBadIndex, i/IndexRecordSize, f)
		}
		if i > 0 && bytes.Compare(x[i-IndexRecordSize:i-1], x[i:i+hashSize]) >= 0 {
			return fmt.Errorf("%w: record %d is out of order", ErrBadIndex, i/IndexRecordSize)
		}
	}
	return nil
}

// lookup returns the flags of the record for h, 0 when there is none.
func (x PathIndex) lookup(h pathHash) byte {
	lo, hi := 0, len(x)/IndexRecordSize
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		off := m * IndexRecordSize
		switch bytes.Compare(x[off:off+hashSize], h[:]) {
		case 0:
			return x[off+hashSize]
		case -1:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0
}

// Has reports whether the layer leaves an entry (of any type) at p.
func (x PathIndex) Has(p string) bool { return x.lookup(hashPath(p))&kindMask != kindNone }

// indexBuilder collects a layer's paths in archive order and turns them
// into a PathIndex. Records (IndexRecordSize bytes, as in the index) are
// kept in chunks; large chunks live outside the Go heap (mapChunk) and
// are released as soon as sorting has copied them, so building costs the
// index plus at most the records not sorted yet. release must be called
// when the builder is abandoned.
type indexBuilder struct {
	chunks [][]byte
	mapped []bool
	n      int
	// lastDir is the directory whose ancestors (and itself) were recorded
	// as directories for the previous entry, when haveDir is set.
	lastDir string
	haveDir bool
}

// flagLinkTarget marks a build record that a hard link added at its
// target's hash: it asks whether the target was written before the link.
// It never reaches the index.
const flagLinkTarget = 0x80

const (
	chunkRecords = 1 << 15
	// minMapped is the smallest chunk worth mapping outside the heap.
	minMapped = 1 << 16
)

func (b *indexBuilder) add(p string, flags byte) { b.addHash(hashPath(p), flags) }

func (b *indexBuilder) addHash(h pathHash, flags byte) {
	if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == cap(b.chunks[len(b.chunks)-1]) {
		// Chunks grow from small (most layers are) to chunkRecords.
		size := 64 * IndexRecordSize
		if len(b.chunks) > 0 {
			size = min(2*cap(b.chunks[len(b.chunks)-1]), chunkRecords*IndexRecordSize)
		}
		var c []byte
		if size >= minMapped {
			c = mapChunk(size)
		}
		b.mapped = append(b.mapped, c != nil)
		if c == nil {
			c = make([]byte, size)
		}
		b.chunks = append(b.chunks, c[:0])
	}
	c := &b.chunks[len(b.chunks)-1]
	*c = append(*c, h[:]...)
	*c = append(*c, flags)
	b.n++
}

// releaseChunk frees chunk i.
func (b *indexBuilder) releaseChunk(i int) {
	if b.mapped[i] {
		unmapChunk(b.chunks[i][:cap(b.chunks[i])])
		b.mapped[i] = false
	}
	b.chunks[i] = nil
}

// release frees what the builder holds.
func (b *indexBuilder) release() {
	for i := range b.chunks {
		b.releaseChunk(i)
	}
	b.chunks, b.mapped, b.n = nil, nil, 0
}

// entry records a path the layer writes (kind != kindNone) or deletes,
// together with the directories it implies: an entry at a/b/c means the
// layer holds directories a and a/b, which hide a lower layer's
// non-directory there.
func (b *indexBuilder) entry(p string, flags byte) {
	b.parents(p)
	b.add(p, flags)
}

// linkTarget records that a hard link made here needs target.
func (b *indexBuilder) linkTarget(target string) { b.add(target, flagLinkTarget) }

// parents records the strict ancestors of p (except the root) as
// directories, skipping those already recorded for the previous entry.
// Every entry moves lastDir to its own parent, so an entry that replaces
// one of those directories leaves lastDir above itself, and the next
// entry below it records the directory again.
func (b *indexBuilder) parents(p string) {
	dir := parentDir(p)
	if b.haveDir && dir == b.lastDir {
		return
	}
	for a := dir; a != ""; a = parentDir(a) {
		if b.haveDir && (b.lastDir == a || strings.HasPrefix(b.lastDir, a+"/")) {
			break
		}
		b.add(a, kindDir)
	}
	b.lastDir, b.haveDir = dir, true
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// sorted returns every record sorted by hash, records of the same hash in
// the order they were added, and releases the chunks.
func (b *indexBuilder) sorted() []byte {
	if b.n < 1<<12 {
		out := make([]byte, 0, b.n*IndexRecordSize)
		for _, c := range b.chunks {
			out = append(out, c...)
		}
		b.release()
		sort.Stable(recordSlice(out))
		return out
	}
	// A counting sort on the first two bytes (stable, linear) puts every
	// record in its bucket; buckets are then sorted stably by hash.
	// SHA-256 spreads paths evenly, so buckets are small; a bucket that is
	// not (a crafted image) still sorts in n log² n.
	var counts [1<<16 + 1]int
	for _, c := range b.chunks {
		for off := 0; off < len(c); off += IndexRecordSize {
			counts[int(c[off])<<8|int(c[off+1])+1]++
		}
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	out := make([]byte, b.n*IndexRecordSize)
	next := counts
	for i, c := range b.chunks {
		for off := 0; off < len(c); off += IndexRecordSize {
			k := int(c[off])<<8 | int(c[off+1])
			copy(out[next[k]*IndexRecordSize:], c[off:off+IndexRecordSize])
			next[k]++
		}
		b.releaseChunk(i)
	}
	b.release()
	for k := 0; k < 1<<16; k++ {
		if lo, hi := counts[k], counts[k+1]; hi-lo > 1 {
			sort.Stable(recordSlice(out[lo*IndexRecordSize : hi*IndexRecordSize]))
		}
	}
	return out
}

// recordSlice sorts records by hash.
type recordSlice []byte

func (r recordSlice) Len() int { return len(r) / IndexRecordSize }
func (r recordSlice) Less(i, j int) bool {
	return bytes.Compare(r[i*IndexRecordSize:i*IndexRecordSize+hashSize], r[j*IndexRecordSize:j*IndexRecordSize+hashSize]) < 0
}
func (r recordSlice) Swap(i, j int) {
	var tmp [IndexRecordSize]byte
	a := r[i*IndexRecordSize : (i+1)*IndexRecordSize]
	b := r[j*IndexRecordSize : (j+1)*IndexRecordSize]
	copy(tmp[:], a)
	copy(a, b)
	copy(b, tmp[:])
}

// compact turns sorted build records into a PathIndex in place: one
// record per path, whose kind is the last one written (a later entry
// replaces an earlier one, a later entry below a non-directory turns it
// into a directory) and whose whiteout and opaque flags are those of any
// record. For every link-target record it appends to found, in order,
// whether the path was a non-directory at that point.
func compact(recs []byte, found map[pathHash][]bool) PathIndex {
	w := 0
	for r := 0; r < len(recs); {
		var h pathHash
		copy(h[:], recs[r:r+hashSize])
		var kind, del byte
		for ; r < len(recs) && bytes.Equal(recs[r:r+hashSize], h[:]); r += IndexRecordSize {
			f := recs[r+hashSize]
			if f&flagLinkTarget != 0 {
				found[h] = append(found[h], isNonDir(kind))
				continue
			}
			if f&kindMask != kindNone {
				kind = f & kindMask
			}
			del |= f & (flagWhiteout | flagOpaque)
		}
		if kind|del == 0 {
			continue // only asked about by a hard link
		}
		copy(recs[w:w+hashSize], h[:])
		recs[w+hashSize] = kind | del
		w += IndexRecordSize
	}
	x := recs[:w]
	if cap(x)-len(x) > len(x)/4 {
		x = bytes.Clone(x) // much smaller: do not keep the rest
	}
	return PathIndex(x)
}

// buildIndex makes the index of a layer result that has none (one written
// by hand, as tests do) from its entries, whiteouts and opaques.
func buildIndex(lr *LayerResult) PathIndex {
	var b indexBuilder
	for _, d := range lr.Opaques {
		b.parents(path.Join(d, whiteoutOpaque))
		b.add(d, flagOpaque)
	}
	for _, w := range lr.Whiteouts {
		b.entry(w, flagWhiteout)
	}
	for _, e := range lr.Entries {
		b.entry(e.Path, kindOf(e.Type))
	}
	return compact(b.sorted(), map[pathHash][]bool{})
}

// Prune shrinks the indexes of walked layer results to the paths a merge
// asks about: the files analyzers reported on (results and errors), the
// symbolic and hard links, the hard links' targets, and every directory
// above them. A View over pruned results answers exactly as before for
// those paths and knows nothing of the others; the results are then
// only good for merging (not for a cache). Scans of images with millions
// of files prune before merging, so the merge holds what was found, not
// 17 bytes for every path of every layer.
func Prune(results []*LayerResult) {
	asked := map[pathHash]struct{}{}
	last, haveLast := "", false
	ask := func(p string) {
		asked[hashPath(p)] = struct{}{}
		for a := parentDir(p); ; a = parentDir(a) {
			if haveLast && (a == last || strings.HasPrefix(last, a+"/")) {
				break // asked already, with its directories
			}
			asked[hashPath(a)] = struct{}{}
			if a == "" {
				break
			}
		}
		last, haveLast = parentDir(p), true
	}
	for _, lr := range results {
		for i := range lr.Files {
			ask(lr.Files[i].Path)
		}
		for i := range lr.Errors {
			ask(strings.TrimPrefix(lr.Errors[i].Path, "/"))
		}
		for i := range lr.Entries {
			e := &lr.Entries[i]
			ask(e.Path)
			if e.Type == EntryHardlink {
				ask(e.Link)
			}
		}
	}
	for _, lr := range results {
		if lr.Index == nil {
			continue
		}
		kept := []byte{}
		for off := 0; off+IndexRecordSize <= len(lr.Index); off += IndexRecordSize {
			if _, ok := asked[pathHash(lr.Index[off:off+hashSize])]; ok {
				kept = append(kept, lr.Index[off:off+IndexRecordSize]...)
			}
		}
		lr.Index = kept
	}
}
