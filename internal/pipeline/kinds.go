package pipeline

import (
	"io/fs"
	"iter"
	"path"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/misconfig"
)

// finalFiles lists the final file system's entries for the file checks.
// It is the one place that knows how the final file system is held.
func finalFiles(v *analyze.View) iter.Seq[misconfig.FileEntry] {
	return func(yield func(misconfig.FileEntry) bool) {
		if v == nil {
			return
		}
		stop := false
		v.Walk(func(p string, e *analyze.Entry, layer int) {
			if stop {
				return
			}
			fe := misconfig.FileEntry{Path: p, Dir: e.Type == analyze.EntryDir, Symlink: e.Type == analyze.EntrySymlink,
				Mode: fs.FileMode(e.Mode), Size: e.Size, Layer: layer}
			if !yield(fe) {
				stop = true
			}
		})
	}
}

// findDockerfiles lists the Dockerfiles of a directory scan (Dockerfile,
// Containerfile, *.Dockerfile, Dockerfile.*), sorted.
func findDockerfiles(v *analyze.View) []string {
	var out []string
	for fe := range finalFiles(v) {
		if fe.Dir || fe.Symlink || strings.Contains(fe.Path, "node_modules/") || strings.HasPrefix(fe.Path, ".git/") {
			continue
		}
		if misconfig.IsDockerfileName(path.Base(fe.Path)) {
			out = append(out, fe.Path)
		}
	}
	slices.Sort(out)
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
