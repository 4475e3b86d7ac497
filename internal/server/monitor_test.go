package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/store"
	uipkg "github.com/drydockscan/drydock/internal/server/ui"
)

// TestMonitoringAPI goes through the triage, audit, export and paging
// endpoints over HTTP (every answer checked against the OpenAPI
// document), with expectations taken from the findings the server
// returned for the inventory it was sent.
func TestMonitoringAPI(t *testing.T) {
	needDB(t)
	ctx := context.Background()
	app := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	inv, err := pipeline.Inventory(ctx, app, pipeline.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	scanTok, _, err := server.CreateToken(ctx, storeURL, "alice", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	readTok, _, err := server.CreateToken(ctx, storeURL, "auditor", store.ScopeRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	// Every open finding fails the gate: the shared vulnerability data
	// has no severity scores for most records.
	cfg.FailOn = finding.Unknown
	base := startServer(t, cfg)
	c := newClient(t, base)

	var ir api.InventoryResponse
	inv.Target.Ref = "registry.example.com/team/app:1.4"
	if code := c.postJSON("/api/v1/inventories", scanTok, api.InventoryRequest{Target: inv.Target, Inventory: &inv.Inventory}, &ir); code != http.StatusCreated {
		t.Fatalf("POST /inventories: %d", code)
	}
	digest := ir.Digest
	// What the export must say, from the findings the server returned:
	// the fixable findings of the highest severity present ("crit"; the
	// export's oldest fixable critical when that is CRITICAL; all first
	// seen now, ties by id), and another finding ("high").
	top := finding.Unknown
	for _, f := range ir.Findings {
		if len(f.FixedVersions) > 0 && f.Severity.Rank() > top.Rank() {
			top = f.Severity
		}
	}
	var crit []finding.Finding
	for _, f := range ir.Findings {
		if f.Severity == top && len(f.FixedVersions) > 0 {
			crit = append(crit, f)
		}
	}
	t.Logf("%d findings: %+v", len(ir.Findings), store.CountFindings(ir.Findings))
	if len(crit) == 0 {
		t.Fatal("debian12-app has no finding with a fix: the checks below need one")
	}
	slices.SortFunc(crit, func(a, b finding.Finding) int { return strings.Compare(a.ID, b.ID) })
	var high *finding.Finding
	for i, f := range ir.Findings {
		if f.ID != crit[0].ID {
			high = &ir.Findings[i]
			break
		}
	}
	if high == nil {
		t.Fatal("debian12-app has one vulnerability id only: the checks below need two")
	}
	want := store.CountFindings(ir.Findings)

	var im api.ImageView
	c.getJSON("/api/v1/images/"+digest, readTok, &im)
	if im.Counts != want || im.Gate != "fail" || len(im.FindingStates) != len(im.Findings) {
		t.Fatalf("image: counts %+v (want %+v), gate %q, %d states for %d findings", im.Counts, want, im.Gate, len(im.FindingStates), len(im.Findings))
	}

	// Decisions: refused without what they need, by a read token, or for
	// an image that is not there.
	for _, tc := range []struct {
		tok  string
		body string
		code int
		prob string
	}{
		{scanTok, `{"digest":"` + digest + `","vulnerability":"` + high.ID + `","state":"accepted","reason":"x"}`, 400, api.CodeBadTriage},
		{scanTok, `{"digest":"` + digest + `","vulnerability":"` + high.ID + `","state":"accepted","reason":"x","expires":"next week"}`, 400, api.CodeBadTriage},
		{scanTok, `{"digest":"` + digest + `","state":"maybe"}`, 400, api.CodeBadTriage},
		{scanTok, `{"digest":"sha256:0000","state":"open","assignee":"bob"}`, 404, api.CodeNotFound},
		{readTok, `{"digest":"` + digest + `","state":"open","assignee":"bob"}`, 403, api.CodeForbidden},
	} {
		code, body, _ := c.do(http.MethodPost, "/api/v1/triage", tc.tok, "application/json", []byte(tc.body))
		if code != tc.code || problemCode(body) != tc.prob {
			t.Errorf("POST /triage %s: %d %s, want %d %s", tc.body, code, body, tc.code, tc.prob)
		}
	}
	// Accept the first critical with a fix: the export's oldest fixable
	// critical is then the next one.
	expires := time.Now().AddDate(0, 3, 0).UTC().Format("2006-01-02")
	reason := `compensating control: WAF rule 7 blocks the vector; <b>"quoted"</b>`
	var tr store.Triage
	if code := c.postJSON("/api/v1/triage", scanTok, map[string]string{"digest": digest, "vulnerability": crit[0].ID, "package": crit[0].Package.Name,
		"state": "accepted", "reason": reason, "expires": expires}, &tr); code != http.StatusOK || tr.ID == "" || tr.CreatedBy == "" {
		t.Fatalf("accept: %d %+v", code, tr)
	}
	var comment store.Comment
	if code := c.postJSON("/api/v1/comments", scanTok, map[string]string{"digest": digest, "vulnerability": crit[0].ID, "body": "ticket SEC-12"}, &comment); code != http.StatusCreated || !strings.HasPrefix(comment.Author, "alice#") {
		t.Errorf("comment: %d %+v", code, comment)
	}
	c.getJSON("/api/v1/images/"+digest, readTok, &im)
	covered := 0
	for i, f := range im.Findings {
		if f.ID == crit[0].ID && f.Package.Name == crit[0].Package.Name {
			if im.FindingStates[i] != store.TriageAccepted {
				t.Errorf("finding %s state %q", f.ID, im.FindingStates[i])
			}
			covered++
		}
	}
	whileAccepted := im.Counts
	if covered == 0 || im.Accepted != covered || im.Counts.Of(top) != want.Of(top)-covered || len(im.Triage) != 1 {
		t.Errorf("after accepting: %d covered, accepted %d, %s %d (was %d), %d decisions", covered, im.Accepted, top, im.Counts.Of(top), want.Of(top), len(im.Triage))
	}

	// The audit log, oldest and newest first.
	var audit struct {
		Entries []store.AuditEntry `json:"entries"`
	}
	c.getJSON("/api/v1/audit", readTok, &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
		if !strings.HasPrefix(e.Actor, "alice#") {
			t.Errorf("audit actor %q", e.Actor)
		}
	}
	if !slices.Equal(actions, []string{"triage.accepted", "comment.added"}) {
		t.Errorf("audit actions %v", actions)
	}
	c.getJSON("/api/v1/audit?order=newest&limit=1", readTok, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "comment.added" {
		t.Errorf("newest audit entry: %+v", audit.Entries)
	}

	// The export, in its three formats.
	var x api.Export
	c.getJSON("/api/v1/exports/fleet", readTok, &x)
	if len(x.Images) != 1 || len(x.Accepted) != 1 || x.FailOn != string(finding.Unknown) {
		t.Fatalf("export: %+v", x)
	}
	fi := x.Images[0]
	var next *finding.Finding
	for i := range crit {
		if top != finding.Critical {
			break // no critical: no oldest fixable critical
		}
		if crit[i].ID != crit[0].ID || crit[i].Package.Name != crit[0].Package.Name {
			next = &crit[i]
			break
		}
	}
	switch {
	case next == nil && fi.OldestFixable != nil:
		t.Errorf("oldest fixable critical %+v, want none (the only one is accepted)", fi.OldestFixable)
	case next != nil && (fi.OldestFixable == nil || fi.OldestFixable.VulnID != next.ID || fi.OldestFixable.AgeDays != 0 || fi.OldestFixable.FirstSeen.IsZero()):
		t.Errorf("oldest fixable critical %+v, want %s", fi.OldestFixable, next.ID)
	}
	if fi.Open != im.Counts || fi.Accepted != im.Accepted || fi.Gate != "fail" || fi.Repository != "registry.example.com/team/app" || !slices.Equal(fi.Tags, []string{"1.4"}) {
		t.Errorf("export image: %+v", fi)
	}
	if a := x.Accepted[0]; a.Reason != reason || a.VulnID != crit[0].ID || a.Expires.Format("2006-01-02") != expires {
		t.Errorf("accepted risk: %+v", a)
	}
	code, body, h := c.do(http.MethodGet, "/api/v1/exports/fleet?format=csv", readTok, "", nil)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != http.StatusOK || err != nil || len(rows) != 2 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %v %q", code, err, body)
	}
	col := map[string]string{}
	for i, k := range rows[0] {
		col[k] = rows[1][i]
	}
	if col["digest"] != digest || col["critical"] != strconv.Itoa(fi.Open.Critical) || col["high"] != strconv.Itoa(fi.Open.High) || col["accepted"] != strconv.Itoa(fi.Accepted) ||
		(next != nil && (col["oldest_fixable_critical"] != next.ID || col["age_days"] != "0")) {
		t.Errorf("CSV row %v", col)
	}
	code, body, _ = c.do(http.MethodGet, "/api/v1/exports/fleet?format=csv&part=accepted", readTok, "", nil)
	if rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll(); code != http.StatusOK || err != nil || len(rows) != 2 || !slices.Contains(rows[1], reason) {
		t.Errorf("accepted CSV: %d %v %q", code, err, body)
	}
	code, body, h = c.do(http.MethodGet, "/api/v1/exports/fleet?format=html", readTok, "", nil)
	if code != http.StatusOK || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || bytes.Contains(body, []byte("<b>")) ||
		!bytes.Contains(body, []byte("&lt;b&gt;")) || bytes.Contains(body, []byte("<script")) || !bytes.Contains(body, []byte(digest)) {
		t.Errorf("HTML export: %d, CSP %q\n%.400s", code, h.Get("Content-Security-Policy"), body)
	}
	if code, body, _ := c.do(http.MethodGet, "/api/v1/exports/fleet?format=xlsx", readTok, "", nil); code != 400 || problemCode(body) != api.CodeBadFormat {
		t.Errorf("unknown export format: %d %s", code, body)
	}

	// Paging and filters.
	var pk struct {
		Packages []store.ImagePackage `json:"packages"`
		Total    int                  `json:"total"`
	}
	c.getJSON("/api/v1/images/"+digest+"/packages?limit=10&offset=5", readTok, &pk)
	if pk.Total != len(inv.Inventory.Packages) || len(pk.Packages) != 10 {
		t.Errorf("packages page: %d of %d (inventory has %d)", len(pk.Packages), pk.Total, len(inv.Inventory.Packages))
	}
	c.getJSON("/api/v1/images/"+digest+"/packages?q=gin", readTok, &pk)
	for _, p := range pk.Packages {
		if !strings.Contains(strings.ToLower(p.Name), "gin") {
			t.Errorf("package search for gin: %s", p.Name)
		}
	}
	var list struct {
		Images []store.ImageSummary `json:"images"`
	}
	for q, n := range map[string]int{"severity=" + string(top): 1, "tag=1.4": 1, "tag=2.0": 0, "repository=" + url.QueryEscape("registry.example.com/team/app") + "&severity=" + string(top): 1} {
		if c.getJSON("/api/v1/images?"+q, readTok, &list); len(list.Images) != n {
			t.Errorf("images?%s: %d, want %d", q, len(list.Images), n)
		}
	}
	var vi struct {
		Images   int              `json:"images"`
		Affected []store.Affected `json:"affected"`
		Next     int              `json:"next"`
	}
	c.getJSON("/api/v1/vulnerabilities/"+high.ID+"/images?limit=1", readTok, &vi)
	if vi.Images != 1 || len(vi.Affected) != 1 {
		t.Errorf("vulnerability page: %+v", vi)
	}
	var who map[string]string
	if c.getJSON("/api/v1/whoami", readTok, &who); who["name"] != "auditor" || who["scope"] != "read" {
		t.Errorf("whoami: %v", who)
	}
	var ds struct {
		Deliveries []store.Delivery `json:"deliveries"`
	}
	if code := c.getJSON("/api/v1/deliveries", readTok, &ds); code != http.StatusOK || len(ds.Deliveries) != 0 {
		t.Errorf("deliveries without channels: %d %+v", code, ds)
	}
	// Withdrawing the decision brings the finding back.
	if code, body, _ := c.do(http.MethodDelete, "/api/v1/triage/"+tr.ID, scanTok, "", nil); code != http.StatusNoContent {
		t.Errorf("DELETE triage: %d %s", code, body)
	}
	c.getJSON("/api/v1/images/"+digest, readTok, &im)
	if im.Counts != want || im.Accepted != 0 {
		t.Errorf("after withdrawing: %+v", im.Counts)
	}

	// The interface's files: no token needed, a strict policy, the root
	// sends there.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != uipkg.CSP || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	// The trend has today's point once the dispatcher has run.
	deadline := time.Now().Add(time.Minute)
	for {
		var tr struct {
			Trend []store.TrendPoint `json:"trend"`
		}
		c.getJSON("/api/v1/trend", readTok, &tr)
		// The point recorded at start (no image yet) is replaced once
		// the dispatcher has seen the image's events.
		var last store.TrendPoint
		if len(tr.Trend) > 0 {
			last = tr.Trend[len(tr.Trend)-1]
		}
		if last.Images == 1 {
			// Recorded at some point of this test: before the decision,
			// while it stood, or after it was withdrawn.
			if last.Day != time.Now().UTC().Format("2006-01-02") || (last.Counts != want && last.Counts != whileAccepted) {
				t.Errorf("trend: %+v, want today's point with %+v or %+v", tr.Trend, want, whileAccepted)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no trend point with the image after a minute: %+v", tr.Trend)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}
