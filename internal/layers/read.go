// Package layers explains an image layer by layer: what each layer adds,
// modifies and removes, the tree of the final file system with the layer
// every path last came from, and the space the layers waste, with image
// efficiency and wasted bytes defined exactly as dive defines them
// (docs/layers.md).
package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/source"
)

// Entry is one member of a layer tar, as its header describes it.
type Entry struct {
	// Path is clean and relative to the root, without a leading slash;
	// whiteout markers keep their ".wh." names.
	Path string
	Type byte // tar type flag
	Size int64
	Mode fs.FileMode
	Link string
}

// LayerEntries is what one layer tar holds, in archive order.
type LayerEntries struct {
	Entries []Entry
}

// Options bound the reading of layers.
type Options struct {
	Limits layerio.Limits
	// MaxEntries caps the entries of one layer (0: analyze.DefaultMaxEntries).
	MaxEntries int
	// Parallel is the number of layers read at once (0: GOMAXPROCS).
	Parallel int
}

// ErrLimit is returned when a layer holds more entries than allowed.
var ErrLimit = errors.New("limit exceeded")

// Read reads the headers of every layer of img, in parallel, verifying
// each blob and diffID.
func Read(ctx context.Context, img *source.Image, o Options) ([]*LayerEntries, error) {
	if img.Kind == source.KindDir {
		return nil, fmt.Errorf("%s: a directory has no layers", img.Dir)
	}
	out := make([]*LayerEntries, len(img.Layers))
	g, gctx := errgroup.WithContext(ctx)
	n := o.Parallel
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g.SetLimit(n)
	for i, l := range img.Layers {
		g.Go(func() error {
			le, err := ReadLayer(gctx, l, o)
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i, l.DiffID, err)
			}
			out[i] = le
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadLayer reads the headers of one layer; contents are decompressed and
// hashed (the diffID is checked) but never kept.
func ReadLayer(ctx context.Context, l source.Layer, o Options) (*LayerEntries, error) {
	limits := o.Limits
	if limits == (layerio.Limits{}) {
		limits = layerio.DefaultLimits
	}
	maxEntries := o.MaxEntries
	if maxEntries <= 0 {
		maxEntries = analyze.DefaultMaxEntries
	}
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	var wantBlob string
	if l.Digest.Hex != "" {
		wantBlob = l.Digest.String()
	}
	s, err := layerio.Open(rc, wantBlob, l.DiffID.String(), limits)
	if err != nil {
		rc.Close()
		return nil, err
	}
	defer s.Close()
	s.ReadAhead()
	le, err := readTar(ctx, s, maxEntries)
	if err != nil {
		// A digest mismatch explains a broken tar better than the tar error.
		if ferr := s.Finish(); ferr != nil && errors.Is(ferr, layerio.ErrDigest) {
			return nil, ferr
		}
		return nil, err
	}
	if err := s.Finish(); err != nil {
		return nil, err
	}
	return le, nil
}

// ReadTar reads the headers of an uncompressed layer tar.
func ReadTar(ctx context.Context, r io.Reader) (*LayerEntries, error) {
	return readTar(ctx, r, analyze.DefaultMaxEntries)
}

func readTar(ctx context.Context, r io.Reader, maxEntries int) (*LayerEntries, error) {
	tr := tar.NewReader(r)
	le := &LayerEntries{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return le, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar after %d entries: %w", len(le.Entries), err)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeGNUSparse:
			continue
		}
		p, err := analyze.CleanPath(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if p == "" {
			continue
		}
		if len(le.Entries) >= maxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrLimit, maxEntries)
		}
		size := hdr.Size
		if size < 0 {
			return nil, fmt.Errorf("entry %q: negative size", hdr.Name)
		}
		le.Entries = append(le.Entries, Entry{Path: p, Type: hdr.Typeflag, Size: size, Mode: hdr.FileInfo().Mode(), Link: hdr.Linkname})
	}
}
