package report

import (
	"slices"

	"github.com/drydockscan/drydock/internal/finding"
)

// LicenseCount is how many packages carry one licence.
type LicenseCount struct {
	License  string           `json:"license"`
	Category string           `json:"category"`
	Severity finding.Severity `json:"severity"`
	Packages int              `json:"packages"`
}

// Compliance is a compliance report: each control of a benchmark with its
// status.
type Compliance struct {
	// Spec is the benchmark's id ("cis-docker-1.6"); Title its name.
	Spec     string              `json:"spec"`
	Title    string              `json:"title"`
	Controls []ComplianceControl `json:"controls"`
	// Pass, Fail and Manual count the controls.
	Pass   int `json:"pass"`
	Fail   int `json:"fail"`
	Manual int `json:"manual"`
}

// Control statuses.
const (
	StatusPass   = "pass"
	StatusFail   = "fail"
	StatusManual = "manual"
)

// ComplianceControl is one control of a benchmark.
type ComplianceControl struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Status is pass, fail or manual (cannot be decided from the image).
	Status string `json:"status"`
	// Checks are the drydock checks that decide the control.
	Checks []string `json:"checks,omitempty"`
	// Evidence says what was seen (failing findings, or why it passes or
	// needs a person).
	Evidence    []string `json:"evidence"`
	Remediation string   `json:"remediation"`
}

// PolicyResult is the outcome of the policy file.
type PolicyResult struct {
	// Source is the policy file.
	Source string `json:"source"`
	// Failed is true when a rule whose action is fail matched.
	Failed     bool              `json:"failed"`
	Violations []PolicyViolation `json:"violations"`
}

// PolicyViolation is one rule matching one finding (or the image).
type PolicyViolation struct {
	Rule string `json:"rule"`
	// Action is warn or fail.
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	// Kind and ID name the finding (vulnerability, secret,
	// misconfiguration, license, database); Target what it concerns
	// (package, path).
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Target string `json:"target,omitempty"`
}

// sortedKinds returns copies of the other kinds in their report order.
func sortedSecrets(r *Report) []finding.Secret {
	s := slices.Clone(r.Secrets)
	slices.SortStableFunc(s, finding.CompareSecrets)
	return s
}

func sortedMisconfigurations(r *Report) []finding.Misconfiguration {
	s := slices.Clone(r.Misconfigurations)
	slices.SortStableFunc(s, finding.CompareMisconfigurations)
	return s
}

func sortedLicenses(r *Report) []finding.License {
	s := slices.Clone(r.Licenses)
	slices.SortStableFunc(s, finding.CompareLicenses)
	return s
}

// otherKinds reports whether the report carries any kind beyond
// vulnerabilities.
func otherKinds(r *Report) bool {
	return r.Secrets != nil || r.Misconfigurations != nil || r.Licenses != nil || r.Compliance != nil || r.Policy != nil
}

// CountFailing counts the findings of every kind that break the gate.
func CountFailing(r *Report, g *Gate) int {
	n := 0
	for i := range r.Vulnerabilities {
		if g.Fails(&r.Vulnerabilities[i]) {
			n++
		}
	}
	for i := range r.Secrets {
		if g.FailsAt(r.Secrets[i].Severity, r.Secrets[i].Suppression) {
			n++
		}
	}
	for i := range r.Misconfigurations {
		if g.FailsAt(r.Misconfigurations[i].Severity, r.Misconfigurations[i].Suppression) {
			n++
		}
	}
	for i := range r.Licenses {
		if g.FailsAt(r.Licenses[i].Severity, r.Licenses[i].Suppression) {
			n++
		}
	}
	return n
}
