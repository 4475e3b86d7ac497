package policy

import (
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
)

// packageMatchesPURL reports whether the package p is the one want names.
// want's type, namespace and name must equal p's; its version, when it has
// one, must equal p's; each qualifier it has must be on p with the same
// value (a statement without qualifiers matches every arch and distro).
// An OS package also matches a purl of its source package
// (pkg:deb/debian/openssl names libssl3, built from openssl).
func packageMatchesPURL(p *finding.Package, want *packageurl.PackageURL) bool {
	have, err := packageurl.FromString(p.PURL)
	if err != nil {
		return false
	}
	if purlMatches(want, &have) {
		return true
	}
	if !inventory.IsOS(p.Type) || p.SourceName == "" {
		return false
	}
	src, ok := sourcePURL(p, &have)
	return ok && purlMatches(want, src)
}

// sourcePURL is the purl of the source package an OS package was built
// from: same type and namespace, the source name and version, arch=source.
func sourcePURL(p *finding.Package, bin *packageurl.PackageURL) (*packageurl.PackageURL, bool) {
	version := p.SourceVersion
	if version == "" {
		version = p.Version
	}
	var q packageurl.Qualifiers
	for _, x := range bin.Qualifiers {
		switch x.Key {
		case "arch", "upstream":
		default:
			q = append(q, x)
		}
	}
	q = append(q, packageurl.Qualifier{Key: "arch", Value: "source"})
	s := packageurl.NewPackageURL(bin.Type, bin.Namespace, p.SourceName, version, q, "").ToString()
	src, err := packageurl.FromString(s)
	if err != nil {
		return nil, false
	}
	return &src, true
}

func purlMatches(want, have *packageurl.PackageURL) bool {
	if want.Type != have.Type || want.Namespace != have.Namespace || want.Name != have.Name {
		return false
	}
	if want.Version != "" && purlVersion(want) != purlVersion(have) {
		return false
	}
	hq := have.Qualifiers.Map()
	for _, q := range want.Qualifiers {
		if q.Key == "epoch" {
			continue // part of the version
		}
		if v, ok := hq[q.Key]; !ok || v != q.Value {
			return false
		}
	}
	return true
}

// purlVersion is the version to compare: with the epoch qualifier folded
// in (rpm, deb written either way) and Go's "v" prefix dropped.
func purlVersion(p *packageurl.PackageURL) string {
	v := p.Version
	if e, ok := p.Qualifiers.Map()["epoch"]; ok && e != "" && !strings.Contains(v, ":") {
		v = e + ":" + v
	}
	if p.Type == packageurl.TypeGolang {
		v = strings.TrimPrefix(v, "v")
	}
	return strings.TrimPrefix(v, "0:")
}
