package version

import "strings"

// Dpkg orders Debian package versions ([epoch:]upstream[-revision]) as
// dpkg does (deb-version(7)).
//
// Parsing follows dpkg's parseversion: surrounding blanks are trimmed;
// an empty version, embedded blanks, a non-numeric, negative or too large
// epoch, an empty upstream part or an empty revision after the last '-'
// are errors. Like `dpkg --compare-versions`, it accepts versions that
// dpkg merely warns about (an upstream part not starting with a digit,
// unusual characters) and orders them with the same rules.
type Dpkg struct{}

type dpkgVersion struct {
	epoch    string // digits, "" for none
	upstream string
	revision string
}

const maxDpkgEpoch = "2147483647" // INT_MAX, dpkg's limit

func parseDpkg(s string) (dpkgVersion, error) {
	s = strings.Trim(s, " \t")
	if s == "" {
		return dpkgVersion{}, invalid("dpkg", s, "version string is empty")
	}
	if strings.ContainsAny(s, " \t") {
		return dpkgVersion{}, invalid("dpkg", s, "version string has embedded spaces")
	}
	var v dpkgVersion
	rest := s
	if colon := strings.IndexByte(s, ':'); colon >= 0 {
		e := s[:colon]
		if e != "" && e[0] == '+' { // strtol accepts a sign
			e = e[1:]
		}
		switch {
		case colon == 0:
			return v, invalid("dpkg", s, "epoch in version is empty")
		case e != "" && e[0] == '-' && allDigits(e[1:]):
			return v, invalid("dpkg", s, "epoch in version is negative")
		case !allDigits(e):
			return v, invalid("dpkg", s, "epoch in version is not number")
		case cmpNum(e, maxDpkgEpoch) > 0:
			return v, invalid("dpkg", s, "epoch in version is too big")
		}
		v.epoch = e
		rest = s[colon+1:]
		if rest == "" {
			return v, invalid("dpkg", s, "nothing after colon in version number")
		}
	}
	v.upstream = rest
	if h := strings.LastIndexByte(rest, '-'); h >= 0 {
		v.upstream, v.revision = rest[:h], rest[h+1:]
		if v.revision == "" {
			return v, invalid("dpkg", s, "revision number is empty")
		}
	}
	if v.upstream == "" {
		return v, invalid("dpkg", s, "version number is empty")
	}
	return v, nil
}

// Compare implements Comparer.
func (Dpkg) Compare(a, b string) (int, error) {
	va, err := parseDpkg(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseDpkg(b)
	if err != nil {
		return 0, err
	}
	if c := cmpNum(va.epoch, vb.epoch); c != 0 {
		return c, nil
	}
	if c := verrevcmp(va.upstream, vb.upstream); c != 0 {
		return c, nil
	}
	return verrevcmp(va.revision, vb.revision), nil
}

// dpkgOrder is the weight of one non-digit character: '~' sorts before
// everything (even the end of the string), letters before other symbols.
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	}
	return int(c) + 256
}

// verrevcmp compares upstream versions or revisions: alternating runs of
// non-digits (compared character by character with dpkgOrder) and digits
// (compared numerically).
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := dpkgOrder(a, i), dpkgOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		ie, je := digitsEnd(a, i), digitsEnd(b, j)
		if c := cmpNum(a[min(i, len(a)):ie], b[min(j, len(b)):je]); c != 0 {
			return c
		}
		i, j = ie, je
	}
	return 0
}
