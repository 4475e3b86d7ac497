package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/api"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
)

// digestOf returns the manifest digest a registry holds for ref.
func digestOf(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest.String()
}

// waitImage polls the API until the image is stored.
func (c *apiClient) waitImage(digest, token string, limit time.Duration) api.ImageView {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	var im api.ImageView
	for time.Now().Before(deadline) {
		code, body, _ := c.do(http.MethodGet, "/api/v1/images/"+digest, token, "", nil)
		if code == http.StatusOK {
			if err := jsonUnmarshal(body, &im); err != nil {
				c.t.Fatal(err)
			}
			return im
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("image %s not stored after %s", digest, limit)
	return im
}

// waitEvent polls the events until one satisfies ok.
func (c *apiClient) waitEvent(token, what string, limit time.Duration, ok func(store.Event) bool) store.Event {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var evs struct {
			Events []store.Event `json:"events"`
		}
		c.getJSON("/api/v1/events?limit=10000", token, &evs)
		for _, e := range evs.Events {
			if ok(e) {
				return e
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no %s event after %s", what, limit)
	return store.Event{}
}

// TestWatchRegistry runs the real distribution registry configured to
// send its notifications to the server under test, which watches one of
// its repositories: an image pushed before the server starts is found by
// listing the tags; one pushed while it runs is scanned at once from the
// push notification; a tag moved to another image is followed; an image
// deleted from the registry takes its tags with it and is marked gone.
// A second registry, which sends nothing, is reached through a Harbor
// webhook payload: the server pulls from the registry its configuration
// names, whatever host the payload claims.
func TestWatchRegistry(t *testing.T) {
	needDB(t)
	corpus := analyzetest.Corpus(t)
	ctx := context.Background()
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	tok, _, err := server.CreateToken(ctx, storeURL, "registry", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	port := registrytest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	reg := registrytest.Start(t, registrytest.Options{Notify: []registrytest.Endpoint{{
		Name: "drydock", URL: base + "/api/v1/hooks/registry", Headers: map[string]string{"Authorization": "Bearer " + tok},
	}}})
	quiet := registrytest.Start(t, registrytest.Options{})
	edge := filepath.Join(corpus, "edge-layers", "oci")
	zstd := filepath.Join(corpus, "edge-zstd", "oci")
	repo := reg.Host + "/corpus/app"
	pushLayout(t, edge, repo+":1.0", authn.Anonymous)
	digestA := digestOf(t, repo+":1.0")

	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.Watch = []string{repo + ":*", quiet.Host + "/library/nginx:v*"}
	cfg.WatchInterval = time.Hour // the first listing at start; then only notifications
	cfg.FailOn = "HIGH"
	c := newClient(t, startServer(t, cfg))
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()

	// 1. Found by listing the repository's tags at start.
	imA := c.waitImage(digestA, tok, 2*time.Minute)
	if imA.Repository != repo || len(imA.Tags) != 1 || imA.Tags[0].Tag != "1.0" {
		t.Errorf("listed image: repository %q tags %+v", imA.Repository, imA.Tags)
	}

	// 2. Pushed while the server runs: the notification has it scanned.
	start := time.Now()
	pushLayout(t, zstd, repo+":2.0", authn.Anonymous)
	digestB := digestOf(t, repo+":2.0")
	imB := c.waitImage(digestB, tok, 2*time.Minute)
	t.Logf("push to stored result: %v", time.Since(start).Round(time.Millisecond))
	if len(imB.History) != 1 || imB.History[0].Ref != repo+":2.0" {
		t.Errorf("pushed image: history %+v", imB.History)
	}

	// 3. Tag 1.0 moves to the second image: no new scan, the tag follows.
	pushLayout(t, zstd, repo+":1.0", authn.Anonymous)
	moved := c.waitEvent(tok, "tag.moved", time.Minute, func(e store.Event) bool { return e.Type == store.EventTagMoved })
	if moved.Digest != digestB || !strings.Contains(string(moved.Data), digestA) || !strings.Contains(string(moved.Data), `"tag":"1.0"`) {
		t.Errorf("tag.moved: %+v %s", moved, moved.Data)
	}
	c.getJSON("/api/v1/images/"+digestB, tok, &imB)
	var live []string
	for _, tg := range imB.Tags {
		if tg.Removed.IsZero() {
			live = append(live, tg.Tag)
		}
	}
	if !slices.Equal(live, []string{"1.0", "2.0"}) || len(imB.History) != 1 {
		t.Errorf("after the move: %s has tags %v and %d scans", digestB, live, len(imB.History))
	}
	c.getJSON("/api/v1/images/"+digestA, tok, &imA)
	if len(imA.Tags) != 1 || imA.Tags[0].Removed.IsZero() || !imA.Gone.IsZero() {
		t.Errorf("the first image after the move: tags %+v, gone %v (it is still in the registry by digest)", imA.Tags, imA.Gone)
	}

	// 4. The second image is deleted from the registry: its tags go,
	// and the image is marked gone.
	ref, _ := name.NewDigest(repo + "@" + digestB)
	if err := remote.Delete(ref); err != nil {
		t.Fatal(err)
	}
	c.waitEvent(tok, "image.gone", time.Minute, func(e store.Event) bool { return e.Type == store.EventImageGone && e.Digest == digestB })
	var evs struct {
		Events []store.Event `json:"events"`
	}
	c.getJSON("/api/v1/events?limit=10000", tok, &evs)
	removed := map[string]bool{}
	for _, e := range evs.Events {
		if e.Type == store.EventTagRemoved && e.Digest == digestB {
			for _, tg := range []string{"1.0", "2.0"} {
				if strings.Contains(string(e.Data), `"tag":"`+tg+`"`) {
					removed[tg] = true
				}
			}
		}
		if e.Type == store.EventImageGone && e.Digest == digestA {
			t.Errorf("the first image was marked gone: %+v", e)
		}
	}
	if !removed["1.0"] || !removed["2.0"] {
		t.Errorf("tag.removed events for %s: %v", digestB, removed)
	}
	c.getJSON("/api/v1/images/"+digestB, tok, &imB)
	if imB.Gone.IsZero() {
		t.Errorf("deleted image not marked gone: %+v", imB.ImageSummary)
	}

	// 5. Harbor: the payload names harbor.example.com; the server pulls
	// library/nginx from the watched registry its configuration names.
	busybox := filepath.Join(corpus, "multiarch-busybox", "oci")
	pushLayout(t, busybox, quiet.Host+"/library/nginx:v1", authn.Anonymous)
	digestH := digestOf(t, quiet.Host+"/library/nginx:v1")
	fixture, err := os.ReadFile("testdata/harbor-push-artifact.json")
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "sha256:2f0d8e5f6a0c0ec3c1c7f2b6f4c1d0c9a7b3e2f1d0c9b8a7f6e5d4c3b2a19080"
	code, body, _ := c.do(http.MethodPost, "/api/v1/hooks/harbor", tok, "application/json", []byte(strings.ReplaceAll(string(fixture), placeholder, digestH)))
	if code != http.StatusAccepted || !strings.Contains(string(body), `"accepted":1`) {
		t.Fatalf("Harbor hook: %d %s", code, body)
	}
	imH := c.waitImage(digestH, tok, 2*time.Minute)
	if imH.Repository != quiet.Host+"/library/nginx" || len(imH.History) != 1 || imH.History[0].Ref != quiet.Host+"/library/nginx:v1" {
		t.Errorf("Harbor push: repository %q, history %+v", imH.Repository, imH.History)
	}
	// A repository nobody watches is ignored: no pull from anywhere.
	other := strings.ReplaceAll(strings.ReplaceAll(string(fixture), "library/nginx", "library/redis"), `"name": "nginx"`, `"name": "redis"`)
	code, body, _ = c.do(http.MethodPost, "/api/v1/hooks/harbor", tok, "application/json", []byte(other))
	if code != http.StatusAccepted || !strings.Contains(string(body), `"ignored":1`) || !strings.Contains(string(body), `"accepted":0`) {
		t.Errorf("Harbor hook for an unwatched repository: %d %s", code, body)
	}
	// Hooks need a token of scope scan.
	if code, _, _ := c.do(http.MethodPost, "/api/v1/hooks/registry", "", "application/json", []byte(`{"events":[]}`)); code != http.StatusUnauthorized {
		t.Errorf("hook without a token: %d", code)
	}
	if code, body, _ := c.do(http.MethodPost, "/api/v1/hooks/registry", tok, "application/json", []byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"../x","tag":"1","digest":"sha256:00"}}]}`)); code != http.StatusBadRequest {
		t.Errorf("hook with a bad repository name: %d %s", code, body)
	}
}
