// Package api is the server's HTTP API: JSON under /api/v1, described by
// the OpenAPI 3 document it serves at /api/v1/openapi.json; errors are RFC
// 9457 problem documents with stable codes; every endpoint but /healthz
// and /readyz needs a bearer token of a sufficient scope.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/sbom"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/server/watch"
	"github.com/drydockscan/drydock/internal/server/worker"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// Enqueuer queues scan jobs.
type Enqueuer interface {
	Enqueue(ctx context.Context, scanID string) error
}

// Matcher matches inventories the clients send.
type Matcher interface {
	Match(ctx context.Context, inv *inventory.Inventory, at time.Time) (*pipeline.Matched, error)
}

// Config configures the API.
type Config struct {
	Store   *store.Store
	Queue   Enqueuer
	Matcher Matcher
	Metrics *Metrics
	Tool    report.Tool
	Logger  *slog.Logger
	// UploadDir receives uploaded archives; the workers read them from
	// there (a directory they share).
	UploadDir string
	// MaxUpload caps an uploaded archive, MaxBody any other request body.
	MaxUpload int64
	MaxBody   int64
	// Ready reports whether the server can take work (database present).
	Ready func(ctx context.Context) error
	// Hooks acts on registry events; nil when nothing is watched.
	Hooks Hooks
	// FailOn is the server's gate (exports say it).
	FailOn finding.Severity
	// UI serves the web interface under /ui/ (nil: none).
	UI http.Handler
}

// Handler returns the API's handler.
func Handler(c Config) http.Handler {
	if c.MaxUpload <= 0 {
		c.MaxUpload = 4 << 30
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 20
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	a := &api{c: c, log: c.Logger}
	mux := http.NewServeMux()
	route := func(pattern, scope string, h http.HandlerFunc) {
		var hh http.Handler = h
		if scope != "" {
			hh = a.auth(scope, hh)
		}
		mux.Handle(pattern, c.Metrics.observe(pattern, hh))
	}
	route("GET /healthz", "", a.healthz)
	route("GET /readyz", "", a.readyz)
	route("GET /metrics", store.ScopeRead, c.Metrics.handler().ServeHTTP)
	route("GET /api/v1/openapi.json", store.ScopeRead, a.openapi)
	route("POST /api/v1/scans", store.ScopeScan, a.createScan)
	route("GET /api/v1/scans/{id}", store.ScopeRead, a.getScan)
	route("POST /api/v1/inventories", store.ScopeScan, a.postInventory)
	route("GET /api/v1/images", store.ScopeRead, a.listImages)
	route("GET /api/v1/images/{digest}", store.ScopeRead, a.getImage)
	route("GET /api/v1/vulnerabilities/{id}/images", store.ScopeRead, a.vulnImages)
	route("GET /api/v1/packages", store.ScopeRead, a.packages)
	route("GET /api/v1/events", store.ScopeRead, a.events)
	route("GET /api/v1/whoami", store.ScopeRead, a.whoami)
	route("POST /api/v1/hooks/registry", store.ScopeScan, a.hook(watch.ParseDistribution))
	route("POST /api/v1/hooks/harbor", store.ScopeScan, a.hook(watch.ParseHarbor))
	route("GET /api/v1/images/{digest}/packages", store.ScopeRead, a.imagePackages)
	route("GET /api/v1/triage", store.ScopeRead, a.listTriage)
	route("POST /api/v1/triage", store.ScopeScan, a.postTriage)
	route("DELETE /api/v1/triage/{id}", store.ScopeScan, a.deleteTriage)
	route("GET /api/v1/comments", store.ScopeRead, a.listComments)
	route("POST /api/v1/comments", store.ScopeScan, a.postComment)
	route("GET /api/v1/audit", store.ScopeRead, a.auditLog)
	route("GET /api/v1/deliveries", store.ScopeRead, a.deliveries)
	route("GET /api/v1/deliveries/{id}", store.ScopeRead, a.delivery)
	route("GET /api/v1/trend", store.ScopeRead, a.trend)
	route("GET /api/v1/exports/fleet", store.ScopeRead, a.export)
	if c.UI != nil {
		route("GET /ui/", "", c.UI.ServeHTTP)
		route("GET /{$}", "", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				a.log.Error("panic serving a request", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(w, r, http.StatusInternalServerError, CodeInternal, "")
			}
		}()
		h, pattern := mux.Handler(r)
		if pattern == "" {
			// The mux's own 404/405 answers are plain text: say it as a
			// problem document.
			rec := &probe{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", rec.header.Get("Allow"))
				writeProblem(w, r, http.StatusMethodNotAllowed, CodeMethod, r.Method+" is not allowed here")
				return
			}
			writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no such endpoint")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// probe records what the mux would answer without sending it.
type probe struct {
	header http.Header
	status int
}

func (p *probe) Header() http.Header         { return p.header }
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }
func (p *probe) WriteHeader(s int)           { p.status = s }

type api struct {
	c   Config
	log *slog.Logger
}

type tokenKey struct{}

// auth requires a bearer token with at least scope.
func (a *api) auth(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drydock"`)
			writeProblem(w, r, http.StatusUnauthorized, CodeUnauthorized, "send Authorization: Bearer <token> (drydock server token create)")
			return
		}
		t, err := a.c.Store.Authenticate(r.Context(), strings.TrimSpace(secret))
		if errors.Is(err, store.ErrBadToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drydock", error="invalid_token"`)
			writeProblem(w, r, http.StatusUnauthorized, CodeUnauthorized, "the token is unknown or revoked")
			return
		}
		if err != nil {
			a.log.Error("authenticating a request", "error", err)
			writeProblem(w, r, http.StatusServiceUnavailable, CodeUnavailable, "the store did not answer")
			return
		}
		if store.ScopeRank(t.Scope) < store.ScopeRank(scope) {
			writeProblem(w, r, http.StatusForbidden, CodeForbidden, fmt.Sprintf("this needs a token of scope %s; token %q has scope %s", scope, t.Name, t.Scope))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	})
}

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := a.c.Store.Ping(ctx)
	if err == nil && a.c.Ready != nil {
		err = a.c.Ready(ctx)
	}
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, CodeNotReady, "not ready")
		a.log.Warn("not ready", "error", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *api) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

// internal answers a failure that is not the client's.
func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("request failed", "path", r.URL.Path, "error", err)
	writeProblem(w, r, http.StatusInternalServerError, CodeInternal, "the server could not do this; its log says why")
}

// ScanView is a scan as the API shows it.
type ScanView struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Kind     string          `json:"kind,omitempty"`
	Ref      string          `json:"ref,omitempty"`
	Digest   string          `json:"digest,omitempty"`
	Error    string          `json:"error,omitempty"`
	Created  string          `json:"created,omitempty"`
	Started  string          `json:"started,omitempty"`
	Finished string          `json:"finished,omitempty"`
	Attempts int             `json:"attempts,omitempty"`
	DBBuilt  string          `json:"db_built,omitempty"`
	DBUpdate string          `json:"db_updated,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
}

func scanView(sc store.Scan) ScanView {
	return ScanView{
		ID: sc.ID, Status: sc.Status, Kind: sc.Kind, Ref: sc.Ref, Digest: sc.Digest, Error: sc.Error,
		Created: rfc(sc.Created), Started: rfc(sc.Started), Finished: rfc(sc.Finished), Attempts: sc.Attempts,
		DBBuilt: sc.DBBuilt, DBUpdate: rfcStamp(sc.DBUpdated),
	}
}

func rfc(t time.Time) string { return pipeline.RFC3339(t) }

func rfcStamp(s string) string {
	t, err := time.Parse("2006-01-02T15:04:05.000000Z", s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// createScan queues a scan of an image reference (JSON) or of an uploaded
// archive (application/x-tar).
func (a *api) createScan(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var sc store.Scan
	switch ct {
	case "application/json":
		var req struct {
			Image string `json:"image"`
		}
		if !a.decode(w, r, &req) {
			return
		}
		ref := strings.TrimSpace(req.Image)
		if _, err := name.ParseReference(ref); err != nil || ref == "" {
			writeProblem(w, r, http.StatusBadRequest, CodeBadImageRef, fmt.Sprintf("image %q is not a registry reference (registry/repository:tag or @sha256:…)", req.Image))
			return
		}
		sc = store.Scan{Kind: store.KindImage, Ref: ref}
	case "application/x-tar", "application/octet-stream":
		path, ok := a.receiveUpload(w, r)
		if !ok {
			return
		}
		// The name to record the image under; without one, the name the
		// archive carries.
		sc = store.Scan{Kind: store.KindUpload, Ref: r.URL.Query().Get("name"), UploadPath: path}
	default:
		writeProblem(w, r, http.StatusUnsupportedMediaType, CodeMediaType, "send application/json {\"image\": REF} or an image archive as application/x-tar")
		return
	}
	if err := a.c.Store.CreateScan(r.Context(), &sc); err != nil {
		removeUpload(sc.UploadPath)
		a.internal(w, r, err)
		return
	}
	if err := a.c.Queue.Enqueue(r.Context(), sc.ID); err != nil {
		_ = a.c.Store.FailScan(context.WithoutCancel(r.Context()), sc.ID, "could not be queued", true)
		removeUpload(sc.UploadPath)
		a.internal(w, r, err)
		return
	}
	a.log.Info("scan queued", "scan", sc.ID, "kind", sc.Kind)
	w.Header().Set("Location", "/api/v1/scans/"+sc.ID)
	writeJSON(w, http.StatusAccepted, ScanView{ID: sc.ID, Status: store.StatusQueued})
}

func removeUpload(path string) {
	if path != "" {
		_ = os.Remove(path)
	}
}

// receiveUpload streams the body to a file in the upload directory,
// within the size cap.
func (a *api) receiveUpload(w http.ResponseWriter, r *http.Request) (string, bool) {
	if r.ContentLength > a.c.MaxUpload {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("archives are limited to %d bytes", a.c.MaxUpload))
		return "", false
	}
	if err := os.MkdirAll(a.c.UploadDir, 0o700); err != nil {
		a.internal(w, r, err)
		return "", false
	}
	f, err := os.CreateTemp(a.c.UploadDir, "upload-*.tar")
	if err != nil {
		a.internal(w, r, err)
		return "", false
	}
	body := http.MaxBytesReader(w, r.Body, a.c.MaxUpload)
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("archives are limited to %d bytes", a.c.MaxUpload))
			return "", false
		}
		writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "the upload did not arrive whole")
		return "", false
	}
	p, _ := filepath.Abs(f.Name())
	return p, true
}

// decode reads a JSON body within the size cap.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, a.c.MaxBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", a.c.MaxBody))
			return false
		}
		writeProblem(w, r, http.StatusBadRequest, CodeBadJSON, err.Error())
		return false
	}
	return true
}

func (a *api) getScan(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sc, err := a.c.Store.GetScan(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no scan "+id)
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	var f report.Format
	if format != "" {
		if f, err = report.Lookup(format); err != nil || format == "template" {
			writeProblem(w, r, http.StatusBadRequest, CodeBadFormat, fmt.Sprintf("format %q: want one of json, sarif, cyclonedx, cyclonedx-vex, spdx-json, csv, junit, gitlab, html, table", format))
			return
		}
	}
	v := scanView(sc)
	if sc.Status != store.StatusDone {
		if format != "" {
			writeProblem(w, r, http.StatusConflict, CodeScanNotDone, "scan "+id+" is "+sc.Status)
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	raw, err := a.c.Store.ScanReport(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if format == "" {
		v.Report = raw
		writeJSON(w, http.StatusOK, v)
		return
	}
	var rep report.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		a.internal(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := f.Write(&buf, &rep, report.Options{}); err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType(format))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

func contentType(format string) string {
	switch format {
	case "json", "sarif", "cyclonedx", "cyclonedx-vex", "spdx-json", "gitlab":
		return "application/json"
	case "csv":
		return "text/csv; charset=utf-8"
	case "junit":
		return "application/xml"
	case "html":
		return "text/html; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// InventoryRequest is what a client sends: the inventory it made, the
// target it read, and the time its scan started (the database's age is
// taken then).
type InventoryRequest struct {
	Target    report.Target        `json:"target"`
	Inventory *inventory.Inventory `json:"inventory"`
	At        string               `json:"at,omitempty"`
}

// InventoryResponse is the matched inventory, as stored.
type InventoryResponse struct {
	ID       string            `json:"id"`
	Status   string            `json:"status"`
	Digest   string            `json:"digest"`
	Database *report.Database  `json:"database"`
	Findings []finding.Finding `json:"findings"`
}

func (a *api) postInventory(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req InventoryRequest
	switch ct {
	case "application/json":
		if !a.decode(w, r, &req) {
			return
		}
	case "application/vnd.cyclonedx+json":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.c.MaxBody))
		if err != nil {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", a.c.MaxBody))
			return
		}
		t, inv, err := sbom.FromCycloneDX(body)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeBadInventory, err.Error())
			return
		}
		req = InventoryRequest{Target: t, Inventory: inv}
	default:
		writeProblem(w, r, http.StatusUnsupportedMediaType, CodeMediaType, "send a drydock inventory as application/json or a CycloneDX SBOM as application/vnd.cyclonedx+json")
		return
	}
	if req.Inventory == nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadInventory, "the request has no inventory")
		return
	}
	if err := checkInventory(req.Inventory); err != nil {
		writeProblem(w, r, http.StatusBadRequest, CodeBadInventory, err.Error())
		return
	}
	at := time.Now()
	if req.At != "" {
		t, err := time.Parse(time.RFC3339, req.At)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeBadRequest, "at: want an RFC 3339 time")
			return
		}
		at = t
	}
	m, err := a.c.Matcher.Match(r.Context(), req.Inventory, at)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	inv := &pipeline.Inventoried{Target: req.Target, Inventory: *req.Inventory}
	rep, err := pipeline.Complete(r.Context(), pipeline.Request{Matcher: fixedMatcher{m}, Tool: a.c.Tool, Started: at}, inv)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	repo, tags := worker.Names(req.Target.Ref, req.Target.Name)
	id := store.NewID()
	if _, err := a.c.Store.Record(r.Context(), store.Result{
		ScanID: id, Kind: store.KindInventory, Ref: req.Target.Ref, Report: rep, Inventory: req.Inventory, Repository: repo, Tags: tags,
	}); err != nil {
		a.internal(w, r, err)
		return
	}
	fs := m.Findings
	if fs == nil {
		fs = []finding.Finding{}
	}
	w.Header().Set("Location", "/api/v1/scans/"+id)
	writeJSON(w, http.StatusCreated, InventoryResponse{
		ID: id, Status: store.StatusDone, Digest: store.ImageKey(req.Target, req.Inventory), Database: m.Database, Findings: fs,
	})
}

type fixedMatcher struct{ m *pipeline.Matched }

func (f fixedMatcher) Match(context.Context, *inventory.Inventory, time.Time) (*pipeline.Matched, error) {
	return f.m, nil
}

// checkInventory refuses inventories a client could use to make the
// server work too hard.
func checkInventory(inv *inventory.Inventory) error {
	const maxPackages = 200000
	if len(inv.Packages) > maxPackages {
		return fmt.Errorf("%d packages: at most %d", len(inv.Packages), maxPackages)
	}
	for i, p := range inv.Packages {
		if p.Type == "" || p.Name == "" {
			return fmt.Errorf("package %d has no type or name", i)
		}
		if len(p.Name) > 1024 || len(p.Version) > 256 || len(p.PURL) > 2048 {
			return fmt.Errorf("package %d: name, version or purl too long", i)
		}
	}
	return nil
}

func queryInt(r *http.Request, key string, def, maxV int) (int, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a positive integer", key)
	}
	return min(n, maxV), nil
}
