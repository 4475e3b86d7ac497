// Command mkimage makes OCI image layouts for the benchmark script: it
// turns a root file-system tar (as mmdebstrap writes it) into an image
// with the file system split over several gzip layers; with -base it
// instead makes an image that is a base layout's image plus one new gzip
// layer from a tar, the base layers' blobs unchanged (as a rebuild on a
// cached base would); with -generate it makes an image of many small
// files.
//
//	mkimage -layers 4 rootfs.tar out-layout
//	mkimage -base base-layout layer.tar out-layout
//	mkimage -generate 1000000 -layers 1 out-layout
package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	layers := flag.Int("layers", 4, "number of layers to split the file system into")
	base := flag.String("base", "", "OCI layout whose image the new layer is added to")
	files := flag.Int("generate", 0, "generate an image of this many entries instead of reading a root file system")
	flag.Parse()
	var err error
	switch {
	case *files > 0 && flag.NArg() == 1:
		err = runGenerate(*files, flag.Arg(0), *layers)
	case *files == 0 && *base != "" && flag.NArg() == 2:
		err = extend(*base, flag.Arg(0), flag.Arg(1))
	case *files == 0 && flag.NArg() == 2:
		err = run(flag.Arg(0), flag.Arg(1), *layers)
	default:
		fmt.Fprintln(os.Stderr, "usage: mkimage [-layers N] ROOTFS.tar OUT-LAYOUT\n       mkimage -base BASE-LAYOUT LAYER.tar OUT-LAYOUT\n       mkimage -generate ENTRIES [-layers N] OUT-LAYOUT")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(rootfs, out string, n int) error {
	st, err := os.Stat(rootfs)
	if err != nil {
		return err
	}
	chunk := st.Size()/int64(max(n, 1)) + 1
	return build(out, func(tmp string) ([]string, error) { return split(rootfs, tmp, chunk) })
}

func runGenerate(files int, out string, layers int) error {
	if layers < 1 || files < 100*layers {
		return fmt.Errorf("-generate needs at least 100 entries per layer")
	}
	return build(out, func(tmp string) ([]string, error) { return generate(tmp, files, layers) })
}

// build writes the layer files that makeLayers leaves in a temporary
// directory next to out as an OCI layout at out.
func build(out string, makeLayers func(tmp string) ([]string, error)) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".mkimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	paths, err := makeLayers(tmp)
	if err != nil {
		return err
	}
	img := empty.Image
	for _, p := range paths {
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return fmt.Errorf("layer %s: %w", p, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "mkimage " + filepath.Base(p)}})
		if err != nil {
			return err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Cmd = []string{"/bin/bash"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return writeLayout(img, out)
}

// extend writes to out the first image of the base layout with the layer
// tar appended.
func extend(base, layerTar, out string) error {
	idx, err := layout.ImageIndexFromPath(base)
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) == 0 {
		return fmt.Errorf("%s: no image", base)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromFile(layerTar)
	if err != nil {
		return fmt.Errorf("layer %s: %w", layerTar, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "mkimage -base " + filepath.Base(layerTar)}})
	if err != nil {
		return err
	}
	return writeLayout(img, out)
}

func writeLayout(img v1.Image, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"}))
}

// split copies the tar's entries, in order, into layer tars of about
// chunk bytes each.
func split(rootfs, dir string, chunk int64) ([]string, error) {
	f, err := os.Open(rootfs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var (
		paths []string
		out   *os.File
		tw    *tar.Writer
		size  int64
	)
	closeLayer := func() error {
		if tw == nil {
			return nil
		}
		if err := tw.Close(); err != nil {
			return err
		}
		tw = nil
		return out.Close()
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rootfs, err)
		}
		if tw == nil || size >= chunk {
			if err := closeLayer(); err != nil {
				return nil, err
			}
			p := filepath.Join(dir, fmt.Sprintf("layer%d.tar", len(paths)))
			if out, err = os.Create(p); err != nil {
				return nil, err
			}
			tw = tar.NewWriter(out)
			paths = append(paths, p)
			size = 0
		}
		// Hard links must point into the same layer or an earlier one;
		// entries stay in order, so they do.
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		n, err := io.Copy(tw, tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		size += n + 512
	}
	if err := closeLayer(); err != nil {
		return nil, err
	}
	return paths, nil
}
