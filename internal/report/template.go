package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/drydockscan/drydock/internal/finding"
)

// ErrNoTemplate is returned by the template format without a template.
var ErrNoTemplate = errors.New("the template format needs a template (--template @file.tpl)")

// maxTemplateOutput bounds what one template may write (a runaway range
// over a large report stops with an error instead of filling the disk).
const maxTemplateOutput = 256 << 20

// WriteTemplate executes Options.Template, a Go text/template, with the
// report as its data (the fields of the JSON report under their Go names:
// .Target.Ref, .Vulnerabilities, .Gate …). Findings are in report order.
// Besides text/template's own functions it offers:
//
//	toJSON v            v as compact JSON
//	toPrettyJSON v      v as indented JSON
//	severityCount s     number of unsuppressed findings of severity s ("HIGH", "high")
//	suppressedCount     number of suppressed findings
//	fails f             whether finding f breaks the gate
//	join sep list       strings.Join with the separator first, for pipes
//	upper s, lower s    case
//	replace old new s   strings.ReplaceAll, for pipes
//	severities          the severities from CRITICAL to UNKNOWN
//	targets             the findings grouped by target ({{.Name}}, {{.Findings}})
//	fixed f             "fixed in …", "will not fix" or "no fix yet"
//	suppression f       the reason a finding is suppressed ("" if it is not)
//	link f              the page to read about a finding
//
// Nothing is written unless the whole template succeeds; errors name the
// template and position.
func WriteTemplate(w io.Writer, r *Report, o Options) error {
	if strings.TrimSpace(o.Template) == "" {
		return ErrNoTemplate
	}
	c := sortedReport(r)
	t, err := template.New("template").Funcs(templateFuncs(c)).Parse(o.Template)
	if err != nil {
		return fmt.Errorf("template report: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&limitedWriter{w: &buf, left: maxTemplateOutput}, c); err != nil {
		return fmt.Errorf("template report: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("template report: %w", err)
	}
	return nil
}

func templateFuncs(r *Report) template.FuncMap {
	counts := countSeverities(r.Vulnerabilities)
	return template.FuncMap{
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"toPrettyJSON": func(v any) (string, error) {
			b, err := json.MarshalIndent(v, "", "  ")
			return string(b), err
		},
		"severityCount": func(s any) (int, error) {
			sev, ok := finding.ParseSeverity(fmt.Sprint(s))
			if !ok {
				return 0, fmt.Errorf("unknown severity %q", s)
			}
			return counts.By[sev], nil
		},
		"suppressedCount": func() int { return counts.Suppressed },
		"fails":           func(f finding.Finding) bool { return r.Gate.Fails(&f) },
		"join":            func(sep string, list []string) string { return strings.Join(list, sep) },
		"upper":           strings.ToUpper,
		"lower":           strings.ToLower,
		"replace":         func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
		"severities":      finding.All,
		"targets":         func() []targetGroup { return groupByTarget(r.Vulnerabilities) },
		"fixed":           func(f finding.Finding) string { return statusText(&f) },
		"suppression": func(f finding.Finding) string {
			if f.Suppression == nil {
				return ""
			}
			return suppressionText(f.Suppression)
		},
		"link": func(f finding.Finding) string { return findingURL(&f) },
	}
}

// errTemplateOutput stops a template that writes too much.
var errTemplateOutput = fmt.Errorf("output exceeds %d MiB", maxTemplateOutput>>20)

type limitedWriter struct {
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		return 0, errTemplateOutput
	}
	l.left -= len(p)
	return l.w.Write(p)
}
