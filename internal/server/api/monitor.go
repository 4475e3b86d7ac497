package api

import (
	"context"
	"encoding/csv"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/server/watch"
)

// Hooks acts on registry events (the distribution registry's
// notifications, Harbor's webhooks).
type Hooks interface {
	Handle(ctx context.Context, pushes []watch.Push) (watch.HookResult, error)
}

// actor names who made a request: the token's name and id.
func actor(r *http.Request) string {
	t, _ := r.Context().Value(tokenKey{}).(store.Token)
	return t.Name + "#" + t.ID
}

func (a *api) whoami(w http.ResponseWriter, r *http.Request) {
	t, _ := r.Context().Value(tokenKey{}).(store.Token)
	writeJSON(w, http.StatusOK, map[string]string{"name": t.Name, "id": t.ID, "scope": t.Scope, "actor": actor(r)})
}

// hook reads a registry's event document and acts on it.
func (a *api) hook(parse func([]byte) ([]watch.Push, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.c.Hooks == nil {
			writeProblem(w, r, http.StatusNotFound, CodeNotFound, "this server watches no repository (--watch)")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, "registry events are limited to 4 MiB")
			return
		}
		pushes, err := parse(body)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
			return
		}
		res, err := a.c.Hooks.Handle(r.Context(), pushes)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if res.Accepted > 0 {
			a.log.Info("registry event", "accepted", res.Accepted, "ignored", res.Ignored)
		}
		writeJSON(w, http.StatusAccepted, res)
	}
}

// TriageRequest records a decision.
type TriageRequest struct {
	Digest     string `json:"digest,omitempty"`
	Repository string `json:"repository,omitempty"`
	VulnID     string `json:"vulnerability,omitempty"`
	Package    string `json:"package,omitempty"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	// Expires is an RFC 3339 time or a date (YYYY-MM-DD, the end of that
	// day UTC).
	Expires  string `json:"expires,omitempty"`
	Assignee string `json:"assignee,omitempty"`
}

func parseExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, errors.New("expires: want an RFC 3339 time or YYYY-MM-DD")
	}
	return t.Add(24*time.Hour - time.Microsecond), nil
}

func (a *api) postTriage(w http.ResponseWriter, r *http.Request) {
	var req TriageRequest
	if !a.decode(w, r, &req) {
		return
	}
	exp, err := parseExpiry(req.Expires)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadTriage, err.Error())
		return
	}
	t, err := a.c.Store.SetTriage(r.Context(), actor(r), store.TriageInput{
		Digest: req.Digest, Repository: req.Repository, VulnID: req.VulnID, Package: req.Package,
		State: req.State, Reason: req.Reason, Expires: exp, Assignee: req.Assignee,
	})
	switch {
	case errors.Is(err, store.ErrBadTriage):
		writeProblem(w, r, http.StatusBadRequest, CodeBadTriage, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		a.log.Info("triage recorded", "id", t.ID, "state", t.State, "actor", actor(r))
		writeJSON(w, http.StatusOK, t)
	}
}

func (a *api) deleteTriage(w http.ResponseWriter, r *http.Request) {
	err := a.c.Store.DeleteTriage(r.Context(), actor(r), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *api) listTriage(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	list, err := a.c.Store.ListTriage(r.Context(), store.TriageQuery{State: q.Get("state"), Digest: q.Get("digest"), VulnID: q.Get("vulnerability"), After: q.Get("after"), Limit: limit})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Triage []store.Triage `json:"triage"`
		Next   string         `json:"next,omitempty"`
	}{Triage: list}
	if len(list) == limit {
		out.Next = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// CommentRequest adds a comment.
type CommentRequest struct {
	Digest  string `json:"digest,omitempty"`
	VulnID  string `json:"vulnerability,omitempty"`
	Package string `json:"package,omitempty"`
	Body    string `json:"body"`
}

func (a *api) postComment(w http.ResponseWriter, r *http.Request) {
	var req CommentRequest
	if !a.decode(w, r, &req) {
		return
	}
	c, err := a.c.Store.AddComment(r.Context(), store.Comment{Digest: req.Digest, VulnID: req.VulnID, Package: req.Package, Body: req.Body, Author: actor(r)})
	switch {
	case errors.Is(err, store.ErrBadTriage):
		writeProblem(w, r, http.StatusBadRequest, CodeBadTriage, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, c)
	}
}

func (a *api) listComments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cs, err := a.c.Store.Comments(r.Context(), q.Get("digest"), q.Get("vulnerability"))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"comments": cs})
}

func (a *api) auditLog(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	var after int64
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "after: want an audit entry id")
			return
		}
	}
	newest := q.Get("order") == "newest"
	es, err := a.c.Store.AuditLog(r.Context(), after, limit, newest)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		Entries []store.AuditEntry `json:"entries"`
		Next    int64              `json:"next,omitempty"`
	}{Entries: es}
	if len(es) == limit {
		out.Next = es[len(es)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) deliveries(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	dq := store.DeliveryQuery{Channel: q.Get("channel"), Status: q.Get("status"), Limit: limit}
	if s := q.Get("event"); s != "" {
		if dq.EventID, err = strconv.ParseInt(s, 10, 64); err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "event: want an event id")
			return
		}
	}
	if s := q.Get("offset"); s != "" {
		if dq.Offset, err = strconv.Atoi(s); err != nil || dq.Offset < 0 {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "offset: want a number")
			return
		}
	}
	ds, err := a.c.Store.Deliveries(r.Context(), dq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (a *api) delivery(w http.ResponseWriter, r *http.Request) {
	d, err := a.c.Store.GetDelivery(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

func (a *api) trend(w http.ResponseWriter, r *http.Request) {
	days, err := queryInt(r, "days", 90, 3660)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	pts, err := a.c.Store.Trend(r.Context(), days)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trend": pts})
}

func (a *api) imagePackages(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	offset := 0
	if s := r.URL.Query().Get("offset"); s != "" {
		if offset, err = strconv.Atoi(s); err != nil || offset < 0 {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "offset: want a number")
			return
		}
	}
	digest := r.PathValue("digest")
	if ok, err := a.c.Store.HasImage(r.Context(), digest); err != nil {
		a.internal(w, r, err)
		return
	} else if !ok {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no image "+digest)
		return
	}
	ps, total, err := a.c.Store.ImagePackages(r.Context(), digest, r.URL.Query().Get("q"), offset, limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"packages": ps, "total": total, "offset": offset})
}

// Export is the fleet's state as the export endpoint writes it.
type Export struct {
	Generated time.Time          `json:"generated"`
	FailOn    string             `json:"fail_on,omitempty"`
	Images    []store.FleetImage `json:"images"`
	Accepted  []store.Triage     `json:"accepted_risks"`
}

func (a *api) export(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" && format != "html" {
		writeProblem(w, r, http.StatusBadRequest, CodeBadFormat, "format: want csv, json or html")
		return
	}
	part := r.URL.Query().Get("part")
	if part != "" && part != "images" && part != "accepted" {
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "part: want images or accepted (CSV)")
		return
	}
	now := time.Now().UTC()
	imgs, err := a.c.Store.Fleet(r.Context(), now)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	acc := []store.Triage{}
	after := ""
	for {
		page, err := a.c.Store.ListTriage(r.Context(), store.TriageQuery{State: store.TriageAccepted, After: after, Limit: 1000})
		if err != nil {
			a.internal(w, r, err)
			return
		}
		acc = append(acc, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	x := Export{Generated: now, FailOn: string(a.c.FailOn), Images: imgs, Accepted: acc}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	stamp := now.Format("20060102T150405Z")
	switch format {
	case "json":
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "drydock-fleet-" + stamp + ".json"}))
		writeJSON(w, http.StatusOK, x)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		name := "drydock-fleet-" + stamp + ".csv"
		if part == "accepted" {
			name = "drydock-accepted-" + stamp + ".csv"
		}
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		_ = writeExportCSV(w, &x, part == "accepted")
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
		_ = exportPage().Execute(w, &x)
	}
}

// csvCell keeps a spreadsheet from reading a cell as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeExportCSV(w io.Writer, x *Export, accepted bool) error {
	cw := csv.NewWriter(w)
	if accepted {
		_ = cw.Write([]string{"id", "digest", "repository", "vulnerability", "package", "reason", "expires", "accepted_by", "accepted_at"})
		for _, t := range x.Accepted {
			_ = cw.Write([]string{t.ID, t.Digest, csvCell(t.Repository), t.VulnID, csvCell(t.Package), csvCell(t.Reason), rfc(t.Expires), csvCell(t.UpdatedBy), rfc(t.Updated)})
		}
		cw.Flush()
		return cw.Error()
	}
	_ = cw.Write([]string{"digest", "repository", "tags", "critical", "high", "medium", "low", "negligible", "unknown", "accepted", "gate",
		"oldest_fixable_critical", "package", "fixed_versions", "first_seen", "age_days", "gone"})
	for _, im := range x.Images {
		c := im.Open
		row := []string{im.Digest, csvCell(im.Repository), csvCell(strings.Join(im.Tags, " ")), strconv.Itoa(c.Critical), strconv.Itoa(c.High), strconv.Itoa(c.Medium),
			strconv.Itoa(c.Low), strconv.Itoa(c.Negligible), strconv.Itoa(c.Unknown), strconv.Itoa(im.Accepted), im.Gate}
		if o := im.OldestFixable; o != nil {
			row = append(row, o.VulnID, csvCell(o.Package+" "+o.Version), csvCell(o.Fixed), rfc(o.FirstSeen), strconv.Itoa(o.AgeDays))
		} else {
			row = append(row, "", "", "", "", "")
		}
		row = append(row, strconv.FormatBool(im.Gone))
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// exportPage is parsed on first use: the CLI links this package too.
var exportPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("export").Funcs(template.FuncMap{
		"rfc":     func(t time.Time) string { return rfc(t) },
		"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"sevs":    func() []finding.Severity { return finding.All() },
		"count":   store.Counts.Of,
		"joinTag": func(s []string) string { return strings.Join(s, ", ") },
	}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drydock fleet report {{date .Generated}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d2330}
table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border:1px solid #ccd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#b00020;font-weight:600}.pass{color:#1b7f3b}
code{font-size:12px}
</style></head><body>
<h1>Fleet report</h1>
<p>Generated {{rfc .Generated}}{{if .FailOn}}; gate: fail on {{.FailOn}} or above{{end}}. {{len .Images}} images, {{len .Accepted}} accepted risks.</p>
<h2>Images</h2>
<table><thead><tr><th>Repository</th><th>Tags</th><th>Digest</th>{{range sevs}}<th>{{.}}</th>{{end}}<th>Accepted</th><th>Gate</th><th>Oldest unfixed critical with a fix</th><th>Age (days)</th></tr></thead><tbody>
{{range .Images}}<tr><td>{{.Repository}}{{if .Gone}} (gone){{end}}</td><td>{{joinTag .Tags}}</td><td><code>{{.Digest}}</code></td>{{$c := .Open}}{{range sevs}}<td class="n">{{count $c .}}</td>{{end}}<td class="n">{{.Accepted}}</td><td class="{{.Gate}}">{{.Gate}}</td>
<td>{{with .OldestFixable}}{{.VulnID}} in {{.Package}} {{.Version}} (fixed in {{.Fixed}}), first seen {{date .FirstSeen}}{{end}}</td><td class="n">{{with .OldestFixable}}{{.AgeDays}}{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Accepted risks</h2>
<table><thead><tr><th>Vulnerability</th><th>Package</th><th>Image or repository</th><th>Reason</th><th>Expires</th><th>Accepted by</th><th>When</th></tr></thead><tbody>
{{range .Accepted}}<tr><td>{{.VulnID}}</td><td>{{.Package}}</td><td>{{if .Digest}}<code>{{.Digest}}</code>{{else}}{{.Repository}}{{end}}</td><td>{{.Reason}}</td><td>{{date .Expires}}</td><td>{{.UpdatedBy}}</td><td>{{rfc .Updated}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))
})

// findingStates says, for each finding of an image, whether a decision
// covers it: "accepted", "false_positive" or "open".
func findingStates(im *store.Image, list []store.Triage, now time.Time) []string {
	out := make([]string, len(im.Findings))
	for i := range im.Findings {
		out[i] = store.TriageOpen
		if t := store.Suppressing(list, im.Digest, im.Repository, &im.Findings[i], now); t != nil {
			out[i] = t.State
		}
	}
	return out
}
