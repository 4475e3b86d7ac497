package report

import (
	"bufio"
	"io"
)

// writeIndented writes compact JSON (as encoding/json marshals it: no
// whitespace outside strings) to w indented exactly as json.Indent with no
// prefix and indent would, but streaming: encoding/json's indenting
// encoder builds the whole indented document in a second buffer, grown by
// doubling, which for a report of findings is megabytes of fresh memory.
func writeIndented(w io.Writer, src []byte, indent string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	depth := 0
	inString, escaped := false, false
	newline := func() {
		bw.WriteByte('\n')
		for range depth {
			bw.WriteString(indent)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			bw.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			bw.WriteByte(c)
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
