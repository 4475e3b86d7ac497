package layerio_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/drydockscan/drydock/internal/layerio"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// modes are the two ways of reading a stream: in the reader's goroutine,
// and with ReadAhead.
var modes = []struct {
	name  string
	ahead bool
}{{"direct", false}, {"read-ahead", true}}

func read(t *testing.T, ahead bool, blob []byte, wantBlob, wantDiff string, limits layerio.Limits) ([]byte, layerio.Compression, error) {
	t.Helper()
	s, err := layerio.Open(io.NopCloser(bytes.NewReader(blob)), wantBlob, wantDiff, limits)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	if ahead {
		s.ReadAhead()
	}
	// Read only part, as a tar reader stops at the end-of-archive marker.
	head := make([]byte, 10)
	n, _ := io.ReadFull(s, head)
	if err := s.Finish(); err != nil {
		return nil, s.Compression, err
	}
	return head[:n], s.Compression, nil
}

func TestOpen(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testOpen(t, m.ahead) })
	}
}

func testOpen(t *testing.T, ahead bool) {
	plain := []byte(strings.Repeat("layer content ", 1000))
	for _, tc := range []struct {
		name string
		blob []byte
		want layerio.Compression
	}{
		{"gzip", gz(plain), layerio.Gzip},
		{"zstd", zst(plain), layerio.Zstd},
		{"none", plain, layerio.None},
		{"gzip multistream", append(gz(plain[:7000]), gz(plain[7000:])...), layerio.Gzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head, c, err := read(t, ahead, tc.blob, digest(tc.blob), digest(plain), layerio.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if c != tc.want || string(head) != string(plain[:10]) {
				t.Errorf("compression %s head %q", c, head)
			}
			// A wrong digest of either kind is caught at Finish.
			if _, _, err := read(t, ahead, tc.blob, digest([]byte("x")), "", layerio.DefaultLimits); !errors.Is(err, layerio.ErrDigest) {
				t.Errorf("wrong blob digest: %v", err)
			}
			if _, _, err := read(t, ahead, tc.blob, "", digest([]byte("x")), layerio.DefaultLimits); !errors.Is(err, layerio.ErrDigest) {
				t.Errorf("wrong diff_id: %v", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testLimits(t, m.ahead) })
	}
}

func testLimits(t *testing.T, ahead bool) {
	zeros := make([]byte, 8<<20)
	_, _, err := read(t, ahead, gz(zeros), "", "", layerio.Limits{MaxRatio: 100, RatioFloor: 1 << 20})
	if !errors.Is(err, layerio.ErrBomb) || !strings.Contains(err.Error(), "100:1") {
		t.Errorf("ratio: %v", err)
	}
	_, _, err = read(t, ahead, gz(zeros), "", "", layerio.Limits{MaxBytes: 4 << 20})
	if !errors.Is(err, layerio.ErrBomb) {
		t.Errorf("size: %v", err)
	}
	// Uncompressed content is not subject to the ratio.
	if _, _, err = read(t, ahead, zeros, "", "", layerio.Limits{MaxRatio: 100, RatioFloor: 1 << 20}); err != nil {
		t.Errorf("plain zeros: %v", err)
	}
	// A truncated gzip stream is an error.
	blob := gz([]byte(strings.Repeat("abcdefgh", 1<<14)))
	if _, _, err := read(t, ahead, blob[:len(blob)/2], "", "", layerio.DefaultLimits); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated: %v", err)
	}
}

// Read ahead, a stream gives the same bytes in the same order, however
// the reader cuts its reads, and the same digests; closed half read, it
// stops its goroutine.
func TestReadAheadIsTheSameStream(t *testing.T) {
	plain := make([]byte, 5<<20+12345) // many chunks, the last one partial
	rand.NewChaCha8([32]byte{1}).Read(plain)
	for _, blob := range [][]byte{gz(plain), zst(plain), plain} {
		s, err := layerio.Open(io.NopCloser(bytes.NewReader(blob)), digest(blob), digest(plain), layerio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		s.ReadAhead()
		var got bytes.Buffer
		buf := make([]byte, 7919)
		for i := 1; ; i++ {
			n, err := s.Read(buf[:1+i%len(buf)])
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Finish(); err != nil {
			t.Fatalf("%s: %v", s.Compression, err)
		}
		if !bytes.Equal(got.Bytes(), plain) || s.DiffID() != digest(plain) || s.BlobDigest() != digest(blob) || s.Size() != int64(len(plain)) {
			t.Errorf("%s: %d bytes read of %d, diff id %s, blob %s", s.Compression, got.Len(), len(plain), s.DiffID(), s.BlobDigest())
		}
		s.Close()

		// Half read, then closed: Close returns once the goroutine is gone.
		s, err = layerio.Open(io.NopCloser(bytes.NewReader(blob)), "", "", layerio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		s.ReadAhead()
		if _, err := io.ReadFull(s, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Close of a half-read stream did not return", s.Compression)
		}
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(gz([]byte("hello")))
	f.Add(zst([]byte("hello")))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		// Read directly and read ahead, the same bytes and the same error.
		var outs [2][]byte
		var errs [2]string
		for i, m := range modes {
			s, err := layerio.Open(io.NopCloser(bytes.NewReader(blob)), "", "", layerio.Limits{MaxBytes: 1 << 24})
			if err != nil {
				return
			}
			if m.ahead {
				s.ReadAhead()
			}
			outs[i], err = io.ReadAll(s)
			if err != nil {
				errs[i] = err.Error()
			}
			if err := s.Finish(); err != nil && errs[i] == "" {
				errs[i] = err.Error()
			}
			s.Close()
		}
		if !bytes.Equal(outs[0], outs[1]) || errs[0] != errs[1] {
			t.Errorf("direct: %d bytes, %q; read ahead: %d bytes, %q", len(outs[0]), errs[0], len(outs[1]), errs[1])
		}
	})
}
