package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/notify"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/browsertest"
	vstore "github.com/drydockscan/drydock/internal/vulndb/store"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// figures skips unless DRYDOCK_MONITOR_FIGURES=1: these runs take minutes
// and measure; docs/server.md reports what they printed.
func figures(t *testing.T) {
	t.Helper()
	if os.Getenv("DRYDOCK_MONITOR_FIGURES") != "1" {
		t.Skip("set DRYDOCK_MONITOR_FIGURES=1 to measure (minutes)")
	}
	needDB(t)
}

// TestFigureRematch1000: 1,000 stored images of debian12-app's
// inventory; the vulnerability data gains a record that affects them;
// how long from the update to the 1,000 finding.new events, and to the
// 1,000 webhook deliveries a rule makes of them.
func TestFigureRematch1000(t *testing.T) {
	figures(t)
	const images = 1000
	ctx := context.Background()
	app := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")
	inv, err := pipeline.Inventory(ctx, app, pipeline.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := (&pipeline.LocalMatcher{Path: dbPath}).Match(ctx, &inv.Inventory, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var added finding.Finding
	for _, f := range full.Findings {
		if f.Package.Ecosystem == "Go" && len(f.Records) == 1 {
			added = f
			break
		}
	}
	addedRec := strings.TrimPrefix(added.Records[0], "osv/Go:")
	mirror := t.TempDir()
	writeGoMirror(t, mirror, addedRec)
	feeds, err := updater.MirrorFeeds(mirror)
	if err != nil {
		t.Fatal(err)
	}
	var delivered atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { delivered.Add(1) }))
	defer hook.Close()
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	if u := os.Getenv("DRYDOCK_FIGURES_STORE"); u == "postgres" {
		storeURL = pgURL(t)
	}
	tok, _, err := server.CreateToken(ctx, storeURL, "figures", store.ScopeRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	cfg.DB = pipeline.DB{Path: filepath.Join(t.TempDir(), "vuln.db"), Update: updater.Options{Mirror: mirror, Offline: true, Feeds: feeds}, MirrorIsLocal: true, MaxAge: time.Hour}
	cfg.DBUpdateInterval = 300 * time.Millisecond
	cfg.Notify = &notify.Config{
		Poll:     200 * time.Millisecond,
		Channels: []notify.Channel{{Name: "hook", Type: notify.TypeWebhook, URL: hook.URL, Secret: "s"}},
		Rules:    []notify.Rule{{Name: "new", On: []string{store.EventFindingNew}, Channels: []string{"hook"}}},
	}
	c := newClient(t, startServer(t, cfg))

	// The stored images, matched against the database as it is now.
	meta, err := vstore.ReadMeta(ctx, cfg.DB.Path, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m, err := (&pipeline.LocalMatcher{Path: cfg.DB.Path}).Match(ctx, &inv.Inventory, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, storeURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	for i := range images {
		rep := report.New(report.Tool{Name: "drydock"}, report.Target{Ref: fmt.Sprintf("registry.test/fleet/app%d:1", i), ManifestDigest: fmt.Sprintf("sha256:%064x", i+1)}, &inv.Inventory)
		rep.Vulnerabilities, rep.Database = m.Findings, &report.Database{Updated: meta.Updated.UTC().Format(time.RFC3339Nano), Built: m.Database.Built}
		if _, err := st.Record(ctx, store.Result{ScanID: store.NewID(), Kind: store.KindInventory, Report: rep, Inventory: &inv.Inventory,
			Repository: fmt.Sprintf("registry.test/fleet/app%d", i), Tags: []string{"1"}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d images stored in %v", images, time.Since(start).Round(time.Millisecond))
	var evs struct {
		Next int64 `json:"next"`
	}
	c.getJSON("/api/v1/events?order=newest&limit=1", tok, nil)
	code, body, _ := c.do(http.MethodGet, "/api/v1/events?limit=10000", tok, "", nil)
	if code != http.StatusOK || jsonUnmarshal(body, &evs) != nil {
		t.Fatal(code)
	}
	since := evs.Next
	before := delivered.Load()

	start = time.Now()
	writeRecord(t, mirror, addedRec)
	writeIndex(t, mirror)
	seen := 0
	for seen < images {
		var page struct {
			Events []store.Event `json:"events"`
			Next   int64         `json:"next"`
		}
		c.getJSON(fmt.Sprintf("/api/v1/events?since=%d&limit=10000", since), tok, &page)
		for _, e := range page.Events {
			if e.Type == store.EventFindingNew && e.VulnID == added.ID {
				seen++
			}
		}
		since = page.Next
		if time.Since(start) > 30*time.Minute {
			t.Fatalf("%d of %d events after 30 minutes", seen, images)
		}
		time.Sleep(100 * time.Millisecond)
	}
	eventsAt := time.Since(start)
	for delivered.Load()-before < images {
		if time.Since(start) > 30*time.Minute {
			t.Fatalf("%d of %d deliveries after 30 minutes", delivered.Load()-before, images)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("database update to the %d finding.new events: %v; to their %d webhook deliveries: %v (store %s)",
		images, eventsAt.Round(time.Millisecond), images, time.Since(start).Round(time.Millisecond), strings.SplitN(storeURL, ":", 2)[0])
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "matched again") {
			t.Log(l)
		}
	}
}

// TestFigureUI10000: 10,000 stored images; how long the interface takes
// to load its pages in Chromium (navigation timing, and until the page
// has rendered the API's answer).
func TestFigureUI10000(t *testing.T) {
	figures(t)
	const images = 10000
	ctx := context.Background()
	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	tok, _, err := server.CreateToken(ctx, storeURL, "figures", store.ScopeRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, storeURL, store.Options{FailOn: finding.High})
	if err != nil {
		t.Fatal(err)
	}
	inv := &inventory.Inventory{}
	for k := range 40 {
		inv.Packages = append(inv.Packages, inventory.Package{Type: "golang", Name: fmt.Sprintf("example.com/mod%d", k), Version: "v1.0.0", Path: "/app/bin"})
	}
	sevs := finding.All()
	start := time.Now()
	for i := range images {
		var fs []finding.Finding
		for k := range 1 + i%12 {
			fs = append(fs, finding.Finding{ID: fmt.Sprintf("CVE-2026-%d", 10000+k), Records: []string{"x"}, Severity: sevs[(i+k)%len(sevs)], Status: finding.StatusFixed, FixedVersions: []string{"v1.0.1"},
				Package: finding.Package{Type: "golang", Name: fmt.Sprintf("example.com/mod%d", k), Version: "v1.0.0", Path: "/app/bin", Ecosystem: "Go"}})
		}
		rep := report.New(report.Tool{Name: "drydock"}, report.Target{ManifestDigest: fmt.Sprintf("sha256:%064x", i+1)}, inv)
		rep.Vulnerabilities, rep.Database = fs, &report.Database{Updated: time.Now().UTC().Format(time.RFC3339Nano)}
		if _, err := st.Record(ctx, store.Result{ScanID: store.NewID(), Kind: store.KindInventory, Report: rep, Inventory: inv,
			Repository: fmt.Sprintf("registry.test/team%d/app", i%50), Tags: []string{fmt.Sprint(i % 7), "latest"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpdateTrend(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	t.Logf("%d images stored in %v", images, time.Since(start).Round(time.Millisecond))

	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	base := startServer(t, cfg)
	watch := &browsertest.Watch{}
	tab := browsertest.Tab(t, 8*time.Minute, 1400, watch)
	u := &ui{t: t, ctx: tab, base: base, out: browsertest.ArtifactDir(t)}
	u.do("load", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	u.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), tok), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	u.ready("images")
	measure := func(name, hash string) {
		var nav, shown []float64
		for range 5 {
			// A new document each time: blank first, then the page.
			u.do("navigate", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/ui/"+hash))
			u.until(name, `document.getElementById('main').dataset.ready === location.hash`, time.Minute, nil)
			n := u.num(`Math.round(performance.getEntriesByType('navigation')[0].loadEventEnd)`)
			s := u.num(`Number(document.getElementById('main').dataset.readyAt)`)
			nav, shown = append(nav, float64(n)), append(shown, float64(s))
		}
		sort.Float64s(nav)
		sort.Float64s(shown)
		t.Logf("%s (%d images): load event %v ms, rendered with data by %v ms (median of 5: %.0f / %.0f ms)", name, images, nav, shown, nav[2], shown[2])
	}
	u.shot("ui-10000-images.png")
	measure("images page", "#/images")
	measure("images page, HIGH or above in one repository", "#/images?repository=registry.test/team7/app&severity=HIGH")
	measure("vulnerability page (incident view)", "#/vulnerability/CVE-2026-10000")
	measure("events page", "#/events")
	measure("image page", fmt.Sprintf("#/image/sha256:%064x", 4321))
	_, problems := watch.Snapshot()
	for _, p := range problems {
		t.Errorf("page: %s", p)
	}
}
