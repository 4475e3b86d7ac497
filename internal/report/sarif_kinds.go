package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/drydockscan/drydock/internal/finding"
)

// kindResult is one finding of a kind beyond vulnerabilities, as SARIF
// needs it.
type kindResult struct {
	kind, id, title, desc, help string
	sev                         finding.Severity
	path                        string
	line                        int
	msg                         string
	fingerprint                 string
	sup                         *finding.Suppression
	props                       map[string]string
}

// sarifKinds adds the secrets, misconfigurations and licences (above
// LOW) as rules and results: one rule per secret rule, check or licence
// rule, one result per finding.
func sarifKinds(run *sarifRun, r *Report) {
	var items []kindResult
	for _, s := range sortedSecrets(r) {
		where := fmt.Sprintf("added in layer %d", s.LayerIndex)
		if s.RemovedInLayerIndex != nil {
			where += fmt.Sprintf(", deleted in layer %d but still shipped in the image", *s.RemovedInLayerIndex)
		}
		items = append(items, kindResult{
			kind: finding.KindSecret, id: s.ID, title: s.Title, desc: s.Title + " found in a file of the image.", sev: s.Severity,
			help: "Remove the secret from every layer (rebuild without it: deleting it in a later layer does not remove it), and rotate it.",
			path: s.Path, line: s.Line, msg: fmt.Sprintf("%s in %s (%s): %s %s", s.Title, s.Path, where, s.Match, s.Fingerprint),
			fingerprint: s.ID + "\x00" + s.Path + "\x00" + s.Fingerprint, sup: s.Suppression,
			props: map[string]string{"layerIndex": strconv.Itoa(s.LayerIndex), "fingerprint": s.Fingerprint},
		})
	}
	for _, m := range sortedMisconfigurations(r) {
		desc := m.Description
		if m.CIS != "" {
			desc += " (CIS Docker Benchmark v1.6.0 " + m.CIS + ")"
		}
		items = append(items, kindResult{
			kind: finding.KindMisconfiguration, id: m.ID, title: m.Title, desc: desc, help: m.Remediation, sev: m.Severity,
			path: m.Path, line: m.Line, msg: m.Title + ": " + m.Evidence,
			fingerprint: m.ID + "\x00" + m.Path + "\x00" + m.Evidence, sup: m.Suppression,
			props: map[string]string{"cis": m.CIS, "source": m.Source},
		})
	}
	for _, l := range sortedLicenses(r) {
		if l.Severity.Rank() <= finding.Low.Rank() {
			continue
		}
		items = append(items, kindResult{
			kind: finding.KindLicense, id: l.ID, title: "Licence " + l.Category, sev: l.Severity,
			desc: "A package carries a licence the licence policy rates " + string(l.Severity) + ".",
			help: "Replace the package, or get the licence approved and add it to --license-allow.",
			path: l.Package.Path, msg: fmt.Sprintf("%s %s is licensed %s (%s)", l.Package.Name, l.Package.Version, l.License, l.Category),
			fingerprint: l.ID + "\x00" + l.Package.Name + "\x00" + l.Package.Version + "\x00" + l.License, sup: l.Suppression,
			props: map[string]string{"license": l.License, "category": l.Category, "purl": l.Package.PURL},
		})
	}
	index := map[string]int{}
	for _, it := range items {
		key := it.kind + "\x00" + it.id
		idx, ok := index[key]
		if !ok {
			idx = len(run.Tool.Driver.Rules)
			index[key] = idx
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
				ID: it.id, ShortDescription: sarifText{Text: truncateRunes(it.title, sarifDescMax)},
				FullDescription:      sarifText{Text: truncateRunes(it.desc, sarifDescMax)},
				Help:                 sarifHelp{Text: it.help, Markdown: mdEscapeText(it.help)},
				DefaultConfiguration: sarifConfig{Level: sarifLevel(normSev(it.sev))},
				Properties:           sarifRuleProps{Tags: []string{it.kind, "security"}, Precision: "high", SecuritySeverity: severityScore(it.sev)},
			})
		} else if rule := &run.Tool.Driver.Rules[idx]; sarifLevel(normSev(it.sev)) == "error" {
			rule.DefaultConfiguration.Level = "error"
		}
		line := max(it.line, 1)
		h := sha256.Sum256([]byte(it.fingerprint))
		res := sarifResult{
			RuleID: it.id, RuleIndex: idx, Level: sarifLevel(normSev(it.sev)), Message: sarifText{Text: it.msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: imageURI(it.path)}, Region: sarifRegion{StartLine: line},
			}}},
			PartialFingerprints: map[string]string{sarifFingerprint: hex.EncodeToString(h[:16])},
			Properties:          sarifResultProps{Severity: string(normSev(it.sev)), Kind: it.kind, Extra: it.props},
		}
		if it.sup != nil {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: suppressionText(it.sup)}}
		}
		run.Results = append(run.Results, res)
	}
}

// severityScore is the middle of a severity's band, as GitHub buckets it.
func severityScore(s finding.Severity) string {
	return securitySeverity(&finding.Finding{Severity: s})
}
