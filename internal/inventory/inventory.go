// Package inventory is drydock's model of what an image contains: its
// operating system and its packages, each with the layer that brought it and
// the file it was found in. It is what SBOM formats are written from and what
// the matcher reads.
package inventory

import (
	"cmp"
	"slices"
	"strings"
)

// Package types, named as package-url types.
const (
	TypeDeb      = "deb"
	TypeAPK      = "apk"
	TypeRPM      = "rpm"
	TypeGo       = "golang"
	TypeNPM      = "npm"
	TypePyPI     = "pypi"
	TypeMaven    = "maven"
	TypeGem      = "gem"
	TypeCargo    = "cargo"
	TypeComposer = "composer"
	TypeNuGet    = "nuget"
)

// IsOS reports whether packages of type t are operating-system packages.
func IsOS(t string) bool { return t == TypeDeb || t == TypeAPK || t == TypeRPM }

// Package is one installed or declared package.
type Package struct {
	// Type is the package-url type (TypeDeb, TypeNPM, …).
	Type string `json:"type"`
	// Name as the ecosystem spells it: Maven "group:artifact", npm with its
	// scope ("@scope/name"), Go module path ("stdlib" for the toolchain).
	Name    string `json:"name"`
	Version string `json:"version"`
	// SourceName and SourceVersion are the OS source package (dpkg Source,
	// apk origin, rpm source RPM); vulnerabilities of OS packages are
	// tracked by source package.
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// Epoch is kept inside Version for dpkg ("1:1.2-3") and rpm
	// ("1:1.2-3.el9") as their tools print them.
	Arch     string   `json:"arch,omitempty"`
	PURL     string   `json:"purl"`
	Licenses []string `json:"licenses,omitempty"`
	// Path is the file the package was found in, absolute inside the image
	// ("/var/lib/dpkg/status", "/app/node/node_modules/a/package.json",
	// "/app/bin/server"): its primary location when it was found in
	// several places (see Consolidate).
	Path string `json:"path"`
	// Layer is the diffID of the layer that brought the package's file at
	// Path, LayerIndex its 0-based position in the image.
	Layer      string `json:"layer,omitempty"`
	LayerIndex int    `json:"layer_index"`
	// Locations lists every place the package was found, the primary
	// location first, when there is more than one (an npm package
	// installed in a project's node_modules and listed in its lock file);
	// empty when Path is the only one. See AllLocations.
	Locations []Location `json:"locations,omitempty"`
	// Declared marks a package read only from lock files or manifests
	// (package-lock.json, requirements.txt, go.mod, …), which say what a
	// project asked for, not from an installed package's own metadata or
	// from a binary.
	Declared bool `json:"declared,omitempty"`
	// NeedsInstalled marks a declared package that counts only where the
	// same package is installed in the same project: a lock file's entry
	// read in an image. Consolidate merges it into the installed package
	// (adding its location and dependency kind) or drops it; it is never
	// set on a consolidated inventory.
	NeedsInstalled bool `json:"needs_installed,omitempty"`
	// OwnedBy names the OS package ("deb:python3-yaml") whose files include
	// this language package; the matcher checks it through the OS feed.
	OwnedBy string `json:"owned_by,omitempty"`
	// Dev marks a development-only dependency (npm devDependencies, …).
	Dev bool `json:"dev,omitempty"`
	// Indirect marks a dependency pulled in by another (npm, Go, …) when
	// the source says so.
	Indirect bool `json:"indirect,omitempty"`
	// Files lists the files an OS package installed, absolute paths as its
	// database records them. Used for ownership; not written to reports.
	Files []string `json:"files,omitempty"`
	// InUse marks a package a recorded run of the image used (drydock image
	// --runtime-events): one of its files was opened, mapped or executed.
	InUse bool `json:"in_use,omitempty"`
	// Meta carries ecosystem-specific facts (Go build settings, the jar's
	// identification method, …) as sorted key/value pairs.
	Meta map[string]string `json:"meta,omitempty"`
}

// Key identifies a package inside one file for layer attribution.
func (p *Package) Key() string {
	return p.Type + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Arch
}

// OS describes the image's operating system.
type OS struct {
	// ID is os-release ID ("debian", "alpine", "rhel", "amzn", "wolfi", …).
	ID         string `json:"id"`
	VersionID  string `json:"version_id,omitempty"`
	Codename   string `json:"codename,omitempty"`
	PrettyName string `json:"pretty_name,omitempty"`
	// IDLike is os-release ID_LIKE.
	IDLike []string `json:"id_like,omitempty"`
	// Version is the most precise release string the image carries
	// (/etc/debian_version "12.15", /etc/alpine-release "3.19.1").
	Version string `json:"version,omitempty"`
	// Distroless is set when the image has OS packages registered
	// distroless-style (dpkg status.d) or no package manager.
	Distroless bool `json:"distroless,omitempty"`
	// Source is the file the facts were read from.
	Source string `json:"source,omitempty"`
}

// Family returns the package family of the OS (deb, apk, rpm) or "".
func (o *OS) Family() string {
	if o == nil {
		return ""
	}
	ids := append([]string{o.ID}, o.IDLike...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return TypeDeb
		case "alpine", "wolfi", "chainguard":
			return TypeAPK
		case "rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol", "sles", "opensuse", "opensuse-leap", "suse", "mariner", "azurelinux", "photon":
			return TypeRPM
		}
	}
	return ""
}

// Layer describes one layer of the scanned image.
type Layer struct {
	Index     int    `json:"index"`
	DiffID    string `json:"diff_id"`
	Digest    string `json:"digest,omitempty"`
	Size      int64  `json:"size,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
}

// Inventory is everything found in one image or directory.
type Inventory struct {
	OS       *OS       `json:"os,omitempty"`
	Packages []Package `json:"packages"`
	Layers   []Layer   `json:"layers,omitempty"`
}

// Sort orders packages deterministically: by type, name, version, path.
func (inv *Inventory) Sort() {
	slices.SortStableFunc(inv.Packages, ComparePackages)
}

// ComparePackages is the deterministic package order used in every output.
func ComparePackages(a, b Package) int {
	return cmp.Or(
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Arch, b.Arch),
	)
}
