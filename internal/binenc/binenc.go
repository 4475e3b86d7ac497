// Package binenc writes and reads the compact binary forms drydock keeps
// of its own data where JSON costs too much to decode: the vulnerability
// database's candidates and records, and the layer cache's image entries.
// The primitives are unsigned and zig-zag varints, single bytes, and
// strings as a uvarint length and the bytes.
//
// Reading treats the input as hostile: a Reader never reads past its end,
// never makes a slice longer than the bytes left could hold, and once a
// read fails it stays failed and returns zero values, so a decoder reads
// on and checks Done once at the end.
package binenc

import "encoding/binary"

// AppendStr appends s as a uvarint length and the bytes.
func AppendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendStrs appends a uvarint count and that many AppendStr.
func AppendStrs(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = AppendStr(b, s)
	}
	return b
}

// Reader reads from one string: every string it returns shares that
// string's memory.
type Reader struct {
	s   string
	pos int
	bad bool
}

// NewReader returns a Reader of s.
func NewReader(s string) Reader { return Reader{s: s} }

// Failed reports whether a read ran past the end or met a bad value.
func (r *Reader) Failed() bool { return r.bad }

// Fail marks the input bad (a value the caller found invalid).
func (r *Reader) Fail() { r.bad = true }

// Done reports whether every read succeeded and nothing is left.
func (r *Reader) Done() bool { return !r.bad && r.pos == len(r.s) }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.bad {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if r.pos >= len(r.s) {
			r.bad = true
			return 0
		}
		c := r.s[r.pos]
		r.pos++
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.bad = true
	return 0
}

// Varint reads a zig-zag varint (binary.AppendVarint's form).
func (r *Reader) Varint() int64 {
	u := r.Uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.bad || r.pos >= len(r.s) {
		r.bad = true
		return 0
	}
	c := r.s[r.pos]
	r.pos++
	return c
}

// Str reads what AppendStr appends.
func (r *Reader) Str() string {
	n := r.Uvarint()
	if r.bad {
		return ""
	}
	if n > uint64(len(r.s)-r.pos) {
		r.bad = true
		return ""
	}
	s := r.s[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// Count reads a number of elements each encoded in at least min bytes
// (min ≥ 1): one the bytes left cannot hold fails, so no caller allocates
// for elements that are not there.
func (r *Reader) Count(min int) int {
	n := r.Uvarint()
	if !r.bad && n > uint64((len(r.s)-r.pos)/min) {
		r.bad = true
	}
	if r.bad {
		return 0
	}
	return int(n)
}

// Strs reads what AppendStrs appends; nil for none.
func (r *Reader) Strs() []string {
	n := r.Count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.Str()
	}
	return out
}
