package report

import (
	"bufio"
	"bytes"
	"io"
)

// writeIndented writes compact JSON (as encoding/json marshals it: no
// whitespace outside strings) to w indented exactly as json.Indent with no
// prefix and indent would, but streaming: encoding/json's indenting
// encoder builds the whole indented document in a second buffer, grown by
// doubling, which for a report of findings is megabytes of fresh memory.
// Strings, most of a report, are copied whole rather than byte by byte.
func writeIndented(w io.Writer, src []byte, indent string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	depth := 0
	// nl holds a newline and indents for the deepest level seen so far.
	nl := []byte{'\n'}
	newline := func() {
		n := 1 + max(depth, 0)*len(indent)
		for len(nl) < n {
			nl = append(nl, indent...)
		}
		bw.Write(nl[:n])
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// Copy the string through its closing quote, escapes included.
			// q is the next quote at or after j, found again only once an
			// escape has passed it: a string of many escapes is still read
			// once, not once per escape.
			j, q := i+1, -1
			for j < len(src) {
				if q < j {
					k := bytes.IndexByte(src[j:], '"')
					if k < 0 {
						j = len(src)
						break
					}
					q = j + k
				}
				if b := bytes.IndexByte(src[j:q], '\\'); b >= 0 {
					j += b + 2 // the escape and the byte it escapes
					continue
				}
				j = q + 1
				break
			}
			j = min(j, len(src))
			bw.Write(src[i:j])
			i = j - 1
		case '{', '[':
			bw.WriteByte(c)
			// An empty object or array stays on one line.
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				bw.WriteByte(src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			bw.WriteByte(c)
		case ',':
			bw.WriteByte(c)
			newline()
		case ':':
			bw.WriteByte(c)
			bw.WriteByte(' ')
		default:
			bw.WriteByte(c)
		}
	}
	return bw.Flush()
}
