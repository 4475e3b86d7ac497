package version

// Composer orders Packagist versions as Composer's Comparator does, that
// is with PHP's version_compare, after dropping a leading "v" or "V"
// before a digit (which Composer's version normalisation drops too):
// '-', '_' and '+' and other symbols separate parts, as do changes
// between digits and letters; numbers compare numerically (at any
// length, where PHP would saturate at 2^63-1); words rank dev < alpha =
// a < beta = b < RC = rc < (number) < pl = p, matched by prefix,
// any other word before dev; when one version runs out, a further
// number makes the other greater and a further word compares with a
// number.
//
// Versions whose canonical form ends in a separator ("1.", "1-",
// "1.2.#") are errors: version_compare orders them inconsistently
// (version_compare("1.", "1.") is -1). So is the empty string.
type Composer struct{}

// phpCanon appends the canonical form of v (php_canonicalize_version) to
// dst.
func phpCanon(dst []byte, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, v[0])
	lp := v[0]
	for i := 1; i < len(v); i++ {
		c := v[i]
		lq := dst[len(dst)-1]
		switch {
		case c == '-' || c == '_' || c == '+':
			if lq != '.' {
				dst = append(dst, '.')
			}
		case (phpNonDigit(lp) && isDigit(c)) || (isDigit(lp) && phpNonDigit(c)):
			if lq != '.' {
				dst = append(dst, '.')
			}
			dst = append(dst, c)
		case !isAlnum(c):
			if lq != '.' {
				dst = append(dst, '.')
			}
		default:
			dst = append(dst, c)
		}
		lp = c
	}
	return dst
}

// phpNonDigit is PHP's isndig: neither a digit nor '.'.
func phpNonDigit(c byte) bool { return !isDigit(c) && c != '.' }

// phpSpecial ranks a word as compare_special_version_forms does.
func phpSpecial(w []byte) int {
	for _, f := range [...]struct {
		name  string
		order int
	}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}} {
		if len(w) >= len(f.name) && string(w[:len(f.name)]) == f.name {
			return f.order
		}
	}
	return -1
}

const phpNumberRank = 4 // the rank of "#N#", a number

func stripComposerV(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && isDigit(v[1]) {
		return v[1:]
	}
	return v
}

// canonComposer returns the canonical form of v in buf's storage.
func canonComposer(buf []byte, v string) ([]byte, error) {
	s := stripComposerV(v)
	if s == "" {
		return nil, invalid("composer", v, "empty")
	}
	if s[0] == '#' {
		buf = append(buf, s...)
	} else {
		buf = phpCanon(buf, s)
	}
	if buf[len(buf)-1] == '.' {
		return nil, invalid("composer", v, "ends with a separator")
	}
	return buf, nil
}

// Compare implements Comparer.
func (Composer) Compare(a, b string) (int, error) {
	var bufA, bufB [64]byte
	ca, err := canonComposer(bufA[:0], a)
	if err != nil {
		return 0, err
	}
	cb, err := canonComposer(bufB[:0], b)
	if err != nil {
		return 0, err
	}
	return phpVersionCompare(ca, cb), nil
}

// phpPart splits the part of s starting at i: it returns the part and
// the index after the following '.', or -1 if there is none.
func phpPart(s []byte, i int) ([]byte, int) {
	for j := i; j < len(s); j++ {
		if s[j] == '.' {
			return s[i:j], j + 1
		}
	}
	return s[i:], -1
}

func phpIsDigitAt(p []byte) bool { return len(p) > 0 && isDigit(p[0]) }

// phpVersionCompare is php_version_compare on canonical forms.
func phpVersionCompare(a, b []byte) int {
	p1, p2 := 0, 0
	n1, n2 := 0, 0 // -1 once the last part was reached
	c := 0
	for p1 < len(a) && p2 < len(b) && n1 >= 0 && n2 >= 0 {
		var x, y []byte
		x, n1 = phpPart(a, p1)
		y, n2 = phpPart(b, p2)
		switch xd, yd := phpIsDigitAt(x), phpIsDigitAt(y); {
		case xd && yd:
			c = cmpNum(x, y)
		case !xd && !yd:
			c = cmpInt(phpSpecial(x), phpSpecial(y))
		case xd:
			c = cmpInt(phpNumberRank, phpSpecial(y))
		default:
			c = cmpInt(phpSpecial(x), phpNumberRank)
		}
		if c != 0 {
			return c
		}
		if n1 >= 0 {
			p1 = n1
		}
		if n2 >= 0 {
			p2 = n2
		}
	}
	switch {
	case n1 >= 0:
		return phpRestVsNumber(a[p1:])
	case n2 >= 0:
		return -phpRestVsNumber(b[p2:])
	}
	return 0
}

// phpRestVsNumber compares the remaining parts of a longer version with
// the missing part of the shorter, as version_compare does: a number
// wins, a word is ranked against a number, and an equal rank moves on.
func phpRestVsNumber(rest []byte) int {
	if len(rest) == 0 {
		return -1 // version_compare("", x) with x non-empty
	}
	for {
		x, n := phpPart(rest, 0)
		if phpIsDigitAt(x) {
			return 1
		}
		if c := cmpInt(phpSpecial(x), phpNumberRank); c != 0 {
			return c
		}
		if n < 0 {
			return 0
		}
		rest = rest[n:]
	}
}
