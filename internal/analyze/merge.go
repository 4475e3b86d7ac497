package analyze

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// Merged is the outcome of applying every layer's result bottom-up.
type Merged struct {
	Inventory inventory.Inventory
	View      *View
	// Errors are files still present in the final file system that an
	// analyzer could not read; they make the inventory incomplete.
	Errors []LayerFileError
	// Warnings are oddities worth telling the user.
	Warnings []LayerFileError
}

// LayerFileError is a FileError with the layer it happened in.
type LayerFileError struct {
	FileError
	Layer       int
	LayerDiffID string
}

// Error names the layer and the path, quoted (Go syntax), so that a name
// that is not valid UTF-8 or holds control characters is shown byte for
// byte and cannot forge output.
func (e LayerFileError) Error() string {
	if e.Analyzer == "" {
		return fmt.Sprintf("layer %d (%s): %q: %s", e.Layer, e.LayerDiffID, e.Path, e.Err)
	}
	return fmt.Sprintf("layer %d (%s): %q: %s: %s", e.Layer, e.LayerDiffID, e.Path, e.Analyzer, e.Err)
}

// surviving is one analyzer result whose file is in the final file system.
type surviving struct {
	layer int
	fr    *FileResult
}

// Merge applies layer results in order: the final file system decides
// which files, and so which packages, exist; each package records the
// earliest layer from which its file has listed it without interruption.
// layers[i] describes results[i].
func Merge(results []*LayerResult, layers []inventory.Layer) *Merged {
	v := NewView(results)
	m := &Merged{View: v}
	m.Inventory.Layers = layers

	var live []surviving
	for i, lr := range results {
		for j := range lr.Files {
			fr := &lr.Files[j]
			if e, layer, ok := v.Stat(fr.Path); ok && layer == i && (e.Type == EntryFile || e.Type == EntryHardlink) {
				live = append(live, surviving{layer: i, fr: fr})
			}
		}
		for _, fe := range lr.Errors {
			if e, layer, ok := v.Stat(strings.TrimPrefix(fe.Path, "/")); ok && layer == i && e.Type != EntryDir {
				m.Errors = append(m.Errors, LayerFileError{FileError: fe, Layer: i, LayerDiffID: diffID(layers, i)})
			}
		}
		for _, fe := range lr.Warnings {
			m.Warnings = append(m.Warnings, LayerFileError{FileError: fe, Layer: i, LayerDiffID: diffID(layers, i)})
		}
	}

	m.Inventory.OS = mergeOS(v, live)
	hist := newHistory(results, v)
	var pkgs []inventory.Package
	owned := map[string][]string{}    // ownerKey → files
	licences := map[string][]string{} // type\x00name → licences
	for _, s := range live {
		fr := s.fr
		if fr.Owned != nil {
			k := ownerKey(fr.Owned.Type, fr.Owned.Package, fr.Owned.Arch)
			owned[k] = append(owned[k], fr.Owned.Files...)
		}
		if fr.License != nil {
			licences[fr.License.Type+"\x00"+fr.License.Package] = fr.License.Licenses
		}
		for _, p := range fr.Packages {
			p.LayerIndex = hist.firstLayer(fr.Path, fr.Analyzer, p.Key(), s.layer)
			p.Layer = diffID(layers, p.LayerIndex)
			pkgs = append(pkgs, p)
		}
	}
	debDocAliases(v, licences)
	// Which OS package installed each language package's file: the one
	// owning its path, else the one owning its canonical path (directories
	// resolved through the final file system's symlinks); a file matches
	// in either of its own forms, and the last package listing it wins.
	// The OS packages own tens of thousands of files and the language
	// packages ask about a few hundred, so only the asked paths are
	// indexed and the owned files are looked up without building strings.
	dirs := map[string]string{} // memo of canonical directories
	type ask struct {
		pkg   int
		canon bool // asked under the canonical form
	}
	asked := map[pathKey][]ask{}
	for i := range pkgs {
		p := &pkgs[i]
		if inventory.IsOS(p.Type) || p.OwnedBy != "" {
			continue
		}
		raw := splitAbs(p.Path)
		asked[raw] = append(asked[raw], ask{i, false})
		if c := canonicalKey(v, raw, dirs); c != raw {
			asked[c] = append(asked[c], ask{i, true})
		}
	}
	byPath, byCanon := map[int]string{}, map[int]string{} // index in pkgs → "type:name"
	for i := range pkgs {
		p := &pkgs[i]
		if !inventory.IsOS(p.Type) {
			continue
		}
		files := owned[ownerKey(p.Type, p.Name, p.Arch)]
		if files == nil {
			files = owned[ownerKey(p.Type, p.Name, "")]
		}
		if len(files) > 0 {
			p.Files = append(p.Files, files...)
		}
		slices.Sort(p.Files)
		p.Files = slices.Compact(p.Files)
		if l, ok := licences[p.Type+"\x00"+p.Name]; ok && len(p.Licenses) == 0 {
			p.Licenses = l
		}
		if len(asked) == 0 {
			continue
		}
		owner := p.Type + ":" + p.Name
		for _, f := range p.Files {
			raw := splitAbs(f)
			forms := [2]pathKey{raw, canonicalKey(v, raw, dirs)}
			for n, k := range forms {
				if n == 1 && k == raw {
					break
				}
				for _, a := range asked[k] {
					if a.canon {
						byCanon[a.pkg] = owner
					} else {
						byPath[a.pkg] = owner
					}
				}
			}
		}
	}
	for j, o := range byCanon {
		pkgs[j].OwnedBy = o
	}
	for j, o := range byPath {
		pkgs[j].OwnedBy = o
	}
	for i := range pkgs {
		pkgs[i].PURL = inventory.PURL(&pkgs[i], m.Inventory.OS)
	}
	m.Inventory.Packages = inventory.Consolidate(pkgs)
	m.Inventory.Sort()
	return m
}

func diffID(layers []inventory.Layer, i int) string {
	if i >= 0 && i < len(layers) {
		return layers[i].DiffID
	}
	return ""
}

func ownerKey(typ, name, arch string) string { return typ + "\x00" + name + "\x00" + arch }

// pathKey is a path as its directory (relative to the root, no trailing
// slash) and its last element; rel marks a path that did not start at
// the root, so that two different strings never share a key.
type pathKey struct {
	dir, base string
	rel       bool
}

func splitAbs(p string) pathKey {
	rest, abs := strings.CutPrefix(p, "/")
	dir, base := path.Split(rest)
	return pathKey{strings.TrimSuffix(dir, "/"), base, !abs}
}

// canonicalKey resolves the directory part of a path through the final
// file system's symlinks (/lib/x → /usr/lib/x on merged-/usr systems),
// memoising directories.
func canonicalKey(v *View, k pathKey, memo map[string]string) pathKey {
	return pathKey{canonicalDir(v, k.dir, memo), k.base, false}
}

// canonicalDir resolves a directory (relative to the root) the way
// View.Resolve does, parent first: below a resolved parent only the last
// element can still be a symlink, so most directories cost one lookup.
// A directory that cannot be resolved (a link loop) stands for itself.
func canonicalDir(v *View, dir string, memo map[string]string) string {
	if c, ok := memo[dir]; ok {
		return c
	}
	c := dir
	parent, last := path.Split(dir)
	switch {
	case dir == "" || last == "." || last == ".." || strings.HasSuffix(parent, "//"):
		// Not a plain path: resolve it whole.
		if r, err := v.Resolve(dir); err == nil {
			c = r
		}
	default:
		cand := last
		if parent != "" {
			if cp := canonicalDir(v, strings.TrimSuffix(parent, "/"), memo); cp != "" {
				cand = cp + "/" + last
			}
		}
		c = cand
		if _, ok := v.symlink(cand); ok {
			if r, err := v.Resolve(cand); err == nil {
				c = r
			} else {
				c = dir
			}
		}
	}
	memo[dir] = c
	return c
}

// debDocAliases gives packages whose /usr/share/doc/<name> is a symlink
// to another package's documentation that package's licences.
func debDocAliases(v *View, licences map[string][]string) {
	v.Symlinks("usr/share/doc", func(name, _ string) {
		if _, ok := licences[inventory.TypeDeb+"\x00"+name]; ok {
			return
		}
		target, err := v.Resolve("usr/share/doc/" + name)
		if err != nil {
			return
		}
		if other, ok := strings.CutPrefix(target, "usr/share/doc/"); ok && !strings.Contains(other, "/") {
			if l, ok := licences[inventory.TypeDeb+"\x00"+other]; ok {
				licences[inventory.TypeDeb+"\x00"+name] = l
			}
		}
	})
}

// history answers "since which layer has this file listed this package".
type history struct {
	results []*LayerResult
	view    *View
	// listed holds, per layer (built on first use), the keys of the
	// packages each file lists per analyzer.
	listed []map[fileAnalyzer]map[string]bool
}

type fileAnalyzer struct{ path, analyzer string }

func newHistory(results []*LayerResult, v *View) *history {
	return &history{results: results, view: v, listed: make([]map[fileAnalyzer]map[string]bool, len(results))}
}

// written reports whether layer j writes p.
func (h *history) written(j int, p string) bool { return h.view.layers[j].index.Has(p) }

// deleted reports whether layer j hides p from the layers below it.
func (h *history) deleted(j int, p string) bool {
	return h.view.layers[j].hides(hashPath(p), h.view.ancestors(p))
}

func (h *history) firstLayer(p, analyzer, key string, from int) int {
	first := from
	for j := from - 1; j >= 0; j-- {
		if h.deleted(j+1, p) {
			break
		}
		if !h.written(j, p) {
			continue
		}
		if !h.lists(j, p, analyzer, key) {
			break
		}
		first = j
	}
	return first
}

func (h *history) lists(layer int, p, analyzer, key string) bool {
	if h.listed[layer] == nil {
		m := map[fileAnalyzer]map[string]bool{}
		for _, fr := range h.results[layer].Files {
			if len(fr.Packages) == 0 {
				continue
			}
			k := fileAnalyzer{fr.Path, fr.Analyzer}
			keys := m[k]
			if keys == nil {
				keys = make(map[string]bool, len(fr.Packages))
				m[k] = keys
			}
			for i := range fr.Packages {
				keys[fr.Packages[i].Key()] = true
			}
		}
		h.listed[layer] = m
	}
	return h.listed[layer][fileAnalyzer{p, analyzer}][key]
}

// osFiles lists where OS facts come from, most authoritative first. The
// os-release paths are resolved through the final file system's symlinks.
var osFiles = []string{
	"etc/os-release", "usr/lib/os-release",
	"etc/alpine-release", "etc/redhat-release", "etc/centos-release",
	"etc/system-release", "etc/SuSE-release", "etc/lsb-release", "etc/debian_version",
}

// refiners are files that make the primary OS's version more precise.
var refiners = map[string]string{
	"etc/debian_version": "debian",
	"etc/alpine-release": "alpine",
}

func mergeOS(v *View, live []surviving) *inventory.OS {
	facts := map[string]*inventory.OS{}
	distroless := false
	for _, s := range live {
		if s.fr.OS != nil {
			facts[s.fr.Path] = s.fr.OS
		}
		if strings.HasPrefix(s.fr.Path, "var/lib/dpkg/status.d/") && len(s.fr.Packages) > 0 {
			distroless = true
		}
	}
	var primary *inventory.OS
	for _, f := range osFiles {
		p, err := v.Resolve(f)
		if err != nil {
			continue
		}
		if o, ok := facts[p]; ok {
			c := *o
			primary = &c
			break
		}
	}
	if primary == nil {
		return nil
	}
	for f, id := range refiners {
		p, err := v.Resolve(f)
		if err != nil {
			continue
		}
		if o, ok := facts[p]; ok && primary.ID == id && o.Version != "" {
			primary.Version = o.Version
			if primary.VersionID == "" {
				primary.VersionID = o.VersionID
			}
		}
	}
	primary.Distroless = primary.Distroless || distroless
	return primary
}
