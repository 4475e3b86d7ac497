package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/siftest"
)

// withoutLayers drops layer attribution: a SIF file has one layer, where
// the image had several.
func withoutLayers(s scanned) scanned {
	for i := range s.Packages {
		s.Packages[i].Layer, s.Packages[i].LayerIndex = "", 0
	}
	s.DiffIDs, s.Config = nil, ""
	return s
}

// TestSIF: a SIF file built from a corpus image's final file system, and
// the bare squashfs image inside it, give the image's inventory, by
// prefix and by magic.
func TestSIF(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	for _, name := range []string{"edge-layers", "multiarch-busybox"} {
		t.Run(name, func(t *testing.T) {
			layout := filepath.Join(corpus, name, "oci")
			rootfs := siftest.RootFS(t, layout, &source.Options{Platform: &amd64})
			sqfs := siftest.Squash(t, rootfs)
			sifFile := siftest.Build(t, siftest.Object{File: sqfs, Partition: sif.PartPrimSys, Arch: "amd64"})
			_, want := scanTarget(t, layout, source.Options{Platform: &amd64})
			want = withoutLayers(want)
			for _, target := range []string{"sif:" + sifFile, sifFile, sqfs, "squashfs:" + sqfs} {
				img, got := scanTarget(t, target, source.Options{})
				if len(img.Layers) != 1 {
					t.Errorf("%s: %d layers, want 1", target, len(img.Layers))
				}
				if diff := cmp.Diff(want, withoutLayers(got)); diff != "" {
					t.Errorf("%s differs from the image (-image +sif):\n%s", target, diff)
				}
			}
			img, _ := scanTarget(t, sifFile, source.Options{})
			if img.Kind != source.KindSIF || img.Platform == nil || img.Platform.Architecture != "amd64" {
				t.Errorf("kind %s platform %v; want sif, amd64", img.Kind, img.Platform)
			}
		})
	}
}

func TestSIFErrors(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	rootfs := siftest.RootFS(t, filepath.Join(corpus, "edge-layers", "oci"), nil)
	sqfs := siftest.Squash(t, rootfs)
	good := siftest.Build(t, siftest.Object{File: sqfs, Partition: sif.PartPrimSys, Arch: "amd64"})
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noRoot := siftest.Build(t, siftest.Object{File: sqfs}) // generic data only
	dataPart := siftest.Build(t, siftest.Object{File: sqfs, Partition: sif.PartData, Arch: "amd64"})
	cases := []struct {
		name, target, want string
		is                 error
	}{
		{"truncated", write("truncated.sif", raw[:len(raw)/2]), "truncated", nil},
		{"header only", write("header.sif", raw[:200]), "", nil},
		{"no root partition", noRoot, "no root file-system partition", source.ErrNoRootFS},
		{"data partition only", dataPart, "no root file-system partition", source.ErrNoRootFS},
		{"squashfs cut short", write("cut.sqfs", mustRead(t, sqfs)[:4096]), "", nil},
		{"missing", "sif:" + filepath.Join(dir, "absent.sif"), "", source.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := source.Open(context.Background(), c.target, source.Options{})
			if err == nil {
				// Some damage shows only when the layer is read.
				_, err = scanOnly(img)
				img.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), filepath.Base(strings.TrimPrefix(c.target, "sif:"))) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
