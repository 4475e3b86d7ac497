package license_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/layerio"
	"github.com/drydockscan/drydock/internal/license"
)

// copyrights returns the Debian copyright files of a corpus image's
// layers, by package name.
func copyrights(t *testing.T, image string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, blob := range analyzetest.Layers(t, image) {
		f, err := os.Open(blob)
		if err != nil {
			t.Fatal(err)
		}
		s, err := layerio.Open(f, "", "", layerio.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(s)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(hdr.Name, "./")
			if hdr.Typeflag == tar.TypeReg && strings.HasPrefix(name, "usr/share/doc/") && path.Base(name) == "copyright" {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				out[path.Base(path.Dir(name))] = b
			}
		}
		s.Close()
	}
	return out
}

// licenseParagraphs returns the stand-alone licence paragraphs of a
// machine-readable copyright file: the licence name and its full text.
func licenseParagraphs(text []byte) [][2]string {
	var out [][2]string
	for para := range strings.SplitSeq(string(text), "\n\n") {
		first, rest, _ := strings.Cut(para, "\n")
		name, ok := strings.CutPrefix(first, "License:")
		if !ok || strings.Contains(para, "\nFiles:") {
			continue
		}
		var body []string
		for _, l := range strings.Split(rest, "\n") {
			l = strings.TrimPrefix(strings.TrimSpace(l), ".")
			body = append(body, l)
		}
		out = append(out, [2]string{strings.TrimSpace(name), strings.Join(body, "\n")})
	}
	return out
}

// TestClassifyRealCopyrights classifies the full licence texts that the
// corpus's Debian copyright files carry and compares each with the
// licence the paragraph declares.
func TestClassifyRealCopyrights(t *testing.T) {
	var c license.Classifier
	checked, agreed, recognised := 0, 0, 0
	seen := map[string]bool{}
	files := copyrights(t, "debian12-app")
	var pkgs []string
	for p := range files {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	for _, pkg := range pkgs {
		for _, p := range licenseParagraphs(files[pkg]) {
			want := license.Normalize(p[0])
			// Full texts of single listed licences only: a paragraph
			// pointing at /usr/share/common-licenses holds no text.
			if want == "" || strings.ContainsAny(want, " ") || len(p[1]) < 600 || seen[want] || strings.Contains(p[1], "common-licenses") {
				continue
			}
			seen[want] = true
			ms, err := c.Classify([]byte(p[1]))
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if len(ms) == 0 {
				t.Logf("%s: no licence recognised in the %s text", pkg, want)
				continue
			}
			// Near-identical texts carry different names (X11 and MIT,
			// BSD-4-Clause and BSD-4-Clause-UC, PSF-2.0 inside Python-2.0):
			// what the policy needs is the same category.
			if got, exp := license.Category(ms[0].ID), license.Category(want); got != exp || got == license.Unknown {
				t.Errorf("%s: the %s (%s) paragraph's text is classified as %s (%s, %.2f)", pkg, want, exp, ms[0].ID, got, ms[0].Confidence)
				continue
			}
			if ms[0].ID == want {
				agreed++
			}
			recognised++
		}
	}
	if recognised < 8 {
		t.Errorf("%d of %d licence texts recognised: too few to test the classifier", recognised, checked)
	}
	t.Logf("%d licence texts from copyright files: %d recognised in the declared category, %d with the declared id", checked, recognised, agreed)
}
