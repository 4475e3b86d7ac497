package ruby

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/drydockscan/drydock/internal/inventory"
)

// ParseGemspec reads the Ruby source RubyGems writes for an installed gem
// (Gem::Specification#to_ruby):
//
//	# stub: rack 3.2.4 ruby lib
//	Gem::Specification.new do |s|
//	  s.name = "rack".freeze
//	  s.version = "3.2.4".freeze
//	  s.platform = "x86_64-linux".freeze
//	  s.licenses = ["MIT".freeze]
//
// Strings may be "double-quoted", 'single-quoted' or %q{…} (RubyGems
// 1.x), with or without .freeze. The code is never evaluated; when the
// name or version assignment is missing the "# stub:" line supplies it.
func ParseGemspec(b []byte) (*inventory.Package, error) {
	var (
		v                               string // the block variable
		name, version, platform         string
		stubName, stubVer, stubPlatform string
		licenses                        []string
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if stub, ok := strings.CutPrefix(line, "# stub: "); ok && stubName == "" {
			f := strings.Fields(stub)
			if len(f) >= 2 {
				stubName, stubVer = f[0], f[1]
				if len(f) >= 3 {
					stubPlatform = f[2]
				}
			}
			continue
		}
		if v == "" {
			if rest, ok := strings.CutPrefix(line, "Gem::Specification.new"); ok {
				v = blockVar(rest)
				if v == "" {
					return nil, fmt.Errorf("%w: line %d: Gem::Specification.new without a |block| variable", ErrMalformed, n)
				}
			}
			continue
		}
		attr, value, ok := assignment(line, v)
		if !ok {
			continue
		}
		var err error
		switch attr {
		case "name":
			name, err = rubyString(value)
		case "version":
			version, err = rubyString(value)
		case "platform":
			if value == "Gem::Platform::RUBY" {
				platform = "ruby"
			} else {
				platform, err = rubyString(value)
			}
		case "license":
			var l string
			if l, err = rubyString(value); err == nil {
				licenses = appendLicense(licenses, l)
			}
		case "licenses":
			var ls []string
			if ls, err = rubyStrings(value); err == nil {
				for _, l := range ls {
					licenses = appendLicense(licenses, l)
				}
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %s.%s: %v", ErrMalformed, n, v, attr, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v == "" && stubName == "" {
		return nil, fmt.Errorf("%w: no Gem::Specification.new block", ErrMalformed)
	}
	if name == "" {
		name = stubName
	}
	if version == "" {
		version = stubVer
	}
	if platform == "" {
		platform = stubPlatform
	}
	switch {
	case !validName(name):
		return nil, fmt.Errorf("%w: invalid or missing gem name %q", ErrMalformed, truncate(name))
	case !validVersion(version):
		return nil, fmt.Errorf("%w: %s: invalid or missing version %q", ErrMalformed, name, truncate(version))
	case !validPlatform(platform):
		return nil, fmt.Errorf("%w: %s: invalid platform %q", ErrMalformed, name, truncate(platform))
	}
	p := newPackage(name, version, platform)
	p.Licenses = licenses
	return &p, nil
}

func appendLicense(ls []string, l string) []string {
	l = strings.TrimSpace(l)
	if l == "" || len(l) > 256 {
		return ls
	}
	for _, have := range ls {
		if have == l {
			return ls
		}
	}
	return append(ls, l)
}

// blockVar returns the variable of " do |s|" or " { |spec|".
func blockVar(rest string) string {
	i := strings.IndexByte(rest, '|')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(rest[i+1:], '|')
	if j < 0 {
		return ""
	}
	v := strings.TrimSpace(rest[i+1 : i+1+j])
	if v == "" || !isIdent(v) {
		return ""
	}
	return v
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || (i > 0 && '0' <= c && c <= '9')) {
			return false
		}
	}
	return true
}

// assignment splits "s.attr = value" (value stripped of a trailing
// modifier such as "if s.respond_to? …").
func assignment(line, v string) (attr, value string, ok bool) {
	rest, ok := strings.CutPrefix(line, v+".")
	if !ok {
		return "", "", false
	}
	attr, value, ok = strings.Cut(rest, "=")
	if !ok {
		return "", "", false
	}
	attr = strings.TrimSpace(attr)
	if !isIdent(attr) || strings.HasPrefix(value, "=") {
		return "", "", false // "s.x == y" is no assignment
	}
	return attr, strings.TrimSpace(value), true
}

// rubyString reads one string literal, with an optional .freeze, from
// the start of value.
func rubyString(value string) (string, error) {
	s, rest, err := stringLiteral(value)
	if err != nil {
		return "", err
	}
	rest = strings.TrimPrefix(rest, ".freeze")
	if rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "if ") && !strings.HasPrefix(rest, "#") {
		return "", fmt.Errorf("unexpected %q after the string", truncate(rest))
	}
	return s, nil
}

// rubyStrings reads an array of string literals: ["a".freeze, "b"].
func rubyStrings(value string) ([]string, error) {
	rest, ok := strings.CutPrefix(value, "[")
	if !ok {
		// A single string where an array is expected is accepted.
		s, err := rubyString(value)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var out []string
	for {
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, "]") {
			return out, nil
		}
		s, after, err := stringLiteral(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		rest = strings.TrimSpace(strings.TrimPrefix(after, ".freeze"))
		if r, ok := strings.CutPrefix(rest, ","); ok {
			rest = r
		} else if !strings.HasPrefix(rest, "]") {
			return nil, fmt.Errorf("expected ',' or ']' before %q", truncate(rest))
		}
	}
}

// stringLiteral reads "…", '…' or %q{…} (also %q<…>, %q(…), %q[…]) at
// the start of s and returns its value and what follows.
func stringLiteral(s string) (val, rest string, err error) {
	switch {
	case strings.HasPrefix(s, `"`):
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("bad string literal %q", truncate(s))
		}
		val, err := strconv.Unquote(q)
		if err != nil {
			// Ruby escapes Go does not know ("\#{"): keep the raw text.
			val = q[1 : len(q)-1]
		}
		return val, s[len(q):], nil
	case strings.HasPrefix(s, "'"):
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", "", fmt.Errorf("unterminated string %q", truncate(s))
		}
		return s[1 : 1+end], s[2+end:], nil
	case strings.HasPrefix(s, "%q") && len(s) > 2:
		closer := map[byte]byte{'{': '}', '<': '>', '(': ')', '[': ']'}[s[2]]
		if closer == 0 {
			return "", "", fmt.Errorf("unsupported %%q delimiter in %q", truncate(s))
		}
		end := strings.IndexByte(s[3:], closer)
		if end < 0 {
			return "", "", fmt.Errorf("unterminated string %q", truncate(s))
		}
		return s[3 : 3+end], s[4+end:], nil
	}
	return "", "", fmt.Errorf("expected a string literal, got %q", truncate(s))
}
