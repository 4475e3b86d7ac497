package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/report"
)

// TestRulesOverEveryKind evaluates rules on a hand-made report whose
// expected violations follow from its findings' fields.
func TestRulesOverEveryKind(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := func(d int) string { return now.AddDate(0, 0, -d).Format(time.RFC3339) }
	rep := &report.Report{
		Target:   report.Target{Ref: "app:1"},
		Database: &report.Database{AgeHours: 80},
		Vulnerabilities: []finding.Finding{
			{ID: "CVE-1", Severity: finding.Critical, Status: finding.StatusFixed, FixedVersions: []string{"2"}, Published: day(45), Package: finding.Package{Name: "a"}},
			{ID: "CVE-2", Severity: finding.Critical, Status: finding.StatusFixed, FixedVersions: []string{"2"}, Published: day(10), Package: finding.Package{Name: "b"}},
			{ID: "CVE-3", Severity: finding.Critical, Status: finding.StatusUnfixed, Published: day(400), Package: finding.Package{Name: "c"}},
			{ID: "CVE-4", Severity: finding.Low, KEV: &finding.KEV{DateAdded: "2026-01-01"}, Package: finding.Package{Name: "d"}},
			{ID: "CVE-5", Severity: finding.Critical, Status: finding.StatusFixed, FixedVersions: []string{"2"}, Published: day(90), Package: finding.Package{Name: "e"},
				Suppression: &finding.Suppression{Kind: finding.SuppressedByIgnore}},
		},
		Licenses: []finding.License{
			{ID: "license-forbidden", Severity: finding.Critical, License: "AGPL-3.0-only", Category: "forbidden", Package: finding.Package{Name: "f"}},
			{ID: "license-notice", Severity: finding.Low, License: "MIT", Category: "notice", Package: finding.Package{Name: "g"}},
		},
		Misconfigurations: []finding.Misconfiguration{{ID: "root-user", Severity: finding.High, Source: "config"}},
	}
	rs, err := policy.ParseRules([]byte(`rules:
  - id: critical-fix-older-than-30-days
    action: fail
    kind: vulnerability
    severity: [CRITICAL]
    fixed: true
    fix_age_days: 30
  - id: kev
    action: fail
    kev: true
  - id: no-agpl-in-product-x
    action: fail
    kind: license
    license_category: [forbidden]
    when: 'image.labels[?"product"].orValue("") == "x"'
  - id: stale-db
    action: warn
    kind: database
    db_age_hours: 72
  - id: fresh-db
    action: warn
    kind: database
    db_age_hours: 100
  - id: cel-over-package
    action: warn
    when: 'pkg.name == "c" && finding.status == "unfixed"'
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   []string
		failed bool
	}{
		{map[string]string{"product": "x"}, []string{"critical-fix-older-than-30-days CVE-1", "kev CVE-4", "no-agpl-in-product-x license-forbidden", "stale-db ", "cel-over-package CVE-3"}, true},
		{map[string]string{"product": "y"}, []string{"critical-fix-older-than-30-days CVE-1", "kev CVE-4", "stale-db ", "cel-over-package CVE-3"}, true},
	} {
		res, err := rs.Evaluate(rep, tc.labels, now)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range res.Violations {
			got = append(got, v.Rule+" "+v.ID)
		}
		if d := cmp.Diff(tc.want, got); d != "" || res.Failed != tc.failed {
			t.Errorf("labels %v: failed %v, violations (-want +got):\n%s", tc.labels, res.Failed, d)
		}
	}
	// Only warnings: the policy does not fail.
	warn, err := policy.ParseRules([]byte("rules:\n  - id: w\n    action: warn\n    ids: [root-user]\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := warn.Evaluate(rep, nil, now)
	if err != nil || res.Failed || len(res.Violations) != 1 || res.Violations[0].Kind != finding.KindMisconfiguration {
		t.Errorf("warn rule: %+v, %v", res, err)
	}
	if _, err := policy.ParseRules([]byte("rules:\n  - id: d\n    action: warn\n    db_age_hours: 5\n"), "d.yaml"); err == nil || !strings.Contains(err.Error(), "kind: database") {
		t.Errorf("db_age_hours without kind database: %v", err)
	}
}
