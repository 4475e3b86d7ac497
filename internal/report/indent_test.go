package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
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

// BenchmarkWriteIndented indents a report-shaped document: objects of
// short fields and long descriptions, a few escapes among them.
func BenchmarkWriteIndented(b *testing.B) {
	type finding struct {
		ID, Package, Version, Fixed, Severity string
		Description                           string
		References                            []string
	}
	fs := make([]finding, 1000)
	for i := range fs {
		fs[i] = finding{
			ID: "CVE-2024-0001", Package: "libssl3", Version: "3.0.11-1~deb12u2", Fixed: "3.0.13-1~deb12u1", Severity: "HIGH",
			Description: "Issue summary: Processing a maliciously formatted \"PKCS12\" file may lead OpenSSL to crash leading to a potential Denial of Service attack.\n\nImpact summary: Applications loading files in the PKCS12 format from untrusted sources might terminate abruptly.",
			References:  []string{"https://www.openssl.org/news/secadv/20240125.txt", "https://security-tracker.debian.org/tracker/CVE-2024-0727"},
		}
	}
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fs); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(compact.Len()))
	for b.Loop() {
		if err := writeIndented(io.Discard, compact.Bytes(), "  "); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteIndentedEscapes indents one long string of many escapes
// (a file's text in a finding, say): it must be read once, not once per
// escape.
func BenchmarkWriteIndentedEscapes(b *testing.B) {
	doc := []byte(`{"text":"` + strings.Repeat(`ab\n`, 100000) + `"}` + "\n")
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := writeIndented(io.Discard, doc, "  "); err != nil {
			b.Fatal(err)
		}
	}
}
