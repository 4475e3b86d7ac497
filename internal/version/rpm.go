package version

import "strings"

// RPM orders RPM [epoch:]version[-release] strings as rpm 4.18's
// rpmverCmp does: epochs (absent means 0), then versions, then releases
// (a present release sorts after an absent one), each compared with
// rpmvercmp, including '~' (sorts before anything) and '^' (sorts after
// the end of the string but before any other segment).
//
// rpm orders any string; only the empty string is an error.
type RPM struct{}

type rpmEVR struct {
	epoch, version, release string
	hasRelease              bool
}

// parseRPM splits an EVR the way rpm's parseEVR does: an epoch only when
// the leading digits are followed by ':', a release after the last '-'.
func parseRPM(s string) (rpmEVR, error) {
	if s == "" {
		return rpmEVR{}, invalid("rpm", s, "empty")
	}
	var v rpmEVR
	k := digitsEnd(s, 0)
	hy := strings.LastIndexByte(s[k:], '-')
	start := 0
	v.epoch = "0"
	if k < len(s) && s[k] == ':' {
		if k > 0 {
			v.epoch = s[:k]
		}
		start = k + 1
	}
	if hy >= 0 {
		v.version = s[start : k+hy]
		v.release = s[k+hy+1:]
		v.hasRelease = true
	} else {
		v.version = s[start:]
	}
	return v, nil
}

// Compare implements Comparer.
func (RPM) Compare(a, b string) (int, error) {
	va, err := parseRPM(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseRPM(b)
	if err != nil {
		return 0, err
	}
	if c := rpmvercmp(va.epoch, vb.epoch); c != 0 {
		return c, nil
	}
	if c := rpmvercmp(va.version, vb.version); c != 0 {
		return c, nil
	}
	switch {
	case va.hasRelease && vb.hasRelease:
		return rpmvercmp(va.release, vb.release), nil
	case va.hasRelease:
		return 1, nil
	case vb.hasRelease:
		return -1, nil
	}
	return 0, nil
}

func rpmSep(c byte) bool { return !isAlnum(c) && c != '~' && c != '^' }

// rpmvercmp compares two version or release strings segment by segment:
// runs of digits numerically, runs of letters as strings, a number
// beating letters; anything else separates segments.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && rpmSep(a[i]) {
			i++
		}
		for j < len(b) && rpmSep(b[j]) {
			j++
		}
		ha, hb := i < len(a), j < len(b)
		// '~' sorts before everything, the end of the string included.
		ta, tb := ha && a[i] == '~', hb && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}
		// '^' sorts after the end of the string, before anything else.
		ca, cb := ha && a[i] == '^', hb && b[j] == '^'
		if ca || cb {
			switch {
			case !ha:
				return -1
			case !hb:
				return 1
			case !ca:
				return 1
			case !cb:
				return -1
			}
			i++
			j++
			continue
		}
		if !ha || !hb {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		if numeric {
			i = digitsEnd(a, i)
			j = digitsEnd(b, j)
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		if sj == j { // segments of different kinds: a number wins
			if numeric {
				return 1
			}
			return -1
		}
		var c int
		if numeric {
			c = cmpNum(a[si:i], b[sj:j])
		} else {
			c = strings.Compare(a[si:i], b[sj:j])
		}
		if c != 0 {
			return c
		}
	}
	ea, eb := i >= len(a), j >= len(b)
	switch {
	case ea && eb:
		return 0
	case ea:
		return -1
	}
	return 1
}
