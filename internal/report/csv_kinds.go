package report

import (
	"fmt"
	"strconv"

	"github.com/drydockscan/drydock/internal/finding"
)

// csvKindRows are the rows of the kinds beyond vulnerabilities, in the
// same columns: type is the kind (secret, misconfiguration, license),
// vulnerability the rule or check id; secrets carry their redacted match
// and fingerprint in the title, and the layer that deleted them in status.
func csvKindRows(r *Report) [][]string {
	var rows [][]string
	gate := func(sev finding.Severity, sup *finding.Suppression) string {
		if r.Gate == nil {
			return ""
		}
		return strconv.FormatBool(r.Gate.FailsAt(sev, sup))
	}
	supp := func(s *finding.Suppression) (string, string) {
		if s == nil {
			return "", ""
		}
		return s.Kind, suppressionText(s)
	}
	for _, s := range sortedSecrets(r) {
		k, why := supp(s.Suppression)
		status := "present"
		if s.RemovedInLayerIndex != nil {
			status = fmt.Sprintf("deleted in layer %d", *s.RemovedInLayerIndex)
		}
		rows = append(rows, []string{
			s.Path, "", "", finding.KindSecret, s.ID, "", string(normSev(s.Severity)), "", "", "", status, "",
			"", gate(s.Severity, s.Suppression), k, why, fmt.Sprintf("%s: %s %s", s.Title, s.Match, s.Fingerprint), "",
			"", s.Path, strconv.Itoa(s.LayerIndex), s.Layer,
		})
	}
	for _, m := range sortedMisconfigurations(r) {
		k, why := supp(m.Suppression)
		target := m.Path
		if target == "" {
			target = "image-" + m.Source
		}
		layer := ""
		if m.LayerIndex != nil {
			layer = strconv.Itoa(*m.LayerIndex)
		}
		cis := ""
		if m.CIS != "" {
			cis = "CIS " + m.CIS
		}
		rows = append(rows, []string{
			target, "", "", finding.KindMisconfiguration, m.ID, cis, string(normSev(m.Severity)), "", "", "", m.Source, "",
			"", gate(m.Severity, m.Suppression), k, why, m.Title + ": " + m.Evidence, "",
			"", m.Path, layer, "",
		})
	}
	for _, l := range sortedLicenses(r) {
		k, why := supp(l.Suppression)
		rows = append(rows, []string{
			l.Package.Path, l.Package.Name, l.Package.Version, finding.KindLicense, l.ID, l.License, string(normSev(l.Severity)), "", "", "", l.Category, "",
			"", gate(l.Severity, l.Suppression), k, why, l.Title, "",
			l.Package.PURL, l.Package.Path, strconv.Itoa(l.Package.LayerIndex), l.Package.Layer,
		})
	}
	return rows
}
