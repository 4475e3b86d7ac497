package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerMediaTypes are the media types of image layers: Docker's rootfs
// diffs (plain, gzip, and the non-distributable "foreign" gzip one) and
// OCI's layers (plain, gzip, zstd, and their non-distributable variants).
// A manifest that lists anything else as a layer (a config, a manifest,
// an artifact's blob) is not an image drydock can read as one.
var layerMediaTypes = []string{
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
}

// ErrMediaType is returned for a manifest layer whose media type is not a
// layer media type.
var ErrMediaType = errors.New("not a layer media type")

// checkLayerMediaType names the layer whose media type is not a layer's.
func checkLayerMediaType(i int, diffID, digest v1.Hash, mediaType string) error {
	if slices.Contains(layerMediaTypes, mediaType) {
		return nil
	}
	return fmt.Errorf("layer %d (%s, blob %s): media type %q: %w", i, diffID, digest, mediaType, ErrMediaType)
}

// ociLayoutVersion is the only image layout version there is.
const ociLayoutVersion = "1.0.0"

// ErrLayoutVersion is returned for an OCI layout whose oci-layout file is
// missing, malformed or names a version drydock does not know.
var ErrLayoutVersion = errors.New("unsupported OCI image layout")

// checkOCILayout reads the oci-layout file every OCI image layout must
// have. Its version says how blobs are laid out; drydock reads only the
// version it knows, and does not guess when the file is missing or
// unreadable.
func checkOCILayout(fsys fs.FS) error {
	raw, err := readSmall(fsys, "oci-layout")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: no oci-layout file", ErrLayoutVersion)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLayoutVersion, err)
	}
	var doc struct {
		Version *string `json:"imageLayoutVersion"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%w: oci-layout is malformed: %v", ErrLayoutVersion, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: oci-layout holds more than one JSON value", ErrLayoutVersion)
	}
	if doc.Version == nil {
		return fmt.Errorf("%w: oci-layout names no imageLayoutVersion", ErrLayoutVersion)
	}
	if *doc.Version != ociLayoutVersion {
		return fmt.Errorf("%w: oci-layout says imageLayoutVersion %q; drydock reads %q", ErrLayoutVersion, *doc.Version, ociLayoutVersion)
	}
	return nil
}
