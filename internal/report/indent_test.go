package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// indentCases are documents whose compact form the streaming indenter
// must indent exactly as json.Indent does.
var indentCases = []string{
	`{}`, `[]`, `{"a":{},"b":[],"c":[{}],"d":[[]]}`,
	`{"s":"a \"quoted\" {brace} [bracket], colon: and \\ backslash \\\\","n":-1.5e3,"t":true,"f":false,"z":null}`,
	`[1,[2,[3,{"k":"v"}]],"\u00e9\u2028<>&"]`,
	`{"nested":{"deep":{"deeper":[1,2,{"x":"y,z:"}]}},"end":"\\"}`,
}

func checkIndent(t *testing.T, doc []byte) {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return // not JSON: nothing the encoder would produce
	}
	compact.WriteByte('\n')
	var want bytes.Buffer
	if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := writeIndented(&got, compact.Bytes(), "  "); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("indented differently:\n%s\nwant:\n%s", got.Bytes(), want.Bytes())
	}
}

func TestWriteIndented(t *testing.T) {
	for _, doc := range indentCases {
		checkIndent(t, []byte(doc))
	}
}

func FuzzWriteIndented(f *testing.F) {
	for _, doc := range indentCases {
		f.Add([]byte(doc))
	}
	f.Fuzz(checkIndent)
}
