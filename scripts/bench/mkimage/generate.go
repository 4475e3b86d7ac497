package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
)

// filesPerPackage is the size of one generated package directory: a
// package.json and lib/ files, as in a node_modules tree.
const filesPerPackage = 50

// generate writes n entries of small files spread over layers gzip layer
// tars in dir, node_modules style: each layer adds its own tree of
// packages. Every layer after the first also changes the one below it:
// it overwrites 1% of its files, deletes another 1% with file whiteouts,
// deletes one package in a thousand with a directory whiteout, and makes
// one package's lib/ opaque. Entries and content are a function of n and
// layers only, so the image is the same on every machine.
func generate(dir string, n, layers int) ([]string, error) {
	var paths []string
	perLayer := n / layers
	for l := 0; l < layers; l++ {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", l))
		count := perLayer
		if l == layers-1 {
			count = n - perLayer*(layers-1)
		}
		if err := writeLayer(p, l, count, perLayer); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeLayer(p string, layer, count, below int) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	tw := tar.NewWriter(bw)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	written := 0
	add := func(name string, typ byte, body []byte) error {
		h := &tar.Header{Name: name, Typeflag: typ, Mode: 0o644, ModTime: mtime, Size: int64(len(body)), Format: tar.FormatPAX}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		written++
		if len(body) > 0 {
			_, err := tw.Write(body)
			return err
		}
		return nil
	}
	root := fmt.Sprintf("app%d/node_modules/", layer)
	if err := add(fmt.Sprintf("app%d/", layer), tar.TypeDir, nil); err != nil {
		return err
	}
	if err := add(root, tar.TypeDir, nil); err != nil {
		return err
	}
	if layer > 0 {
		// Changes to the layer below: its files are
		// app<layer-1>/node_modules/pkg-P/lib/file-F.js.
		lower := fmt.Sprintf("app%d/node_modules/", layer-1)
		packages := below / filesPerPackage
		for i := 0; i < below/100 && written < count; i++ {
			pkg, file := (i*7919)%max(packages, 1), i%(filesPerPackage-3)
			if err := add(fmt.Sprintf("%spkg-%07d/lib/file-%03d.js", lower, pkg, file), tar.TypeReg, []byte("overwritten\n")); err != nil {
				return err
			}
			if err := add(fmt.Sprintf("%spkg-%07d/lib/.wh.file-%03d.js", lower, (pkg+1)%max(packages, 1), file), tar.TypeReg, nil); err != nil {
				return err
			}
		}
		for pkg := 500; pkg < packages && written < count; pkg += 1000 {
			if err := add(fmt.Sprintf("%s.wh.pkg-%07d", lower, pkg), tar.TypeReg, nil); err != nil {
				return err
			}
		}
		if err := add(fmt.Sprintf("%spkg-%07d/lib/.wh..wh..opq", lower, 1), tar.TypeReg, nil); err != nil {
			return err
		}
	}
	for pkg := 0; written < count; pkg++ {
		dir := fmt.Sprintf("%spkg-%07d/", root, pkg)
		if err := add(dir, tar.TypeDir, nil); err != nil {
			return err
		}
		manifest := fmt.Sprintf(`{"name":"pkg-%07d","version":"1.%d.%d"}`+"\n", pkg, layer, pkg%100)
		if err := add(dir+"package.json", tar.TypeReg, []byte(manifest)); err != nil {
			return err
		}
		if err := add(dir+"lib/", tar.TypeDir, nil); err != nil {
			return err
		}
		for file := 0; file < filesPerPackage-3 && written < count; file++ {
			body := fmt.Appendf(nil, "module.exports = %d;\n", pkg*filesPerPackage+file)
			if err := add(fmt.Sprintf("%slib/file-%03d.js", dir, file), tar.TypeReg, body); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
