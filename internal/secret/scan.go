package secret

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Hit is one secret found in one file: plain data, without the secret.
type Hit struct {
	Rule string `json:"rule"`
	Line int    `json:"line,omitempty"`
	// Match is the redacted secret; Fingerprint its short hash.
	Match       string `json:"match"`
	Fingerprint string `json:"fingerprint"`
}

// Allow are exceptions: files whose path matches one of Paths are not
// scanned, and secrets matching one of Regexes are not reported. Both
// are regular expressions (Go syntax); paths are relative to the image
// root, without a leading slash.
type Allow struct {
	Paths   []string `yaml:"paths" json:"paths,omitempty"`
	Regexes []string `yaml:"regexes" json:"regexes,omitempty"`
}

// DefaultMaxSize is the size above which a file is not scanned.
const DefaultMaxSize = 4 << 20

// Options configure a Scanner.
type Options struct {
	Allow Allow
	// MaxSize caps the size of a scanned file (0: DefaultMaxSize).
	MaxSize int64
}

// Scanner applies the rules. It is safe for concurrent use.
type Scanner struct {
	rules      []Rule
	allowPaths []*regexp.Regexp
	allowRegex []*regexp.Regexp
	maxSize    int64
	// all has every rule's keywords; anyPath leaves out the rules limited
	// to some files.
	all, anyPath *prefilter
	// fingerprint names the options, for caches of layer results.
	fingerprint string
}

// Fingerprint identifies the scanner's options (allow rules, size cap):
// results found with other options differ.
func (s *Scanner) Fingerprint() string { return s.fingerprint }

// Validate checks the options without building a scanner (which
// compiles every rule): the allow patterns must compile.
func (o Options) Validate() error {
	_, _, err := o.Allow.compile()
	return err
}

// compile compiles the allow patterns.
func (a Allow) compile() (paths, regexes []*regexp.Regexp, err error) {
	for _, p := range a.Paths {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("secret allow path %q: %w", p, err)
		}
		paths = append(paths, re)
	}
	for _, p := range a.Regexes {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("secret allow regex %q: %w", p, err)
		}
		regexes = append(regexes, re)
	}
	return paths, regexes, nil
}

// New compiles a scanner with the built-in rules and the allow rules.
func New(o Options) (*Scanner, error) {
	s := &Scanner{rules: Rules(), maxSize: o.MaxSize}
	if s.maxSize <= 0 {
		s.maxSize = DefaultMaxSize
	}
	fp, _ := json.Marshal(struct {
		Allow   Allow `json:"allow"`
		MaxSize int64 `json:"max_size"`
	}{o.Allow, s.maxSize})
	sum := sha256.Sum256(fp)
	s.fingerprint = hex.EncodeToString(sum[:8])
	var err error
	if s.allowPaths, s.allowRegex, err = o.Allow.compile(); err != nil {
		return nil, err
	}
	if len(s.rules) > 64 {
		return nil, fmt.Errorf("secret: %d rules, the prefilter handles 64", len(s.rules))
	}
	for _, r := range s.rules {
		for _, k := range r.Keywords {
			if len(k) < 2 {
				return nil, fmt.Errorf("secret rule %s: keyword %q shorter than 2 bytes", r.ID, k)
			}
		}
	}
	s.all = newPrefilter(s.rules, func(*Rule) bool { return true })
	s.anyPath = newPrefilter(s.rules, func(r *Rule) bool { return r.Paths == nil })
	return s, nil
}

// MaxSize is the largest file the scanner reads.
func (s *Scanner) MaxSize() int64 { return s.maxSize }

// Wants reports whether a file at path (relative to the root) of size
// bytes is to be scanned: not too big, not a known binary format, not
// allowed by a path rule.
func (s *Scanner) Wants(path string, size int64) bool {
	if size <= 0 || size > s.maxSize || binaryName(path) {
		return false
	}
	for _, re := range s.allowPaths {
		if re.MatchString(path) {
			return false
		}
	}
	return true
}

// Binary reports whether content looks binary: a NUL byte in its first
// 8 KiB, as git decides.
func Binary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8<<10)], 0) >= 0
}

// ScanFile finds the secrets in a file's content; path is relative to the
// root. Binary content gives nothing.
func (s *Scanner) ScanFile(path string, b []byte) []Hit {
	if Binary(b) {
		return nil
	}
	pf := s.anyPath
	for i := range s.rules {
		if s.rules[i].Paths != nil && s.rules[i].Paths().MatchString(path) {
			pf = s.all
			break
		}
	}
	mask := pf.match(b)
	if mask == 0 {
		return nil
	}
	return s.scan(path, b, mask)
}

// ScanText finds the secrets in a piece of text (an environment value, a
// label, a history command) with every rule that is not limited to
// configuration files.
func (s *Scanner) ScanText(text string) []Hit {
	b := []byte(text)
	mask := s.anyPath.match(b)
	if mask == 0 {
		return nil
	}
	return s.scan("", b, mask)
}

// scan runs the rules in mask (those whose keywords the prefilter found).
func (s *Scanner) scan(path string, b []byte, mask uint64) []Hit {
	var hits []Hit
	for i := range s.rules {
		r := &s.rules[i]
		if mask&(1<<i) == 0 || r.Paths != nil && (path == "" || !r.Paths().MatchString(path)) {
			continue
		}
		idx := r.Regex().SubexpIndex("secret")
		for _, m := range r.findAll(b, 100) {
			start, end := m[0], m[1]
			if idx > 0 && m[2*idx] >= 0 {
				start, end = m[2*idx], m[2*idx+1]
			}
			sec := string(b[start:end])
			if r.ID == "private-key" {
				sec = strings.Join(strings.Fields(sec), "")
			}
			if r.Skip != nil && r.Skip(sec) || s.allowed(sec) {
				continue
			}
			h := Hit{Rule: r.ID, Match: Redact(sec), Fingerprint: Fingerprint(sec)}
			if r.ID == "private-key" {
				// The header says what kind of key it is and is no secret.
				h.Match = keyHeader(b[m[0]:m[1]]) + " " + h.Match
			}
			if path != "" {
				h.Line = 1 + bytes.Count(b[:start], []byte("\n"))
			}
			hits = append(hits, h)
		}
	}
	return hits
}

func (s *Scanner) allowed(sec string) bool {
	for _, re := range s.allowRegex {
		if re.MatchString(sec) {
			return true
		}
	}
	return false
}

func keyHeader(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimSpace(string(line))
}

// Redact keeps a few leading characters of a secret and hides the rest:
// at most 4, and never more than a fifth of it.
func Redact(s string) string {
	n := min(4, utf8.RuneCountInString(s)/5)
	return string([]rune(s)[:n]) + "…"
}

// Fingerprint is "sha256:" and the first 12 hex digits of the secret's
// SHA-256: enough to recognise the same secret again, too short to be a
// useful hash of a strong secret. A weak password can still be guessed
// from it, as from any hash.
func Fingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:6])
}

// binaryName reports file names whose format is binary.
func binaryName(p string) bool {
	i := strings.LastIndexByte(p, '.')
	if i < 0 || i < strings.LastIndexByte(p, '/') {
		return false
	}
	switch strings.ToLower(p[i+1:]) {
	case "so", "a", "o", "png", "jpg", "jpeg", "gif", "ico", "webp", "bmp", "tif", "tiff",
		"gz", "tgz", "xz", "bz2", "zst", "zip", "jar", "war", "ear", "whl", "egg", "deb", "rpm", "apk",
		"pyc", "pyo", "class", "mo", "woff", "woff2", "ttf", "otf", "eot", "pdf", "mp3", "mp4", "ogg",
		"wasm", "node", "sqlite", "pack", "idx":
		return true
	}
	// Shared objects with versions: libfoo.so.1.2.
	return strings.Contains(p[strings.LastIndexByte(p, '/')+1:], ".so.")
}

// RedactText returns text with every secret the rules find replaced by
// its redaction and fingerprint.
func (s *Scanner) RedactText(text string) string {
	b := []byte(text)
	mask := s.anyPath.match(b)
	if mask == 0 {
		return text
	}
	type span struct{ start, end int }
	var spans []span
	for i := range s.rules {
		r := &s.rules[i]
		if r.Paths != nil || mask&(1<<i) == 0 {
			continue
		}
		idx := r.Regex().SubexpIndex("secret")
		for _, m := range r.Regex().FindAllSubmatchIndex(b, -1) {
			start, end := m[0], m[1]
			if idx > 0 && m[2*idx] >= 0 {
				start, end = m[2*idx], m[2*idx+1]
			}
			spans = append(spans, span{start, end})
		}
	}
	if len(spans) == 0 {
		return text
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var out strings.Builder
	pos := 0
	for _, sp := range spans {
		if sp.start < pos {
			continue
		}
		out.Write(b[pos:sp.start])
		sec := string(b[sp.start:sp.end])
		out.WriteString(Redact(sec) + "[" + Fingerprint(sec) + "]")
		pos = sp.end
	}
	out.Write(b[pos:])
	return out.String()
}

// Window sizes around a keyword that a rule's regular expression runs
// on: matches start at most windowBefore bytes before their keyword (the
// window starts at that line's start) and end within windowAfter bytes.
const (
	windowBefore = 512
	windowAfter  = 16 << 10
)

// findAll runs the rule's expression on the windows around its keywords
// (merged where they overlap) rather than the whole content, and returns
// submatch indexes into b. Rules without Windowed run on the whole of b.
func (r *Rule) findAll(b []byte, n int) [][]int {
	if !r.Windowed {
		return r.Regex().FindAllSubmatchIndex(b, n)
	}
	var starts []int
	for _, k := range r.Keywords {
		kw := []byte(k)
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], kw)
			if i < 0 {
				break
			}
			starts = append(starts, off+i)
			off += i + len(kw)
			if len(starts) > 10*n {
				return r.Regex().FindAllSubmatchIndex(b, n)
			}
		}
	}
	slices.Sort(starts)
	var out [][]int
	end := 0
	for i := 0; i < len(starts); {
		ws := max(starts[i]-windowBefore, end)
		if nl := bytes.LastIndexByte(b[end:ws], '\n'); nl >= 0 {
			ws = end + nl + 1
		} else {
			ws = end
		}
		we := min(starts[i]+windowAfter, len(b))
		for i < len(starts) && starts[i] < we {
			we = min(max(we, starts[i]+windowAfter), len(b))
			i++
		}
		for _, m := range r.Regex().FindAllSubmatchIndex(b[ws:we], n-len(out)) {
			for j := range m {
				if m[j] >= 0 {
					m[j] += ws
				}
			}
			out = append(out, m)
		}
		end = we
		if len(out) >= n {
			break
		}
	}
	return out
}
