package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/notify"
	"github.com/drydockscan/drydock/internal/server/queue"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/pgtest"
	"github.com/drydockscan/drydock/internal/testutil/smtptest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = pgtest.Start()
	if err != nil {
		if os.Getenv(pgtest.RequireEnv) == "1" {
			fmt.Fprintln(os.Stderr, "notify tests:", err)
			os.Exit(2)
		}
		pg = nil
	}
	code := m.Run()
	if pg != nil {
		pg.Cleanup()
	}
	os.Exit(code)
}

const secret = "whsec-test-7f3a9c"

// received is one HTTP delivery a receiver accepted.
type received struct {
	delivery, event string
	body            []byte
	msg             notify.Message
}

// receiver is a real HTTP server on loopback that records deliveries;
// failFirst answers 503 to that many requests first. A webhook receiver
// checks every signature itself (HMAC-SHA256 of "<t>.<body>").
type receiver struct {
	t         *testing.T
	srv       *httptest.Server
	signed    bool
	failFirst int

	mu       sync.Mutex
	requests int
	got      []received
}

func newReceiver(t *testing.T, signed bool, failFirst int) *receiver {
	r := &receiver{t: t, signed: signed, failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.requests <= r.failFirst {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	if r.signed {
		if err := checkSignature(req.Header.Get("X-Drydock-Signature"), body); err != nil {
			r.t.Errorf("delivery %s: %v", req.Header.Get("X-Drydock-Delivery"), err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
	}
	rc := received{delivery: req.Header.Get("X-Drydock-Delivery"), event: req.Header.Get("X-Drydock-Event"), body: body}
	_ = json.Unmarshal(body, &rc.msg)
	r.got = append(r.got, rc)
	w.WriteHeader(http.StatusNoContent)
}

// checkSignature verifies a signature header without the package's own
// code: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>, recent.
func checkSignature(header string, body []byte) error {
	parts := map[string]string{}
	for _, p := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(p, "=")
		parts[k] = v
	}
	ts, err := strconv.ParseInt(parts["t"], 10, 64)
	if err != nil {
		return fmt.Errorf("signature header %q has no time", header)
	}
	if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signature time is %s away", d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	if want := hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(parts["v1"])) {
		return fmt.Errorf("signature %q does not verify", parts["v1"])
	}
	return nil
}

func (r *receiver) snapshot() (int, []received) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, slices.Clone(r.got)
}

// node is one worker process: its own store handle, queue and dispatcher.
type node struct {
	st     *store.Store
	q      *queue.Queue
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, url string, cfg *notify.Config, logs io.Writer) *node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, url, store.Options{Logger: log, FailOn: finding.High})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &notify.Worker{Config: cfg, Store: st, Logger: log})
	q, err := queue.New(ctx, st, queue.Config{
		Workers: workers, Concurrency: 1, Queues: map[string]int{notify.QueueName: 4}, JobTimeout: time.Minute,
		RescueAfter: 2 * time.Minute, FetchPoll: 100 * time.Millisecond, Logger: log, ID: "test-" + store.NewID()[:8],
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := &node{st: st, q: q, cancel: cancel, done: make(chan struct{})}
	d := &notify.Dispatcher{Config: cfg, Store: st, Queue: q, Logger: log}
	go func() { d.Run(ctx); close(n.done) }()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
	defer c()
	_ = n.q.Stop(sctx)
	n.st.Close()
	n.cancel = nil
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func fnd(id string, sev finding.Severity, pkg string, fixed ...string) finding.Finding {
	f := finding.Finding{ID: id, Records: []string{"test:" + id}, Severity: sev, Status: finding.StatusUnfixed,
		Package: finding.Package{Type: "golang", Name: pkg, Version: "1.0.0", PURL: "pkg:golang/" + pkg + "@1.0.0", Path: "/app/bin", Ecosystem: "Go"}}
	if len(fixed) > 0 {
		f.Status, f.FixedVersions = finding.StatusFixed, fixed
	}
	return f
}

// record stores a scan result of image digest with findings fs.
func record(t *testing.T, st *store.Store, digest string, fs []finding.Finding) {
	t.Helper()
	inv := &inventory.Inventory{Packages: []inventory.Package{{Type: "golang", Name: "example.com/lib", Version: "1.0.0", Path: "/app/bin"}}}
	rep := &report.Report{Target: report.Target{Ref: "registry.test/team/app:1", ManifestDigest: digest}, Vulnerabilities: fs,
		Database: &report.Database{Updated: time.Now().UTC().Format(time.RFC3339Nano)}}
	if _, err := st.Record(context.Background(), store.Result{ScanID: store.NewID(), Kind: store.KindInventory, Ref: "registry.test/team/app:1",
		Report: rep, Inventory: inv, Repository: "registry.test/team/app", Tags: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
}

var dbTick time.Time

func rematch(t *testing.T, st *store.Store, digest string, fs []finding.Finding) {
	t.Helper()
	dbTick = dbTick.Add(time.Second)
	if dbTick.Before(time.Now()) {
		dbTick = time.Now().Add(time.Second)
	}
	if _, err := st.Rematch(context.Background(), digest, fs, &report.Database{Updated: dbTick.UTC().Format(time.RFC3339Nano)}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls until cond holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRulesAndChannels drives a store through every kind of change and
// checks what each channel receives: each rule's events once per channel
// (two rules picking one event still make one message), signatures that
// verify, a receiver failing twice before it accepts (three attempts in
// the delivery log), e-mail over STARTTLS with AUTH PLAIN and with AUTH
// LOGIN, and an accepted finding that does not notify.
func TestRulesAndChannels(t *testing.T) {
	hook := newReceiver(t, true, 0)
	slack := newReceiver(t, false, 0)
	teams := newReceiver(t, false, 0)
	flaky := newReceiver(t, true, 2)
	plain := smtptest.Start(t, smtptest.Options{Mechanisms: []string{"PLAIN"}, User: "alerts", Pass: "mail-pw-1"})
	login := smtptest.Start(t, smtptest.Options{Mechanisms: []string{"LOGIN"}, User: "alerts2", Pass: "mail-pw-2"})
	t.Setenv("DRYDOCK_TEST_HOOK_SECRET", secret)
	cfg := &notify.Config{
		Poll:      50 * time.Millisecond,
		Retry:     notify.Retry{Attempts: 5, Base: 100 * time.Millisecond, Max: time.Second},
		PublicURL: "https://drydock.test",
		Channels: []notify.Channel{
			{Name: "hook", Type: notify.TypeWebhook, URL: hook.srv.URL, Secret: "env:DRYDOCK_TEST_HOOK_SECRET"},
			{Name: "slack", Type: notify.TypeSlack, URL: slack.srv.URL + "/services/T000/B000/XXXX"},
			{Name: "teams", Type: notify.TypeTeams, URL: teams.srv.URL + "/workflows/abc"},
			{Name: "flaky", Type: notify.TypeWebhook, URL: flaky.srv.URL, Secret: secret},
			{Name: "mail", Type: notify.TypeEmail, SMTP: plain.Addr, CAFile: plain.CAFile, Username: "alerts", Password: "mail-pw-1", From: "drydock@example.test", To: []string{"sec@example.test", "ops@example.test"}},
			{Name: "mail2", Type: notify.TypeEmail, SMTP: login.Addr, CAFile: login.CAFile, Username: "alerts2", Password: "mail-pw-2", From: "drydock@example.test", To: []string{"oncall@example.test"}},
		},
		Rules: []notify.Rule{
			{Name: "new-high", On: []string{store.EventFindingNew}, Severity: "HIGH", Channels: []string{"hook", "slack", "mail"}},
			{Name: "any-new", On: []string{store.EventFindingNew}, Channels: []string{"hook"}},
			{Name: "kev", On: []string{store.EventFindingKEV}, Channels: []string{"hook", "teams"}},
			{Name: "fix", On: []string{store.EventFixAvailable}, Channels: []string{"hook"}},
			{Name: "gate", On: []string{store.EventGateChanged}, Channels: []string{"hook", "flaky"}},
			{Name: "failed", On: []string{store.EventScanFailed}, Channels: []string{"hook", "mail2"}},
			{Name: "other-repo", On: []string{store.EventFindingNew}, Repositories: []string{"registry.test/other/*"}, Channels: []string{"teams"}},
		},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	url := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	n := startNode(t, url, cfg, logs)
	st := n.st
	ctx := context.Background()
	const img = "sha256:" + "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"

	f1 := fnd("CVE-2026-1001", finding.High, "example.com/one")
	f2 := fnd("CVE-2026-1002", finding.Low, "example.com/two")
	f3 := fnd("CVE-2026-1003", finding.Critical, "example.com/three")
	f4 := fnd("CVE-2026-1004", finding.Medium, "example.com/four")
	f5 := fnd("CVE-2026-1005", finding.High, "example.com/five")
	// 1: a new image (image.added: no rule); its verdict is fail (f1 HIGH).
	record(t, st, img, []finding.Finding{f1, f2})
	// 2: a scan finds f3 (CRITICAL) and f4 (MEDIUM).
	record(t, st, img, []finding.Finding{f1, f2, f3, f4})
	// 3: the database learns that f1 is exploited and has a fix.
	f1b := fnd(f1.ID, finding.High, "example.com/one", "1.0.1")
	f1b.KEV = &finding.KEV{DateAdded: "2026-12-01"}
	rematch(t, st, img, []finding.Finding{f1b, f2, f3, f4})
	// 4: f5 is accepted before it is found: it must not notify.
	if _, err := st.SetTriage(ctx, "tester#1", store.TriageInput{Digest: img, VulnID: f5.ID, State: store.TriageAccepted, Reason: "not reachable", Expires: time.Now().Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rematch(t, st, img, []finding.Finding{f1b, f2, f3, f4, f5})
	// 5: f1 and f3 are fixed in the image: the verdict turns to pass.
	rematch(t, st, img, []finding.Finding{f2, f4, f5})
	// 6: a scan fails for good.
	sc := store.Scan{Kind: store.KindImage, Ref: "registry.test/team/app:broken"}
	if err := st.CreateScan(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	if err := st.FailScan(ctx, sc.ID, "manifest unknown", true); err != nil {
		t.Fatal(err)
	}

	type key struct{ typ, vuln string }
	want := map[string][]key{
		"hook": {
			{store.EventFindingNew, f3.ID}, {store.EventFindingNew, f4.ID},
			{store.EventFindingKEV, f1.ID}, {store.EventFixAvailable, f1.ID},
			{store.EventGateChanged, ""}, {store.EventScanFailed, ""},
		},
		"slack": {{store.EventFindingNew, f3.ID}},
		"teams": {{store.EventFindingKEV, f1.ID}},
		"flaky": {{store.EventGateChanged, ""}},
		"mail":  {{store.EventFindingNew, f3.ID}},
		"mail2": {{store.EventScanFailed, ""}},
	}
	total := 0
	for _, w := range want {
		total += len(w)
	}
	waitFor(t, "every delivery to finish", func() bool {
		ds, err := st.Deliveries(ctx, store.DeliveryQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, d := range ds {
			if d.Status == store.DeliveryDelivered || d.Status == store.DeliveryFailed {
				done++
			}
		}
		return done >= total
	})
	// Everything the dispatcher would queue has been queued: the cursor
	// is past the last event.
	evs, err := st.Events(ctx, store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1].ID
	waitFor(t, "the dispatcher to pass the last event", func() bool {
		v, _ := st.Get(ctx, "notify.cursor")
		c, _ := strconv.ParseInt(v, 10, 64)
		return c >= last
	})
	byID := map[int64]store.Event{}
	for _, e := range evs {
		byID[e.ID] = e
	}

	ds, err := st.Deliveries(ctx, store.DeliveryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]key{}
	for _, d := range ds {
		if d.Status != store.DeliveryDelivered {
			t.Errorf("delivery %s: %s after %d attempts (%s)", d.ID, d.Status, d.Attempts, d.LastError)
		}
		e := byID[d.EventID]
		got[d.Channel] = append(got[d.Channel], key{e.Type, e.VulnID})
	}
	for ch, w := range want {
		g := got[ch]
		slices.SortFunc(g, func(a, b key) int { return strings.Compare(a.typ+a.vuln, b.typ+b.vuln) })
		slices.SortFunc(w, func(a, b key) int { return strings.Compare(a.typ+a.vuln, b.typ+b.vuln) })
		if !slices.Equal(g, w) {
			t.Errorf("channel %s: deliveries %v, want %v", ch, g, w)
		}
	}
	if len(ds) != total {
		t.Errorf("%d deliveries, want %d", len(ds), total)
	}

	// What the receivers saw: one message per delivery, signed, as the
	// log says.
	check := func(name string, r *receiver, wantReq int) []received {
		reqs, msgs := r.snapshot()
		if reqs != wantReq || len(msgs) != len(want[name]) {
			t.Errorf("%s: %d requests, %d messages accepted; want %d requests, %d messages", name, reqs, len(msgs), wantReq, len(want[name]))
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[m.delivery] {
				t.Errorf("%s: delivery %s received twice", name, m.delivery)
			}
			seen[m.delivery] = true
		}
		return msgs
	}
	hooks := check("hook", hook, len(want["hook"]))
	for _, m := range hooks {
		if m.msg.Event.ID == 0 || m.event != m.msg.Event.Type || m.msg.Summary == "" || m.msg.Delivery != m.delivery {
			t.Errorf("webhook message: header event %q, body %+v", m.event, m.msg)
		}
		if m.msg.Event.Digest == img && (m.msg.Image == nil || m.msg.Image.Repository != "registry.test/team/app" || !strings.HasPrefix(m.msg.Link, "https://drydock.test/ui/#/image/")) {
			t.Errorf("webhook message without its image or link: %+v", m.msg)
		}
	}
	check("flaky", flaky, 3)
	fd, err := st.GetDelivery(ctx, store.DeliveryID(ds[slices.IndexFunc(ds, func(d store.Delivery) bool { return d.Channel == "flaky" })].EventID, "flaky"))
	if err != nil {
		t.Fatal(err)
	}
	if fd.Attempts != 3 || len(fd.Log) != 3 || fd.Log[0].Code != 503 || fd.Log[1].Code != 503 || fd.Log[2].Code != 204 || fd.Log[2].Error != "" {
		t.Errorf("flaky delivery log: %d attempts %+v", fd.Attempts, fd.Log)
	}
	if !fd.Log[1].At.After(fd.Log[0].At) || !fd.Log[2].At.After(fd.Log[1].At) {
		t.Errorf("attempts are not in time order: %+v", fd.Log)
	}

	_, sl := slack.snapshot()
	for _, m := range sl {
		var p struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(m.body, &p); err != nil || !strings.Contains(p.Text, f3.ID) || len(p.Blocks) == 0 {
			t.Errorf("Slack payload: %v %s", err, m.body)
		}
	}
	_, tm := teams.snapshot()
	for _, m := range tm {
		var p struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string `json:"contentType"`
				Content     struct {
					Type string `json:"type"`
					Body []struct {
						Type  string `json:"type"`
						Text  string `json:"text"`
						Facts []struct{ Title, Value string }
					} `json:"body"`
				} `json:"content"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(m.body, &p); err != nil || p.Type != "message" || len(p.Attachments) != 1 ||
			p.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || p.Attachments[0].Content.Type != "AdaptiveCard" ||
			!strings.Contains(p.Attachments[0].Content.Body[0].Text, f1.ID) {
			t.Errorf("Teams payload: %v %s", err, m.body)
		}
	}
	for _, tc := range []struct {
		srv        *smtptest.Server
		user, vuln string
		to         []string
	}{{plain, "alerts", f3.ID, []string{"sec@example.test", "ops@example.test"}}, {login, "alerts2", "", []string{"oncall@example.test"}}} {
		ms := tc.srv.Messages()
		if len(ms) != 1 {
			t.Errorf("SMTP %s: %d messages, want 1", tc.user, len(ms))
			continue
		}
		m := ms[0]
		if !m.TLS || m.User != tc.user || m.From != "drydock@example.test" || !slices.Equal(m.To, tc.to) || !strings.Contains(string(m.Data), "Subject: ") ||
			!strings.Contains(string(m.Data), tc.vuln) || !strings.Contains(string(m.Data), "Message-ID: <") {
			t.Errorf("SMTP %s: TLS %v, user %q, from %q, to %v:\n%s", tc.user, m.TLS, m.User, m.From, m.To, m.Data)
		}
		if tc.srv.Refused() != 0 {
			t.Errorf("SMTP %s refused %d times", tc.user, tc.srv.Refused())
		}
	}
	if !strings.Contains(logs.String(), "notification silenced by triage") {
		t.Error("the accepted finding's event was not seen being silenced")
	}
	for _, s := range []string{secret, "mail-pw-1", "mail-pw-2"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a secret (%.6s…) is in the log", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

// TestTwoWorkersNoDuplicates runs two worker processes on one PostgreSQL
// store: every event makes one message per channel. Then both stop, the
// dispatch cursor is set back (as if a process died before saving it)
// and a fresh worker starts: nothing is sent twice.
func TestTwoWorkersNoDuplicates(t *testing.T) {
	if pg == nil {
		t.Skip("PostgreSQL is not installed")
	}
	url, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hook := newReceiver(t, true, 0)
	cfg := &notify.Config{
		Poll:     20 * time.Millisecond,
		Retry:    notify.Retry{Attempts: 3, Base: 100 * time.Millisecond},
		Channels: []notify.Channel{{Name: "hook", Type: notify.TypeWebhook, URL: hook.srv.URL, Secret: secret}},
		Rules:    []notify.Rule{{Name: "new", On: []string{store.EventFindingNew}, Channels: []string{"hook"}}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	a := startNode(t, url, cfg, logs)
	b := startNode(t, url, cfg, logs)
	const images = 20
	var digests []string
	for i := range images {
		d := fmt.Sprintf("sha256:%064x", i+1)
		digests = append(digests, d)
		record(t, a.st, d, []finding.Finding{fnd("CVE-2026-2000", finding.High, "example.com/x")})
	}
	// One finding.new per image, written by either process.
	for i, d := range digests {
		st := a.st
		if i%2 == 1 {
			st = b.st
		}
		rematch(t, st, d, []finding.Finding{fnd("CVE-2026-2000", finding.High, "example.com/x"), fnd("CVE-2026-2001", finding.Critical, "example.com/y")})
	}
	waitFor(t, "a message per image", func() bool { _, got := hook.snapshot(); return len(got) >= images })
	a.stop()
	b.stop()
	if err := func() error {
		st, err := store.Open(context.Background(), url, store.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		return st.Set(context.Background(), "notify.cursor", "0")
	}(); err != nil {
		t.Fatal(err)
	}
	c := startNode(t, url, cfg, logs)
	evs, _ := c.st.Events(context.Background(), store.EventQuery{Limit: 1000})
	last := evs[len(evs)-1].ID
	waitFor(t, "the restarted dispatcher to read every event again", func() bool {
		v, _ := c.st.Get(context.Background(), "notify.cursor")
		n, _ := strconv.ParseInt(v, 10, 64)
		return n >= last
	})
	// The jobs the restart queued again (if any) have run.
	waitFor(t, "the queue to drain", func() bool {
		ds, _ := c.st.Deliveries(context.Background(), store.DeliveryQuery{Limit: 1000})
		for _, d := range ds {
			if d.Status != store.DeliveryDelivered {
				return false
			}
		}
		return len(ds) == images
	})
	reqs, got := hook.snapshot()
	seen := map[int64]int{}
	for _, m := range got {
		seen[m.msg.Event.ID]++
	}
	if reqs != images || len(seen) != images {
		t.Errorf("%d requests for %d events (want %d each)", reqs, len(seen), images)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("event %d delivered %d times", id, k)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}
