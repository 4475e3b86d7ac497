// Package layerio turns a layer blob into a verified stream of tar bytes:
// it detects the compression (gzip, zstd or none) from the content, hashes
// the blob and the uncompressed stream as they pass, and enforces limits
// against decompression bombs. A mismatching digest is an error once the
// stream has been read to its end.
package layerio

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of a blob.
type Compression string

// Compressions drydock reads.
const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// Limits bound what one layer may expand to.
type Limits struct {
	// MaxBytes caps the uncompressed size of one layer.
	MaxBytes int64
	// MaxRatio caps uncompressed/compressed size once more than
	// RatioFloor bytes have been produced.
	MaxRatio   int64
	RatioFloor int64
}

// DefaultLimits allow any real layer: 64 GiB, and at most 200:1 beyond the
// first GiB (gzip of pure zeros reaches about 1000:1, real layers 2–20:1).
var DefaultLimits = Limits{MaxBytes: 64 << 30, MaxRatio: 200, RatioFloor: 1 << 30}

// ErrDigest is returned when a blob's content does not match its digest.
var ErrDigest = errors.New("digest mismatch")

// ErrBomb is returned when a layer expands beyond the limits.
var ErrBomb = errors.New("decompression limit exceeded")

// Stream reads the uncompressed content of one blob.
type Stream struct {
	src         io.ReadCloser
	compressed  *countingHasher // over the blob as stored
	decomp      io.Reader
	closeDecomp func()
	plain       *countingHasher // over the uncompressed tar
	wantBlob    string
	wantDiffID  string
	limits      Limits
	Compression Compression
}

// Open starts reading rc. wantBlob is the expected digest of the blob as
// stored ("sha256:…", empty to skip), wantDiffID the expected digest of the
// uncompressed content (empty to skip). The caller must Close the stream.
func Open(rc io.ReadCloser, wantBlob, wantDiffID string, limits Limits) (*Stream, error) {
	s := &Stream{src: rc, wantBlob: wantBlob, wantDiffID: wantDiffID, limits: limits}
	s.compressed = newCountingHasher(rc)
	br := bufio.NewReaderSize(s.compressed, 1<<16)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading blob header: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		zr.Multistream(true)
		s.decomp, s.closeDecomp, s.Compression = zr, func() { _ = zr.Close() }, Gzip
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd header: %w", err)
		}
		s.decomp, s.closeDecomp, s.Compression = zr, zr.Close, Zstd
	default:
		s.decomp, s.closeDecomp, s.Compression = br, func() {}, None
	}
	s.plain = newCountingHasher(s.decomp)
	return s, nil
}

// Read returns uncompressed bytes.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.plain.Read(p)
	if s.limits.MaxBytes > 0 && s.plain.n > s.limits.MaxBytes {
		return n, fmt.Errorf("%w: layer expands beyond %d bytes", ErrBomb, s.limits.MaxBytes)
	}
	if s.limits.MaxRatio > 0 && s.plain.n > s.limits.RatioFloor && s.Compression != None {
		if c := s.compressed.n; c > 0 && s.plain.n/c > s.limits.MaxRatio {
			return n, fmt.Errorf("%w: %d bytes expanded from %d compressed bytes (more than %d:1)", ErrBomb, s.plain.n, c, s.limits.MaxRatio)
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("truncated %s stream: %w", s.Compression, err)
		}
		return n, fmt.Errorf("decompressing %s: %w", s.Compression, err)
	}
	return n, err
}

// Finish reads what is left of the blob and checks both digests.
func (s *Stream) Finish() error {
	if _, err := io.Copy(io.Discard, s); err != nil {
		return err
	}
	// Bytes after the compressed stream's end still belong to the blob.
	if _, err := io.Copy(io.Discard, s.compressed); err != nil {
		return fmt.Errorf("reading blob: %w", err)
	}
	if s.wantBlob != "" {
		if got := s.compressed.digest(); got != s.wantBlob {
			return fmt.Errorf("%w: blob is %s, manifest says %s", ErrDigest, got, s.wantBlob)
		}
	}
	if s.wantDiffID != "" {
		if got := s.plain.digest(); got != s.wantDiffID {
			return fmt.Errorf("%w: uncompressed content is %s, config says %s", ErrDigest, got, s.wantDiffID)
		}
	}
	return nil
}

// BlobDigest is the digest of the blob as stored ("sha256:…"); after a
// successful Finish it is the verified identity of the bytes read.
func (s *Stream) BlobDigest() string { return s.compressed.digest() }

// DiffID is the digest of the uncompressed content; after a successful
// Finish it is verified against the expected diffID.
func (s *Stream) DiffID() string { return s.plain.digest() }

// Size is the number of uncompressed bytes read so far.
func (s *Stream) Size() int64 { return s.plain.n }

// Close releases the decompressor and the blob.
func (s *Stream) Close() error {
	s.closeDecomp()
	return s.src.Close()
}

// Digest hashes a whole blob as stored ("sha256:…") without decompressing
// it: the cheap way to verify that local bytes are what a digest names.
func Digest(r io.Reader) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(h, r, buf); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

type countingHasher struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newCountingHasher(r io.Reader) *countingHasher {
	return &countingHasher{r: r, h: sha256.New()}
}

func (c *countingHasher) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.h.Write(p[:n])
		c.n += int64(n)
	}
	return n, err
}

func (c *countingHasher) digest() string {
	return "sha256:" + hex.EncodeToString(c.h.Sum(nil))
}
