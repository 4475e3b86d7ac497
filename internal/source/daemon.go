package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Engine sources: a Docker Engine, or Podman through its Docker-compatible
// API socket.
const (
	KindDocker Kind = "docker"
	KindPodman Kind = "podman"
)

// DefaultImageSources is where a bare NAME[:TAG] is looked for, in order.
var DefaultImageSources = []Kind{KindDocker, KindPodman, KindRegistry}

// ParseImageSources reads --image-src values (docker, podman, registry).
func ParseImageSources(list []string) ([]Kind, error) {
	var out []Kind
	for _, v := range list {
		for _, s := range strings.Split(v, ",") {
			switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
			case KindDocker, KindPodman, KindRegistry:
				out = append(out, k)
			case "":
			default:
				return nil, fmt.Errorf("--image-src: unknown source %q (have: docker, podman, registry)", s)
			}
		}
	}
	return out, nil
}

// ErrEngine marks an engine that cannot be reached.
var ErrEngine = errors.New("container engine not reachable")

// maxSaveSize caps the `docker save` stream spooled to disk.
const maxSaveSize = 64 << 30

// engineHost returns the API address of an engine: the option, else the
// environment (DOCKER_HOST; CONTAINER_HOST for Podman), else the default
// socket.
func engineHost(kind Kind, opts Options) string {
	switch kind {
	case KindPodman:
		if opts.PodmanHost != "" {
			return opts.PodmanHost
		}
		if h := os.Getenv("CONTAINER_HOST"); h != "" {
			return h
		}
		if os.Geteuid() != 0 {
			if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
				return "unix://" + filepath.Join(d, "podman", "podman.sock")
			}
		}
		return "unix:///run/podman/podman.sock"
	default:
		if opts.DockerHost != "" {
			return opts.DockerHost
		}
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return h
		}
		return client.DefaultDockerHost
	}
}

func engineClient(kind Kind, opts Options) (*client.Client, string, error) {
	host := engineHost(kind, opts)
	var copts []client.Opt
	if kind == KindDocker {
		// DOCKER_CERT_PATH / DOCKER_TLS_VERIFY / DOCKER_API_VERSION.
		copts = append(copts, client.FromEnv)
	}
	copts = append(copts, client.WithHost(host)) // the API version is negotiated
	c, err := client.New(copts...)
	if err != nil {
		return nil, host, fmt.Errorf("%s engine at %s: %w", kind, host, err)
	}
	return c, host, nil
}

// engineHas reports whether the engine is reachable and holds ref.
func engineHas(ctx context.Context, kind Kind, ref string, opts Options) bool {
	c, _, err := engineClient(kind, opts)
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.ImageInspect(ctx, ref)
	return err == nil
}

// openEngine exports ref from a Docker or Podman engine. The engine's
// `docker save` stream is spooled to one temporary file, then read like
// any docker archive: the stream names which member is which layer only
// at its end (manifest.json), and layers are analysed in parallel, which
// needs random access. The file is removed when the image is closed.
func openEngine(ctx context.Context, kind Kind, ref string, opts Options) (*Image, error) {
	if ref == "" {
		return nil, fmt.Errorf("%s: no image named", kind)
	}
	c, host, err := engineClient(kind, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	insp, err := c.ImageInspect(ctx, ref)
	switch {
	case err == nil:
	case cerrdefs.IsNotFound(err):
		return nil, fmt.Errorf("%w: %s: the %s engine at %s has no image %q", ErrNotFound, kind, kind, host, ref)
	case client.IsErrConnectionFailed(err) || isConnErr(err):
		return nil, fmt.Errorf("%w: %s engine at %s: %v", ErrEngine, kind, host, err)
	default:
		return nil, fmt.Errorf("%s engine at %s: inspecting %q: %w", kind, host, ref, err)
	}
	rc, err := c.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("%s engine at %s: exporting %q: %w", kind, host, ref, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(opts.TempDir, "drydock-engine-*.tar")
	if err != nil {
		return nil, fmt.Errorf("%s: spooling %q: %w", kind, ref, err)
	}
	spool := f.Name()
	cleanup := func() { _ = os.Remove(spool) }
	n, err := io.Copy(f, io.LimitReader(rc, maxSaveSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxSaveSize {
		err = fmt.Errorf("export larger than %d bytes", int64(maxSaveSize))
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%s engine at %s: exporting %q: %w", kind, host, ref, err)
	}
	img, err := openDockerArchive(spool, "", opts)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%s: image %q as exported by the engine: %w", kind, ref, err)
	}
	img.closers = append(img.closers, closerFunc(func() error { cleanup(); return nil }))
	img.Kind = kind
	img.Name = ref
	if id, err := img.Image.ConfigName(); err == nil && insp.ID != "" && id.String() != insp.ID {
		img.Close()
		return nil, fmt.Errorf("%s: %w: the engine says image %q is %s, the export's config is %s", kind, ErrDigest, ref, insp.ID, id)
	}
	for _, d := range insp.RepoDigests {
		if _, dg, ok := strings.Cut(d, "@"); ok {
			img.ManifestDigest = dg
			break
		}
	}
	return img, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func isConnErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "no such file or directory") ||
		strings.Contains(s, "Cannot connect")
}
