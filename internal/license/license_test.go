package license_test

import (
	"testing"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/license"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want, cat string }{
		{"GPL-2+", "GPL-2.0-or-later", license.Restricted},
		{"Expat", "MIT", license.Notice},
		{"BSD-3-clause", "BSD-3-Clause", license.Notice},
		{"GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl", license.Notice},
		{"LGPL-2.1+", "LGPL-2.1-or-later", license.Reciprocal},
		{"mit OR apache-2.0", "MIT OR Apache-2.0", license.Notice},
		{"AGPL-3.0-only", "AGPL-3.0-only", license.Forbidden},
		{"MIT AND AGPL-3.0-or-later", "MIT AND AGPL-3.0-or-later", license.Forbidden},
		{"CC0-1.0", "CC0-1.0", license.Unencumbered},
		{"public-domain", "LicenseRef-public-domain", license.Unencumbered},
		{"Some Custom Licence", "", license.Unknown},
	} {
		got := license.Normalize(tc.in)
		if got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		cat := license.Unknown
		if got != "" {
			cat = license.ExpressionCategory(got)
		}
		if cat != tc.cat {
			t.Errorf("category of %q = %s, want %s", got, cat, tc.cat)
		}
	}
}

func TestFindingsPolicy(t *testing.T) {
	inv := &inventory.Inventory{Packages: []inventory.Package{
		{Type: "npm", Name: "a", Version: "1", Licenses: []string{"AGPL-3.0-only"}},
		{Type: "npm", Name: "b", Version: "1", Licenses: []string{"MIT OR GPL-3.0-only"}},
		{Type: "npm", Name: "c", Version: "1", Licenses: []string{"GPL-3.0-only"}},
		{Type: "npm", Name: "d", Version: "1", Licenses: []string{"weird"}},
	}}
	byName := func(ls []finding.License) map[string]finding.License {
		m := map[string]finding.License{}
		for _, l := range ls {
			m[l.Package.Name] = l
		}
		return m
	}
	def := byName(license.Findings(inv, license.Options{}))
	for name, want := range map[string]string{"a": "license-forbidden", "b": "license-notice", "c": "license-restricted", "d": "license-unknown"} {
		if def[name].ID != want {
			t.Errorf("default policy: %s is %s, want %s", name, def[name].ID, want)
		}
	}
	if def["a"].Severity != finding.Critical || def["d"].Severity != finding.Unknown {
		t.Errorf("severities: %s %s", def["a"].Severity, def["d"].Severity)
	}
	deny := byName(license.Findings(inv, license.Options{Deny: []string{"GPL-3.0-only"}}))
	if deny["c"].ID != "license-denied" || deny["b"].ID == "license-denied" {
		t.Errorf("deny GPL-3.0-only: c %s, b %s (b may choose MIT)", deny["c"].ID, deny["b"].ID)
	}
	allow := byName(license.Findings(inv, license.Options{Allow: []string{"MIT"}, Severities: map[string]finding.Severity{license.Restricted: finding.Low}}))
	if allow["b"].ID != "license-allowed" || allow["c"].ID != "license-not-allowed" || allow["d"].ID != "license-not-allowed" {
		t.Errorf("allow MIT: b %s, c %s, d %s", allow["b"].ID, allow["c"].ID, allow["d"].ID)
	}
	if err := (&license.Options{Deny: []string{"NotALicence"}}).Validate(); err == nil {
		t.Error("an unknown SPDX id in the deny list is accepted")
	}
	sum := license.Summary(license.Findings(inv, license.Options{}))
	if len(sum) != 4 || sum[0].Severity != finding.Critical {
		t.Errorf("summary %+v", sum)
	}
}
