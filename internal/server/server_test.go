package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/cli"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

const registryPassword = "s3cr3t-Registry-pw-9f2c"

func updaterOffline() updater.Options { return updater.Options{Offline: true} }

// pushLayout pushes an OCI layout's image to ref.
func pushLayout(t *testing.T, layout, ref string, auth authn.Authenticator) {
	t.Helper()
	img, err := source.Open(context.Background(), "oci:"+layout, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img.Image, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// localReport scans target with the local pipeline and the shared
// database: what the server must agree with.
func localReport(t *testing.T, target string) *report.Report {
	t.Helper()
	rep, err := pipeline.Run(context.Background(), pipeline.Request{
		Target: target, Matcher: &pipeline.LocalMatcher{Path: dbPath}, Started: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findingIDs(fs []finding.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID+" "+f.Package.Name+" "+f.Package.Version)
	}
	slices.Sort(ids)
	return ids
}

// TestService runs one server on SQLite (role all) and goes through the
// API: scan by reference with the server's registry credentials, upload,
// client mode, incident queries, auth refusals and bad input. Every
// response is checked against the OpenAPI document; at the end every log
// line, response and report is searched for the registry password and the
// tokens.
func TestService(t *testing.T) {
	needDB(t)
	corpus := analyzetest.Corpus(t)
	ctx := context.Background()
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	scanTok, _, err := server.CreateToken(ctx, storeURL, "ci", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	readTok, _, err := server.CreateToken(ctx, storeURL, "dashboard", store.ScopeRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"puller": registryPassword}})
	auth := &authn.Basic{Username: "puller", Password: registryPassword}
	app := filepath.Join(corpus, "debian12-app", "oci")
	pushLayout(t, app, reg.Host+"/corpus/app:1.0", auth)
	pushLayout(t, app, reg.Host+"/corpus/app:1.1", auth)

	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	cfg.Inventory.Source.Username, cfg.Inventory.Source.Password = "puller", registryPassword
	cfg.MaxUpload = 2700000
	base := startServer(t, cfg)
	c := newClient(t, base)
	var reports []string

	// Scan by reference: the worker pulls with the server's credentials.
	want := localReport(t, app)
	if len(want.Vulnerabilities) == 0 {
		t.Fatal("debian12-app has no finding: the checks below need some")
	}
	var q api.ScanView
	if code := c.postJSON("/api/v1/scans", scanTok, map[string]string{"image": reg.Host + "/corpus/app:1.0"}, &q); code != http.StatusAccepted || q.Status != "queued" || q.ID == "" {
		t.Fatalf("POST /scans: %d %+v", code, q)
	}
	done := c.waitScan(q.ID, readTok, 3*time.Minute)
	if done.Status != "done" {
		t.Fatalf("scan by reference: %+v\nlogs:\n%s", done, logs.String())
	}
	var got report.Report
	if err := json.Unmarshal(done.Report, &got); err != nil {
		t.Fatal(err)
	}
	reports = append(reports, string(done.Report))
	if d := cmp(findingIDs(want.Vulnerabilities), findingIDs(got.Vulnerabilities)); d != "" {
		t.Errorf("server findings differ from a local scan of the same image: %s", d)
	}
	if got.Target.ManifestDigest != want.Target.ManifestDigest || done.Digest != want.Target.ManifestDigest {
		t.Errorf("digest %s / %s, want %s", got.Target.ManifestDigest, done.Digest, want.Target.ManifestDigest)
	}
	if got.Database == nil || got.Database.Built == "" || done.DBBuilt == "" || done.DBBuilt != got.Database.Built {
		t.Errorf("result does not record the database build: scan %q, report %+v", done.DBBuilt, got.Database)
	}
	digest := done.Digest

	// The same image under another tag: one image, two tags, two scans.
	c.postJSON("/api/v1/scans", scanTok, map[string]string{"image": reg.Host + "/corpus/app:1.1"}, &q)
	if v := c.waitScan(q.ID, readTok, 3*time.Minute); v.Status != "done" || v.Digest != digest {
		t.Fatalf("second tag: %+v", v)
	}
	var im api.ImageView
	if code := c.getJSON("/api/v1/images/"+digest, readTok, &im); code != http.StatusOK {
		t.Fatalf("GET image: %d", code)
	}
	var tags []string
	for _, tg := range im.Tags {
		tags = append(tags, tg.Tag)
	}
	if !slices.Equal(tags, []string{"1.0", "1.1"}) || len(im.History) != 2 || im.Repository != reg.Host+"/corpus/app" {
		t.Errorf("image: tags %v, %d scans, repository %q", tags, len(im.History), im.Repository)
	}
	wantCounts := store.CountFindings(want.Vulnerabilities)
	if im.Counts != wantCounts || len(im.Findings) != len(want.Vulnerabilities) || im.FirstSeen.IsZero() || im.LastSeen.Before(im.FirstSeen) {
		t.Errorf("image: counts %+v (want %+v), %d findings (want %d), seen %v…%v", im.Counts, wantCounts, len(im.Findings), len(want.Vulnerabilities), im.FirstSeen, im.LastSeen)
	}

	// Every CLI format.
	for _, f := range []string{"json", "sarif", "cyclonedx", "cyclonedx-vex", "spdx-json", "csv", "junit", "gitlab", "html", "table"} {
		code, body, _ := c.do(http.MethodGet, "/api/v1/scans/"+done.ID+"?format="+f, readTok, "", nil)
		var local bytes.Buffer
		lf, _ := report.Lookup(f)
		_ = lf.Write(&local, &got, report.Options{})
		if code != http.StatusOK || !bytes.Equal(body, local.Bytes()) {
			t.Errorf("format %s: %d, %d bytes; want the %d bytes the report writes", f, code, len(body), local.Len())
		}
		reports = append(reports, string(body))
	}

	// Uploads: an OCI layout tar and a docker save archive, streamed to
	// disk under the size cap (2,700,000 bytes in this test).
	for _, up := range []struct{ file, name string }{
		{filepath.Join(corpus, "edge-layers", "oci.tar"), "edge:oci"},
		{filepath.Join(corpus, "multiarch-busybox", "docker-archive.tar"), "busybox:docker"},
	} {
		data, err := os.ReadFile(up.file)
		if err != nil {
			t.Fatal(err)
		}
		code, body, _ := c.do(http.MethodPost, "/api/v1/scans?name="+up.name, scanTok, "application/x-tar", data)
		if code != http.StatusAccepted || json.Unmarshal(body, &q) != nil {
			t.Fatalf("upload %s: %d %s", up.name, code, body)
		}
		v := c.waitScan(q.ID, readTok, time.Minute)
		if v.Status != "done" {
			t.Fatalf("upload scan %s: %+v", up.name, v)
		}
		var upRep report.Report
		_ = json.Unmarshal(v.Report, &upRep)
		wantUp := localReport(t, up.file)
		if len(upRep.Packages) != len(wantUp.Packages) || len(upRep.Packages) == 0 || upRep.Target.Ref != up.name {
			t.Errorf("upload %s: %d packages (a local scan finds %d), ref %q", up.name, len(upRep.Packages), len(wantUp.Packages), upRep.Target.Ref)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.UploadDir, "*")); len(left) != 0 {
		t.Errorf("uploads left behind: %v", left)
	}
	big, err := os.ReadFile(filepath.Join(corpus, "edge-layers", "docker-archive.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := c.do(http.MethodPost, "/api/v1/scans", scanTok, "application/x-tar", big); code != http.StatusRequestEntityTooLarge || problemCode(body) != api.CodeTooLarge {
		t.Errorf("upload over the cap: %d %s", code, body)
	}

	// Client mode: the same reports and verdict as a local scan.
	env := map[string]string{"SOURCE_DATE_EPOCH": "1767225600", "DRYDOCK_DB_PATH": dbPath, "DRYDOCK_TOKEN": scanTok, "DRYDOCK_CACHE_BACKEND": "none"}
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Run(ctx, args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
		return code, out.String(), errb.String()
	}
	gate := finding.Unknown
	for _, f := range want.Vulnerabilities {
		if f.Severity.Rank() > gate.Rank() {
			gate = f.Severity
		}
	}
	outs := t.TempDir()
	outArgs := func(who string) []string {
		var args []string
		for _, f := range []string{"json", "sarif", "cyclonedx", "gitlab"} {
			args = append(args, "-o", f+"="+filepath.Join(outs, who+"."+f))
		}
		return args
	}
	lc, _, lerr := runCLI(append([]string{"image", app, "--offline", "--skip-db-update", "--fail-on", string(gate)}, outArgs("local")...)...)
	cc, _, cerr := runCLI(append([]string{"image", app, "--server", base, "--fail-on", string(gate)}, outArgs("client")...)...)
	if lc != cli.ExitPolicy || cc != lc {
		t.Errorf("gate %s: local exit %d, client exit %d (want %d both)\nlocal: %s\nclient: %s", gate, lc, cc, cli.ExitPolicy, lerr, cerr)
	}
	for _, f := range []string{"json", "sarif", "cyclonedx", "gitlab"} {
		l, _ := os.ReadFile(filepath.Join(outs, "local."+f))
		r, _ := os.ReadFile(filepath.Join(outs, "client."+f))
		if !bytes.Equal(l, r) || len(l) == 0 {
			t.Errorf("%s: the client's report differs from the local one (%d vs %d bytes)", f, len(r), len(l))
		}
		reports = append(reports, string(r))
	}
	reports = append(reports, cerr)
	if code, _, errOut := runCLI("image", app, "--server", base, "--token", "ddk_wrong", "-o", "json"); code != cli.ExitError || !strings.Contains(errOut, "401") {
		t.Errorf("client with a bad token: exit %d, %s", code, errOut)
	}
	c.getJSON("/api/v1/images/"+digest, readTok, &im)
	if len(im.History) != 3 || im.History[0].Kind != store.KindInventory {
		t.Errorf("client scans are not in the image's history: %d scans, latest %+v", len(im.History), im.History[0])
	}

	// Incident response: by an alias of a finding.
	var probe finding.Finding
	for _, f := range got.Vulnerabilities {
		if len(f.Aliases) > 0 && len(f.FixedVersions) > 0 {
			probe = f
			break
		}
	}
	if probe.ID == "" {
		t.Fatal("no finding with aliases and a fix in debian12-app")
	}
	var vi struct {
		Images   int              `json:"images"`
		Affected []store.Affected `json:"affected"`
	}
	c.getJSON("/api/v1/vulnerabilities/"+strings.ToLower(probe.Aliases[0])+"/images", readTok, &vi)
	found := false
	for _, a := range vi.Affected {
		if a.Digest == digest && a.FindingID == probe.ID && a.Package == probe.Package.Name && a.Version == probe.Package.Version &&
			a.Layer == probe.Package.Layer && slices.Equal(a.FixedVersions, probe.FixedVersions) {
			found = true
		}
	}
	if vi.Images != 1 || !found {
		t.Errorf("images with %s (alias of %s): %+v", probe.Aliases[0], probe.ID, vi)
	}

	// Paged one row a page, by cursor and by offset: every row of the id
	// with the most findings in the image, once (expected from the report).
	rowsOf := map[string]int{}
	for _, f := range got.Vulnerabilities {
		seen := map[string]bool{}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if id = strings.ToUpper(id); !seen[id] {
				seen[id] = true
				rowsOf[id]++
			}
		}
	}
	most := ""
	for id, n := range rowsOf {
		if n > rowsOf[most] || (n == rowsOf[most] && id < most) {
			most = id
		}
	}
	if rowsOf[most] < 2 {
		t.Fatalf("no id with two findings in debian12-app: %v", rowsOf)
	}
	for _, byOffset := range []bool{false, true} {
		listed := map[string]int{}
		q := "limit=1"
		for pages := 0; pages <= rowsOf[most]; pages++ {
			var pg struct {
				Images   int              `json:"images"`
				Affected []store.Affected `json:"affected"`
				Cursor   string           `json:"cursor"`
				Next     int              `json:"next"`
			}
			c.getJSON("/api/v1/vulnerabilities/"+most+"/images?"+q, readTok, &pg)
			if pg.Images != 1 || len(pg.Affected) != 1 {
				t.Fatalf("images with %s, %s: %+v", most, q, pg)
			}
			a := pg.Affected[0]
			listed[a.FindingID+" "+a.Package+" "+a.Version+" "+a.Path]++
			if pg.Cursor == "" {
				break
			}
			q = "limit=1&after=" + url.QueryEscape(pg.Cursor)
			if byOffset {
				q = "limit=1&offset=" + strconv.Itoa(pg.Next)
			}
		}
		total := 0
		for k, n := range listed {
			total += n
			if n != 1 {
				t.Errorf("images with %s (offset %v): %s listed %d times", most, byOffset, k, n)
			}
		}
		if total != rowsOf[most] {
			t.Errorf("images with %s (offset %v): %d rows over the pages, the report has %d", most, byOffset, total, rowsOf[most])
		}
	}

	// Every image holding a package, with a version range.
	var ginPURL, ginVersion string
	for _, p := range got.Packages {
		if p.Name == "github.com/gin-gonic/gin" {
			ginPURL, ginVersion = p.PURL, p.Version
		}
	}
	if ginPURL == "" {
		t.Fatal("no gin in debian12-app")
	}
	plain, _, _ := strings.Cut(ginPURL, "@")
	for _, tc := range []struct {
		query  string
		images int
	}{
		{"purl=" + url.QueryEscape(plain), 1},
		{"purl=" + url.QueryEscape(ginPURL), 1},
		{"purl=" + url.QueryEscape(plain+"@v0.0.1"), 0},
		{"purl=" + url.QueryEscape(plain) + "&range=" + url.QueryEscape(">=v1.6.0,<v1.8.0"), 1},
		{"purl=" + url.QueryEscape(plain) + "&range=" + url.QueryEscape("<"+ginVersion), 0},
	} {
		var pr struct {
			Images   int             `json:"images"`
			Packages []store.Holding `json:"packages"`
		}
		if code := c.getJSON("/api/v1/packages?"+tc.query, readTok, &pr); code != http.StatusOK || pr.Images != tc.images {
			t.Errorf("packages?%s: %d, %d images, want %d", tc.query, code, pr.Images, tc.images)
		}
		for _, h := range pr.Packages {
			if h.Digest != digest || h.Version != ginVersion {
				t.Errorf("packages?%s: %+v", tc.query, h)
			}
		}
	}

	// Listing and events.
	var list struct {
		Images []store.ImageSummary `json:"images"`
	}
	if c.getJSON("/api/v1/images", readTok, &list); len(list.Images) != 3 {
		t.Errorf("%d images listed, want 3 (debian12-app, edge-layers, busybox)", len(list.Images))
	}
	var evs struct {
		Events []store.Event `json:"events"`
		Next   int64         `json:"next"`
	}
	c.getJSON("/api/v1/events", readTok, &evs)
	added := 0
	for _, e := range evs.Events {
		if e.Type == store.EventImageAdded {
			added++
		}
	}
	if added != 3 {
		t.Errorf("%d image.added events, want 3: %+v", added, evs.Events)
	}

	// Auth: every endpoint but health needs a token of enough scope.
	for _, p := range []string{"/api/v1/images", "/api/v1/scans/" + q.ID, "/api/v1/events", "/api/v1/openapi.json", "/metrics", "/api/v1/packages?purl=pkg:npm/x"} {
		if code, body, h := c.do(http.MethodGet, p, "", "", nil); code != http.StatusUnauthorized || problemCode(body) != api.CodeUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without a token: %d %s", p, code, body)
		}
		if code, _, _ := c.do(http.MethodGet, p, "ddk_not-a-token", "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with an unknown token: %d", p, code)
		}
	}
	if code, body, _ := c.do(http.MethodPost, "/api/v1/scans", readTok, "application/json", []byte(`{"image":"x/y:1"}`)); code != http.StatusForbidden || problemCode(body) != api.CodeForbidden {
		t.Errorf("POST /scans with a read token: %d %s", code, body)
	}
	if code, _, _ := c.do(http.MethodPost, "/api/v1/inventories", readTok, "application/json", []byte(`{}`)); code != http.StatusForbidden {
		t.Errorf("POST /inventories with a read token: %d", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _, _ := c.do(http.MethodGet, p, "", "", nil); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, body, _ := c.do(http.MethodGet, "/metrics", readTok, "", nil); code != http.StatusOK || !bytes.Contains(body, []byte("drydock_http_requests_total")) || !bytes.Contains(body, []byte(`drydock_scans{status="done"}`)) {
		t.Errorf("metrics: %d\n%.500s", code, body)
	}

	// Bad input is a 4xx problem document, never a 500.
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		code                      string
	}{
		{"POST", "/api/v1/scans", "application/json", `{"image":`, 400, api.CodeBadJSON},
		{"POST", "/api/v1/scans", "application/json", `{"image":"Not A Ref!!"}`, 400, api.CodeBadImageRef},
		{"POST", "/api/v1/scans", "application/json", `{"image":""}`, 400, api.CodeBadImageRef},
		{"POST", "/api/v1/scans", "text/plain", `x`, 415, api.CodeMediaType},
		{"POST", "/api/v1/inventories", "application/json", `{"target":{}}`, 400, api.CodeBadInventory},
		{"POST", "/api/v1/inventories", "application/json", `{"target":{},"inventory":{"packages":[{"type":""}]}}`, 400, api.CodeBadInventory},
		{"POST", "/api/v1/inventories", "application/vnd.cyclonedx+json", `{"bomFormat":"SPDX"}`, 400, api.CodeBadInventory},
		{"POST", "/api/v1/inventories", "application/json", `[1,2]`, 400, api.CodeBadJSON},
		{"GET", "/api/v1/scans/nope", "", "", 404, api.CodeNotFound},
		{"GET", "/api/v1/scans/" + q.ID + "?format=bogus", "", "", 400, api.CodeBadFormat},
		{"GET", "/api/v1/scans/" + q.ID + "?format=template", "", "", 400, api.CodeBadFormat},
		{"GET", "/api/v1/images/sha256:0000", "", "", 404, api.CodeNotFound},
		{"GET", "/api/v1/images?limit=-3", "", "", 400, api.CodeBadRequest},
		{"GET", "/api/v1/packages?purl=notapurl", "", "", 400, api.CodeBadPURL},
		{"GET", "/api/v1/packages", "", "", 400, api.CodeBadPURL},
		{"GET", "/api/v1/packages?purl=pkg:golang/x/y&range=%3E%3D", "", "", 400, api.CodeBadVersionRange},
		{"GET", "/api/v1/packages?purl=pkg:golang/x/y@1&range=%3C2", "", "", 400, api.CodeBadVersionRange},
		{"GET", "/api/v1/events?since=yesterday", "", "", 400, api.CodeBadRequest},
		{"GET", "/api/v1/vulnerabilities/%20x/images", "", "", 400, api.CodeBadRequest},
		{"GET", "/api/v1/vulnerabilities/CVE-2021-1/images?after=x", "", "", 400, api.CodeBadRequest},
		{"GET", "/api/v1/vulnerabilities/CVE-2021-1/images?after=x&offset=1", "", "", 400, api.CodeBadRequest},
		{"GET", "/api/v1/packages?purl=pkg:npm/x&after=x", "", "", 400, api.CodeBadRequest},
		{"DELETE", "/api/v1/images", "", "", 405, api.CodeMethod},
		{"GET", "/api/v1/nothing", "", "", 404, api.CodeNotFound},
	} {
		code, body, _ := c.do(tc.method, tc.path, scanTok, tc.ctype, []byte(tc.body))
		if code != tc.status || problemCode(body) != tc.code {
			t.Errorf("%s %s %q: %d %s, want %d %s", tc.method, tc.path, tc.body, code, body, tc.status, tc.code)
		}
	}

	// CycloneDX in: the SBOM of the client scan, matched like the
	// inventory it was written from.
	_, sbom, _ := runCLI("image", app, "--scanners", "none", "-o", "cyclonedx")
	code, body, _ := c.do(http.MethodPost, "/api/v1/inventories", scanTok, "application/vnd.cyclonedx+json", []byte(sbom))
	var ir api.InventoryResponse
	if code != http.StatusCreated || json.Unmarshal(body, &ir) != nil {
		t.Fatalf("CycloneDX inventory: %d %.300s", code, body)
	}
	if d := cmp(findingIDs(want.Vulnerabilities), findingIDs(ir.Findings)); d != "" {
		t.Errorf("CycloneDX inventory findings differ from the image's: %s", d)
	}

	// Secrets never leave: not in logs, responses or reports.
	c.mu.Lock()
	outputs := append(slices.Clone(c.bodies), reports...)
	c.mu.Unlock()
	outputs = append(outputs, logs.String())
	for _, secret := range []string{registryPassword, scanTok, readTok} {
		if contains(outputs, secret) {
			t.Errorf("secret %.8s… appears in an output", secret)
		}
	}
	if !strings.Contains(logs.String(), "scan done") {
		t.Error("the secrets search saw no server log")
	}
}

// cmp returns a description of the difference of two sorted lists.
func cmp(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	var miss, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			miss = append(miss, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("%d vs %d; missing %v; extra %v", len(want), len(got), miss, extra)
}
