package layerio_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

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

func read(t *testing.T, blob []byte, wantBlob, wantDiff string, limits layerio.Limits) ([]byte, layerio.Compression, error) {
	t.Helper()
	s, err := layerio.Open(io.NopCloser(bytes.NewReader(blob)), wantBlob, wantDiff, limits)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	// Read only part, as a tar reader stops at the end-of-archive marker.
	head := make([]byte, 10)
	n, _ := io.ReadFull(s, head)
	if err := s.Finish(); err != nil {
		return nil, s.Compression, err
	}
	return head[:n], s.Compression, nil
}

func TestOpen(t *testing.T) {
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
			head, c, err := read(t, tc.blob, digest(tc.blob), digest(plain), layerio.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if c != tc.want || string(head) != string(plain[:10]) {
				t.Errorf("compression %s head %q", c, head)
			}
			// A wrong digest of either kind is caught at Finish.
			if _, _, err := read(t, tc.blob, digest([]byte("x")), "", layerio.DefaultLimits); !errors.Is(err, layerio.ErrDigest) {
				t.Errorf("wrong blob digest: %v", err)
			}
			if _, _, err := read(t, tc.blob, "", digest([]byte("x")), layerio.DefaultLimits); !errors.Is(err, layerio.ErrDigest) {
				t.Errorf("wrong diff_id: %v", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	zeros := make([]byte, 8<<20)
	_, _, err := read(t, gz(zeros), "", "", layerio.Limits{MaxRatio: 100, RatioFloor: 1 << 20})
	if !errors.Is(err, layerio.ErrBomb) || !strings.Contains(err.Error(), "100:1") {
		t.Errorf("ratio: %v", err)
	}
	_, _, err = read(t, gz(zeros), "", "", layerio.Limits{MaxBytes: 4 << 20})
	if !errors.Is(err, layerio.ErrBomb) {
		t.Errorf("size: %v", err)
	}
	// Uncompressed content is not subject to the ratio.
	if _, _, err = read(t, zeros, "", "", layerio.Limits{MaxRatio: 100, RatioFloor: 1 << 20}); err != nil {
		t.Errorf("plain zeros: %v", err)
	}
	// A truncated gzip stream is an error.
	blob := gz([]byte(strings.Repeat("abcdefgh", 1<<14)))
	if _, _, err := read(t, blob[:len(blob)/2], "", "", layerio.DefaultLimits); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(gz([]byte("hello")))
	f.Add(zst([]byte("hello")))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		s, err := layerio.Open(io.NopCloser(bytes.NewReader(blob)), "", "", layerio.Limits{MaxBytes: 1 << 24})
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.Finish()
	})
}
