package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
)

// now is the fixed scan time of the tests.
var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// imageDigest is the manifest digest of ../shared/corpus/debian12-app/oci.
const imageDigest = "sha256:8d1a68bd7772bf96a9c5ac64beff5dc16a59994ae3437d431c192d171715ead3"

// loadFindings reads testdata/findings.json: findings as the matcher
// reports them for debian12-app, with the packages' purls, paths and
// layers taken from the image's inventory.
func loadFindings(t testing.TB) []finding.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []finding.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

func loadIgnore(t testing.TB, name string) *IgnoreFile {
	t.Helper()
	f, err := LoadIgnoreFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func loadVEX(t testing.TB, name string) *VEX {
	t.Helper()
	v, err := LoadVEX(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// summary renders a finding as "ID package [kind status justification]".
func summary(f finding.Finding) string {
	s := f.ID + " " + f.Package.Name
	if sup := f.Suppression; sup != nil {
		var parts []string
		for _, p := range []string{sup.Kind, sup.Status, sup.Justification} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		s += " [" + strings.Join(parts, " ") + "]"
	}
	return s
}

func summaries(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, summary(f))
	}
	return out
}

func TestApply(t *testing.T) {
	ignore := filepath.Join("testdata", "ignore.yaml")
	tests := []struct {
		name     string
		opts     func(t *testing.T) Options
		want     []string
		warnings []string
	}{
		{
			name: "no policy",
			opts: func(*testing.T) Options { return Options{Now: now} },
			want: []string{
				"CVE-2026-35189 libssl3", "CVE-2026-35189 openssl", "CVE-2026-42767 libssl3",
				"CVE-2025-59375 libexpat1", "CVE-2023-45853 zlib1g", "CVE-2010-4756 libc6",
				"CVE-2023-45288 golang.org/x/net", "CVE-2022-32149 golang.org/x/text",
				"CVE-2020-28483 github.com/gin-gonic/gin", "CVE-2020-8203 lodash",
				"CVE-2021-44906 minimist", "CVE-2023-32681 requests",
			},
		},
		{
			name: "severity filter",
			opts: func(*testing.T) Options {
				return Options{Now: now, Severities: []finding.Severity{finding.Critical, finding.High}}
			},
			want: []string{
				"CVE-2026-35189 libssl3", "CVE-2026-35189 openssl", "CVE-2025-59375 libexpat1",
				"CVE-2023-45853 zlib1g", "CVE-2022-32149 golang.org/x/text",
				"CVE-2020-28483 github.com/gin-gonic/gin", "CVE-2020-8203 lodash", "CVE-2021-44906 minimist",
			},
		},
		{
			name: "ignore unfixed drops unfixed and will-not-fix",
			opts: func(*testing.T) Options {
				return Options{Now: now, IgnoreUnfixed: true, Severities: []finding.Severity{finding.Critical, finding.Negligible}}
			},
			want: []string{"CVE-2021-44906 minimist"},
		},
		{
			name: "ignore file",
			opts: func(t *testing.T) Options { return Options{Now: now, Ignore: loadIgnore(t, "ignore.yaml")} },
			want: []string{
				"CVE-2026-35189 libssl3", "CVE-2026-35189 openssl", "CVE-2026-42767 libssl3",
				"CVE-2025-59375 libexpat1",
				"CVE-2023-45853 zlib1g [ignore zlib's minizip is not built into Debian's zlib1g; Debian will not fix]",
				"CVE-2010-4756 libc6",
				"CVE-2023-45288 golang.org/x/net", "CVE-2022-32149 golang.org/x/text",
				"CVE-2020-28483 github.com/gin-gonic/gin [ignore orders-api is only reachable through the ingress proxy]",
				"CVE-2020-8203 lodash [ignore zipObjectDeep is not called by the service]",
				"CVE-2021-44906 minimist", "CVE-2023-32681 requests",
			},
			warnings: []string{
				ignore + ": expired ignore entry 3 (line 13, id CVE-2026-42767, package pkg:deb/debian/openssl, expired 2026-06-30) no longer applied",
				ignore + ": ignore entry 5 (line 22, id CVE-2019-10744) matched no finding",
			},
		},
		{
			name: "ignore file before expiry",
			opts: func(t *testing.T) Options {
				return Options{Now: time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC), Ignore: loadIgnore(t, "ignore.yaml"),
					Severities: []finding.Severity{finding.Medium}}
			},
			want: []string{
				"CVE-2026-42767 libssl3 [ignore waiting for the 12.16 point release]",
				"CVE-2023-45288 golang.org/x/net", "CVE-2023-32681 requests",
			},
			warnings: []string{ignore + ": ignore entry 5 (line 22, id CVE-2019-10744) matched no finding"},
		},
		{
			name: "entries matching filtered findings are used",
			opts: func(t *testing.T) Options {
				return Options{Now: now, Ignore: loadIgnore(t, "ignore.yaml"), Severities: []finding.Severity{finding.Low}}
			},
			warnings: []string{
				ignore + ": expired ignore entry 3 (line 13, id CVE-2026-42767, package pkg:deb/debian/openssl, expired 2026-06-30) no longer applied",
				ignore + ": ignore entry 5 (line 22, id CVE-2019-10744) matched no finding",
			},
		},
		{
			name: "openvex",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "openvex.json")}, ImageDigests: []string{imageDigest}}
			},
			want: []string{
				// not_affected for the source package covers both binaries.
				"CVE-2026-35189 libssl3 [vex not_affected vulnerable_code_not_present]",
				"CVE-2026-35189 openssl [vex not_affected vulnerable_code_not_present]",
				"CVE-2026-42767 libssl3", // affected
				"CVE-2025-59375 libexpat1", "CVE-2023-45853 zlib1g", "CVE-2010-4756 libc6",
				// image product with a subcomponent
				"CVE-2023-45288 golang.org/x/net [vex not_affected vulnerable_code_not_in_execute_path]",
				// under_investigation, then not_affected (later)
				"CVE-2022-32149 golang.org/x/text [vex not_affected]",
				// not_affected, then affected (later, listed first)
				"CVE-2020-28483 github.com/gin-gonic/gin",
				"CVE-2020-8203 lodash", "CVE-2021-44906 minimist",
				// fixed in 2.31.0, the image has 2.28.1
				"CVE-2023-32681 requests",
			},
		},
		{
			name: "openvex attestation",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "openvex-attestation.json")}, ImageDigests: []string{imageDigest},
					Severities: []finding.Severity{finding.Critical, finding.Negligible}}
			},
			want: []string{
				"CVE-2023-45853 zlib1g",
				"CVE-2010-4756 libc6 [vex not_affected vulnerable_code_cannot_be_controlled_by_adversary]",
				"CVE-2021-44906 minimist [vex not_affected vulnerable_code_not_in_execute_path]",
			},
		},
		{
			name: "openvex attestation for another image",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "openvex-attestation.json")},
					ImageDigests: []string{"sha256:1111111111111111111111111111111111111111111111111111111111111111"},
					Severities:   []finding.Severity{finding.Critical, finding.Negligible}}
			},
			want: []string{"CVE-2023-45853 zlib1g", "CVE-2010-4756 libc6", "CVE-2021-44906 minimist"},
		},
		{
			name: "openvex 0.0.1",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "openvex-v0.0.1.json")}, ImageDigests: []string{imageDigest},
					Severities: []finding.Severity{finding.High, finding.Medium}}
			},
			want: []string{
				"CVE-2026-35189 libssl3", "CVE-2026-35189 openssl", "CVE-2026-42767 libssl3",
				"CVE-2025-59375 libexpat1 [vex not_affected vulnerable_code_not_in_execute_path]",
				// the statement names another image
				"CVE-2023-45288 golang.org/x/net",
				"CVE-2022-32149 golang.org/x/text", "CVE-2020-28483 github.com/gin-gonic/gin",
				"CVE-2020-8203 lodash", "CVE-2023-32681 requests",
			},
		},
		{
			name: "openvex 0.0.1 without image digests",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "openvex-v0.0.1.json")}, Severities: []finding.Severity{finding.Medium}}
			},
			want: []string{
				"CVE-2026-42767 libssl3",
				"CVE-2023-45288 golang.org/x/net [vex not_affected vulnerable_code_not_present]",
				"CVE-2023-32681 requests",
			},
		},
		{
			name: "cyclonedx",
			opts: func(t *testing.T) Options {
				return Options{Now: now, VEX: []*VEX{loadVEX(t, "cyclonedx-vex.json")}, ImageDigests: []string{imageDigest}}
			},
			want: []string{
				"CVE-2026-35189 libssl3", "CVE-2026-35189 openssl", "CVE-2026-42767 libssl3",
				// BOM-Link to the BOM's own component: the image
				"CVE-2025-59375 libexpat1 [vex not_affected false_positive]",
				"CVE-2023-45853 zlib1g", "CVE-2010-4756 libc6", "CVE-2023-45288 golang.org/x/net",
				"CVE-2022-32149 golang.org/x/text", // in_triage, matched by its GO alias
				"CVE-2020-28483 github.com/gin-gonic/gin",
				"CVE-2020-8203 lodash [vex not_affected code_not_reachable]",
				"CVE-2021-44906 minimist", // exploitable
				"CVE-2023-32681 requests [vex fixed]",
			},
			warnings: []string{
				filepath.Join("testdata", "cyclonedx-vex.json") + `: vulnerabilities[5] (CVE-2026-35189): affects ref "no-such-ref" names no component with a package URL; not applied to it`,
			},
		},
		{
			name: "vex wins over ignore; both documents apply",
			opts: func(t *testing.T) Options {
				return Options{Now: now, Ignore: loadIgnore(t, "ignore.yaml"),
					VEX:        []*VEX{loadVEX(t, "cyclonedx-vex.json"), loadVEX(t, "openvex.json")},
					Severities: []finding.Severity{finding.High}}
			},
			want: []string{
				"CVE-2026-35189 libssl3 [vex not_affected vulnerable_code_not_present]",
				"CVE-2026-35189 openssl [vex not_affected vulnerable_code_not_present]",
				"CVE-2025-59375 libexpat1 [vex not_affected false_positive]",
				// openvex.json says not_affected on 2026-11-20, the
				// CycloneDX document in_triage on 2026-11-28: the later wins.
				"CVE-2022-32149 golang.org/x/text",
				"CVE-2020-28483 github.com/gin-gonic/gin [ignore orders-api is only reachable through the ingress proxy]",
				"CVE-2020-8203 lodash [vex not_affected code_not_reachable]",
			},
			warnings: []string{
				filepath.Join("testdata", "cyclonedx-vex.json") + `: vulnerabilities[5] (CVE-2026-35189): affects ref "no-such-ref" names no component with a package URL; not applied to it`,
				ignore + ": expired ignore entry 3 (line 13, id CVE-2026-42767, package pkg:deb/debian/openssl, expired 2026-06-30) no longer applied",
				ignore + ": ignore entry 5 (line 22, id CVE-2019-10744) matched no finding",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := loadFindings(t)
			before, _ := json.Marshal(in)
			out, warnings := Apply(in, tt.opts(t))
			if diff := cmp.Diff(tt.want, summaries(out)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			after, _ := json.Marshal(in)
			if string(before) != string(after) {
				t.Error("Apply modified its input")
			}
		})
	}
}

// TestApplySuppressionFields checks every field of the suppressions an
// ignore entry and a VEX statement set.
func TestApplySuppressionFields(t *testing.T) {
	opts := Options{
		Now:          now,
		Ignore:       loadIgnore(t, "ignore.yaml"),
		VEX:          []*VEX{loadVEX(t, "openvex.json")},
		ImageDigests: []string{imageDigest},
	}
	out, _ := Apply(loadFindings(t), opts)
	got := map[string]*finding.Suppression{}
	for _, f := range out {
		got[f.ID+" "+f.Package.Name] = f.Suppression
	}
	want := map[string]*finding.Suppression{
		"CVE-2020-8203 lodash": {
			Kind:          finding.SuppressedByIgnore,
			Justification: "zipObjectDeep is not called by the service",
			Source:        filepath.Join("testdata", "ignore.yaml"),
			Expires:       "2026-12-31",
		},
		"CVE-2023-45288 golang.org/x/net": {
			Kind:          finding.SuppressedByVEX,
			Status:        "not_affected",
			Justification: "vulnerable_code_not_in_execute_path",
			Statement:     "orders-api serves HTTP/1.1 only; the http2 package is linked but never called",
			Source:        filepath.Join("testdata", "openvex.json"),
		},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("%s suppression (-want +got):\n%s", k, diff)
		}
	}
}

func TestApplyKeepsExistingSuppression(t *testing.T) {
	fs := loadFindings(t)[4:5] // zlib1g, ignored by the file
	prior := &finding.Suppression{Kind: finding.SuppressedByVEX, Status: "not_affected", Justification: "component_not_present", Source: "earlier.json"}
	fs[0].Suppression = prior
	out, _ := Apply(fs, Options{Now: now, Ignore: loadIgnore(t, "ignore.yaml")})
	if len(out) != 1 || out[0].Suppression != prior {
		t.Errorf("suppression = %+v, want the prior one kept", out[0].Suppression)
	}
}

func TestApplyExpiryBoundary(t *testing.T) {
	f, err := ParseIgnoreFile([]byte("ignore:\n  - id: CVE-2026-42767\n    reason: r\n    expires: 2026-06-30\n"), "i.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := loadFindings(t)[2:3]
	for _, tt := range []struct {
		now        time.Time
		suppressed bool
	}{
		{time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 6, 30, 23, 59, 59, 999, time.UTC), true},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), false},
		// 23:30 on the 30th in New York is after the end of the day in UTC.
		{time.Date(2026, 6, 30, 23, 30, 0, 0, time.FixedZone("EDT", -4*3600)), false},
	} {
		out, warnings := Apply(fs, Options{Now: tt.now, Ignore: f})
		if got := out[0].Suppression != nil; got != tt.suppressed {
			t.Errorf("at %s: suppressed = %v, want %v (warnings %q)", tt.now, got, tt.suppressed, warnings)
		}
		if expired := len(warnings) == 1 && strings.Contains(warnings[0], "expired ignore entry"); expired == tt.suppressed {
			t.Errorf("at %s: warnings %q", tt.now, warnings)
		}
	}
}
