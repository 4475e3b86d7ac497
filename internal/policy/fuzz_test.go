package policy

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseIgnoreFile(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "ignore.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("ignore:\n  - path: \"**/a/**/b*\"\n    package: pkg:npm/%40x/y@1?a=b\n    reason: r\n    expires: 2026-01-01\n"))
	f.Add([]byte("ignore: &a [*a]\n"))
	f.Add([]byte("a: &a [x, *a]\n"))
	findings := loadFindings(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ig, err := ParseIgnoreFile(data, "fuzz.yaml")
		if err != nil {
			return
		}
		for _, e := range ig.Entries {
			if e.Reason == "" || (e.ID == "" && e.Package == "" && e.Path == "") {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		Apply(findings, Options{Now: now, Ignore: ig})
	})
}

func FuzzParseVEX(f *testing.F) {
	for _, name := range []string{"openvex.json", "openvex-attestation.json", "openvex-v0.0.1.json", "cyclonedx-vex.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"bom-ref":"a","purl":"pkg:oci/x","components":[{"bom-ref":"b"}]}],"vulnerabilities":[{"id":"CVE-1","analysis":{"state":"resolved"},"affects":[{"ref":"urn:cdx:x/1#b%zz"}]}]}`))
	findings := loadFindings(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVEX(data, "fuzz.json")
		if err != nil {
			return
		}
		for _, s := range v.Statements {
			if s.Vulnerability == "" {
				t.Fatal("statement without vulnerability")
			}
		}
		Apply(findings, Options{Now: now, VEX: []*VEX{v}, ImageDigests: []string{imageDigest}})
	})
}
