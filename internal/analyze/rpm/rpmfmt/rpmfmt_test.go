package rpmfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// blobs returns the package headers of the NDB test database made by
// ../testdata/gen.sh.
func blobs(t testing.TB) [][]byte {
	t.Helper()
	ndb, err := os.ReadFile("../testdata/Packages.db")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	if err := EachNDB(bytes.NewReader(ndb), int64(len(ndb)), func(b []byte) error { out = append(out, bytes.Clone(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSameHeaders checks that the Berkeley DB and NDB copies made from
// the same export give the same headers.
func TestSameHeaders(t *testing.T) {
	bdb, err := os.ReadFile("../testdata/Packages")
	if err != nil {
		t.Fatal(err)
	}
	var fromBDB [][]byte
	if err := EachBDB(bytes.NewReader(bdb), int64(len(bdb)), func(b []byte) error { fromBDB = append(fromBDB, bytes.Clone(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	fromNDB := blobs(t)
	if len(fromNDB) != 3 || len(fromBDB) != len(fromNDB) {
		t.Fatalf("%d headers from NDB, %d from BDB", len(fromNDB), len(fromBDB))
	}
	for i := range fromNDB {
		found := false
		for j := range fromBDB {
			found = found || bytes.Equal(fromNDB[i], fromBDB[j])
		}
		if !found {
			t.Errorf("NDB header %d not in the BDB file", i)
		}
	}
}

func corrupt(b []byte, off int, with ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], with)
	return c
}

func TestHeaderMalformed(t *testing.T) {
	good := blobs(t)[0]
	il := int(binary.BigEndian.Uint32(good))
	nameEntry := -1
	for i := range il {
		if binary.BigEndian.Uint32(good[8+16*i:]) == tagName {
			nameEntry = 8 + 16*i
		}
	}
	if nameEntry < 0 {
		t.Fatal("no NAME tag")
	}
	tests := map[string][]byte{
		"empty":                 nil,
		"huge index":            corrupt(good, 0, 0x7f, 0xff, 0xff, 0xff),
		"huge data":             corrupt(good, 4, 0x7f, 0xff, 0xff, 0xff),
		"truncated":             good[:len(good)-10],
		"name offset past data": corrupt(good, nameEntry+8, 0x7f, 0xff, 0xff, 0xff),
		"name wrong type":       corrupt(good, nameEntry+4, 0, 0, 0, typeInt32),
		"no terminator":         append(good[:8+16*il:8+16*il], bytes.Repeat([]byte("x"), len(good)-8-16*il)...),
	}
	for name, b := range tests {
		if _, err := ReadHeader(b); !errors.Is(err, ErrHeader) {
			t.Errorf("%s: error %v, want ErrHeader", name, err)
		}
	}
}

func FuzzContainers(f *testing.F) {
	for _, p := range []string{"../testdata/Packages", "../testdata/Packages.db"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		each := EachBDB
		if bytes.HasPrefix(b, []byte("RpmP")) {
			each = EachNDB
		}
		total := 0
		_ = each(bytes.NewReader(b), int64(len(b)), func(h []byte) error {
			total += len(h)
			if total > 2*len(b)+maxHeaderData {
				t.Fatalf("%d header bytes out of a %d-byte file", total, len(b))
			}
			_, _ = ReadHeader(h)
			return nil
		})
	})
}

func FuzzHeader(f *testing.F) {
	for _, b := range blobs(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadHeader(b)
		if err == nil {
			for _, file := range p.Files {
				if !strings.HasPrefix(file, "/") || strings.Contains(file, "/../") {
					t.Fatalf("unsafe file %q", file)
				}
			}
		}
	})
}

func BenchmarkReadHeader(b *testing.B) {
	bl := blobs(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, h := range bl {
			if _, err := ReadHeader(h); err != nil {
				b.Fatal(err)
			}
		}
	}
}
