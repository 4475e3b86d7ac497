package version

import "strings"

// PEP440 orders Python package versions as PEP 440 and the packaging
// library (what pip uses) define them:
//
//	[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]
//
// with the normalisations PEP 440 allows: case-insensitive, an optional
// leading "v", alternative spellings (alpha, beta, c, pre, preview, rev,
// r), optional '.', '-' or '_' separators, implicit numbers
// ("1.0a" is 1.0a0), the implicit post-release "1.0-1", surrounding
// whitespace. Legacy (non-PEP 440) versions are errors, as in packaging
// 22 and later.
type PEP440 struct{}

type pepVersion struct {
	epoch   string // digits; "" is 0
	release string // digits separated by '.'
	pre     int    // 0 none, 1 a, 2 b, 3 rc
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   string // segments separated by '.', '-' or '_'
}

// matchFold returns the length of the first word in words that s starts
// with, ignoring ASCII case, or -1.
func matchFold(s string, words ...string) (int, int) {
	for k, w := range words {
		if len(s) >= len(w) && cmpFold(s[:len(w)], w) == 0 {
			return k, len(w)
		}
	}
	return -1, 0
}

func isPepSep(c byte) bool { return c == '.' || c == '-' || c == '_' }

func parsePEP440(s string) (pepVersion, error) {
	var v pepVersion
	orig := s
	s = strings.Trim(s, " \t\n\r\f\v")
	bad := func(reason string) (pepVersion, error) {
		return pepVersion{}, invalid("pep440", orig, reason)
	}
	i := 0
	if i < len(s) && (s[i] == 'v' || s[i] == 'V') {
		i++
	}
	// Epoch and release.
	j := digitsEnd(s, i)
	if j == i {
		return bad("no release number")
	}
	if j < len(s) && s[j] == '!' {
		v.epoch = s[i:j]
		i = j + 1
		j = digitsEnd(s, i)
		if j == i {
			return bad("no release number after epoch")
		}
	}
	start := i
	i = j
	for i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i = digitsEnd(s, i+1)
	}
	v.release = s[start:i]

	// Pre-release: [-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?N?
	k := i
	if k < len(s) && isPepSep(s[k]) {
		k++
	}
	if w, n := matchFold(s[k:], "alpha", "beta", "preview", "pre", "rc", "a", "b", "c"); w >= 0 {
		v.pre = [...]int{1, 2, 3, 3, 3, 1, 2, 3}[w]
		k += n
		if k < len(s) && isPepSep(s[k]) {
			k++
		}
		e := digitsEnd(s, k)
		v.preN = s[k:e]
		i = e
	}

	// Post-release: -N | [-_.]?(post|rev|r)[-_.]?N?
	if i+1 < len(s) && s[i] == '-' && isDigit(s[i+1]) {
		e := digitsEnd(s, i+1)
		v.post, v.postN = true, s[i+1:e]
		i = e
	} else {
		k := i
		if k < len(s) && isPepSep(s[k]) {
			k++
		}
		if w, n := matchFold(s[k:], "post", "rev", "r"); w >= 0 {
			k += n
			if k < len(s) && isPepSep(s[k]) {
				k++
			}
			e := digitsEnd(s, k)
			v.post, v.postN = true, s[k:e]
			i = e
		}
	}

	// Development release: [-_.]?dev[-_.]?N?
	k = i
	if k < len(s) && isPepSep(s[k]) {
		k++
	}
	if w, n := matchFold(s[k:], "dev"); w >= 0 {
		k += n
		if k < len(s) && isPepSep(s[k]) {
			k++
		}
		e := digitsEnd(s, k)
		v.dev, v.devN = true, s[k:e]
		i = e
	}

	// Local version: +[a-z0-9]+([-_.][a-z0-9]+)*
	if i < len(s) && s[i] == '+' {
		v.local = s[i+1:]
		if v.local == "" {
			return bad("empty local version")
		}
		prevSep := true
		for k := 0; k < len(v.local); k++ {
			c := v.local[k]
			switch {
			case isAlnum(c):
				prevSep = false
			case isPepSep(c) && !prevSep:
				prevSep = true
			default:
				return bad("malformed local version")
			}
		}
		if prevSep {
			return bad("malformed local version")
		}
		i = len(s)
	}
	if i != len(s) {
		return bad("not a PEP 440 version")
	}
	return v, nil
}

// Compare implements Comparer.
func (PEP440) Compare(a, b string) (int, error) {
	va, err := parsePEP440(a)
	if err != nil {
		return 0, err
	}
	vb, err := parsePEP440(b)
	if err != nil {
		return 0, err
	}
	return va.compare(&vb), nil
}

// nextSegment returns the segment of s starting at i (up to the next
// separator) and the index after the separator.
func nextSegment(s string, i int, sep func(byte) bool) (string, int) {
	j := i
	for j < len(s) && !sep(s[j]) {
		j++
	}
	if j < len(s) {
		return s[i:j], j + 1
	}
	return s[i:j], j
}

func isDot(c byte) bool { return c == '.' }

func (v *pepVersion) compare(w *pepVersion) int {
	if c := cmpNum(v.epoch, w.epoch); c != 0 {
		return c
	}
	// Release: missing components are zero, so trailing zeros do not count.
	for i, j := 0, 0; i < len(v.release) || j < len(w.release); {
		var x, y string
		x, i = nextSegment(v.release, i, isDot)
		y, j = nextSegment(w.release, j, isDot)
		if c := cmpNum(x, y); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.preRank(), w.preRank()); c != 0 {
		return c
	}
	if v.pre != 0 {
		if c := cmpNum(v.preN, w.preN); c != 0 {
			return c
		}
	}
	// No post-release sorts before any post-release.
	if v.post != w.post {
		return boolCmp(v.post, w.post)
	}
	if c := cmpNum(v.postN, w.postN); c != 0 {
		return c
	}
	// No dev release sorts after any dev release.
	if v.dev != w.dev {
		return -boolCmp(v.dev, w.dev)
	}
	if c := cmpNum(v.devN, w.devN); c != 0 {
		return c
	}
	return cmpLocal(v.local, w.local)
}

// preRank orders the pre-release part: a dev release of the final version
// (1.0.dev0) sorts before its pre-releases, a final version after them.
func (v *pepVersion) preRank() int {
	switch {
	case v.pre == 0 && !v.post && v.dev:
		return -1
	case v.pre == 0:
		return 4
	}
	return v.pre
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// cmpLocal compares local version labels: none sorts first; segments
// compare numerically when both are numbers, a number beats a string,
// strings compare case-insensitively; a longer label that extends the
// other sorts later.
func cmpLocal(a, b string) int {
	if a == "" || b == "" {
		return boolCmp(a != "", b != "")
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		var x, y string
		x, i = nextSegment(a, i, isPepSep)
		y, j = nextSegment(b, j, isPepSep)
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = 1
		case yn:
			c = -1
		default:
			c = cmpFold(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return boolCmp(i < len(a), j < len(b))
}
