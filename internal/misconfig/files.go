package misconfig

import (
	"fmt"
	"io/fs"
	"iter"
	"path"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/finding"
)

// FileEntry is one entry of the image's final file system.
type FileEntry struct {
	// Path is clean and relative to the root.
	Path string
	// Dir, Symlink tell the entry's type; anything else is a file.
	Dir, Symlink bool
	Mode         fs.FileMode
	Size         int64
	// Layer is the index of the layer that wrote the entry.
	Layer int
}

// tempDirs are the directories where world-writable entries are
// expected.
var tempDirs = []string{"tmp", "var/tmp", "dev/shm", "run/lock", "var/lock"}

// cache is one package manager's cache location.
type cache struct {
	name string
	dir  string
	// keep reports files that belong there even when clean.
	keep func(rel string) bool
}

var caches = []cache{
	{name: "apt package lists", dir: "var/lib/apt/lists", keep: func(r string) bool {
		return r == "lock" || strings.HasPrefix(r, "partial/") || strings.HasPrefix(r, "auxfiles/")
	}},
	{name: "apt downloaded packages", dir: "var/cache/apt/archives", keep: func(r string) bool {
		return r == "lock" || strings.HasPrefix(r, "partial/")
	}},
	{name: "apk cache", dir: "var/cache/apk"},
	{name: "yum cache", dir: "var/cache/yum"},
	{name: "dnf cache", dir: "var/cache/dnf"},
	{name: "pip cache", dir: "root/.cache/pip"},
	{name: "npm cache", dir: "root/.npm/_cacache"},
	{name: "Go build cache", dir: "root/.cache/go-build"},
}

// sudoPaths are where sudo's binary lives.
var sudoPaths = []string{"usr/bin/sudo", "bin/sudo", "usr/local/bin/sudo", "usr/sbin/sudo"}

// KeepName names the Keep rule below for caches of layer results; change it
// whenever Keep keeps other entries.
const KeepName = "misconfig-files/1"

// Keep reports whether the file checks (and the Dockerfile search of a
// directory scan) need the entry at p, of type typ (analyze.EntryFile, …)
// and mode: the layer walk keeps those whole and every other path only as
// a hash.
func Keep(p, _ string, mode fs.FileMode) bool {
	if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 || (mode.Perm()&0o002 != 0 && !inTemp(p)) {
		return true
	}
	if slices.Contains(sudoPaths, p) || IsDockerfileName(path.Base(p)) {
		return true
	}
	for _, c := range caches {
		if strings.HasPrefix(p, c.dir+"/") {
			return true
		}
	}
	return false
}

// Files runs the file checks over the final file system. Only entries
// still present fire: a setuid file a later layer deleted is not in the
// image's file system any more.
func Files(entries iter.Seq[FileEntry]) []finding.Misconfiguration {
	var out []finding.Misconfiguration
	type agg struct {
		files int
		bytes int64
		layer int
	}
	found := map[string]*agg{}
	for e := range entries {
		if e.Symlink {
			continue
		}
		layer := e.Layer
		if !e.Dir && e.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			var bits []string
			if e.Mode&fs.ModeSetuid != 0 {
				bits = append(bits, "setuid")
			}
			if e.Mode&fs.ModeSetgid != 0 {
				bits = append(bits, "setgid")
			}
			f := newFinding(SetuidSetgid, "file", fmt.Sprintf("/%s is %s (mode %s)", e.Path, strings.Join(bits, " and "), octal(e.Mode)))
			f.Path, f.LayerIndex = "/"+e.Path, &layer
			out = append(out, f)
		}
		if e.Mode.Perm()&0o002 != 0 && !inTemp(e.Path) {
			kind := "file"
			if e.Dir {
				kind = "directory"
			}
			f := newFinding(WorldWritable, "file", fmt.Sprintf("%s /%s is writable by everyone (mode %s)", kind, e.Path, octal(e.Mode)))
			f.Path, f.LayerIndex = "/"+e.Path, &layer
			out = append(out, f)
		}
		if !e.Dir {
			for _, c := range caches {
				rel, ok := strings.CutPrefix(e.Path, c.dir+"/")
				if !ok || (c.keep != nil && c.keep(rel)) {
					continue
				}
				a := found[c.dir]
				if a == nil {
					a = &agg{layer: layer}
					found[c.dir] = a
				}
				a.files++
				a.bytes += e.Size
				a.layer = max(a.layer, layer)
			}
			if slices.Contains(sudoPaths, e.Path) {
				f := newFinding(SudoPresent, "file", "/"+e.Path+" is installed")
				f.Path, f.LayerIndex = "/"+e.Path, &layer
				out = append(out, f)
			}
		}
	}
	for _, c := range caches {
		a := found[c.dir]
		if a == nil {
			continue
		}
		f := newFinding(PackageCache, "file", fmt.Sprintf("%s: %d files, %d bytes in /%s", c.name, a.files, a.bytes, c.dir))
		l := a.layer
		f.Path, f.LayerIndex = "/"+c.dir, &l
		out = append(out, f)
	}
	return out
}

func inTemp(p string) bool {
	for _, t := range tempDirs {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// octal writes a mode as chmod does: 4755, 1777.
func octal(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}
