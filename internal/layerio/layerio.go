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
	"sync"

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
	ahead       *readAhead // nil: read in the caller's goroutine
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
	if s.ahead != nil {
		return s.ahead.read(p)
	}
	return s.read(p)
}

// read decompresses, hashes and checks the limits in the caller's
// goroutine.
func (s *Stream) read(p []byte) (int, error) {
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
	if s.ahead != nil {
		// The reader has seen the end: the goroutine has ended too and
		// the hashes are the caller's again.
		<-s.ahead.done
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

// Size is the number of uncompressed bytes read so far (with ReadAhead,
// known only after Finish).
func (s *Stream) Size() int64 { return s.plain.n }

// Close releases the decompressor and the blob.
func (s *Stream) Close() error {
	if s.ahead == nil {
		s.closeDecomp()
		return s.src.Close()
	}
	// Stop the goroutine (closing the blob ends a read it is blocked in)
	// before the decompressor it uses is released.
	s.ahead.stopOnce.Do(func() { close(s.ahead.stop) })
	err := s.src.Close()
	<-s.ahead.done
	s.closeDecomp()
	return err
}

// Read-ahead sizes: four chunks of 256 KiB in flight per layer.
const (
	aheadChunk = 256 << 10
	aheadDepth = 4
)

// ReadAhead makes the stream decompress, hash and check its limits in a
// goroutine of its own, up to a megabyte ahead of the reader: reading the
// tar and analysing its files then runs beside the decompression instead
// of after it, on another core. Call it before the first Read; Finish and
// Close wait for the goroutine, and Close must be called.
func (s *Stream) ReadAhead() {
	if s.ahead != nil {
		return
	}
	a := &readAhead{chunks: make(chan chunk, aheadDepth), free: make(chan []byte, aheadDepth+1), stop: make(chan struct{}), done: make(chan struct{})}
	for range aheadDepth + 1 {
		a.free <- make([]byte, aheadChunk)
	}
	s.ahead = a
	go a.fill(s)
}

// readAhead hands the stream's bytes from the goroutine that decompresses
// them to the reader, in order, the error (io.EOF at the end) last.
type readAhead struct {
	chunks   chan chunk
	free     chan []byte
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// The reader's side.
	buf  []byte // the chunk being read, to give back
	rest []byte // its bytes not read yet
	err  error
}

type chunk struct {
	b   []byte
	err error
}

// fill decompresses into free chunks until the end, an error or stop.
func (a *readAhead) fill(s *Stream) {
	defer close(a.done)
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.stop:
			return
		}
		n := 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = s.read(b[n:])
			n += m
		}
		select {
		case a.chunks <- chunk{b[:n], err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *readAhead) read(p []byte) (int, error) {
	for len(a.rest) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		c := <-a.chunks
		a.buf, a.rest, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.rest)
	a.rest = a.rest[n:]
	return n, nil
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
