package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/tagvalue"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cli"
)

// findingsOf reads the findings and packages of a JSON report as
// comparable lines.
func findingsOf(t *testing.T, path string) (vulns, pkgs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Vulnerabilities []struct {
			ID       string
			Severity string
			Package  struct{ Type, Name, Version, Path string }
		}
		Packages []struct{ Type, Name, Version, Path, PURL string }
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Vulnerabilities {
		vulns = append(vulns, strings.Join([]string{v.ID, v.Severity, v.Package.Type, v.Package.Name, v.Package.Version, v.Package.Path}, " "))
	}
	for _, p := range r.Packages {
		pkgs = append(pkgs, strings.Join([]string{p.Type, p.Name, p.Version, p.Path, p.PURL}, " "))
	}
	return vulns, pkgs
}

// TestSBOMRoundTrip: drydock's own CycloneDX, SPDX and JSON reports of
// every corpus image — and the CycloneDX XML and SPDX tag-value forms of
// the same documents — read back with drydock sbom give the findings of
// scanning the image.
func TestSBOMRoundTrip(t *testing.T) {
	corpus := analyzetest.Corpus(t)
	env := map[string]string{"SOURCE_DATE_EPOCH": "1767225600"}
	for _, name := range []string{"debian12-app", "debian13-slim", "edge-layers", "multiarch-busybox"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f := func(n string) string { return filepath.Join(dir, n) }
			code, _, errOut := run(t, env, "image", "-q", filepath.Join(corpus, name, "oci"),
				"-o", "json="+f("image.json"), "-o", "cyclonedx="+f("bom.cdx.json"), "-o", "spdx-json="+f("bom.spdx.json"))
			if code != 0 {
				t.Fatalf("scan: exit %d: %s", code, errOut)
			}
			toXML(t, f("bom.cdx.json"), f("bom.cdx.xml"))
			toTagValue(t, f("bom.spdx.json"), f("bom.spdx"))
			wantV, wantP := findingsOf(t, f("image.json"))
			if name == "debian12-app" && len(wantV) < 100 {
				t.Fatalf("only %d findings on debian12-app: the test would prove little", len(wantV))
			}
			for _, in := range []string{"image.json", "bom.cdx.json", "bom.cdx.xml", "bom.spdx.json", "bom.spdx"} {
				out := f(in + ".back.json")
				code, _, errOut := run(t, env, "sbom", "-q", f(in), "-o", "json="+out)
				if code != 0 {
					t.Fatalf("sbom %s: exit %d: %s", in, code, errOut)
				}
				gotV, gotP := findingsOf(t, out)
				if diff := cmp.Diff(wantV, gotV); diff != "" {
					t.Errorf("%s: findings differ from the image scan (-image +sbom):\n%s", in, diff)
				}
				if diff := cmp.Diff(wantP, gotP); diff != "" {
					t.Errorf("%s: packages differ from the image scan (-image +sbom):\n%s", in, diff)
				}
			}
		})
	}
}

func toXML(t *testing.T, in, out string) {
	t.Helper()
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatXML).Encode(&bom); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func toTagValue(t *testing.T, in, out string) {
	t.Helper()
	r, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doc, err := spdxjson.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	// Tag-value keeps annotations at document level, each naming its
	// element (the library writes only those).
	for _, p := range doc.Packages {
		for _, a := range p.Annotations {
			a.AnnotationSPDXIdentifier = common.MakeDocElementID("", string(p.PackageSPDXIdentifier))
			doc.Annotations = append(doc.Annotations, &a)
		}
		p.Annotations = nil
	}
	var buf bytes.Buffer
	if err := tagvalue.Write(doc, &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSBOMErrors: unreadable SBOMs exit 2 with a message naming the file.
func TestSBOMErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"garbage.json":  `{"hello": "world"}`,
		"broken.json":   `{"bomFormat": "CycloneDX", "components": [`,
		"notbom.xml":    `<html></html>`,
		"empty.spdx":    ``,
		"badspdx.spdx":  "SPDXVersion: SPDX-2.3\nPackageName: x\nPackageVersion",
		"wrongtype.cdx": `{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": "nope"}`,
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run(t, nil, "sbom", "--scanners", "none", p)
		if code != cli.ExitError || !strings.Contains(errOut, name) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and the file named", name, code, errOut)
		}
	}
}
