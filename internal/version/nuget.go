package version

import "strings"

// NuGet orders NuGet package versions as NuGet.Versioning does:
// MAJOR[.MINOR[.PATCH[.REVISION]]][-label(.label)*][+metadata], the
// missing numbers zero, a version with no pre-release label after its
// pre-releases, labels compared numerically when both are numbers, a
// number before a string, strings compared ignoring case; metadata is
// ignored. Numbers may have any length.
type NuGet struct{}

type nugetVersion struct {
	nums [4]string
	pre  string // dot-separated labels, "" for a release
}

func isLabelChar(c byte) bool { return isAlnum(c) || c == '-' }

// validLabels reports whether s is one or more dot-separated non-empty
// runs of [0-9A-Za-z-].
func validLabels(s string) bool {
	seg := 0
	for i := 0; i < len(s); i++ {
		switch {
		case isLabelChar(s[i]):
			seg++
		case s[i] == '.' && seg > 0:
			seg = 0
		default:
			return false
		}
	}
	return seg > 0
}

func parseNuGet(s string) (nugetVersion, error) {
	var v nugetVersion
	bad := func(reason string) (nugetVersion, error) { return nugetVersion{}, invalid("nuget", s, reason) }
	t := s
	if k := strings.IndexByte(t, '+'); k >= 0 {
		if !validLabels(t[k+1:]) {
			return bad("malformed metadata")
		}
		t = t[:k]
	}
	if k := strings.IndexByte(t, '-'); k >= 0 {
		v.pre = t[k+1:]
		if !validLabels(v.pre) {
			return bad("malformed pre-release label")
		}
		t = t[:k]
	}
	i, n := 0, 0
	for {
		j := digitsEnd(t, i)
		if j == i {
			return bad("missing number")
		}
		if n == 4 {
			return bad("more than four numbers")
		}
		v.nums[n] = t[i:j]
		n++
		if j == len(t) {
			break
		}
		if t[j] != '.' {
			return bad("invalid character")
		}
		i = j + 1
	}
	return v, nil
}

// Compare implements Comparer.
func (NuGet) Compare(a, b string) (int, error) {
	va, err := parseNuGet(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseNuGet(b)
	if err != nil {
		return 0, err
	}
	for k := range va.nums {
		if c := cmpNum(va.nums[k], vb.nums[k]); c != 0 {
			return c, nil
		}
	}
	if va.pre == "" || vb.pre == "" {
		return boolCmp(va.pre == "", vb.pre == ""), nil
	}
	i, j := 0, 0
	for i < len(va.pre) && j < len(vb.pre) {
		var x, y string
		x, i = nextSegment(va.pre, i, isDot)
		y, j = nextSegment(vb.pre, j, isDot)
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = cmpFold(x, y)
		}
		if c != 0 {
			return c, nil
		}
	}
	return boolCmp(i < len(va.pre), j < len(vb.pre)), nil
}
