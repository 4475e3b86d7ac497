package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/testutil/pgtest"
	"github.com/drydockscan/drydock/internal/testutil/vulndbtest"
)

const vulndata = "../../../shared/vulndata"

var (
	// dbPath is a vulnerability database imported once from the shared
	// data; servers open it read-only (offline, never updated).
	dbPath string
	// pg is the PostgreSQL server of this test binary (nil: not installed).
	pg    *pgtest.Server
	pgErr error
	// tmpRoot holds what TestMain made.
	tmpRoot string

	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server tests:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if tmpRoot, err = os.MkdirTemp("", "drydock-server-test-"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmpRoot)
	if _, err := os.Stat(vulndata); err == nil {
		dbPath = filepath.Join(tmpRoot, "vuln.db")
		if err := vulndbtest.Import(context.Background(), dbPath, vulndata, tmpRoot); err != nil {
			return 0, err
		}
	}
	pg, pgErr = pgtest.Start()
	if pgErr != nil && os.Getenv(pgtest.RequireEnv) == "1" {
		return 0, pgErr
	}
	defer func() {
		if pg != nil {
			pg.Cleanup()
		}
	}()
	return m.Run(), nil
}

// needDB skips when the shared vulnerability data is absent.
func needDB(t *testing.T) {
	t.Helper()
	if dbPath == "" {
		t.Skip("no ../shared/vulndata")
	}
}

// pgURL returns a fresh PostgreSQL database or skips.
func pgURL(t *testing.T) string {
	t.Helper()
	if pg == nil {
		t.Skipf("PostgreSQL: %v", pgErr)
	}
	url, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// drydockBinary builds the drydock binary once per test binary.
func drydockBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(tmpRoot, "drydock")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/drydock").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// logBuffer collects log output safely from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// baseConfig is a server on a free port using the shared database.
func baseConfig(t *testing.T, storeURL, role string, logs io.Writer) server.Config {
	return server.Config{
		Listen: "127.0.0.1:0", Store: storeURL, Role: role,
		DB:        pipeline.DB{Path: dbPath, Update: updaterOffline(), SkipUpdate: true, MaxAge: 1 << 62},
		Inventory: pipeline.InventoryOptions{Mode: analyze.ModeImage},
		UploadDir: filepath.Join(t.TempDir(), "uploads"), MaxUpload: 32 << 20,
		Tool:      report.Tool{Name: "drydock", Version: "test"},
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		FetchPoll: 200 * time.Millisecond,
	}
}

// startServer runs a server in this process until the test ends and
// returns its base URL ("" for a worker).
func startServer(t *testing.T, c server.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	c.Started = func(a string) { addr <- a }
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("server did not stop")
		}
	})
	select {
	case a := <-addr:
		if a == "" {
			return ""
		}
		return "http://" + a
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start in time")
	}
	return ""
}

// apiClient calls the API and checks every response against the OpenAPI
// document; it keeps every body it received (for the secrets test).
type apiClient struct {
	t      *testing.T
	base   string
	router routers.Router
	mu     sync.Mutex
	bodies []string
}

var (
	docOnce sync.Once
	doc     *openapi3.T
	docErr  error
)

func newClient(t *testing.T, base string) *apiClient {
	t.Helper()
	docOnce.Do(func() {
		doc, docErr = openapi3.NewLoader().LoadFromData(api.OpenAPI())
		if docErr == nil {
			docErr = doc.Validate(context.Background())
		}
	})
	if docErr != nil {
		t.Fatalf("OpenAPI document: %v", docErr)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{t: t, base: base, router: r}
}

// do sends a request and validates the response.
func (c *apiClient) do(method, path, token, ctype string, body []byte) (int, []byte, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, string(b))
	c.mu.Unlock()
	c.validate(req, resp, b)
	return resp.StatusCode, b, resp.Header
}

func (c *apiClient) validate(req *http.Request, resp *http.Response, body []byte) {
	c.t.Helper()
	// The document's paths are relative to the server root.
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host, vreq.Host = "", "", ""
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			c.t.Errorf("%s %s answered %d but the OpenAPI document has no such route: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		}
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/problem+json" {
			c.t.Errorf("%s %s: %d with content type %q, want a problem document", req.Method, req.URL.Path, resp.StatusCode, ct)
		}
		return
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	if ct != "application/json" && ct != "application/problem+json" {
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %s: response %d does not follow the OpenAPI document: %v\n%.600s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

func (c *apiClient) getJSON(path, token string, v any) int {
	c.t.Helper()
	code, b, _ := c.do(http.MethodGet, path, token, "", nil)
	if code == http.StatusOK && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return code
}

func (c *apiClient) postJSON(path, token string, in, out any) int {
	c.t.Helper()
	b, _ := json.Marshal(in)
	code, resp, _ := c.do(http.MethodPost, path, token, "application/json", b)
	if out != nil && code < 300 {
		if err := json.Unmarshal(resp, out); err != nil {
			c.t.Fatalf("POST %s: %v\n%s", path, err, resp)
		}
	}
	return code
}

// problemCode returns a problem document's code.
func problemCode(b []byte) string {
	var p api.Problem
	_ = json.Unmarshal(b, &p)
	return p.Code
}

// waitScan polls a scan until it is done or failed.
func (c *apiClient) waitScan(id, token string, limit time.Duration) api.ScanView {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	var v api.ScanView
	for time.Now().Before(deadline) {
		if code := c.getJSON("/api/v1/scans/"+id, token, &v); code != http.StatusOK {
			c.t.Fatalf("GET scan %s: %d", id, code)
		}
		if v.Status == "done" || v.Status == "failed" {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("scan %s still %s after %s (error %q)", id, v.Status, limit, v.Error)
	return v
}

func contains(hay []string, needle string) bool {
	for _, h := range hay {
		if strings.Contains(h, needle) {
			return true
		}
	}
	return false
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
