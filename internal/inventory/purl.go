package inventory

import (
	"slices"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// PURL returns the package-url of p in an image whose OS is os (nil when
// unknown). OS packages carry the distribution as namespace and a distro
// qualifier; language packages follow each type's purl rules.
func PURL(p *Package, os *OS) string {
	var namespace, name, version = "", p.Name, p.Version
	var q packageurl.Qualifiers
	switch p.Type {
	case TypeDeb, TypeAPK, TypeRPM:
		if os != nil {
			namespace = os.ID
			if d := distroQualifier(os); d != "" {
				q = append(q, packageurl.Qualifier{Key: "distro", Value: d})
			}
		}
		if p.Arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
		}
		if p.Type == TypeRPM {
			if epoch, rest, ok := strings.Cut(version, ":"); ok {
				version = rest
				q = append(q, packageurl.Qualifier{Key: "epoch", Value: epoch})
			}
		}
		if p.SourceName != "" && p.SourceName != p.Name {
			upstream := p.SourceName
			if p.SourceVersion != "" && p.SourceVersion != p.Version {
				upstream += "@" + p.SourceVersion
			}
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: upstream})
		}
	case TypeNPM:
		if strings.HasPrefix(name, "@") {
			namespace, name, _ = strings.Cut(name, "/")
		}
	case TypeGo:
		if i := strings.LastIndex(name, "/"); i > 0 {
			namespace, name = name[:i], name[i+1:]
		}
	case TypeMaven:
		namespace, name, _ = strings.Cut(name, ":")
	case TypeComposer:
		if i := strings.Index(name, "/"); i > 0 {
			namespace, name = name[:i], name[i+1:]
		}
	case TypePyPI:
		name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	}
	slices.SortFunc(q, func(a, b packageurl.Qualifier) int { return strings.Compare(a.Key, b.Key) })
	return packageurl.NewPackageURL(p.Type, namespace, name, version, q, "").ToString()
}

func distroQualifier(os *OS) string {
	v := os.VersionID
	if v == "" {
		v = os.Version
	}
	if v == "" {
		return os.ID
	}
	return os.ID + "-" + v
}
