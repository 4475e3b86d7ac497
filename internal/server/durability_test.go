package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/store"
)

// proc is a drydock server process.
type proc struct {
	cmd  *exec.Cmd
	logs *logBuffer
	addr string
	done chan struct{}
}

var listening = regexp.MustCompile(`msg="API listening" addr=(\S+)`)

// startProc starts `drydock server ARGS…` and waits until it serves (API)
// or runs (worker). It is killed when the test ends.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := drydockBinary(t)
	home := t.TempDir()
	p := &proc{logs: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0", "--db-path", dbPath, "--offline", "--db-update-interval", "0"}, args...)...)
	p.cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("server %v log:\n%s", args, p.logs.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out := p.logs.String()
		if m := listening.FindStringSubmatch(out); m != nil {
			p.addr = "http://" + m[1]
			return p
		}
		if strings.Contains(out, `msg="worker running"`) {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("server %v exited (%v):\n%s", args, p.cmd.ProcessState, p.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server %v did not start:\n%s", args, p.logs.String())
	return nil
}

// kill ends the process at once (SIGKILL) and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// upload posts an archive for scanning and returns the scan id.
func upload(t *testing.T, c *apiClient, token, file, name string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := c.do(http.MethodPost, "/api/v1/scans?name="+name, token, "application/x-tar", data)
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", code, body)
	}
	var v api.ScanView
	if err := jsonUnmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// TestWorkerKilledMidScan: a worker is SIGKILLed while it runs a scan; the
// job is retried by another worker and its result stored once.
func TestWorkerKilledMidScan(t *testing.T) {
	needDB(t)
	url := pgURL(t)
	ctx := context.Background()
	tok, _, err := server.CreateToken(ctx, url, "ci", store.ScopeAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads, hold := t.TempDir(), t.TempDir()
	common := []string{"--store", url, "--upload-dir", uploads, "--scan-timeout", "8s", "--rescue-after", "8s"}
	apiProc := startProc(t, append([]string{"--role", "api"}, common...)...)
	a := startProc(t, append([]string{"--role", "worker", "--test-hold-dir", hold}, common...)...)
	c := newClient(t, apiProc.addr)
	id := upload(t, c, tok, filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci.tar"), "edge:killed")

	// Wait until worker A is inside the scan, then kill it.
	marker := filepath.Join(hold, id+".started")
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker A never started scan %s:\n%s", id, a.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.kill()
	var v api.ScanView
	if c.getJSON("/api/v1/scans/"+id, tok, &v); v.Status != store.StatusRunning {
		t.Fatalf("after the kill the scan is %s, want running", v.Status)
	}
	startProc(t, append([]string{"--role", "worker"}, common...)...)
	v = c.waitScan(id, tok, 3*time.Minute)
	if v.Status != store.StatusDone || v.Attempts < 2 {
		t.Fatalf("scan after the kill: %+v", v)
	}
	var im api.ImageView
	c.getJSON("/api/v1/images/"+v.Digest, tok, &im)
	if len(im.History) != 1 {
		t.Errorf("the result is stored %d times", len(im.History))
	}
	var evs struct {
		Events []store.Event `json:"events"`
	}
	c.getJSON("/api/v1/events", tok, &evs)
	if len(evs.Events) != 1 || evs.Events[0].Type != store.EventImageAdded {
		t.Errorf("events %+v, want one image.added", evs.Events)
	}
}

// TestPostgresRestartDuringBatch: PostgreSQL stops and starts again while
// a batch of scans runs — one of them held mid-scan until the server is
// down, so the outage hits a running scan; every scan finishes.
func TestPostgresRestartDuringBatch(t *testing.T) {
	needDB(t)
	url := pgURL(t)
	ctx := context.Background()
	tok, _, err := server.CreateToken(ctx, url, "ci", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	corpus := analyzetest.Corpus(t)
	uploads, hold := t.TempDir(), t.TempDir()
	common := []string{"--store", url, "--upload-dir", uploads, "--scan-timeout", "10s", "--rescue-after", "10s"}
	apiProc := startProc(t, append([]string{"--role", "api"}, common...)...)
	startProc(t, append([]string{"--role", "worker", "--concurrency", "2", "--test-hold-dir", hold}, common...)...)
	c := newClient(t, apiProc.addr)
	files := []string{filepath.Join(corpus, "edge-layers", "oci.tar"), filepath.Join(corpus, "multiarch-busybox", "docker-archive.tar")}
	var ids []string
	for i := range 6 {
		ids = append(ids, upload(t, c, tok, files[i%2], fmt.Sprintf("batch:%d", i)))
	}
	// A scan is running (held); stop PostgreSQL under it, then let it go.
	deadline := time.Now().Add(time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(hold, "*.started")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scan started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hold, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if v := c.waitScan(id, tok, 4*time.Minute); v.Status != store.StatusDone {
			t.Errorf("scan %s: %+v", id, v)
		}
	}
	var list struct {
		Images []store.ImageSummary `json:"images"`
	}
	if c.getJSON("/api/v1/images", tok, &list); len(list.Images) != 2 {
		t.Errorf("%d images, want 2", len(list.Images))
	}
}

// TestQueuedScansSurviveRestart: scans queued on an API-only server (no
// worker) are run by the server started after it was killed.
func TestQueuedScansSurviveRestart(t *testing.T) {
	needDB(t)
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	tok, _, err := server.CreateToken(context.Background(), storeURL, "ci", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads := t.TempDir()
	archive := filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci.tar")
	first := startProc(t, "--role", "api", "--store", storeURL, "--upload-dir", uploads)
	c := newClient(t, first.addr)
	var ids []string
	for i := range 3 {
		ids = append(ids, upload(t, c, tok, archive, fmt.Sprintf("queued:%d", i)))
	}
	for _, id := range ids {
		var v api.ScanView
		if c.getJSON("/api/v1/scans/"+id, tok, &v); v.Status != store.StatusQueued {
			t.Fatalf("scan %s is %s before the restart, want queued", id, v.Status)
		}
	}
	first.kill()
	second := startProc(t, "--role", "all", "--store", storeURL, "--upload-dir", uploads)
	c = newClient(t, second.addr)
	for _, id := range ids {
		if v := c.waitScan(id, tok, 2*time.Minute); v.Status != store.StatusDone {
			t.Errorf("scan %s after the restart: %+v", id, v)
		}
	}
}
