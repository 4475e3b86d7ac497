package updater

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const vulndata = "../../../../shared/vulndata"

var (
	ctx       = context.Background()
	mirrorDir = filepath.Join(vulndata, "osv-mirror")
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mirrorEcosystems reads the mirror's ecosystems.txt.
func mirrorEcosystems(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(mirrorDir, "ecosystems.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// mirrorServer serves a directory over HTTP on loopback, like a bucket:
// files with an ETag (content hash) and Last-Modified, conditional GETs
// answered with 304. It counts requests per path and lets a test break
// responses.
type mirrorServer struct {
	*httptest.Server
	mu       sync.Mutex
	root     string
	requests map[string]int
	// breakPath, when it returns a handler for a path, serves that
	// instead.
	breakPath func(path string) http.HandlerFunc
}

func newMirrorServer(t testing.TB, root string) *mirrorServer {
	s := &mirrorServer{root: root, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *mirrorServer) setRoot(root string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.root = root
}

func (s *mirrorServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	root, brk := s.root, s.breakPath
	s.mu.Unlock()
	if brk != nil {
		if h := brk(r.URL.Path); h != nil {
			h(w, r)
			return
		}
	}
	p := filepath.Join(root, filepath.FromSlash(r.URL.Path))
	data, err := os.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, filepath.Base(p), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

// take returns and resets the request counts.
func (s *mirrorServer) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = map[string]int{}
	return r
}

// copyDir copies a directory tree.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// zipEntries returns the JSON documents of an all.zip, by id.
func zipEntries(t testing.TB, path string) map[string]map[string]any {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]map[string]any{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.NewDecoder(rc).Decode(&m); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out[m["id"].(string)] = m
	}
	return out
}

// writeEcosystem writes an ecosystem folder: all.zip, modified_id.csv
// (newest first) and, for the ids in perRecord, <ID>.json.
func writeEcosystem(t testing.TB, dir string, recs map[string]map[string]any, perRecord []string) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		data, err := json.Marshal(recs[id])
		if err != nil {
			t.Fatal(err)
		}
		f, err := zw.Create(id + ".json")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "all.zip"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sort.Slice(ids, func(i, j int) bool {
		mi, mj := recs[ids[i]]["modified"].(string), recs[ids[j]]["modified"].(string)
		if mi != mj {
			return mi > mj
		}
		return ids[i] < ids[j]
	})
	var csv strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&csv, "%s,%s\n", recs[id]["modified"], id)
	}
	if err := os.WriteFile(filepath.Join(dir, "modified_id.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range perRecord {
		data, err := json.Marshal(recs[id])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// noNetwork is a transport that fails the test if it is ever used.
type noNetwork struct{ t testing.TB }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("network request in offline mode: %s %s", r.Method, r.URL)
	return nil, fmt.Errorf("no network")
}

// dropConnection sends headers announcing size bytes, half the body, then
// closes the connection.
func dropConnection(size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		w.Write(bytes.Repeat([]byte("x"), size/2))
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}
}
