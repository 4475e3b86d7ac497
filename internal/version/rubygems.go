package version

import "strings"

// RubyGems orders gem versions as Gem::Version does: the version is split
// into numeric and alphabetic segments ("1.0.a10" is 1, 0, "a", 10; each
// '-' counts as ".pre."), trailing zeros of the numeric part before the
// first letter segment are dropped, missing segments count as 0, a
// letter segment sorts before any number, and letter segments compare
// byte by byte (case-sensitively).
//
// Valid versions match Gem::Version's pattern
// [0-9]+(.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(.[0-9A-Za-z-]+)*)? with optional
// surrounding whitespace. The empty version, which Gem::Version reads as
// "0", is an error here.
type RubyGems struct{}

func isRubySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func parseGem(s string) (string, error) {
	t := strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isRubySpace(byte(r)) })
	bad := func(reason string) (string, error) { return "", invalid("rubygems", s, reason) }
	if t == "" {
		return bad("empty")
	}
	i := digitsEnd(t, 0)
	if i == 0 {
		return bad("must start with a number")
	}
	// (\.[0-9a-zA-Z]+)*
	for i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && isAlnum(t[j]) {
			j++
		}
		if j == i+1 {
			return bad("empty segment")
		}
		i = j
	}
	// (-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
	if i < len(t) && t[i] == '-' {
		i++
		seg := 0
		for ; i < len(t); i++ {
			c := t[i]
			switch {
			case isAlnum(c) || c == '-':
				seg++
			case c == '.' && seg > 0:
				seg = 0
			default:
				return bad("invalid character")
			}
		}
		if seg == 0 {
			return bad("empty segment")
		}
	}
	if i != len(t) {
		return bad("invalid character")
	}
	return t, nil
}

// gemSegments walks the segments of a valid version: runs of digits, runs
// of letters, and "pre" for each '-'.
type gemSegments struct {
	s   string
	pos int
}

// next returns the next segment and whether it is a number; ok is false
// at the end.
func (g *gemSegments) next() (seg string, num, ok bool) {
	for g.pos < len(g.s) {
		c := g.s[g.pos]
		switch {
		case c == '-':
			g.pos++
			return "pre", false, true
		case isDigit(c):
			start := g.pos
			g.pos = digitsEnd(g.s, g.pos)
			return g.s[start:g.pos], true, true
		case isAlpha(c):
			start := g.pos
			for g.pos < len(g.s) && isAlpha(g.s[g.pos]) {
				g.pos++
			}
			return g.s[start:g.pos], false, true
		}
		g.pos++
	}
	return "", false, false
}

// gemCanonical walks the canonical segments of a version: the numeric
// segments before the first letter segment lose their trailing zeros.
type gemCanonical struct {
	seg     gemSegments
	keep    int // numeric segments of the leading run still to return
	skip    int // zero segments to skip after them
	leading bool
}

func newGemCanonical(s string) gemCanonical {
	g := gemCanonical{seg: gemSegments{s: s}, leading: true}
	// Count the leading numeric run and its last non-zero segment.
	scan := gemSegments{s: s}
	n, lastNonZero := 0, 0
	for {
		seg, num, ok := scan.next()
		if !ok || !num {
			break
		}
		n++
		if strings.TrimLeft(seg, "0") != "" {
			lastNonZero = n
		}
	}
	g.keep, g.skip = lastNonZero, n-lastNonZero
	return g
}

func (g *gemCanonical) next() (seg string, num, ok bool) {
	if g.leading {
		if g.keep > 0 {
			g.keep--
			return g.seg.next()
		}
		for ; g.skip > 0; g.skip-- {
			g.seg.next()
		}
		g.leading = false
	}
	return g.seg.next()
}

// Compare implements Comparer.
func (RubyGems) Compare(a, b string) (int, error) {
	a, err := parseGem(a)
	if err != nil {
		return 0, err
	}
	b, err = parseGem(b)
	if err != nil {
		return 0, err
	}
	if a == b {
		return 0, nil
	}
	ga, gb := newGemCanonical(a), newGemCanonical(b)
	for {
		x, xn, xok := ga.next()
		y, yn, yok := gb.next()
		if !xok && !yok {
			return 0, nil
		}
		// A missing segment counts as 0.
		if !xok {
			x, xn = "0", true
		}
		if !yok {
			y, yn = "0", true
		}
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = 1
		case yn:
			c = -1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c, nil
		}
	}
}
