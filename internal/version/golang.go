package version

import (
	"strings"

	"golang.org/x/mod/semver"
)

// Go orders Go module versions and Go toolchain versions.
//
// Module versions are semantic versions with or without the leading "v"
// (OSV's Go records omit it): pseudo-versions such as
// v0.0.0-20210226172049-e18ecbb05110 order by their timestamp and sort
// below the release they precede (v1.2.4-0.20210226172049-e18ecbb05110
// < v1.2.4), and "+incompatible" is build metadata, ignored.
//
// Toolchain versions, as the "stdlib" and "toolchain" packages carry them,
// may be written the Go way: "go1.21.0", "go1.21rc2", "1.21rc2", "go1.9",
// "go1". They are mapped as the Go vulnerability database maps them:
// go1.21rc2 is 1.21.0-rc.2, go1.20 and 1.20 are 1.20.0, go1 is 1.0.0.
type Go struct{}

// Compare implements Comparer.
func (Go) Compare(a, b string) (int, error) {
	pa, ba, err := goSemver(a)
	if err != nil {
		return 0, err
	}
	pb, bb, err := goSemver(b)
	if err != nil {
		return 0, err
	}
	// Concatenated here, not returned, the strings stay on the stack when
	// short.
	return semver.Compare(pa+ba, pb+bb), nil
}

// goSemver returns v as a semver string with a leading "v", split into a
// prefix ("" or "v") and the rest.
func goSemver(v string) (prefix, rest string, err error) {
	if v != "" && v[0] == 'v' {
		if semver.IsValid(v) {
			return "", v, nil
		}
		return "", "", invalid("go", v, "not a semantic version")
	}
	t := strings.TrimPrefix(v, "go")
	if isValidNoV(t) {
		return "v", t, nil
	}
	if sv, ok := goTagSemver(t); ok {
		return "", sv, nil
	}
	return "", "", invalid("go", v, "neither a semantic version nor a Go release")
}

// isValidNoV reports whether "v"+t is a valid semantic version.
func isValidNoV(t string) bool { return semver.IsValid("v" + t) }

// goTagSemver converts a Go release tag without its "go" prefix
// (1.21rc2, 1.9.2beta1, 1) to semver: vMAJOR.MINOR.PATCH[-(beta|rc).N].
func goTagSemver(t string) (string, bool) {
	var nums [3]string
	n, i := 0, 0
	for n < 3 {
		j := digitsEnd(t, i)
		if j == i || (t[i] == '0' && j-i > 1) {
			return "", false
		}
		nums[n] = t[i:j]
		n++
		i = j
		if i < len(t) && t[i] == '.' {
			i++
			continue
		}
		break
	}
	if n == 1 && nums[0] != "1" {
		return "", false
	}
	pre := t[i:]
	var kind string
	switch {
	case pre == "":
	case strings.HasPrefix(pre, "beta"):
		kind, pre = "beta", pre[4:]
	case strings.HasPrefix(pre, "rc"):
		kind, pre = "rc", pre[2:]
	default:
		return "", false
	}
	if kind != "" && (!allDigits(pre) || (pre[0] == '0' && len(pre) > 1)) {
		return "", false
	}
	for k := n; k < 3; k++ {
		nums[k] = "0"
	}
	sv := "v" + nums[0] + "." + nums[1] + "." + nums[2]
	if kind != "" {
		sv += "-" + kind + "." + pre
	}
	return sv, semver.IsValid(sv)
}
