package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/drydockscan/drydock/internal/finding"
)

// writeKindTables writes the sections of the kinds beyond
// vulnerabilities: secrets, misconfigurations, licences (summary and the
// findings above LOW), compliance and policy.
func writeKindTables(w io.Writer, r *Report, o Options) {
	p := painter(o.Color)
	sevCell := func(s finding.Severity, sup *finding.Suppression) string {
		txt := string(normSev(s))
		if sup != nil {
			return p.paint(sgrDim, txt+" (suppressed)")
		}
		return p.paint(severitySGR(normSev(s)), txt)
	}
	if r.Secrets != nil {
		fmt.Fprintf(w, "\n%s\n", p.paint(sgrBold, fmt.Sprintf("Secrets: %d", len(r.Secrets))))
		if len(r.Secrets) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEVERITY\tSECRET\tPATH\tLAYER\tMATCH")
			for _, s := range sortedSecrets(r) {
				layer := strconv.Itoa(s.LayerIndex)
				if s.RemovedInLayerIndex != nil {
					layer += fmt.Sprintf(" (deleted in %d, still shipped)", *s.RemovedInLayerIndex)
				}
				where := s.Path
				if s.Line > 0 {
					where += ":" + strconv.Itoa(s.Line)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\n", sevCell(s.Severity, s.Suppression), termSafe(s.ID), termSafe(where), layer, termSafe(s.Match), s.Fingerprint)
			}
			_ = tw.Flush()
		}
	}
	if r.Misconfigurations != nil {
		fmt.Fprintf(w, "\n%s\n", p.paint(sgrBold, fmt.Sprintf("Misconfigurations: %d", len(r.Misconfigurations))))
		if len(r.Misconfigurations) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEVERITY\tCHECK\tCIS\tEVIDENCE")
			for _, m := range sortedMisconfigurations(r) {
				ev := m.Evidence
				if m.Line > 0 {
					ev = fmt.Sprintf("%s:%d: %s", m.Path, m.Line, ev)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sevCell(m.Severity, m.Suppression), termSafe(m.ID), m.CIS, termSafe(truncateRunes(ev, 100)))
			}
			_ = tw.Flush()
		}
	}
	if r.Licenses != nil {
		fmt.Fprintf(w, "\n%s\n", p.paint(sgrBold, fmt.Sprintf("Licences: %d package licences", len(r.Licenses))))
		if len(r.LicenseSummary) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEVERITY\tCATEGORY\tLICENCE\tPACKAGES")
			for _, c := range r.LicenseSummary {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", sevCell(c.Severity, nil), c.Category, termSafe(truncateRunes(c.License, 70)), c.Packages)
			}
			_ = tw.Flush()
		}
		var notable []finding.License
		for _, l := range sortedLicenses(r) {
			if l.Severity.Rank() > finding.Low.Rank() {
				notable = append(notable, l)
			}
		}
		if len(notable) > 0 {
			fmt.Fprintf(w, "\nPackages with licences above LOW: %d\n", len(notable))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEVERITY\tRULE\tPACKAGE\tVERSION\tLICENCE")
			for _, l := range notable {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sevCell(l.Severity, l.Suppression), l.ID, termSafe(l.Package.Name), termSafe(l.Package.Version), termSafe(truncateRunes(l.License, 60)))
			}
			_ = tw.Flush()
		}
	}
	if c := r.Compliance; c != nil {
		fmt.Fprintf(w, "\n%s\n", p.paint(sgrBold, fmt.Sprintf("Compliance: %s — %d pass, %d fail, %d manual", c.Title, c.Pass, c.Fail, c.Manual)))
		for _, ctl := range c.Controls {
			st := fmt.Sprintf("%-6s", strings.ToUpper(ctl.Status))
			switch ctl.Status {
			case StatusFail:
				st = p.paint(sgrBoldRed, st)
			case StatusPass:
				st = p.paint(sgrGreen, st)
			default:
				st = p.paint(sgrDim, st)
			}
			fmt.Fprintf(w, "%-5s %s  %s\n", ctl.ID, st, termSafe(ctl.Title))
			for _, e := range ctl.Evidence {
				fmt.Fprintf(w, "        %s\n", termSafe(truncateRunes(e, 110)))
			}
			if ctl.Status == StatusFail {
				fmt.Fprintf(w, "        remediation: %s\n", termSafe(ctl.Remediation))
			}
		}
	}
	if pr := r.Policy; pr != nil {
		verdict := p.paint(sgrGreen, "PASSED")
		if pr.Failed {
			verdict = p.paint(sgrBoldRed, "FAILED")
		}
		fmt.Fprintf(w, "\n%s %s (%d violations)\n", p.paint(sgrBold, "Policy "+termSafe(pr.Source)+":"), verdict, len(pr.Violations))
		for _, v := range pr.Violations {
			fmt.Fprintf(w, "  %s %s: %s %s %s\n", strings.ToUpper(v.Action), termSafe(v.Rule), v.Kind, termSafe(v.ID), termSafe(v.Target))
		}
	}
}
