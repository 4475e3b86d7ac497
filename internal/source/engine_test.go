package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/analyze/analyzers"
	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/scan"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/enginetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	enginetest.Stop()
	os.Exit(code)
}

// scanned is an image's inventory with what identifies it.
type scanned struct {
	OS       *inventory.OS
	Packages []inventory.Package
	DiffIDs  []string
	Config   string
}

func scanTarget(t *testing.T, target string, opts source.Options) (*source.Image, scanned) {
	t.Helper()
	ctx := context.Background()
	img, err := source.Open(ctx, target, opts)
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	t.Cleanup(func() { img.Close() })
	res, err := scan.Image(ctx, img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
	if err != nil {
		t.Fatalf("scan %s: %v", target, err)
	}
	s := scanned{OS: res.Inventory.OS, Packages: res.Inventory.Packages}
	for i := range s.Packages {
		s.Packages[i].Files = nil
	}
	for _, l := range img.Layers {
		s.DiffIDs = append(s.DiffIDs, l.DiffID.String())
	}
	if img.Image != nil {
		if d, err := img.Image.ConfigName(); err == nil {
			s.Config = d.String()
		}
	}
	return img, s
}

// engineImages are the corpus images small enough to load in every
// test run, with the name their docker archive tags them with.
var engineImages = []struct{ dir, name string }{
	{"edge-layers", "corpus/edge-layers:latest"},
	{"multiarch-busybox", "corpus/multiarch-busybox:latest"},
}

// TestEngines: each image loaded into each engine gives the inventory of
// the same image's OCI layout.
func TestEngines(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	for _, engine := range []string{"docker", "podman"} {
		t.Run(engine, func(t *testing.T) {
			var e *enginetest.Engine
			opts := source.Options{}
			if engine == "docker" {
				e = enginetest.Docker(t)
				opts.DockerHost = e.Host
			} else {
				e = enginetest.Podman(t)
				opts.PodmanHost = e.Host
			}
			for _, im := range engineImages {
				e.Load(t, filepath.Join(corpus, im.dir, "docker-archive.tar"))
				_, want := scanTarget(t, filepath.Join(corpus, im.dir, "oci"), source.Options{Platform: &amd64})
				img, got := scanTarget(t, engine+":"+im.name, opts)
				if string(img.Kind) != engine || img.Name != im.name {
					t.Errorf("%s: kind %q name %q", im.name, img.Kind, img.Name)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s from %s differs from its OCI layout (-oci +%s):\n%s", im.name, engine, engine, diff)
				}
				if len(got.Packages) == 0 {
					t.Errorf("%s: no packages", im.name)
				}
			}
		})
	}
}

var amd64 = source.DefaultPlatform()

// TestBareName: a NAME:TAG that is no path is looked for in the engines
// in --image-src order.
func TestBareName(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	d, p := enginetest.Docker(t), enginetest.Podman(t)
	archive := filepath.Join(corpus, "edge-layers", "docker-archive.tar")
	d.Load(t, archive)
	p.Load(t, archive)
	base := source.Options{DockerHost: d.Host, PodmanHost: p.Host}
	for _, c := range []struct {
		order []source.Kind
		want  source.Kind
	}{
		{nil, source.KindDocker},
		{[]source.Kind{source.KindPodman, source.KindDocker}, source.KindPodman},
		{[]source.Kind{source.KindDocker}, source.KindDocker},
	} {
		o := base
		o.ImageSources = c.order
		img, err := source.Open(context.Background(), "corpus/edge-layers:latest", o)
		if err != nil {
			t.Fatalf("%v: %v", c.order, err)
		}
		if img.Kind != c.want {
			t.Errorf("order %v: opened from %s, want %s", c.order, img.Kind, c.want)
		}
		img.Close()
	}
	// Not in an engine, no registry in the list: the engine's error.
	o := base
	o.ImageSources = []source.Kind{source.KindDocker}
	if _, err := source.Open(context.Background(), "corpus/absent:1", o); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("absent image: %v, want ErrNotFound", err)
	}
}

func TestEngineErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// No engine listens on this socket.
	for _, kind := range []string{"docker", "podman"} {
		opts := source.Options{DockerHost: "unix://" + dir + "/none.sock", PodmanHost: "unix://" + dir + "/none.sock"}
		_, err := source.Open(ctx, kind+":corpus/edge-layers:latest", opts)
		if !errors.Is(err, source.ErrEngine) || !strings.Contains(err.Error(), dir+"/none.sock") {
			t.Errorf("%s, engine not running: %v; want ErrEngine naming the socket", kind, err)
		}
	}
	e := enginetest.Docker(t)
	_, err := source.Open(ctx, "docker:corpus/not-loaded:1.0", source.Options{DockerHost: e.Host})
	if !errors.Is(err, source.ErrNotFound) || !strings.Contains(err.Error(), "corpus/not-loaded:1.0") {
		t.Errorf("image not in the engine: %v; want ErrNotFound naming the image", err)
	}
}

func scanOnly(img *source.Image) (*scan.Result, error) {
	return scan.Image(context.Background(), img, scan.Options{Analyzers: analyzers.For(analyze.ModeImage)})
}
