// Package siftest builds Singularity/Apptainer SIF files for tests: a
// corpus image's final file system is written to a directory, packed with
// mksquashfs (Debian's squashfs-tools) and wrapped with sylabs' sif
// library, as `singularity build` would. Without mksquashfs the tests
// skip, unless DRYDOCK_REQUIRE_ENGINES=1 (CI) makes that a failure.
package siftest

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/sylabs/sif/v2/pkg/sif"

	"github.com/drydockscan/drydock/internal/source"
)

// RootFS writes the final file system of the image at target (any
// drydock target) into a new directory and returns it.
func RootFS(t testing.TB, target string, platform *source.Options) string {
	t.Helper()
	opts := source.Options{}
	if platform != nil {
		opts = *platform
	}
	img, err := source.Open(context.Background(), target, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	dir := t.TempDir()
	rc := mutate.Extract(img.Image)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var dirs []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		if name == "/" || strings.Contains(h.Name, "..") {
			continue
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, h)
			continue
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				t.Fatal(err)
			}
		case tar.TypeLink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(filepath.Join(dir, path.Clean("/"+h.Linkname)), p); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			continue
		}
		_ = os.Lchown(p, h.Uid, h.Gid)
		if h.Typeflag == tar.TypeReg {
			if err := os.Chmod(p, h.FileInfo().Mode()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, h := range dirs {
		p := filepath.Join(dir, path.Clean("/"+h.Name))
		_ = os.Lchown(p, h.Uid, h.Gid)
		_ = os.Chmod(p, h.FileInfo().Mode().Perm())
	}
	return dir
}

// Squash packs dir into a squashfs image with mksquashfs.
func Squash(t testing.TB, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		if os.Getenv("DRYDOCK_REQUIRE_ENGINES") == "1" {
			t.Fatal("mksquashfs not installed (squashfs-tools) (DRYDOCK_REQUIRE_ENGINES=1)")
		}
		t.Skip("mksquashfs not installed (Debian: squashfs-tools)")
	}
	out := filepath.Join(t.TempDir(), "rootfs.sqfs")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "mksquashfs", dir, out, "-noappend", "-quiet", "-no-progress", "-processors", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, b)
	}
	return out
}

// Object is one data object of a SIF file to build.
type Object struct {
	File string
	// Partition types the object as a squashfs partition of this type
	// (sif.PartPrimSys for the root file system); 0 makes it generic data.
	Partition sif.PartType
	Arch      string
}

// Build writes a SIF file holding the objects.
func Build(t testing.TB, objects ...Object) string {
	t.Helper()
	var dis []sif.DescriptorInput
	for _, o := range objects {
		f, err := os.Open(o.File)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var di sif.DescriptorInput
		if o.Partition != 0 {
			di, err = sif.NewDescriptorInput(sif.DataPartition, f, sif.OptPartitionMetadata(sif.FsSquash, o.Partition, o.Arch))
		} else {
			di, err = sif.NewDescriptorInput(sif.DataGeneric, f, sif.OptObjectName(filepath.Base(o.File)))
		}
		if err != nil {
			t.Fatal(err)
		}
		dis = append(dis, di)
	}
	out := filepath.Join(t.TempDir(), "image.sif")
	fimg, err := sif.CreateContainerAtPath(out, sif.OptCreateWithDescriptors(dis...), sif.OptCreateDeterministic())
	if err != nil {
		t.Fatal(err)
	}
	if err := fimg.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return out
}
