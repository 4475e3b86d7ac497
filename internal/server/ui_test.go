package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/pipeline"
	"github.com/drydockscan/drydock/internal/server"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/browsertest"
	"github.com/drydockscan/drydock/internal/testutil/registrytest"
	"github.com/drydockscan/drydock/internal/vulndb/updater"
)

// ui drives one tab.
type ui struct {
	t    *testing.T
	ctx  context.Context
	base string
	out  string
}

func (u *ui) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	if err := chromedp.Do(u.ctx, steps...); err != nil {
		u.t.Fatalf("%s: %v", what, err)
	}
}

func (u *ui) str(js string) string {
	u.t.Helper()
	s, err := chromedp.Run(u.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		u.t.Fatalf("%s: %v", js, err)
	}
	return s
}

func (u *ui) num(js string) int {
	u.t.Helper()
	n, err := chromedp.Run(u.ctx, chromedp.Evaluate[int](js))
	if err != nil {
		u.t.Fatalf("%s: %v", js, err)
	}
	return n
}

// until evaluates a predicate until it is true; reload, when set, runs
// before each new try (the page shows what the server had when it loaded).
func (u *ui) until(what, js string, limit time.Duration, reload func()) {
	u.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := chromedp.Run(u.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("%s: not true after %s: %s (%v)", what, limit, js, err)
		}
		time.Sleep(250 * time.Millisecond)
		if reload != nil {
			reload()
		}
	}
}

// ready waits until the page for the current hash has rendered.
func (u *ui) ready(what string) {
	u.t.Helper()
	u.until(what, `document.getElementById('main').dataset.ready === location.hash`, time.Minute, nil)
}

func (u *ui) open(hash string) {
	u.t.Helper()
	u.do("open "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
	u.ready(hash)
}

func (u *ui) shot(name string) {
	u.t.Helper()
	b, err := chromedp.Run(u.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Fatal(err)
	}
	p := filepath.Join(u.out, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		u.t.Fatal(err)
	}
	u.t.Logf("screenshot: %s", p)
}

// TestUIEndToEnd uses the web interface as a person would, end to end:
// sign in with a token; an image pushed to a watched registry appears;
// a database update gives it a new finding, which shows as an event and
// in the image's findings; accepting it with a reason takes it off the
// open list and the audit log says who did it and why. The pages make no
// request but to the server and log no error; screenshots go to
// $DRYDOCK_ARTIFACTS.
func TestUIEndToEnd(t *testing.T) {
	needDB(t)
	watch := &browsertest.Watch{}
	tab := browsertest.Tab(t, 8*time.Minute, 1400, watch)
	ctx := context.Background()
	app := filepath.Join(analyzetest.Corpus(t), "debian12-app", "oci")

	// The finding the database update will add: a Go finding of the
	// image that comes from one record.
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
	if added.ID == "" {
		t.Fatal("debian12-app has no single-record Go finding")
	}
	addedRec := strings.TrimPrefix(added.Records[0], "osv/Go:")
	mirror := t.TempDir()
	writeGoMirror(t, mirror, addedRec)
	feeds, err := updater.MirrorFeeds(mirror)
	if err != nil {
		t.Fatal(err)
	}

	storeURL := "sqlite:" + filepath.Join(t.TempDir(), "server.db")
	userTok, _, err := server.CreateToken(ctx, storeURL, "alice", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	hookTok, _, err := server.CreateToken(ctx, storeURL, "registry", store.ScopeScan, nil)
	if err != nil {
		t.Fatal(err)
	}
	port := registrytest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	reg := registrytest.Start(t, registrytest.Options{Notify: []registrytest.Endpoint{{
		Name: "drydock", URL: base + "/api/v1/hooks/registry", Headers: map[string]string{"Authorization": "Bearer " + hookTok},
	}}})
	repo := reg.Host + "/corpus/app"
	logs := &logBuffer{}
	cfg := baseConfig(t, storeURL, server.RoleAll, logs)
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.Watch = []string{repo + ":*"}
	cfg.WatchInterval = time.Hour
	cfg.FailOn = finding.High
	cfg.DB = pipeline.DB{
		Path:   filepath.Join(t.TempDir(), "vuln.db"),
		Update: updater.Options{Mirror: mirror, Offline: true, Feeds: feeds}, MirrorIsLocal: true, MaxAge: time.Hour,
	}
	cfg.DBUpdateInterval = 300 * time.Millisecond
	c := newClient(t, startServer(t, cfg))
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()

	u := &ui{t: t, ctx: tab, base: base, out: browsertest.ArtifactDir(t)}
	defer func() {
		requests, problems := watch.Snapshot()
		for _, p := range problems {
			t.Errorf("page: %s", p)
		}
		if len(requests) == 0 {
			t.Error("no request seen at all: the network watch does not work")
		}
		for _, r := range requests {
			if !strings.HasPrefix(r, base+"/") && !strings.HasPrefix(r, "data:") && !strings.HasPrefix(r, "blob:"+base+"/") {
				t.Errorf("page requested %s", r)
			}
		}
	}()

	// Sign in.
	u.do("load", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	u.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), userTok), chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	u.until("signed in", `document.getElementById('who').textContent.includes('alice (scan)')`, time.Minute, nil)
	u.ready("images page")

	// Push: the watched image appears.
	start := time.Now()
	pushLayout(t, app, repo+":1.0", authn.Anonymous)
	digest := digestOf(t, repo+":1.0")
	row := fmt.Sprintf(`document.querySelector('#images tr.row[data-digest=%q]')`, digest)
	u.until("the pushed image in the list", row+` !== null`, 3*time.Minute, func() { u.open("#/images?r=" + fmt.Sprint(time.Now().UnixNano())) })
	t.Logf("push to the image listed in the UI: %v", time.Since(start).Round(time.Millisecond))
	if got := u.str(row + `.cells[0].textContent`); got != repo {
		t.Errorf("images page: repository %q, want %q", got, repo)
	}
	u.shot("ui-images.png")

	// The image's page: its findings, without the one to come.
	u.do("open the image", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#images tr.row[data-digest=%q] a.digest`, digest))))
	u.ready("image page")
	findingRow := fmt.Sprintf(`document.querySelector('#findings tr.finding[data-id=%q][data-pkg=%q]')`, added.ID, added.Package.Name)
	if u.num(findingRow+` === null ? 0 : 1`) != 0 {
		t.Fatalf("%s is there before the database has it", added.ID)
	}
	openBefore := u.num(`document.querySelectorAll('#findings tr.finding[data-state=open]').length`)

	// The database gains the record: the stored inventory is matched again.
	start = time.Now()
	writeRecord(t, mirror, addedRec)
	writeIndex(t, mirror)
	c.waitEvent(userTok, "finding.new "+added.ID, 3*time.Minute, func(e store.Event) bool {
		return e.Type == store.EventFindingNew && e.VulnID == added.ID && e.Digest == digest
	})
	t.Logf("database update to the finding.new event: %v", time.Since(start).Round(time.Millisecond))
	imageHash := "#/image/" + digest
	u.until("the new finding on the image page", findingRow+` !== null && !`+findingRow+`.hidden`, time.Minute, func() {
		u.open("#/images")
		u.open(imageHash)
	})
	if got := u.num(fmt.Sprintf(`[...document.querySelectorAll('#changes tr.event')].filter(r => r.dataset.type === 'finding.new' && r.textContent.includes(%q)).length`, added.ID)); got != 1 {
		t.Errorf("what changed since the last scan: %d finding.new rows for %s, want 1", got, added.ID)
	}
	if n := u.num(`document.querySelectorAll('#findings tr.finding[data-state=open]').length`); n != openBefore+1 {
		t.Errorf("%d open findings after the update, want %d", n, openBefore+1)
	}
	u.shot("ui-image-new-finding.png")

	// The events page lists it too.
	u.open("#/events")
	if got := u.num(fmt.Sprintf(`[...document.querySelectorAll('#events tr.event[data-type="finding.new"]')].filter(r => r.textContent.includes(%q)).length`, added.ID)); got != 1 {
		t.Errorf("events page: %d finding.new rows for %s", got, added.ID)
	}

	// Accept it with a reason: it leaves the open list.
	u.open(imageHash)
	const reason = "only reachable from the admin CLI, which is not shipped"
	sel := fmt.Sprintf(`#findings tr.finding[data-id=%q][data-pkg=%q]`, added.ID, added.Package.Name)
	u.do("open the triage form", chromedp.Click(chromedp.CSS(sel+` button.triage`)))
	u.do("fill in the reason", chromedp.SendKeys(chromedp.CSS(`#findings form.triage-form input[name=reason]`), reason))
	u.do("save", chromedp.Click(chromedp.CSS(`#findings form.triage-form button[type=submit]`)))
	u.until("the finding accepted", `(r => r !== null && r.dataset.state === 'accepted' && r.hidden)(`+findingRow+`)`, time.Minute, nil)
	u.ready("image page after the decision")
	if n := u.num(`document.querySelectorAll('#findings tr.finding[data-state=open]').length`); n != openBefore {
		t.Errorf("%d open findings after accepting, want %d", n, openBefore)
	}
	u.do("show accepted", chromedp.SetValue(chromedp.CSS("#ff-state"), "accepted"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('ff-state').dispatchEvent(new Event('change'))`))
	if u.num(findingRow+`.hidden ? 0 : 1`) != 1 {
		t.Error("the accepted finding is not listed under accepted")
	}
	u.shot("ui-image-accepted.png")
	var im struct {
		Accepted int `json:"accepted"`
	}
	c.getJSON("/api/v1/images/"+digest, userTok, &im)
	if im.Accepted != 1 {
		t.Errorf("the API counts %d accepted findings, want 1", im.Accepted)
	}

	// The audit log says who accepted what, and why.
	u.open("#/audit")
	first := `document.querySelector('#audit tbody tr.row')`
	if got := u.str(first + `.dataset.action`); got != "triage.accepted" {
		t.Errorf("newest audit entry: %q", got)
	}
	if got := u.str(first + `.textContent`); !strings.Contains(got, "alice#") || !strings.Contains(got, reason) || !strings.Contains(got, added.ID) {
		t.Errorf("audit entry: %q", got)
	}
	u.shot("ui-audit.png")

	// The triage page lists the decision.
	u.open("#/triage")
	if got := u.num(fmt.Sprintf(`[...document.querySelectorAll('#triage tr.row[data-state=accepted]')].filter(r => r.textContent.includes(%q)).length`, added.ID)); got != 1 {
		t.Errorf("triage page: %d rows for %s", got, added.ID)
	}

	// The vulnerability's page: every affected image.
	u.open("#/vulnerability/" + added.ID)
	if got := u.str(`document.getElementById('vuln-summary').textContent`); got != "1 image affected" {
		t.Errorf("vulnerability page: %q", got)
	}
	// Signing out forgets the token.
	u.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	u.until("signed out", `document.getElementById('token') !== null && sessionStorage.getItem('drydock-token') === null`, time.Minute, nil)
}
