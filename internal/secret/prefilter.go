package secret

import "bytes"

// prefilter finds which rules' keywords occur in a text in one pass: a
// table of the keywords' first two bytes says where a keyword may start,
// and only there are the keywords compared. It is read-only once built.
type prefilter struct {
	// bigram maps the first two bytes of a keyword to 1 + its group.
	bigram [1 << 16]uint16
	groups [][]keyword
}

type keyword struct {
	word  []byte
	rules uint64 // bit i: rule i has this keyword
}

func newPrefilter(rules []Rule, include func(*Rule) bool) *prefilter {
	p := &prefilter{}
	for i := range rules {
		r := &rules[i]
		if !include(r) {
			continue
		}
		for _, k := range r.Keywords {
			w := []byte(k)
			idx := uint16(w[0])<<8 | uint16(w[1])
			g := p.bigram[idx]
			if g == 0 {
				p.groups = append(p.groups, nil)
				g = uint16(len(p.groups))
				p.bigram[idx] = g
			}
			found := false
			for j := range p.groups[g-1] {
				if bytes.Equal(p.groups[g-1][j].word, w) {
					p.groups[g-1][j].rules |= 1 << i
					found = true
				}
			}
			if !found {
				p.groups[g-1] = append(p.groups[g-1], keyword{word: w, rules: 1 << i})
			}
		}
	}
	return p
}

// match returns the set of rules (bit i for rule i) one of whose keywords
// occurs in b.
func (p *prefilter) match(b []byte) uint64 {
	var mask uint64
	if len(b) < 2 {
		return 0
	}
	prev := uint16(b[0])
	for i := 1; i < len(b); i++ {
		cur := uint16(b[i])
		g := p.bigram[prev<<8|cur]
		prev = cur
		if g == 0 {
			continue
		}
		for _, k := range p.groups[g-1] {
			if mask&k.rules != k.rules && bytes.HasPrefix(b[i-1:], k.word) {
				mask |= k.rules
			}
		}
	}
	return mask
}
