package version

import "golang.org/x/mod/semver"

// SemVer orders Semantic Versioning 2.0.0 versions (npm, crates.io):
// MAJOR.MINOR.PATCH[-prerelease][+build], prerelease identifiers compared
// numerically or in ASCII order, build metadata ignored. A leading "v" is
// accepted, and so are the shorthands "1" and "1.2" (meaning 1.0.0 and
// 1.2.0), as npm and OSV data use them. Numbers may have any length.
//
// The comparison is golang.org/x/mod/semver's.
type SemVer struct{}

// semverCompare compares a and b, with or without a leading "v", with
// x/mod/semver (which wants the "v"). The concatenations stay on the
// stack for versions shorter than 32 bytes.
func semverCompare(scheme, a, b string) (int, error) {
	va, vb := a, b
	if a == "" || a[0] != 'v' {
		va = "v" + a
	}
	if b == "" || b[0] != 'v' {
		vb = "v" + b
	}
	if !semver.IsValid(va) {
		return 0, invalid(scheme, a, "not a semantic version")
	}
	if !semver.IsValid(vb) {
		return 0, invalid(scheme, b, "not a semantic version")
	}
	return semver.Compare(va, vb), nil
}

// Compare implements Comparer.
func (SemVer) Compare(a, b string) (int, error) {
	return semverCompare("semver", a, b)
}
