package source

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize caps index, manifest and config documents.
const maxManifestSize = 8 << 20

// ociLayout reads an OCI image layout from any fs.FS: a directory or an
// indexed tar archive.
type ociLayout struct {
	fsys fs.FS
	name string // for errors
}

func (l *ociLayout) blobPath(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" && h.Algorithm != "sha512" {
		return "", fmt.Errorf("unsupported digest algorithm %q", h.Algorithm)
	}
	if _, err := hex.DecodeString(h.Hex); err != nil || len(h.Hex) < 32 {
		return "", fmt.Errorf("invalid digest %q", h.String())
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

func (l *ociLayout) openBlob(h v1.Hash) (io.ReadCloser, error) {
	p, err := l.blobPath(h)
	if err != nil {
		return nil, err
	}
	f, err := l.fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", l.name, h, err)
	}
	return f, nil
}

// readVerified reads a small blob and checks its digest.
func (l *ociLayout) readVerified(h v1.Hash) ([]byte, error) {
	rc, err := l.openBlob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Sized from the file where it can be (one read, not io.ReadAll's
	// growing ones); the limit holds whatever the size says.
	buf := bytes.NewBuffer(nil)
	if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Size() >= 0 && fi.Size() <= maxManifestSize {
			buf.Grow(int(fi.Size()) + 1)
		}
	}
	_, err = buf.ReadFrom(io.LimitReader(rc, maxManifestSize+1))
	b := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", l.name, h, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%s: blob %s: larger than %d bytes", l.name, h, maxManifestSize)
	}
	if err := verifyBytes(b, h); err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", l.name, h, err)
	}
	return b, nil
}

// ErrDigest marks content that does not match its digest.
var ErrDigest = errors.New("digest mismatch")

func verifyBytes(b []byte, h v1.Hash) error {
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if h.Algorithm == "sha256" && got != h {
		return fmt.Errorf("%w: content is %s", ErrDigest, got)
	}
	return nil
}

// index returns the layout's top-level index.
func (l *ociLayout) index() (*layoutIndex, error) {
	f, err := l.fsys.Open("index.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: index.json: %w", l.name, err)
	}
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("%s: index.json larger than %d bytes", l.name, maxManifestSize)
	}
	return l.newIndex(raw)
}

func (l *ociLayout) newIndex(raw []byte) (*layoutIndex, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: index: %w", l.name, err)
	}
	return &layoutIndex{l: l, raw: raw, im: im}, nil
}

type layoutIndex struct {
	l   *ociLayout
	raw []byte
	im  *v1.IndexManifest
}

func (i *layoutIndex) MediaType() (types.MediaType, error) {
	if i.im.MediaType != "" {
		return i.im.MediaType, nil
	}
	return types.OCIImageIndex, nil
}
func (i *layoutIndex) Digest() (v1.Hash, error)                  { return partial.Digest(i) }
func (i *layoutIndex) Size() (int64, error)                      { return int64(len(i.raw)), nil }
func (i *layoutIndex) IndexManifest() (*v1.IndexManifest, error) { return i.im, nil }
func (i *layoutIndex) RawManifest() ([]byte, error)              { return i.raw, nil }

func (i *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	raw, err := i.l.readVerified(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", i.l.name, h, err)
	}
	li := &layoutImage{l: i.l, raw: raw, m: m}
	// The config is read (and its digest checked) once: the image's
	// helpers ask for it again for the layers and the config's name.
	li.config = sync.OnceValues(func() ([]byte, error) { return li.l.readVerified(li.m.Config.Digest) })
	return partial.CompressedToImage(li)
}

func (i *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	raw, err := i.l.readVerified(h)
	if err != nil {
		return nil, err
	}
	return i.l.newIndex(raw)
}

type layoutImage struct {
	l      *ociLayout
	raw    []byte
	m      *v1.Manifest
	config func() ([]byte, error)
}

func (li *layoutImage) MediaType() (types.MediaType, error) {
	if li.m.MediaType != "" {
		return li.m.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}
func (li *layoutImage) RawManifest() ([]byte, error)   { return li.raw, nil }
func (li *layoutImage) RawConfigFile() ([]byte, error) { return li.config() }

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range li.m.Layers {
		if d.Digest == h {
			return &layoutBlob{l: li.l, desc: d}, nil
		}
	}
	if li.m.Config.Digest == h {
		return &layoutBlob{l: li.l, desc: li.m.Config}, nil
	}
	return nil, fmt.Errorf("%s: blob %s is not part of the manifest", li.l.name, h)
}

type layoutBlob struct {
	l    *ociLayout
	desc v1.Descriptor
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Compressed() (io.ReadCloser, error)  { return b.l.openBlob(b.desc.Digest) }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }

// OpenIndex returns the top-level index of an OCI layout directory.
func OpenIndex(dir string) (v1.ImageIndex, error) {
	l := &ociLayout{fsys: os.DirFS(dir), name: dir}
	if err := checkOCILayout(l.fsys); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	idx, err := l.index()
	if err != nil {
		return nil, err
	}
	return idx, nil
}
