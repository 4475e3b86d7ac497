package version

// Maven orders Maven artifact versions as Maven 3.9's ComparableVersion
// does: '.' and '-' separators and letter/digit transitions split the
// version into numbers and qualifiers; a '-' (or a transition) opens a
// nested list; trailing zeros and "release" qualifiers (ga, final,
// release, the empty string) are dropped; qualifiers order alpha (a) <
// beta (b) < milestone (m) < rc (cr) < snapshot < "" (ga, final,
// release) < sp < other qualifiers, lexically and case-insensitively.
//
// Maven orders any string; only the empty string and strings longer
// than 4096 bytes are errors. Digits and
// letters are those of ASCII.
type Maven struct{}

// Kinds of Maven version items.
const (
	mvnInt  = iota // a number
	mvnStr         // a qualifier
	mvnList        // the start of a nested list holding all later items
)

// mvnItem is one item of a parsed version. A parsed version is a chain of
// lists, each holding some items and, as its last item, possibly the
// next list; it is kept flat: a mvnList item opens the rest.
type mvnItem struct {
	kind  int
	value string // digits (leading zeros stripped) or qualifier as written
	short bool   // a one-letter qualifier followed by a digit (a1 = alpha-1)
}

// maxMavenLen bounds the input: normalisation is quadratic in the number
// of nested lists.
const maxMavenLen = 4096

// qualifierRank returns the rank of a known qualifier (0 alpha … 6 sp) or
// -1 for any other; the empty qualifier and its aliases rank 5.
func (it *mvnItem) qualifierRank() int {
	q := it.value
	if it.short && len(q) == 1 {
		switch lower(q[0]) {
		case 'a':
			return 0
		case 'b':
			return 1
		case 'm':
			return 2
		}
	}
	for k, w := range [...]string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp", "ga", "final", "release", "cr"} {
		if cmpFold(q, w) == 0 {
			return [...]int{0, 1, 2, 3, 4, 5, 6, 5, 5, 5, 3}[k]
		}
	}
	return -1
}

// cmpQualifiers compares two qualifiers: known ones by rank, before all
// unknown ones, which compare lexically ignoring case.
func cmpQualifiers(a, b *mvnItem) int {
	ra, rb := a.qualifierRank(), b.qualifierRank()
	switch {
	case ra >= 0 && rb >= 0:
		return cmpInt(ra, rb)
	case ra >= 0:
		return -1
	case rb >= 0:
		return 1
	}
	return cmpFoldUTF8(a.value, b.value)
}

// isNull reports whether an item is dropped when trailing: 0 or a
// release qualifier.
func (it *mvnItem) isNull() bool {
	switch it.kind {
	case mvnInt:
		return it.value == ""
	case mvnStr:
		return it.qualifierRank() == 5
	}
	return false
}

func mvnAppend(items []mvnItem, kind int, value string, short bool) []mvnItem {
	if kind == mvnInt {
		for len(value) > 0 && value[0] == '0' {
			value = value[1:]
		}
	}
	return append(items, mvnItem{kind: kind, value: value, short: short})
}

// parseMaven parses s into items appended to buf[:0].
func parseMaven(buf []mvnItem, s string) ([]mvnItem, error) {
	if s == "" {
		return nil, invalid("maven", s, "empty")
	}
	if len(s) > maxMavenLen {
		return nil, invalid("maven", s, "longer than 4096 bytes")
	}
	items := buf[:0]
	add := func(kind int, value string, short bool) { items = mvnAppend(items, kind, value, short) }
	listLen := 0 // items in the current (innermost) list
	isDigitRun := false
	start := 0
	item := func(end int) {
		if isDigitRun {
			add(mvnInt, s[start:end], false)
		} else {
			add(mvnStr, s[start:end], false)
		}
		listLen++
	}
	openList := func() {
		add(mvnList, "", false)
		listLen = 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '-':
			if i == start {
				add(mvnInt, "", false)
				listLen++
			} else {
				item(i)
			}
			start = i + 1
			if c == '-' {
				openList()
			}
		case isDigit(c):
			if !isDigitRun && i > start {
				// 1.0.0.X1 < 1.0.0-X2: treat .X as -X.
				if listLen > 0 {
					openList()
				}
				add(mvnStr, s[start:i], true)
				listLen++
				start = i
				openList()
			}
			isDigitRun = true
		default:
			if isDigitRun && i > start {
				item(i)
				start = i
				openList()
			}
			isDigitRun = false
		}
	}
	if len(s) > start {
		if !isDigitRun && listLen > 0 {
			openList()
		}
		item(len(s))
	}
	return normalizeMaven(items), nil
}

// normalize drops, in every list, trailing null items (before the nested
// list, if it is kept) and nested lists left empty, innermost first.
func normalizeMaven(out []mvnItem) []mvnItem {
	end := len(out)
	keepNested := false // whether the list after the current one is kept
	for end >= 0 {
		// Find the start of the innermost list not yet processed.
		open := -1
		for k := end - 1; k >= 0; k-- {
			if out[k].kind == mvnList {
				open = k
				break
			}
		}
		// Items of this list are out[open+1:end], then (if keepNested) the
		// nested list that starts at end.
		n := end
		for n > open+1 && out[n-1].isNull() {
			n--
		}
		// Remove out[n:end], keeping the nested list if it is non-empty.
		if !keepNested {
			out = out[:n]
		} else if n < end {
			out = append(out[:n], out[end:]...)
		}
		keepNested = n > open+1 || keepNested
		if open < 0 {
			break
		}
		end = open
	}
	return out
}

// cmpMavenNull compares items[i:] (the rest of a list chain) with a
// missing item, as ComparableVersion compares an item with null.
func cmpMavenNull(items []mvnItem) int {
	for k := range items {
		it := &items[k]
		switch it.kind {
		case mvnInt:
			if it.value != "" {
				return 1
			}
		case mvnStr:
			if c := cmpInt(it.qualifierRank2(), 5); c != 0 {
				return c
			}
		}
	}
	return 0
}

// qualifierRank2 ranks a qualifier against the release qualifier for
// comparisons with null: unknown qualifiers sort after everything known.
func (it *mvnItem) qualifierRank2() int {
	if r := it.qualifierRank(); r >= 0 {
		return r
	}
	return 7
}

// Compare implements Comparer.
func (Maven) Compare(a, b string) (int, error) {
	var bufA, bufB [24]mvnItem
	va, err := parseMaven(bufA[:], a)
	if err != nil {
		return 0, err
	}
	vb, err := parseMaven(bufB[:], b)
	if err != nil {
		return 0, err
	}
	return compareMaven(va, vb), nil
}

func compareMaven(x, y []mvnItem) int {
	i, j := 0, 0
	for {
		switch {
		case i == len(x) && j == len(y):
			return 0
		case i == len(x):
			return -cmpMavenNull(y[j:])
		case j == len(y):
			return cmpMavenNull(x[i:])
		}
		l, r := &x[i], &y[j]
		if l.kind == mvnList && r.kind == mvnList {
			i++
			j++
			continue
		}
		var c int
		switch l.kind {
		case mvnInt:
			switch r.kind {
			case mvnInt:
				c = cmpNum(l.value, r.value)
			default:
				c = 1 // 1.1 > 1-sp, 1.1 > 1-1
			}
		case mvnStr:
			switch r.kind {
			case mvnStr:
				c = cmpQualifiers(l, r)
			default:
				c = -1 // 1.any < 1.1, 1.any < 1-1
			}
		case mvnList:
			switch r.kind {
			case mvnInt:
				c = -1 // 1-1 < 1.0.x
			default:
				c = 1 // 1-1 > 1-sp
			}
		}
		if c != 0 {
			return c
		}
		i++
		j++
	}
}
