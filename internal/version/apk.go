package version

import "strings"

// APK orders Alpine package versions as apk-tools does:
//
//	digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}
//
// with the suffixes _alpha < _beta < _pre < _rc < (none) < _cvs < _svn <
// _git < _hg < _p. A numeric component after the first with a leading
// zero compares as a string ("1.01" < "1.1", "1.010" > "1.01").
//
// Compare rejects strings that apk-tools rejects as invalid (apk version
// -c), except that, as in apk-tools 2 (which Alpine shipped up to 3.22
// and whose versions its security data uses, e.g. openssh 6.6.2p1-r0),
// digits may follow the letter. apk orders invalid strings too, but
// differently from one apk-tools release to the next.
type APK struct{}

const (
	apkInitialDigit = iota
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkCommitHash
	apkRevisionNo
	apkEnd
	apkInvalid
)

// Suffix weights; apkSuffixNone is what a version without a suffix has.
const (
	apkSuffixInvalid = iota
	apkSuffixAlpha
	apkSuffixBeta
	apkSuffixPre
	apkSuffixRC
	apkSuffixNone
	apkSuffixCVS
	apkSuffixSVN
	apkSuffixGit
	apkSuffixHg
	apkSuffixP
)

func apkSuffixValue(s string) int {
	switch s {
	case "alpha":
		return apkSuffixAlpha
	case "beta":
		return apkSuffixBeta
	case "pre":
		return apkSuffixPre
	case "rc":
		return apkSuffixRC
	case "cvs":
		return apkSuffixCVS
	case "svn":
		return apkSuffixSVN
	case "git":
		return apkSuffixGit
	case "hg":
		return apkSuffixHg
	case "p":
		return apkSuffixP
	}
	return apkSuffixInvalid
}

// apkTokens walks the tokens of one version string.
type apkTokens struct {
	s      string
	pos    int
	kind   int
	suffix int
	value  string
}

func (t *apkTokens) digits() {
	start := t.pos
	t.pos = digitsEnd(t.s, t.pos)
	t.value = t.s[start:t.pos]
	if t.value == "" {
		t.kind = apkInvalid
	}
}

func (t *apkTokens) first() {
	t.kind = apkInitialDigit
	t.digits()
}

func (t *apkTokens) next() {
	if t.pos >= len(t.s) {
		t.kind = apkEnd
		return
	}
	c := t.s[t.pos]
	switch {
	case isLower(c):
		if t.kind > apkDigit {
			t.kind = apkInvalid
			return
		}
		t.value = t.s[t.pos : t.pos+1]
		t.kind = apkLetter
		t.pos++
	case c == '.' || isDigit(c):
		if c == '.' {
			if t.kind > apkDigit {
				t.kind = apkInvalid
				return
			}
			t.pos++
		}
		switch t.kind {
		case apkInitialDigit, apkDigit:
			t.kind = apkDigit
		case apkLetter:
			if c == '.' {
				t.kind = apkInvalid
				return
			}
			t.kind = apkDigit
		case apkSuffix:
			t.kind = apkSuffixNo
		default:
			t.kind = apkInvalid
			return
		}
		t.digits()
	case c == '_':
		if t.kind > apkSuffixNo {
			t.kind = apkInvalid
			return
		}
		t.pos++
		start := t.pos
		for t.pos < len(t.s) && isLower(t.s[t.pos]) {
			t.pos++
		}
		t.value = t.s[start:t.pos]
		t.suffix = apkSuffixValue(t.value)
		if t.suffix == apkSuffixInvalid {
			t.kind = apkInvalid
			return
		}
		t.kind = apkSuffix
	case c == '~':
		if t.kind >= apkCommitHash {
			t.kind = apkInvalid
			return
		}
		t.pos++
		start := t.pos
		for t.pos < len(t.s) && (isDigit(t.s[t.pos]) || ('a' <= t.s[t.pos] && t.s[t.pos] <= 'f')) {
			t.pos++
		}
		t.value = t.s[start:t.pos]
		if t.value == "" {
			t.kind = apkInvalid
			return
		}
		t.kind = apkCommitHash
	case c == '-':
		if t.kind >= apkRevisionNo || !strings.HasPrefix(t.s[t.pos:], "-r") {
			t.kind = apkInvalid
			return
		}
		t.pos += 2
		t.kind = apkRevisionNo
		t.digits()
	default:
		t.kind = apkInvalid
	}
}

// cmp compares the current tokens of t and u, which are of the same kind.
func (t *apkTokens) cmp(u *apkTokens) int {
	switch t.kind {
	case apkDigit:
		if t.value[0] == '0' || u.value[0] == '0' {
			return strings.Compare(t.value, u.value)
		}
		return cmpNum(t.value, u.value)
	case apkInitialDigit, apkSuffixNo, apkRevisionNo:
		return cmpNum(t.value, u.value)
	case apkSuffix:
		return cmpInt(t.suffix, u.suffix)
	}
	return strings.Compare(t.value, u.value) // letter, commit hash
}

func validAPK(s string) error {
	t := apkTokens{s: s}
	for t.first(); t.kind < apkEnd; t.next() {
	}
	if t.kind != apkEnd {
		return invalid("apk", s, "not of the form digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}")
	}
	return nil
}

// Compare implements Comparer.
func (APK) Compare(a, b string) (int, error) {
	if err := validAPK(a); err != nil {
		return 0, err
	}
	if err := validAPK(b); err != nil {
		return 0, err
	}
	ta, tb := apkTokens{s: a}, apkTokens{s: b}
	ta.first()
	tb.first()
	for ta.kind == tb.kind && ta.kind < apkEnd {
		if c := ta.cmp(&tb); c != 0 {
			return c, nil
		}
		ta.next()
		tb.next()
	}
	if ta.kind == tb.kind {
		return 0, nil
	}
	// Equal so far: the longer version is greater, unless what it has
	// more is a pre-release suffix.
	switch {
	case ta.kind == apkSuffix && ta.suffix < apkSuffixNone:
		return -1, nil
	case tb.kind == apkSuffix && tb.suffix < apkSuffixNone:
		return 1, nil
	}
	return -cmpInt(ta.kind, tb.kind), nil
}
