package inventory

import (
	"cmp"
	"maps"
	"path"
	"slices"
	"strings"
)

// Location is one place a package was found: a file (or, for Python
// distributions, a metadata directory) and the layer that brought it.
type Location struct {
	Path       string `json:"path"`
	Layer      string `json:"layer,omitempty"`
	LayerIndex int    `json:"layer_index"`
}

// AllLocations returns every place p was found, the primary location
// (Path, Layer, LayerIndex) first: Locations when set, else the primary
// location alone.
func (p *Package) AllLocations() []Location {
	if len(p.Locations) > 0 {
		return p.Locations
	}
	return []Location{{Path: p.Path, Layer: p.Layer, LayerIndex: p.LayerIndex}}
}

// Scope returns the unit inside which two records of the same package
// (same purl) are one package with several locations; records in
// different scopes are different packages.
//
//   - OS packages: "" — the image has one package database.
//   - npm: the project, the directory holding package.json, the lock file
//     and node_modules ("/app" for "/app/node_modules/a/node_modules/b/
//     package.json", for "/app/package-lock.json" and for pnpm's
//     "/app/node_modules/.pnpm/…"). Yarn's unplugged packages
//     ("/app/.yarn/unplugged/…") belong to /app too.
//   - PyPI: the directory holding the distribution's metadata — one
//     environment's site-packages — or the lock file.
//   - RubyGems: the gem home (the directory above specifications/), or the
//     project for gems Bundler installed into its vendor/bundle; the
//     directory of a Gemfile.lock.
//   - Composer: the project, the directory holding composer.lock and
//     vendor/ (vendor/composer/installed.json names the same project).
//   - Everything else (Go and Rust binaries, Java archives, .deps.json,
//     go.mod, Cargo.lock): the file itself, so the same library in two
//     applications is two packages.
func Scope(typ, p string) string {
	if IsOS(typ) {
		return ""
	}
	switch typ {
	case TypeNPM:
		if root, _, ok := strings.Cut(p, "/node_modules/"); ok {
			p = root
			if i := strings.Index(p, "/.yarn/unplugged/"); i >= 0 {
				p = p[:i]
			}
			return orRoot(p)
		}
		if i := strings.Index(p, "/.yarn/unplugged/"); i >= 0 {
			return orRoot(p[:i])
		}
		return path.Dir(p)
	case TypePyPI:
		return path.Dir(p)
	case TypeGem:
		if i := strings.Index(p, "/vendor/bundle/"); i >= 0 {
			return orRoot(p[:i])
		}
		d := path.Dir(p)
		if strings.HasSuffix(p, ".gemspec") {
			d = strings.TrimSuffix(d, "/default")
			if path.Base(d) == "specifications" {
				return path.Dir(d)
			}
		}
		return d
	case TypeComposer:
		if root, ok := strings.CutSuffix(p, "/vendor/composer/installed.json"); ok {
			return orRoot(root)
		}
		return path.Dir(p)
	}
	return p
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Consolidate makes one package of the records of the same package (same
// purl, or the same Key when a record has no purl) in the same Scope: the
// installed copy, a project's lock file listing it, a second copy nested
// deeper in the same node_modules tree. The result keeps the first-seen
// order of its packages; each carries every location in Locations (when
// there is more than one), the primary one in Path, Layer and LayerIndex.
//
// The primary location is an installed record before a declared one (a
// lock file or manifest), then the earliest layer, then the shallowest
// path, then the path in byte order. The other fields come from the
// primary record, except:
//
//   - Declared is set only when every record is declared.
//   - Dev and Indirect are set when every record that says how the package
//     is depended on says so: the declared records when there are any (a
//     lock file knows development dependencies, an installed package.json
//     does not), else all of them.
//   - Licenses, Files and missing Meta keys are gathered from all records.
//   - OwnedBy is the first owner any record names.
//
// A group made only of records marked NeedsInstalled (lock file entries
// read in an image without an installed copy beside them) is dropped:
// nothing says the package is in the image.
func Consolidate(pkgs []Package) []Package {
	type group struct{ members []int }
	var order []string
	groups := map[string]*group{}
	for i := range pkgs {
		p := &pkgs[i]
		id := p.PURL
		if id == "" {
			id = p.Key()
		}
		k := p.Type + "\x00" + id + "\x00" + Scope(p.Type, p.Path)
		g, ok := groups[k]
		if !ok {
			g = &group{}
			groups[k] = g
			order = append(order, k)
		}
		g.members = append(g.members, i)
	}
	out := make([]Package, 0, len(order))
	for _, k := range order {
		members := make([]*Package, len(groups[k].members))
		for j, i := range groups[k].members {
			members[j] = &pkgs[i]
		}
		if p, ok := merge(members); ok {
			out = append(out, p)
		}
	}
	return out
}

// merge makes one package of the records of one group.
func merge(members []*Package) (Package, bool) {
	slices.SortStableFunc(members, comparePrimary)
	keep := false
	for _, m := range members {
		if !m.NeedsInstalled {
			keep = true
		}
	}
	if !keep {
		return Package{}, false
	}
	p := *members[0]
	p.NeedsInstalled = false
	if len(members) == 1 {
		return p, true
	}

	p.Locations = nil
	var locs []Location
	seen := map[string]bool{}
	for _, m := range members {
		for _, l := range m.AllLocations() {
			if !seen[l.Path] {
				seen[l.Path] = true
				locs = append(locs, l)
			}
		}
	}
	if len(locs) > 1 {
		p.Locations = locs
	}

	kinds := members
	p.Declared = true
	var declared []*Package
	for _, m := range members {
		if m.Declared {
			declared = append(declared, m)
		} else {
			p.Declared = false
		}
	}
	if len(declared) > 0 {
		kinds = declared
	}
	p.Dev, p.Indirect = true, true
	for _, m := range kinds {
		p.Dev = p.Dev && m.Dev
		p.Indirect = p.Indirect && m.Indirect
	}

	p.Licenses = slices.Clone(p.Licenses)
	p.Files = slices.Clone(p.Files)
	p.Meta = maps.Clone(p.Meta)
	for _, m := range members[1:] {
		for _, l := range m.Licenses {
			if !slices.Contains(p.Licenses, l) {
				p.Licenses = append(p.Licenses, l)
			}
		}
		p.Files = append(p.Files, m.Files...)
		for k, v := range m.Meta {
			if _, ok := p.Meta[k]; !ok {
				if p.Meta == nil {
					p.Meta = map[string]string{}
				}
				p.Meta[k] = v
			}
		}
		if p.OwnedBy == "" {
			p.OwnedBy = m.OwnedBy
		}
	}
	if len(p.Files) > 0 {
		slices.Sort(p.Files)
		p.Files = slices.Compact(p.Files)
	}
	return p, true
}

// comparePrimary orders the records of one package: installed before
// declared, then by layer, path depth and path.
func comparePrimary(a, b *Package) int {
	return cmp.Or(
		boolCmp(a.Declared, b.Declared),
		cmp.Compare(a.LayerIndex, b.LayerIndex),
		cmp.Compare(strings.Count(a.Path, "/"), strings.Count(b.Path, "/")),
		cmp.Compare(a.Path, b.Path),
	)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
