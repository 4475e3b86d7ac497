package binenc

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	strs := []string{"", "a", strings.Repeat("x", 300), "non-utf8 \xff"}
	ints := []int64{0, 1, -1, 63, -64, math.MaxInt64, math.MinInt64}
	var b []byte
	b = binary.AppendUvarint(b, math.MaxUint64)
	b = append(b, 0xfe)
	for _, s := range strs {
		b = AppendStr(b, s)
	}
	b = AppendStrs(b, strs)
	b = AppendStrs(b, nil)
	for _, v := range ints {
		b = binary.AppendVarint(b, v)
	}

	r := NewReader(string(b))
	if got := r.Uvarint(); got != math.MaxUint64 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := r.Byte(); got != 0xfe {
		t.Errorf("Byte = %#x", got)
	}
	for _, want := range strs {
		if got := r.Str(); got != want {
			t.Errorf("Str = %q, want %q", got, want)
		}
	}
	if got := r.Strs(); !slices.Equal(got, strs) {
		t.Errorf("Strs = %q", got)
	}
	if got := r.Strs(); got != nil {
		t.Errorf("empty Strs = %#v, want nil", got)
	}
	for _, want := range ints {
		if got := r.Varint(); got != want {
			t.Errorf("Varint = %d, want %d", got, want)
		}
	}
	if !r.Done() {
		t.Errorf("not done: failed %v", r.Failed())
	}
	// Every truncation fails, and a failed reader stays failed.
	for i := range len(b) {
		r := NewReader(string(b[:i]))
		r.Uvarint()
		r.Byte()
		for range strs {
			r.Str()
		}
		r.Strs()
		r.Strs()
		for range ints {
			r.Varint()
		}
		if r.Done() || !r.Failed() {
			t.Fatalf("truncated at %d of %d: done", i, len(b))
		}
		if r.Str() != "" || r.Uvarint() != 0 || r.Byte() != 0 || r.Count(1) != 0 {
			t.Fatalf("truncated at %d: a failed reader returned a value", i)
		}
	}
}

func TestHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		read func(*Reader)
	}{
		{"varint of eleven bytes", []byte(strings.Repeat("\x80", 10) + "\x01"), func(r *Reader) { r.Uvarint() }},
		{"string longer than the input", binary.AppendUvarint(nil, 5), func(r *Reader) { r.Str() }},
		{"string length past int", binary.AppendUvarint(nil, math.MaxUint64), func(r *Reader) { r.Str() }},
		{"count the bytes left cannot hold", append(binary.AppendUvarint(nil, 3), "abcde"...), func(r *Reader) { r.Count(2) }},
		{"list of a billion strings", binary.AppendUvarint(nil, 1<<30), func(r *Reader) { r.Strs() }},
		{"byte of nothing", nil, func(r *Reader) { r.Byte() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(string(tc.in))
			tc.read(&r)
			if !r.Failed() {
				t.Error("read succeeded")
			}
		})
	}
	// Count accepts what the bytes left can hold.
	r := NewReader(string(append(binary.AppendUvarint(nil, 2), "abcd"...)))
	if n := r.Count(2); n != 2 || r.Failed() {
		t.Errorf("Count(2) of 2 over 4 bytes = %d, failed %v", n, r.Failed())
	}
	// Fail marks a value the caller found invalid.
	r = NewReader("")
	r.Fail()
	if r.Done() {
		t.Error("Done after Fail")
	}
}
