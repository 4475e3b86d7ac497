package run

import (
	"path"
	"sort"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/run/trace"
)

// InUse is a package that a run showed to be in use, and why.
type InUse struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl,omitempty"`
	// Path is where the inventory found the package.
	Path string `json:"path"`
	// Evidence is the first file the run opened, mapped or executed that
	// belongs to the package; How says how it was joined: "owned-file"
	// (the OS package's file list), "binary" (the file the package was
	// found in), "module-dir" (node_modules/<pkg> or site-packages/<pkg>),
	// "owner" (a language package installed by an OS package in use whose
	// file was the evidence), "owned-package" (the OS package that
	// installed a language package in use).
	Evidence string `json:"evidence"`
	How      string `json:"how"`
}

// How values of InUse.
const (
	HowOwnedFile    = "owned-file"
	HowBinary       = "binary"
	HowModuleDir    = "module-dir"
	HowOwner        = "owner"
	HowOwnedPackage = "owned-package"
)

// InUseOptions tune the join.
type InUseOptions struct {
	// Canonical maps a path as a process named it to the image's own
	// spelling (resolving the image's symbolic links); nil keeps paths as
	// they are. The /usr merge (/bin = /usr/bin, /lib = /usr/lib, …) is
	// always understood.
	Canonical func(string) string
}

// pycSource is the source file of a cached bytecode file
// (DIR/__pycache__/NAME.TAG.pyc is compiled from DIR/NAME.py, PEP 3147),
// "" for other paths: Python opens the cache, not the source, and only the
// source is in a package's file list.
func pycSource(p string) string {
	dir, file := path.Split(p)
	if path.Base(dir) != "__pycache__" || !strings.HasSuffix(file, ".pyc") {
		return ""
	}
	name, _, ok := strings.Cut(strings.TrimSuffix(file, ".pyc"), ".")
	if !ok || name == "" {
		return ""
	}
	return path.Join(path.Dir(path.Clean(dir)), name+".py")
}

// usedPaths are the files a run opened, mapped or executed, with the
// first time each was seen kept in order.
func usedPaths(events []trace.Event) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range events {
		if e.Path == "" || e.Result < 0 {
			continue
		}
		switch e.Kind {
		case trace.KindExec:
		case trace.KindOpen:
			if !strings.Contains(e.Access, trace.AccessRead) && !strings.Contains(e.Access, trace.AccessExec) {
				continue
			}
		default:
			continue
		}
		if !seen[e.Path] {
			seen[e.Path] = true
			out = append(out, e.Path)
		}
	}
	return out
}

// usrMerged maps the top directories merged into /usr to their /usr form,
// so that /bin/sh and /usr/bin/sh (and dpkg's /lib/x86_64-linux-gnu/… and
// the loader's /usr/lib/…) meet.
func usrMerged(p string) string {
	p = path.Clean("/" + p)
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "/usr" + p
		}
	}
	return p
}

// PackagesInUse joins the files a run used (opened for reading or
// executing, mapped, executed; refused attempts do not count) with an
// inventory: the OS package owning a file, the package found in the file
// itself (a Go binary, a jar), the node_modules/<pkg> or
// site-packages/<pkg> directory a file was read from, and the language
// packages installed by an OS package in use through such a file. It is a
// pure function of its inputs; the result is sorted like the inventory.
func PackagesInUse(events []trace.Event, inv *inventory.Inventory, o InUseOptions) []InUse {
	canon := func(p string) string {
		if o.Canonical != nil {
			p = o.Canonical(p)
		}
		return usrMerged(p)
	}
	used := usedPaths(events)
	usedSet := map[string]string{} // canonical -> as used
	var usedCanon []string
	for _, p := range used {
		c := canon(p)
		if _, ok := usedSet[c]; !ok {
			usedSet[c] = p
			usedCanon = append(usedCanon, c)
		}
	}
	// The source of a bytecode cache file counts as used, with the cache
	// file as the evidence.
	for _, p := range used {
		if src := pycSource(p); src != "" {
			if c := canon(src); usedSet[c] == "" {
				usedSet[c] = p
				usedCanon = append(usedCanon, c)
			}
		}
	}
	// Directories an OS package lists (dpkg lists every directory it
	// creates, shared ones such as /usr/lib/python3/dist-packages too) are
	// not evidence: opening one to list it uses no package. A listed path
	// is a directory when another listed path lies below it.
	dirs := map[string]bool{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if !inventory.IsOS(p.Type) {
			continue
		}
		for _, f := range p.Files {
			for d := path.Dir(canon(f)); d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
	}
	// Module directories, longest first so the innermost package wins.
	type modDir struct {
		dir string
		idx int
	}
	var mods []modDir
	modFiles := map[string][]int{}
	owners := map[string]int{} // OS package "type:name" -> index
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if inventory.IsOS(p.Type) {
			owners[p.Type+":"+p.Name] = i
		}
		if d := moduleDir(p); d != "" {
			mods = append(mods, modDir{canon(d), i})
			if p.Type == inventory.TypePyPI {
				// A distribution of one module (six.py) has a file, not
				// a directory.
				modFiles[canon(d)+".py"] = append(modFiles[canon(d)+".py"], i)
			}
		}
	}
	sort.Slice(mods, func(a, b int) bool { return len(mods[a].dir) > len(mods[b].dir) })

	hit := map[int]InUse{}
	mark := func(i int, evidence, how string) {
		if _, ok := hit[i]; ok {
			return
		}
		p := &inv.Packages[i]
		hit[i] = InUse{Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL, Path: p.Path, Evidence: usedSet[evidence], How: how}
	}
	// Which file belongs to what.
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if inventory.IsOS(p.Type) {
			for _, f := range p.Files {
				c := canon(f)
				if _, ok := usedSet[c]; ok && !dirs[c] {
					mark(i, c, HowOwnedFile)
					break
				}
			}
			continue
		}
		if p.Path == "" {
			continue
		}
		// The file the package was found in (a binary, a jar; "outer.jar!inner.jar" nests).
		fp, _, _ := strings.Cut(p.Path, "!")
		if _, ok := usedSet[canon(fp)]; ok && isCodeFile(p) {
			mark(i, canon(fp), HowBinary)
		}
	}
	for _, c := range usedCanon {
		for _, i := range modFiles[c] {
			mark(i, c, HowModuleDir)
		}
		// The innermost directory holding the file; every package found
		// for it (an installed package.json and a lock entry) is in use.
		matched := ""
		for _, m := range mods {
			if matched != "" && m.dir != matched {
				break
			}
			if strings.HasPrefix(c, m.dir+"/") {
				matched = m.dir
				mark(m.idx, c, HowModuleDir)
			}
		}
	}
	// The OS package that installed a language package in use is in use:
	// its files are that package's code.
	for i := range inv.Packages {
		p := &inv.Packages[i]
		u, ok := hit[i]
		if !ok || p.OwnedBy == "" {
			continue
		}
		if j, ok := owners[p.OwnedBy]; ok {
			mark(j, canon(u.Evidence), HowOwnedPackage)
		}
	}
	// Language packages installed by an OS package in use: in use when the
	// evidence lies in their own directory.
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if p.OwnedBy == "" {
			continue
		}
		j, ok := owners[p.OwnedBy]
		if !ok {
			continue
		}
		owner, ok := hit[j]
		if !ok {
			continue
		}
		if d := moduleDir(p); d != "" && strings.HasPrefix(canon(owner.Evidence), canon(d)+"/") {
			mark(i, canon(owner.Evidence), HowOwner)
		}
	}
	idx := make([]int, 0, len(hit))
	for i := range hit {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return inventory.ComparePackages(inv.Packages[idx[a]], inv.Packages[idx[b]]) < 0 })
	out := make([]InUse, 0, len(idx))
	for _, i := range idx {
		out = append(out, hit[i])
	}
	return out
}

// isCodeFile: packages found inside the file that is their code (a Go
// binary, a jar, a Rust binary), not in a manifest or lock file.
func isCodeFile(p *inventory.Package) bool {
	switch p.Type {
	case inventory.TypeGo:
		return !strings.HasSuffix(p.Path, "go.mod") && !strings.HasSuffix(p.Path, "go.sum")
	case inventory.TypeMaven:
		b, _, _ := strings.Cut(p.Path, "!")
		return strings.HasSuffix(b, ".jar") || strings.HasSuffix(b, ".war") || strings.HasSuffix(b, ".ear")
	case inventory.TypeCargo:
		return !strings.HasSuffix(p.Path, "Cargo.lock")
	}
	return false
}

// moduleDir is the directory holding a language package's code: npm's
// node_modules/<name> (from its installed package.json, or from a lock
// file's location), Python's site-packages/<name> (from its dist-info or
// egg-info metadata).
func moduleDir(p *inventory.Package) string {
	switch p.Type {
	case inventory.TypeNPM:
		switch {
		case strings.HasSuffix(p.Path, "/package.json") && strings.Contains(p.Path, "/node_modules/"):
			return path.Dir(p.Path)
		case strings.HasSuffix(p.Path, "/package-lock.json") || strings.HasSuffix(p.Path, "/npm-shrinkwrap.json"):
			return path.Join(path.Dir(p.Path), "node_modules", p.Name)
		}
	case inventory.TypePyPI:
		// The metadata directory (…/X.dist-info, …/X.egg-info), or a file
		// in it, or an .egg-info file.
		meta := p.Path
		if b := path.Base(path.Dir(meta)); strings.HasSuffix(b, ".dist-info") || strings.HasSuffix(b, ".egg-info") {
			meta = path.Dir(meta)
		}
		if b := path.Base(meta); strings.HasSuffix(b, ".dist-info") || strings.HasSuffix(b, ".egg-info") {
			return path.Join(path.Dir(meta), pythonImportName(p.Name))
		}
	}
	return ""
}

// pythonImportName guesses the import name of a distribution: lower case,
// "-" and "." as "_", and the well-known renames.
func pythonImportName(dist string) string {
	n := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(dist))
	switch n {
	case "pyyaml":
		return "yaml"
	case "beautifulsoup4":
		return "bs4"
	case "pillow":
		return "PIL"
	case "scikit_learn":
		return "sklearn"
	case "python_dateutil":
		return "dateutil"
	case "setuptools", "pip", "wheel":
		return n
	}
	return n
}
