package vulndb

import (
	"strings"
)

// Normalize returns the form of an (ecosystem, package name) pair under which
// the store indexes and looks up candidates. The indexer and every caller of
// the store's lookup use this one function, so both sides always agree.
//
// Ecosystems: the base name is spelled as OSV spells it, whatever case the
// caller used ("pypi" → "PyPI"); release suffixes are reduced to what
// identifies the release:
//
//   - Debian: the major version ("Debian:12.4" → "Debian:12"); code names map
//     to numbers ("Debian:bookworm" → "Debian:12"); "sid" and "unstable" are
//     "Debian:sid" (OSV's name for releases without a number).
//   - Alpine: "v" + major.minor ("Alpine:3.19.1" → "Alpine:v3.19").
//   - Ubuntu: the ":Pro" and ":LTS" variant markers are dropped, as OSV does
//     for queries ("Ubuntu:Pro:18.04:LTS" → "Ubuntu:18.04").
//   - AlmaLinux, Rocky Linux: the major version ("AlmaLinux:9.3" → "AlmaLinux:9").
//   - Wolfi, Chainguard, MinimOS: no suffix.
//   - Everything else (Red Hat CPE streams, SUSE product names, Maven and
//     Packagist repository URLs) keeps its suffix as given.
//
// Names: PyPI names follow PEP 503 (lower case, runs of "-", "_", "." become
// "-"), which is also what OSV does; crates.io names are lower-cased with "_"
// read as "-" (crates.io itself treats names that differ only so as the same
// crate); NuGet and Packagist names are lower-cased (both registries are
// case-insensitive). Go module paths, npm, Maven "group:artifact", RubyGems
// and distribution source package names are kept as they are.
func Normalize(ecosystem, name string) (string, string) {
	eco := NormalizeEcosystem(ecosystem)
	return eco, NormalizeName(eco, name)
}

// NormalizeEcosystem returns the index form of an ecosystem string; see
// Normalize.
func NormalizeEcosystem(ecosystem string) string {
	base, suffix, hasSuffix := strings.Cut(ecosystem, ":")
	base, suffix = strings.TrimSpace(base), strings.TrimSpace(suffix)
	if c, ok := canonicalEcosystems[strings.ToLower(base)]; ok {
		base = c
	}
	if !hasSuffix {
		return base
	}
	switch base {
	case "Debian":
		suffix = debianRelease(suffix)
	case "Alpine":
		suffix = alpineRelease(suffix)
	case "Ubuntu":
		var parts []string
		for p := range strings.SplitSeq(suffix, ":") {
			if p = strings.TrimSpace(p); p != "Pro" && p != "LTS" && p != "" {
				parts = append(parts, p)
			}
		}
		suffix = strings.Join(parts, ":")
	case "AlmaLinux", "Rocky Linux":
		suffix, _, _ = strings.Cut(suffix, ".")
	case "Wolfi", "Chainguard", "MinimOS":
		suffix = ""
	}
	if suffix = strings.TrimSpace(suffix); suffix == "" {
		return base
	}
	return base + ":" + suffix
}

// EcosystemBase returns the ecosystem's name without its release suffix, in
// OSV's spelling ("debian:12" → "Debian").
func EcosystemBase(ecosystem string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	base = strings.TrimSpace(base)
	if c, ok := canonicalEcosystems[strings.ToLower(base)]; ok {
		return c
	}
	return base
}

// NormalizeName returns the index form of a package name in an ecosystem
// already passed through NormalizeEcosystem; see Normalize.
func NormalizeName(normalizedEcosystem, name string) string {
	name = strings.TrimSpace(name)
	base, _, _ := strings.Cut(normalizedEcosystem, ":")
	switch base {
	case "PyPI":
		return pep503(name)
	case "crates.io":
		return strings.ReplaceAll(strings.ToLower(name), "_", "-")
	case "NuGet", "Packagist":
		return strings.ToLower(name)
	}
	return name
}

// pep503 lower-cases name and replaces each run of "-", "_" and "." by a
// single "-".
func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// DebianCodenames maps Debian release code names to their numbers.
var debianCodenames = map[string]string{
	"hamm": "2", "slink": "2.1", "potato": "2.2", "woody": "3.0", "sarge": "3.1",
	"etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7", "jessie": "8",
	"stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12",
	"trixie": "13", "forky": "14", "duke": "15",
}

// DebianRelease returns the number of a Debian release code name ("bookworm"
// → "12"), "sid" for sid/unstable, and false for names it does not know.
func DebianRelease(codename string) (string, bool) {
	codename = strings.ToLower(strings.TrimSpace(codename))
	if codename == "sid" || codename == "unstable" {
		return "sid", true
	}
	n, ok := debianCodenames[codename]
	return n, ok
}

func debianRelease(s string) string {
	if n, ok := DebianRelease(s); ok {
		return n
	}
	if major, _, ok := strings.Cut(s, "."); ok && isDigits(major) {
		return major
	}
	return s
}

func alpineRelease(s string) string {
	v := strings.TrimPrefix(strings.ToLower(s), "v")
	parts := strings.Split(v, ".")
	if len(parts) >= 2 && isDigits(parts[0]) && isDigits(parts[1]) {
		return "v" + parts[0] + "." + parts[1]
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalEcosystems maps the lower-cased ecosystem names of the OSV schema
// (1.6, ecosystems.json) to their spelling.
var canonicalEcosystems = func() map[string]string {
	names := []string{
		"AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux",
		"BellSoft Hardened Containers", "Bioconductor", "Bitnami", "Chainguard",
		"CleanStart", "ConanCenter", "CRAN", "crates.io", "Debian",
		"Docker Hardened Images", "Echo", "FreeBSD", "GHC", "GitHub Actions", "Go",
		"Hackage", "Hex", "Julia", "Kubernetes", "Linux", "Mageia", "Maven",
		"MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE", "OSS-Fuzz",
		"Packagist", "Photon OS", "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root",
		"RubyGems", "SUSE", "SwiftURL", "TuxCare", "Ubuntu", "VSCode", "Wolfi",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// KnownEcosystem reports whether the ecosystem's base name is one the OSV
// schema defines (in any case).
func KnownEcosystem(ecosystem string) bool {
	base, _, _ := strings.Cut(ecosystem, ":")
	_, ok := canonicalEcosystems[strings.ToLower(strings.TrimSpace(base))]
	return ok
}
