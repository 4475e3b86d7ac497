{{- /*
  A Markdown summary of a drydock scan, for a merge-request comment or a
  CI job summary:

    drydock image IMAGE -o template=summary.md --template @contrib/templates/markdown.tpl

  The data is the report (docs/json-report.md) under its Go field names;
  the functions are listed in internal/report/template.go.
*/ -}}
# drydock: {{ or .Target.Name .Target.Ref }}
{{ with .OS }}
Operating system: {{ .PrettyName }}
{{- end }}
Packages: {{ len .Packages }}
{{- with .Database }}
Database: updated {{ .Updated }} ({{ .AgeHours }} hours old)
{{- end }}
{{ if not .Database }}
No vulnerability database was used.
{{- else }}
| Severity | Count |
| --- | ---: |
{{- range severities }}
| {{ . }} | {{ severityCount . }} |
{{- end }}
| suppressed | {{ suppressedCount }} |
{{ with .Gate }}
**Gate (fail on {{ .FailOn }}): {{ if .Failed }}FAILED, {{ .Failing }} finding(s){{ else }}passed{{ end }}**
{{ end }}
{{- range targets }}
## {{ .Name }}

| Package | Installed | Vulnerability | Severity | Fix | Title |
| --- | --- | --- | --- | --- | --- |
{{- range .Findings }}
| {{ .Package.Name }} | {{ .Package.Version }} | [{{ .ID }}]({{ link . }}){{ if .KEV }} (KEV){{ end }} | {{ .Severity }}{{ if fails . }} ⛔{{ end }} | {{ if .Suppression }}~~{{ fixed . }}~~ {{ suppression . }}{{ else }}{{ fixed . }}{{ end }} | {{ replace "|" "\\|" .Title }} |
{{- end }}
{{ end }}
{{- end }}
