package sbom

import (
	"fmt"
	"strings"
	"unicode"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/inventory"
)

// knownTypes are the purl types drydock has packages of.
var knownTypes = map[string]bool{
	inventory.TypeDeb: true, inventory.TypeAPK: true, inventory.TypeRPM: true, inventory.TypeGo: true,
	inventory.TypeNPM: true, inventory.TypePyPI: true, inventory.TypeMaven: true, inventory.TypeGem: true,
	inventory.TypeCargo: true, inventory.TypeComposer: true, inventory.TypeNuGet: true,
}

// fromPURL turns a package-url into a package, named as drydock's
// analyzers name packages of that ecosystem; distro is the purl's distro
// qualifier ("debian-12"), namespace its namespace ("debian").
func fromPURL(s string) (p inventory.Package, distro, namespace string, err error) {
	if len(s) > 4096 {
		return p, "", "", fmt.Errorf("purl longer than 4096 bytes")
	}
	u, err := packageurl.FromString(s)
	if err != nil {
		return p, "", "", fmt.Errorf("invalid purl %q: %w", s, err)
	}
	if !knownTypes[u.Type] {
		return p, "", "", fmt.Errorf("purl type %q", u.Type)
	}
	q := u.Qualifiers.Map()
	p = inventory.Package{Type: u.Type, Name: u.Name, Version: u.Version, PURL: s, Arch: q["arch"]}
	switch u.Type {
	case inventory.TypeNPM:
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
	case inventory.TypeGo, inventory.TypeComposer:
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
	case inventory.TypeMaven:
		if u.Namespace != "" {
			p.Name = u.Namespace + ":" + u.Name
		}
	case inventory.TypeRPM:
		if e := q["epoch"]; e != "" && e != "0" {
			p.Version = e + ":" + p.Version
		}
	}
	if inventory.IsOS(u.Type) {
		if up := q["upstream"]; up != "" {
			name, ver, _ := strings.Cut(up, "@")
			p.SourceName, p.SourceVersion = name, ver
		}
		if p.SourceName == "" {
			p.SourceName = p.Name
		}
		if p.SourceVersion == "" {
			p.SourceVersion = p.Version
		}
	}
	return p, q["distro"], u.Namespace, nil
}

// osFromDistro reads a purl distro qualifier: "debian-12", "debian-12.5",
// "alpine-3.19", or "bookworm" with the namespace as the id.
func osFromDistro(distro, namespace string) *inventory.OS {
	if distro == "" && namespace == "" {
		return nil
	}
	id, ver := namespace, ""
	// The version starts at the first "-" followed by a digit:
	// "opensuse-leap-15.5" is opensuse-leap 15.5.
	for i := 0; i+1 < len(distro); i++ {
		if distro[i] == '-' && unicode.IsDigit(rune(distro[i+1])) {
			id, ver = distro[:i], distro[i+1:]
			break
		}
	}
	if ver == "" && distro != "" {
		if distro[0] >= '0' && distro[0] <= '9' {
			ver = distro
		} else if distro != namespace {
			return &inventory.OS{ID: strings.ToLower(namespace), Codename: distro}
		}
	}
	if id == "" {
		id = namespace
	}
	o := &inventory.OS{ID: strings.ToLower(id), VersionID: ver}
	// "debian-12.15" is Debian 12, point release 12.15.
	if o.ID == "debian" {
		if major, _, ok := strings.Cut(ver, "."); ok {
			o.VersionID, o.Version = major, ver
		}
	}
	return o
}

// preferName keeps the document's spelling of a package name when it is
// the purl's name up to the purl's normalisation (pkg:pypi/pyyaml is
// "PyYAML" as its metadata spells it); names are tried as given, and
// joined with their group as Maven and npm join them.
func preferName(p *inventory.Package, name, group string) {
	cands := []string{name}
	if group != "" {
		cands = append([]string{group + ":" + name, group + "/" + name}, cands...)
	}
	for _, c := range cands {
		if c != "" && c != p.Name && normName(c) == normName(p.Name) {
			p.Name = c
			return
		}
	}
}

func normName(s string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(s))
}
