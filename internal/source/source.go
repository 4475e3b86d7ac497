// Package source opens the things drydock scans — docker save archives, OCI
// layouts (directories or tars), registry references, Docker and Podman
// engines, Singularity/Apptainer SIF and squashfs files, and root
// file-system directories — as go-containerregistry images where they are
// images, verifying every digest.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kind names a source kind; it is also the prefix a user may write.
type Kind string

// Source kinds.
const (
	KindDockerArchive Kind = "docker-archive"
	KindOCI           Kind = "oci"
	KindOCIArchive    Kind = "oci-archive"
	KindRegistry      Kind = "registry"
	KindDir           Kind = "dir"
)

// Options configure how sources are opened.
type Options struct {
	// Platform selects from multi-platform indexes; nil means the only
	// platform there is, else linux on the host's architecture.
	Platform *v1.Platform
	// Insecure allows plain HTTP and unverified TLS to registries.
	Insecure bool
	// Username/Password or Token authenticate to registries; otherwise the
	// Docker config (~/.docker/config.json, credential helpers) is used.
	Username, Password, Token string
	// Keychain overrides credential lookup (tests).
	Keychain authn.Keychain
	// Transport is the base HTTP transport (tests).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// DockerHost and PodmanHost are the engines' API addresses
	// ("unix:///path.sock", "tcp://host:2375"); empty means DOCKER_HOST or
	// CONTAINER_HOST, else the default socket.
	DockerHost, PodmanHost string
	// ImageSources is where a bare NAME[:TAG] that is not a path is looked
	// for, in order (default DefaultImageSources).
	ImageSources []Kind
	// TempDir holds spooled engine exports ("" means the system default).
	TempDir string
}

// Layer is one layer as stored, ready to be streamed.
type Layer struct {
	Index int
	// DiffID is the digest of the uncompressed tar (from the config).
	DiffID v1.Hash
	// Digest is the digest of the blob as stored; zero when the format has
	// none (classic docker save archives store only the tar).
	Digest    v1.Hash
	MediaType string
	Size      int64
	CreatedBy string
	// Remote is set when Open fetches the blob over the network (registry
	// images): the layer cache then trusts the manifest's content digest
	// rather than download the blob to hash it.
	Remote bool
	// Open returns the blob as stored.
	Open func() (io.ReadCloser, error)
}

// Image is an opened image, or a root file-system directory.
type Image struct {
	// Kind of source and the reference as the user gave it.
	Kind Kind
	Ref  string
	// Name is the image's name (tag, ref.name) when the source has one.
	Name string
	// Image is the image; nil for KindDir.
	Image v1.Image
	// Dir is the root file-system directory for KindDir.
	Dir string
	// ManifestDigest is the digest of the image manifest (registry and OCI
	// layouts); docker archives have none.
	ManifestDigest string
	// IndexDigest is set when the image was chosen from an index.
	IndexDigest string
	Platform    *v1.Platform
	Config      *v1.ConfigFile
	Layers      []Layer
	closers     []io.Closer
}

// Close releases files the image holds open.
func (img *Image) Close() error {
	var errs []error
	for _, c := range img.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ErrNotFound is returned when a target names nothing drydock can read.
var ErrNotFound = errors.New("no such image")

// Open opens target, auto-detecting its kind unless it carries a
// "kind:" prefix.
func Open(ctx context.Context, target string, opts Options) (*Image, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	kind, rest := splitPrefix(target)
	if kind == "" {
		var err error
		kind, rest, err = detect(target)
		if err != nil {
			return nil, err
		}
		if kind == KindRegistry {
			kind = engineOrRegistry(ctx, rest, opts)
		}
	}
	var img *Image
	var err error
	switch kind {
	case KindDockerArchive:
		p, tag := splitRef(rest)
		img, err = openDockerArchive(p, tag, opts)
	case KindOCI, KindOCIArchive:
		p, ref := splitRef(rest)
		img, err = openOCILayout(p, ref, opts)
	case KindRegistry:
		img, err = openRegistry(ctx, rest, opts)
	case KindDir:
		img, err = openDir(rest)
	case KindDocker, KindPodman:
		img, err = openEngine(ctx, kind, rest, opts)
	case KindSIF, KindSquashFS:
		img, err = openSIF(kind, rest, opts)
	default:
		return nil, fmt.Errorf("unknown source kind %q", kind)
	}
	if err != nil {
		return nil, err
	}
	img.Ref = target
	if img.Kind == "" {
		img.Kind = kind
	}
	return img, nil
}

var prefixes = []Kind{KindDockerArchive, KindOCIArchive, KindOCI, KindRegistry, KindDir, KindDocker, KindPodman, KindSIF, KindSquashFS}

// engineOrRegistry decides where a bare NAME[:TAG] lives: the first of
// opts.ImageSources (default docker, podman, registry) whose engine holds
// it, else the registry when it is in the list. With no registry in the
// list the last engine is used, so its error names the image.
func engineOrRegistry(ctx context.Context, ref string, opts Options) Kind {
	order := opts.ImageSources
	if len(order) == 0 {
		order = DefaultImageSources
	}
	var last Kind
	for _, k := range order {
		switch k {
		case KindDocker, KindPodman:
			if engineHas(ctx, k, ref, opts) {
				opts.Logger.Debug("image found in engine", "engine", k, "ref", ref)
				return k
			}
			last = k
		case KindRegistry:
			return KindRegistry
		}
	}
	if last == "" {
		return KindRegistry
	}
	return last
}

func splitPrefix(target string) (Kind, string) {
	if r, ok := strings.CutPrefix(target, "docker://"); ok {
		return KindRegistry, r
	}
	for _, k := range prefixes {
		if r, ok := strings.CutPrefix(target, string(k)+":"); ok {
			return k, r
		}
	}
	return "", target
}

// splitRef splits "path:ref" when path exists and the whole does not.
func splitRef(s string) (string, string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		if _, err := os.Stat(s[:i]); err == nil {
			return s[:i], s[i+1:]
		}
		// "path:name:tag"
		if j := strings.Index(s, ":"); j > 0 && j < i {
			if _, err := os.Stat(s[:j]); err == nil {
				return s[:j], s[j+1:]
			}
		}
	}
	return s, ""
}

// detect decides what target is: an existing file or directory, or else a
// registry reference.
func detect(target string) (Kind, string, error) {
	p, _ := splitRef(target)
	st, err := os.Stat(p)
	if err != nil {
		if looksLikePath(target) {
			return "", "", fmt.Errorf("%w: %s: %v", ErrNotFound, target, err)
		}
		return KindRegistry, target, nil
	}
	if st.IsDir() {
		// An OCI layout has an oci-layout file; a directory with an
		// index.json and blobs/ but none is a broken layout, which opening
		// it as one reports. Anything else is a root file system.
		if _, err := os.Stat(p + "/oci-layout"); err == nil {
			return KindOCI, target, nil
		}
		_, errIndex := os.Stat(p + "/index.json")
		_, errBlobs := os.Stat(p + "/blobs")
		if errIndex == nil && errBlobs == nil {
			return KindOCI, target, nil
		}
		return KindDir, target, nil
	}
	if k, ok := sniffSIF(p); ok {
		return k, target, nil
	}
	t, err := openTarFS(p)
	if err != nil {
		return "", "", fmt.Errorf("%s: not a directory, OCI layout, image archive, SIF or squashfs file: %w", p, err)
	}
	defer t.Close()
	if _, ok := t.entries["manifest.json"]; ok {
		return KindDockerArchive, target, nil
	}
	if _, ok := t.entries["index.json"]; ok {
		return KindOCIArchive, target, nil
	}
	return "", "", fmt.Errorf("%s: a tar archive, but neither a docker save archive (no manifest.json) nor an OCI layout (no index.json)", p)
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.gz") || strings.HasSuffix(s, ".sif") ||
		strings.HasSuffix(s, ".sqfs") || strings.HasSuffix(s, ".squashfs")
}

// fill completes img from its v1.Image: config, layers, digests.
func fill(img *Image, open func(i int, l v1.Layer, d v1.Hash) func() (io.ReadCloser, error)) error {
	raw, err := img.Image.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cf, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return fmt.Errorf("config is not valid JSON: %w", err)
	}
	img.Config = cf
	if img.Platform == nil {
		img.Platform = cf.Platform()
	}
	layers, err := img.Image.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return fmt.Errorf("manifest lists %d layers but config has %d diff_ids", len(layers), len(cf.RootFS.DiffIDs))
	}
	var history []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			history = append(history, h)
		}
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		mt, err := l.MediaType()
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, cf.RootFS.DiffIDs[i], err)
		}
		if err := checkLayerMediaType(i, cf.RootFS.DiffIDs[i], d, string(mt)); err != nil {
			return err
		}
		size, _ := l.Size()
		lay := Layer{Index: i, DiffID: cf.RootFS.DiffIDs[i], Digest: d, MediaType: string(mt), Size: size, Open: open(i, l, d)}
		if i < len(history) {
			lay.CreatedBy = history[i].CreatedBy
		}
		img.Layers = append(img.Layers, lay)
	}
	return nil
}

// compressedOpener opens a layer through go-containerregistry as stored.
func compressedOpener(_ int, l v1.Layer, _ v1.Hash) func() (io.ReadCloser, error) {
	return l.Compressed
}
