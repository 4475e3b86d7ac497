package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

// TestVEXFixturesValidate checks the OpenVEX and CycloneDX fixtures
// against the official schemas, so the tests read documents real tools
// accept.
func TestVEXFixturesValidate(t *testing.T) {
	for _, tt := range []struct {
		file, schema string
		predicate    bool
	}{
		{"openvex.json", "openvex/openvex_json_schema.json", false},
		{"openvex-attestation.json", "openvex/openvex_json_schema.json", true},
		{"cyclonedx-vex.json", "cyclonedx/bom-1.6.schema.json", false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if tt.predicate {
				var att struct {
					Predicate json.RawMessage `json:"predicate"`
				}
				if err := json.Unmarshal(b, &att); err != nil {
					t.Fatal(err)
				}
				b = att.Predicate
			}
			schematest.Validate(t, tt.schema, b)
		})
	}
}

func TestParseVEX(t *testing.T) {
	digest := "sha256:8d1a68bd7772bf96a9c5ac64beff5dc16a59994ae3437d431c192d171715ead3"
	tests := []struct {
		file   string
		format string
		want   []Statement
	}{
		{
			file:   "openvex-attestation.json",
			format: FormatOpenVEX,
			want: []Statement{
				{
					Vulnerability: "CVE-2010-4756",
					Products:      []Product{{ID: "docker.io/corpus/debian12-app", Image: true, Digest: digest}},
					Status:        StatusNotAffected, Justification: "vulnerable_code_cannot_be_controlled_by_adversary",
					Impact: "No glob patterns from untrusted input are passed to glibc's glob()",
					Time:   time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2021-44906",
					Products: []Product{{
						ID:    "pkg:oci/debian12-app@sha256%3A8d1a68bd7772bf96a9c5ac64beff5dc16a59994ae3437d431c192d171715ead3",
						Image: true, Digest: digest,
						Subcomponents: []Product{{ID: "pkg:npm/minimist@1.2.0"}},
					}},
					Status: StatusNotAffected, Justification: "vulnerable_code_not_in_execute_path",
					Time: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
				},
			},
		},
		{
			file:   "openvex-v0.0.1.json",
			format: FormatOpenVEX,
			want: []Statement{
				{
					Vulnerability: "CVE-2025-59375",
					Products:      []Product{{ID: "pkg:deb/debian/libexpat1@2.5.0-1%2Bdeb12u2?arch=amd64"}},
					Status:        StatusNotAffected, Justification: "vulnerable_code_not_in_execute_path",
					Time: time.Date(2023, 8, 1, 12, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2023-45288",
					Products: []Product{{
						ID:    "pkg:oci/orders-api@sha256%3A1111111111111111111111111111111111111111111111111111111111111111",
						Image: true, Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111",
						Subcomponents: []Product{{ID: "pkg:golang/golang.org/x/net"}},
					}},
					Status: StatusNotAffected, Justification: "vulnerable_code_not_present",
					Time: time.Date(2023, 8, 1, 12, 0, 0, 0, time.UTC),
				},
			},
		},
		{
			file:   "cyclonedx-vex.json",
			format: FormatCycloneDX,
			want: []Statement{
				{
					Vulnerability: "CVE-2020-8203", Aliases: []string{"GHSA-p6mc-m468-83gw"},
					Products: []Product{{ID: "pkg:npm/lodash@4.17.15"}},
					Status:   StatusNotAffected, Justification: "code_not_reachable", Impact: "zipObjectDeep is never called",
					Time: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2023-32681",
					Products:      []Product{{ID: "pkg:pypi/requests@2.28.1"}},
					Status:        StatusFixed, Impact: "Proxy-Authorization is stripped by the service's session wrapper",
					Time: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2021-44906",
					Products:      []Product{{ID: "pkg:npm/minimist@1.2.0"}},
					Status:        StatusAffected,
					Time:          time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2025-59375",
					Products:      []Product{{ID: "target", Image: true, Digest: digest}},
					Status:        StatusNotAffected, Justification: "false_positive",
					Time: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "GO-2022-1059",
					Products:      []Product{{ID: "pkg:golang/golang.org/x/text@v0.3.5"}},
					Status:        StatusUnderInvestigation,
					Time:          time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
				{
					Vulnerability: "CVE-2026-35189",
					Status:        StatusNotAffected, Justification: "code_not_present",
					Time: time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			v := loadVEX(t, tt.file)
			if v.Format != tt.format {
				t.Errorf("format = %q, want %q", v.Format, tt.format)
			}
			if diff := cmp.Diff(tt.want, v.Statements, cmpopts.IgnoreUnexported(Product{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVEXOpenVEXStatements(t *testing.T) {
	v := loadVEX(t, "openvex.json")
	var got []string
	for _, s := range v.Statements {
		got = append(got, s.Vulnerability+" "+s.Status+" "+s.Time.Format(time.RFC3339))
	}
	want := []string{
		"CVE-2023-45288 not_affected 2026-11-30T09:00:00Z", // document time
		"CVE-2022-32149 under_investigation 2026-11-01T10:00:00Z",
		"CVE-2022-32149 not_affected 2026-11-20T10:00:00Z",
		"CVE-2020-28483 affected 2026-11-25T08:00:00Z",
		"CVE-2020-28483 not_affected 2026-10-02T08:00:00Z",
		"CVE-2026-35189 not_affected 2026-11-30T09:00:00Z",
		"CVE-2026-42767 affected 2026-11-30T09:00:00Z",
		"CVE-2023-32681 fixed 2026-11-30T09:00:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	if got := v.Statements[0].Aliases; !cmp.Equal(got, []string{"GHSA-4v7x-pqxf-cx7m", "GO-2024-2687"}) {
		t.Errorf("aliases = %q", got)
	}
}

func TestParseVEXErrors(t *testing.T) {
	const ctx = `"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2026-01-01T00:00:00Z", "version": 1`
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "vex v.json: unexpected end of JSON input"},
		{"unknown format", `{"statements": []}`, "not an OpenVEX or CycloneDX document"},
		{"xml", `<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>`, "XML documents are not supported"},
		{"csaf", `{"document": {"csaf_version": "2.0", "category": "csaf_vex"}}`, "CSAF documents are not supported"},
		{"bad status", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a"}], "status": "not_vulnerable"}]}`,
			`statement 1: CVE-1: unknown status "not_vulnerable"`},
		{"not_affected without reason", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a"}], "status": "not_affected"}]}`,
			"needs a justification or an impact_statement"},
		{"bad justification", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "justification": "code_not_reachable"}]}`,
			`unknown justification "code_not_reachable"`},
		{"no vulnerability", `{` + ctx + `, "statements": [{"status": "fixed"}]}`, "statement 1: vulnerability missing"},
		{"empty vulnerability name", `{` + ctx + `, "statements": [{"vulnerability": {"name": " "}, "status": "fixed"}]}`, "vulnerability name missing"},
		{"bad timestamp", `{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "yesterday", "statements": []}`, `document timestamp "yesterday" is not an RFC 3339 time`},
		{"bad statement type", `{` + ctx + `, "statements": [{"vulnerability": 7, "status": "fixed"}]}`, "statement 1: vulnerability:"},
		{"attestation without predicate", `{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://openvex.dev/ns/v0.2.0", "subject": [{"name": "x"}]}`, "without predicate"},
		{"attestation without subject", `{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://openvex.dev/ns/v0.2.0", "predicate": {"statements": []}}`, "without subject"},
		{"cyclonedx bad state", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "ignored"}}]}`,
			`vulnerabilities[0] (CVE-1): unknown analysis state "ignored"`},
		{"cyclonedx bad justification", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "not_affected", "justification": "vulnerable_code_not_present"}}]}`,
			`unknown analysis justification "vulnerable_code_not_present"`},
		{"cyclonedx no id", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [{"analysis": {"state": "not_affected"}}]}`, "vulnerability id missing"},
		{"too large", strings.Repeat(" ", MaxVEXSize+1), "larger than 32 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVEX([]byte(tt.doc), "v.json")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseVEXNotes(t *testing.T) {
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "2026-01-01T00:00:00Z", "statements": [
	  {"vulnerability": {"name": "CVE-1"}, "status": "fixed"},
	  {"vulnerability": {"name": "CVE-2"}, "status": "fixed", "products": [{"identifiers": {"cpe23": "cpe:2.3:a:acme:app:1.0:*:*:*:*:*:*:*"}}]},
	  {"vulnerability": {"name": "CVE-3"}, "status": "fixed", "products": [{"@id": "pkg:oci/app", "subcomponents": [{"@id": "https://example.com/component"}]}]}
	]}`
	v, err := ParseVEX([]byte(doc), "v.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"v.json: statement 1 (CVE-1) names no product; not applied",
		`v.json: statement 2 (CVE-2): product "cpe:2.3:a:acme:app:1.0:*:*:*:*:*:*:*" has no usable package URL; not applied to it`,
		`v.json: statement 3 (CVE-3): subcomponent "https://example.com/component" has no usable package URL; not applied to it`,
	}
	if diff := cmp.Diff(want, v.notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	// None of the three applies to anything: an unusable subcomponent
	// must not widen the statement to the whole image.
	for i := range v.Statements {
		if n := len(v.Statements[i].Products); n != 0 {
			t.Errorf("statement %d has %d products", i+1, n)
		}
	}
	out, warnings := Apply(loadFindings(t), Options{Now: now, VEX: []*VEX{v}})
	for _, f := range out {
		if f.Suppression != nil {
			t.Errorf("%s suppressed", summary(f))
		}
	}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestPURLMatches(t *testing.T) {
	libssl := finding.Package{Type: "deb", Name: "libssl3", Version: "3.0.20-1~deb12u2", SourceName: "openssl", SourceVersion: "3.0.20-1~deb12u2",
		PURL: "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"}
	zlib := finding.Package{Type: "deb", Name: "zlib1g", Version: "1:1.2.13.dfsg-1", SourceName: "zlib", SourceVersion: "1:1.2.13.dfsg-1",
		PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"}
	curl := finding.Package{Type: "deb", Name: "curl", Version: "7.88.1-10+deb12u15", SourceName: "curl", SourceVersion: "7.88.1-10+deb12u15",
		PURL: "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12"}
	rpm := finding.Package{Type: "rpm", Name: "openssl-libs", Version: "1:3.0.7-27.el9", SourceName: "openssl", SourceVersion: "1:3.0.7-27.el9",
		PURL: "pkg:rpm/rhel/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl"}
	xnet := finding.Package{Type: "golang", Name: "golang.org/x/net", Version: "v0.0.0-20210226172049-e18ecbb05110",
		PURL: "pkg:golang/golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110"}
	scoped := finding.Package{Type: "npm", Name: "@babel/traverse", Version: "7.22.5", PURL: "pkg:npm/%40babel/traverse@7.22.5"}
	tests := []struct {
		pkg  finding.Package
		purl string
		want bool
	}{
		{libssl, "pkg:deb/debian/libssl3", true},
		{libssl, "pkg:deb/debian/libssl3@3.0.20-1~deb12u2", true},
		{libssl, "pkg:deb/debian/libssl3@3.0.20-1%7Edeb12u2", true}, // encoded "~"
		{libssl, "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=amd64&distro=debian-12", true},
		{libssl, "pkg:deb/debian/libssl3?arch=arm64", false},
		{libssl, "pkg:deb/debian/libssl3?distro=debian-13", false},
		{libssl, "pkg:deb/debian/libssl3@3.0.20-1~deb12u1", false},
		{libssl, "pkg:deb/debian/openssl", true},
		{libssl, "pkg:deb/debian/openssl?arch=source", true},
		{libssl, "pkg:deb/debian/openssl?arch=amd64", false},
		{libssl, "pkg:deb/debian/openssl@3.0.20-1~deb12u2?arch=source&distro=debian-12", true},
		{libssl, "pkg:deb/ubuntu/openssl", false},
		{libssl, "pkg:DEB/Debian/LibSSL3", true}, // deb names are case-insensitive
		{libssl, "pkg:apk/debian/libssl3", false},
		{zlib, "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?epoch=1", true},
		{zlib, "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1", true},
		{zlib, "pkg:deb/debian/zlib1g@1.2.13.dfsg-1", false},
		{curl, "pkg:deb/debian/curl@7.88.1-10+deb12u15", true},
		{rpm, "pkg:rpm/rhel/openssl-libs@3.0.7-27.el9?epoch=1", true},
		{rpm, "pkg:rpm/rhel/openssl-libs@1:3.0.7-27.el9", true},
		{rpm, "pkg:rpm/rhel/openssl-libs@3.0.7-27.el9", false},
		{rpm, "pkg:rpm/rhel/openssl@3.0.7-27.el9?epoch=1&arch=source", true},
		{xnet, "pkg:golang/golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110", true},
		{xnet, "pkg:golang/golang.org/x/net@0.0.0-20210226172049-e18ecbb05110", true},
		{xnet, "pkg:golang/golang.org/x/net@v0.7.0", false},
		{xnet, "pkg:golang/x/net", false},
		{scoped, "pkg:npm/%40babel/traverse", true},
		{scoped, "pkg:npm/@babel/traverse@7.22.5", true},
		{scoped, "pkg:npm/traverse@7.22.5", false},
	}
	for _, tt := range tests {
		want, err := packageurl.FromString(tt.purl)
		if err != nil {
			t.Fatalf("%s: %v", tt.purl, err)
		}
		if got := packageMatchesPURL(&tt.pkg, &want); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.pkg.PURL, tt.purl, got, tt.want)
		}
	}
}

func TestLoadVEXMissing(t *testing.T) {
	_, err := LoadVEX(filepath.Join(t.TempDir(), "none.json"))
	if err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("error %v", err)
	}
}

func TestParseVEXDetection(t *testing.T) {
	tests := []struct {
		doc    string
		format string
		n      int
	}{
		{`{"@context": ["https://openvex.dev/ns/v0.2.0"], "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a@1"}], "status": "fixed"}]}`, FormatOpenVEX, 1},
		{"\xef\xbb\xbf" + `{"@context": "https://openvex.dev/ns", "statements": []}`, FormatOpenVEX, 0},
		{`{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"bom-ref": "x"}]}`, FormatCycloneDX, 0},
		// A vulnerability without analysis is not a VEX statement.
		{`{"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [{"id": "CVE-1", "affects": [{"ref": "pkg:npm/a@1"}]}]}`, FormatCycloneDX, 0},
	}
	for _, tt := range tests {
		v, err := ParseVEX([]byte(tt.doc), "v.json")
		if err != nil {
			t.Errorf("%.60s: %v", tt.doc, err)
			continue
		}
		if v.Format != tt.format || len(v.Statements) != tt.n {
			t.Errorf("%.60s: format %q with %d statements, want %q with %d", tt.doc, v.Format, len(v.Statements), tt.format, tt.n)
		}
	}
}

// TestCycloneDXImageDigestFromPURL: the BOM's own component names the
// image by a pkg:oci purl; its digest decides whether the statement
// applies to the scanned image.
func TestCycloneDXImageDigestFromPURL(t *testing.T) {
	doc := `{"bomFormat": "CycloneDX", "specVersion": "1.6",
	  "metadata": {"component": {"bom-ref": "img", "type": "container", "name": "app",
	    "purl": "pkg:oci/app@sha256%3A1111111111111111111111111111111111111111111111111111111111111111"}},
	  "vulnerabilities": [{"id": "CVE-2010-4756", "analysis": {"state": "not_affected", "justification": "requires_environment"}, "affects": [{"ref": "img"}]}]}`
	v, err := ParseVEX([]byte(doc), "v.json")
	if err != nil {
		t.Fatal(err)
	}
	fs := loadFindings(t)[5:6] // libc6 CVE-2010-4756
	for _, tt := range []struct {
		digests    []string
		suppressed bool
	}{
		{nil, true},
		{[]string{"sha256:1111111111111111111111111111111111111111111111111111111111111111"}, true},
		{[]string{imageDigest}, false},
	} {
		out, _ := Apply(fs, Options{Now: now, VEX: []*VEX{v}, ImageDigests: tt.digests})
		if got := out[0].Suppression != nil; got != tt.suppressed {
			t.Errorf("digests %v: suppressed = %v, want %v", tt.digests, got, tt.suppressed)
		}
	}
}
