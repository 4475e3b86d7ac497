package report

import (
	"fmt"

	"github.com/drydockscan/drydock/internal/finding"
)

// junitKindSuites are one suite per kind beyond vulnerabilities: secrets,
// misconfigurations, and the licences above LOW. A finding that breaks
// the gate (or, without one, any unsuppressed finding) is a failure.
func junitKindSuites(r *Report, timestamp string, props []junitProperty) []junitSuite {
	var out []junitSuite
	add := func(name string, cases []junitCase, failed []bool, skipped []bool) {
		if cases == nil {
			return
		}
		s := junitSuite{Name: name, Time: "0", Timestamp: timestamp, Properties: props, Cases: cases, Tests: len(cases)}
		for i := range cases {
			if failed[i] {
				s.Failures++
			}
			if skipped[i] {
				s.Skipped++
			}
		}
		out = append(out, s)
	}
	mk := func(class, name, details string, sev finding.Severity, sup *finding.Suppression, msg string) (junitCase, bool, bool) {
		c := junitCase{Name: name, Classname: class, Time: "0", SystemOut: &junitText{Text: xmlSafe(details)}}
		switch {
		case sup != nil:
			c.Skipped = &junitSkipped{Message: suppressionText(sup)}
			return c, false, true
		case r.Gate == nil || r.Gate.FailsAt(sev, sup):
			c.Failure = &junitFailure{Message: msg, Type: string(normSev(sev)), Text: xmlSafe(details)}
			c.SystemOut = nil
			return c, true, false
		}
		return c, false, false
	}
	if r.Secrets != nil {
		cases, failed, skipped := []junitCase{}, []bool{}, []bool{}
		for _, s := range sortedSecrets(r) {
			where := fmt.Sprintf("layer %d", s.LayerIndex)
			if s.RemovedInLayerIndex != nil {
				where += fmt.Sprintf(", deleted in layer %d (still shipped)", *s.RemovedInLayerIndex)
			}
			details := fmt.Sprintf("Secret: %s (%s)\nSeverity: %s\nPath: %s:%d\nLayer: %s\nMatch: %s %s\n", s.Title, s.ID, normSev(s.Severity), s.Path, s.Line, where, s.Match, s.Fingerprint)
			c, f, sk := mk("secrets", s.ID+" "+s.Path, details, s.Severity, s.Suppression, fmt.Sprintf("%s (%s) in %s, %s", s.ID, normSev(s.Severity), s.Path, where))
			cases, failed, skipped = append(cases, c), append(failed, f), append(skipped, sk)
		}
		add("secrets", cases, failed, skipped)
	}
	if r.Misconfigurations != nil {
		cases, failed, skipped := []junitCase{}, []bool{}, []bool{}
		for _, m := range sortedMisconfigurations(r) {
			details := fmt.Sprintf("Check: %s (%s)\nSeverity: %s\nCIS: %s\nEvidence: %s\nRemediation: %s\n", m.Title, m.ID, normSev(m.Severity), m.CIS, m.Evidence, m.Remediation)
			name := m.ID
			if m.Path != "" {
				name += " " + m.Path
			}
			c, f, sk := mk("misconfigurations", name, details, m.Severity, m.Suppression, fmt.Sprintf("%s (%s): %s", m.ID, normSev(m.Severity), m.Evidence))
			cases, failed, skipped = append(cases, c), append(failed, f), append(skipped, sk)
		}
		add("misconfigurations", cases, failed, skipped)
	}
	if r.Licenses != nil {
		cases, failed, skipped := []junitCase{}, []bool{}, []bool{}
		for _, l := range sortedLicenses(r) {
			if l.Severity.Rank() <= finding.Low.Rank() {
				continue
			}
			details := fmt.Sprintf("Licence: %s (%s)\nCategory: %s\nSeverity: %s\nPackage: %s %s (%s)\n", l.License, l.Declared, l.Category, normSev(l.Severity), l.Package.Name, l.Package.Version, l.Package.Type)
			c, f, sk := mk("licenses", l.Package.Name+"@"+l.Package.Version+" "+l.License, details, l.Severity, l.Suppression, fmt.Sprintf("%s: %s %s is %s", l.ID, l.Package.Name, l.Package.Version, l.License))
			cases, failed, skipped = append(cases, c), append(failed, f), append(skipped, sk)
		}
		add("licenses", cases, failed, skipped)
	}
	return out
}
