package rules

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// The condition language, in the style of Falco's:
//
//	cond  := or
//	or    := and { "or" and }
//	and   := not { "and" not }
//	not   := "not" not | "(" cond ")" | MACRO | FIELD [ OP VALUE ]
//	OP    := = | == | != | < | <= | > | >= | in | startswith | endswith |
//	         contains | glob | pmatch | in_cidr | exists
//	VALUE := WORD | "quoted" | ( ITEM, … )   — an ITEM naming a list expands to it
//
// A FIELD alone tests a boolean field. Lists may be named anywhere a
// parenthesised list is allowed.

type node interface {
	eval(e *Event) bool
}

type andNode struct{ a, b node }
type orNode struct{ a, b node }
type notNode struct{ a node }
type boolField struct{ f field }
type cmpNode struct {
	f    field
	op   string
	vals []string
	nums []int64
	nets []netip.Prefix
}

func (n andNode) eval(e *Event) bool   { return n.a.eval(e) && n.b.eval(e) }
func (n orNode) eval(e *Event) bool    { return n.a.eval(e) || n.b.eval(e) }
func (n notNode) eval(e *Event) bool   { return !n.a.eval(e) }
func (n boolField) eval(e *Event) bool { return n.f.get(e).truth() }

func (n cmpNode) eval(e *Event) bool {
	v := n.f.get(e)
	switch n.op {
	case "exists":
		return !v.empty()
	case "=", "==":
		return v.any(func(s string) bool { return s == n.vals[0] })
	case "!=":
		return !v.any(func(s string) bool { return s == n.vals[0] })
	case "<", "<=", ">", ">=":
		if v.kind != kindInt {
			return false
		}
		w := n.nums[0]
		switch n.op {
		case "<":
			return v.i < w
		case "<=":
			return v.i <= w
		case ">":
			return v.i > w
		default:
			return v.i >= w
		}
	case "in":
		return v.any(func(s string) bool {
			for _, w := range n.vals {
				if s == w {
					return true
				}
			}
			return false
		})
	case "startswith":
		return v.any(func(s string) bool { return anyOf(n.vals, func(w string) bool { return strings.HasPrefix(s, w) }) })
	case "endswith":
		return v.any(func(s string) bool { return anyOf(n.vals, func(w string) bool { return strings.HasSuffix(s, w) }) })
	case "contains":
		return v.any(func(s string) bool { return anyOf(n.vals, func(w string) bool { return strings.Contains(s, w) }) })
	case "glob":
		return v.any(func(s string) bool {
			return anyOf(n.vals, func(w string) bool { ok, _ := path.Match(w, s); return ok || globAny(w, s) })
		})
	case "pmatch":
		// The value is one of the paths or below one of them.
		return v.any(func(s string) bool {
			return anyOf(n.vals, func(w string) bool {
				w = strings.TrimSuffix(w, "/")
				return s == w || strings.HasPrefix(s, w+"/")
			})
		})
	case "in_cidr":
		return v.any(func(s string) bool {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return false
			}
			a = a.Unmap()
			for _, p := range n.nets {
				if p.Contains(a) {
					return true
				}
			}
			return false
		})
	}
	return false
}

// globAny is glob matching where "*" also crosses "/" (path.Match's "*"
// stops at a slash), so "*.key" matches "/app/config/tls.key".
func globAny(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return false
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

func anyOf(vals []string, f func(string) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
	}
	return false
}

// token kinds
const (
	tWord = iota
	tString
	tOp
	tLParen
	tRParen
	tComma
	tEOF
)

type token struct {
	kind int
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == ',':
			out = append(out, token{tComma, ","})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			op := s[i:j]
			if op == "!" {
				return nil, fmt.Errorf("unexpected '!' at offset %d", i)
			}
			out = append(out, token{tOp, op})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r(),=!<>\"'", rune(s[j])) {
				j++
			}
			out = append(out, token{tWord, s[i:j]})
			i = j
		}
	}
	return append(out, token{tEOF, ""}), nil
}

var wordOps = map[string]bool{
	"in": true, "startswith": true, "endswith": true, "contains": true,
	"glob": true, "pmatch": true, "in_cidr": true, "exists": true,
}

// parser compiles one condition against the rule set's lists and macros.
type parser struct {
	toks   []token
	pos    int
	lists  map[string][]string
	macro  func(name string) (node, error)
	fields map[string]field
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func compile(cond string, lists map[string][]string, macro func(string) (node, error)) (node, error) {
	toks, err := lex(cond)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, lists: lists, macro: macro, fields: fields}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return n, nil
}

func (p *parser) or() (node, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tWord && p.peek().text == "or" {
		p.next()
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = orNode{a, b}
	}
	return a, nil
}

func (p *parser) and() (node, error) {
	a, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tWord && p.peek().text == "and" {
		p.next()
		b, err := p.not()
		if err != nil {
			return nil, err
		}
		a = andNode{a, b}
	}
	return a, nil
}

func (p *parser) not() (node, error) {
	t := p.next()
	switch {
	case t.kind == tWord && t.text == "not":
		a, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{a}, nil
	case t.kind == tLParen:
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != tRParen {
			return nil, fmt.Errorf("missing ')' before %q", r.text)
		}
		return a, nil
	case t.kind == tWord:
		f, isField := p.fields[t.text]
		if !isField {
			if m, err := p.macro(t.text); err != nil || m != nil {
				return m, err
			}
			return nil, fmt.Errorf("unknown field or macro %q", t.text)
		}
		op := p.peek()
		if op.kind == tOp || (op.kind == tWord && wordOps[op.text]) {
			p.next()
			return p.comparison(f, op.text)
		}
		if f.kind != kindBool {
			return nil, fmt.Errorf("field %s is not a boolean: give an operator", t.text)
		}
		return boolField{f}, nil
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

func (p *parser) comparison(f field, op string) (node, error) {
	n := cmpNode{f: f, op: op}
	if op == "exists" {
		return n, nil
	}
	switch op {
	case "in", "pmatch", "in_cidr", "glob", "startswith", "endswith", "contains":
		vals, err := p.values(op != "in" && op != "pmatch" && op != "in_cidr")
		if err != nil {
			return nil, err
		}
		n.vals = vals
	default:
		t := p.next()
		if t.kind != tWord && t.kind != tString {
			return nil, fmt.Errorf("%s %s: want a value, got %q", f.name, op, t.text)
		}
		n.vals = []string{t.text}
	}
	switch op {
	case "<", "<=", ">", ">=":
		v, err := strconv.ParseInt(n.vals[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %s %q: not a number", f.name, op, n.vals[0])
		}
		n.nums = []int64{v}
	case "in_cidr":
		for _, v := range n.vals {
			pr, err := parsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("%s in_cidr: %w", f.name, err)
			}
			n.nets = append(n.nets, pr)
		}
	}
	return n, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// values reads "( a, b )", a list name, or (single allowed) one value.
func (p *parser) values(single bool) ([]string, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		var out []string
		for {
			it := p.next()
			switch it.kind {
			case tRParen:
				return out, nil
			case tComma:
				continue
			case tWord, tString:
				if l, ok := p.lists[it.text]; ok && it.kind == tWord {
					out = append(out, l...)
				} else {
					out = append(out, it.text)
				}
			default:
				return nil, fmt.Errorf("unexpected %q in a list", it.text)
			}
		}
	case tWord, tString:
		if l, ok := p.lists[t.text]; ok && t.kind == tWord {
			return l, nil
		}
		if single {
			return []string{t.text}, nil
		}
	}
	return nil, fmt.Errorf("want a list, got %q", t.text)
}
