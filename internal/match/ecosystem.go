package match

import (
	"strings"

	"github.com/drydockscan/drydock/internal/analyze/gobinary"
	"github.com/drydockscan/drydock/internal/analyze/gomod"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/version"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// target is one inventory package as the database knows it.
type target struct {
	pkg     int    // index in the inventory's packages
	eco     string // database ecosystem ("Debian:12", "Go")
	name    string // name to look up (the source package for OS packages)
	version string // version to check (the source version for OS packages)
	os      bool   // an OS package, matched in the distribution's feed
	distro  string // for OS packages, the distribution's rating source ("debian")
	cmp     version.Comparer
}

// targets resolves the inventory's packages to database ecosystems,
// dropping (with a debug log) those that cannot be matched.
func (m *matcher) targets(inv *inventory.Inventory) []target {
	osEco, distro := OSEcosystem(inv.OS)
	family := inv.OS.Family()
	if osEco == "" && inv.OS != nil {
		m.log.Debug("no vulnerability feed for the distribution: OS packages not matched", "os", inv.OS.ID, "version_id", inv.OS.VersionID)
	}
	out := make([]target, 0, len(inv.Packages))
	for i := range inv.Packages {
		p := &inv.Packages[i]
		t := target{pkg: i}
		if inventory.IsOS(p.Type) {
			if osEco == "" || p.Type != family {
				continue
			}
			t.os, t.eco, t.distro = true, osEco, distro
			t.name, t.version = osSource(osEco, p)
		} else {
			if p.OwnedBy != "" && !m.opts.IncludeOSOwned && osEco != "" {
				// The owning OS package is matched in the distribution's
				// feed, which knows the distribution's patches.
				continue
			}
			eco := LanguageEcosystem(p.Type)
			if eco == "" {
				m.log.Debug("no vulnerability ecosystem for package type", "type", p.Type, "package", p.Name, "path", p.Path)
				continue
			}
			if eco == "Go" && p.Name == gobinary.StdlibName && p.Meta[gomod.MetaFrom] != "" {
				// go.mod's go and toolchain directives give a minimum,
				// not the toolchain that builds the module.
				continue
			}
			t.eco, t.name, t.version = eco, p.Name, p.Version
		}
		c, ok := version.For(t.eco)
		if !ok {
			m.log.Debug("no version order for ecosystem", "ecosystem", t.eco, "package", p.Name)
			continue
		}
		t.cmp = c
		if t.name == "" || t.version == "" {
			m.log.Debug("package without name or version not matched", "type", p.Type, "package", p.Name, "path", p.Path)
			continue
		}
		if err := version.Validate(c, t.version); err != nil {
			m.log.Debug("package version not matched", "ecosystem", t.eco, "package", p.Name, "path", p.Path, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out
}

// OSEcosystem returns the database ecosystem of an image's distribution
// release ("Debian:12", "Alpine:v3.19", "Ubuntu:22.04") and the name its
// own severity ratings carry ("debian"), or "" when no feed covers it.
func OSEcosystem(o *inventory.OS) (eco, distro string) {
	if o == nil {
		return "", ""
	}
	switch o.ID {
	case "debian":
		rel := ""
		if v := o.VersionID; v != "" {
			rel, _, _ = strings.Cut(v, ".")
		} else if n, ok := vulndb.DebianRelease(o.Codename); ok {
			rel = n
		}
		if rel == "" {
			return "", ""
		}
		return vulndb.NormalizeEcosystem("Debian:" + rel), "debian"
	case "ubuntu":
		if o.VersionID == "" {
			return "", ""
		}
		return vulndb.NormalizeEcosystem("Ubuntu:" + o.VersionID), "ubuntu"
	case "alpine":
		v := o.VersionID
		if v == "" {
			v = o.Version
		}
		eco := vulndb.NormalizeEcosystem("Alpine:" + v)
		if !strings.HasPrefix(eco, "Alpine:v") || strings.Contains(v, "_") {
			// edge ("3.21.0_alpha20240807") is not the release it
			// precedes, and has no feed.
			return "", ""
		}
		return eco, "alpine"
	case "wolfi":
		return "Wolfi", "wolfi"
	case "chainguard":
		return "Chainguard", "chainguard"
	case "almalinux":
		if o.VersionID == "" {
			return "", ""
		}
		return vulndb.NormalizeEcosystem("AlmaLinux:" + o.VersionID), "almalinux"
	case "rocky":
		if o.VersionID == "" {
			return "", ""
		}
		return vulndb.NormalizeEcosystem("Rocky Linux:" + o.VersionID), "rocky"
	}
	return "", ""
}

// LanguageEcosystem returns the database ecosystem of a language package
// type, or "" for types no feed covers.
func LanguageEcosystem(typ string) string {
	switch typ {
	case inventory.TypeGo:
		return "Go"
	case inventory.TypeNPM:
		return "npm"
	case inventory.TypePyPI:
		return "PyPI"
	case inventory.TypeMaven:
		return "Maven"
	case inventory.TypeCargo:
		return "crates.io"
	case inventory.TypeGem:
		return "RubyGems"
	case inventory.TypeComposer:
		return "Packagist"
	case inventory.TypeNuGet:
		return "NuGet"
	}
	return ""
}

// osSource returns the source package name and version an OS package's
// vulnerabilities are tracked under.
func osSource(eco string, p *inventory.Package) (name, ver string) {
	name, ver = p.SourceName, p.SourceVersion
	if name == "" {
		name = p.Name
	}
	if ver == "" {
		ver = p.Version
	}
	// Debian's signed kernel images are built from linux-signed-<arch>,
	// whose version is not the kernel's; the tracker follows "linux",
	// whose version the binary package carries
	// (linux-signed-amd64 → linux, linux-signed-6.12-amd64 → linux-6.12).
	if rest, ok := strings.CutPrefix(name, "linux-signed-"); ok && vulndb.EcosystemBase(eco) == "Debian" {
		name = "linux"
		if i := strings.LastIndexByte(rest, '-'); i > 0 {
			name += "-" + rest[:i]
		}
		return name, p.Version
	}
	return name, ver
}

// Uncovered counts, per database ecosystem, the packages of inv the
// matcher would look up in an ecosystem for which has reports no data:
// those packages were not checked, which is not the same as clean. Language
// packages an OS package owns are counted under the distribution, as they
// are matched there.
func Uncovered(inv *inventory.Inventory, has func(ecosystem string) bool) map[string]int {
	out := map[string]int{}
	if inv == nil {
		return out
	}
	osEco, _ := OSEcosystem(inv.OS)
	for i := range inv.Packages {
		p := &inv.Packages[i]
		var eco string
		switch {
		case inventory.IsOS(p.Type), p.OwnedBy != "" && osEco != "":
			eco = osEco
		default:
			eco = LanguageEcosystem(p.Type)
		}
		if eco != "" && !has(vulndb.NormalizeEcosystem(eco)) {
			out[eco]++
		}
	}
	return out
}
