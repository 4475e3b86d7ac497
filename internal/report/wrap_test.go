package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWrap checks the table's text fitting on any (terminal-safe) text:
// wrapAt keeps every character but spaces, in order, and never makes a
// line wider than the width; ellipsize returns a prefix of the text,
// ending in "…" when it was cut, no wider than the width.
func FuzzWrap(f *testing.F) {
	for _, s := range []string{
		"", "libpython3.11-stdlib", "github.com/gin-gonic/gin", "(ignored until 2027-06-30)",
		"v0.0.0-20200622213623-75b288015ac9", "expat: XML_ExternalEntityParserCreate does not copy the unknown encoding handler's user data",
		"a  b   c", "ééé-ééé/ééé", "----", "x/", "日本語のタイトル",
	} {
		f.Add(s, uint8(10))
	}
	f.Fuzz(func(t *testing.T, s string, w uint8) {
		s = termSafe(s)
		width := int(w%60) + 1
		lines := wrapAt(s, width, "/-,")
		if len(lines) == 0 {
			t.Fatal("no line")
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("line %q of %d runes at width %d", l, n, width)
			}
		}
		squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if got, want := squash(strings.Join(lines, "")), squash(s); got != want {
			t.Errorf("wrapAt(%q, %d) = %q loses text", s, width, lines)
		}

		e := ellipsize(s, width)
		if n := utf8.RuneCountInString(e); n > width {
			t.Errorf("ellipsize(%q, %d) = %q, %d runes", s, width, e, n)
		}
		if e != s {
			cut, ok := strings.CutSuffix(e, "…")
			if !ok || !strings.HasPrefix(s, cut) {
				t.Errorf("ellipsize(%q, %d) = %q, not a prefix ending in …", s, width, e)
			}
		}
	})
}
