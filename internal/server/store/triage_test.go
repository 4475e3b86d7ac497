package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/store"
)

func put(t *testing.T, s *store.Store, digest, repo string, fs ...finding.Finding) {
	t.Helper()
	inv := &inventory.Inventory{Packages: []inventory.Package{pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")}}
	rep := &report.Report{Target: report.Target{Ref: repo + ":1", ManifestDigest: digest}, Vulnerabilities: fs,
		Database: &report.Database{Updated: time.Now().UTC().Format(time.RFC3339Nano)}}
	if _, err := s.Record(context.Background(), store.Result{ScanID: store.NewID(), Kind: store.KindInventory, Report: rep, Inventory: inv, Repository: repo, Tags: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
}

func eventsOf(t *testing.T, s *store.Store, typ string) []store.Event {
	t.Helper()
	evs, err := s.Events(context.Background(), store.EventQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestTriage: decisions take findings out of the open counts and the
// gate, cover the images they name (one image, a repository's images,
// an image's every finding), are audited, and expired acceptances come
// back.
func TestTriage(t *testing.T) {
	eachStore(t, store.Options{FailOn: finding.High}, func(t *testing.T, ctx context.Context, s *store.Store) {
		text := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
		gin := pkg(inventory.TypeGo, "github.com/gin-gonic/gin", "v1.7.0")
		hi := fnd("CVE-2021-38561", []string{"GO-2021-0113"}, text, finding.High, "v0.3.7")
		med := fnd("CVE-2023-26125", nil, gin, finding.Medium, "v1.9.0")
		const a, b, c = "sha256:aaaa", "sha256:bbbb", "sha256:cccc"
		put(t, s, a, "reg.example/app", hi, med)
		put(t, s, b, "reg.example/app", hi, med)
		put(t, s, c, "reg.example/other", hi, med)
		sum := func(d string) store.ImageSummary {
			t.Helper()
			im, err := s.Summary(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			return im
		}
		if im := sum(a); im.Counts.High != 1 || im.Counts.Medium != 1 || im.Accepted != 0 || im.Gate != "fail" {
			t.Fatalf("before any decision: %+v", im)
		}

		// Refused decisions.
		for _, in := range []store.TriageInput{
			{Digest: a, VulnID: hi.ID, State: store.TriageAccepted, Reason: "r"},                                      // no expiry
			{Digest: a, VulnID: hi.ID, State: store.TriageAccepted, Expires: time.Now().Add(time.Hour)},               // no reason
			{Digest: a, VulnID: hi.ID, State: store.TriageAccepted, Reason: "r", Expires: time.Now().Add(-time.Hour)}, // past
			{Digest: a, VulnID: hi.ID, State: store.TriageFalsePositive},                                              // no reason
			{Digest: a, VulnID: hi.ID, State: "ignored", Reason: "r"},
			{State: store.TriageOpen, Assignee: "bob"}, // about nothing
		} {
			if _, err := s.SetTriage(ctx, "alice", in); !errors.Is(err, store.ErrBadTriage) {
				t.Errorf("%+v: %v, want ErrBadTriage", in, err)
			}
		}
		if _, err := s.SetTriage(ctx, "alice", store.TriageInput{Digest: "sha256:none", State: store.TriageOpen}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown image: %v", err)
		}

		// Accepting the HIGH finding of a (by an alias) passes its gate.
		acc, err := s.SetTriage(ctx, "alice", store.TriageInput{Digest: a, VulnID: "go-2021-0113", State: store.TriageAccepted, Reason: "not reachable", Expires: time.Now().Add(2 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if im := sum(a); im.Counts.High != 0 || im.Counts.Medium != 1 || im.Accepted != 1 || im.Gate != "pass" {
			t.Errorf("after accepting: %+v", im)
		}
		if im := sum(b); im.Counts.High != 1 || im.Accepted != 0 {
			t.Errorf("the other image of the repository is not covered: %+v", im)
		}
		gates := eventsOf(t, s, store.EventGateChanged)
		if len(gates) != 1 || gates[0].Digest != a || !json.Valid(gates[0].Data) {
			t.Errorf("gate.changed events: %+v", gates)
		}
		// A false positive for a repository covers its images only.
		if _, err := s.SetTriage(ctx, "bob", store.TriageInput{Repository: "reg.example/app", VulnID: med.ID, State: store.TriageFalsePositive, Reason: "gin's debug mode is off"}); err != nil {
			t.Fatal(err)
		}
		if im := sum(b); im.Counts.Medium != 0 || im.Accepted != 1 {
			t.Errorf("repository-wide false positive, image b: %+v", im)
		}
		if im := sum(c); im.Counts.Medium != 1 || im.Accepted != 0 {
			t.Errorf("repository-wide false positive reached another repository: %+v", im)
		}
		// An image-wide acceptance covers every finding of c.
		if _, err := s.SetTriage(ctx, "carol", store.TriageInput{Digest: c, State: store.TriageAccepted, Reason: "legacy, retired in Q1", Expires: time.Now().Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if im := sum(c); im.Counts != (store.Counts{}) || im.Accepted != 2 || im.Gate != "pass" {
			t.Errorf("image-wide acceptance: %+v", im)
		}
		if tr, err := s.SuppressedBy(ctx, c, &hi, time.Now()); err != nil || tr == nil || tr.CreatedBy != "carol" {
			t.Errorf("SuppressedBy: %+v %v", tr, err)
		}
		// Assigning keeps the decision's state.
		if _, err := s.SetTriage(ctx, "dave", store.TriageInput{Digest: b, VulnID: hi.ID, State: store.TriageOpen, Assignee: "erin"}); err != nil {
			t.Fatal(err)
		}
		if im := sum(b); im.Counts.High != 1 {
			t.Errorf("an assignment suppressed a finding: %+v", im)
		}

		// The acceptance of a expires: its finding counts again.
		if n, err := s.ExpireTriage(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("nothing is due yet: %d %v", n, err)
		}
		if n, err := s.ExpireTriage(ctx, acc.Expires.Add(time.Millisecond)); err != nil || n != 1 {
			t.Fatalf("expiring: %d %v", n, err)
		}
		if n, _ := s.ExpireTriage(ctx, acc.Expires.Add(time.Second)); n != 0 {
			t.Errorf("expired twice")
		}
		// (the store judges by the clock: past the expiry it counts again)
		for time.Now().Before(acc.Expires) {
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := s.ExpireTriage(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if evs := eventsOf(t, s, store.EventTriageExpired); len(evs) != 1 || evs[0].Digest != a || evs[0].VulnID != "GO-2021-0113" {
			t.Errorf("triage.expired events: %+v", evs)
		}
		// (its MEDIUM finding stays covered by the repository's false positive)
		if im := sum(a); im.Counts.High != 1 || im.Accepted != 1 || im.Gate != "fail" {
			t.Errorf("after expiry: %+v", im)
		}

		// Withdrawing a decision.
		list, err := s.ListTriage(ctx, store.TriageQuery{State: store.TriageFalsePositive})
		if err != nil || len(list) != 1 {
			t.Fatalf("false positives: %+v %v", list, err)
		}
		if err := s.DeleteTriage(ctx, "bob", list[0].ID); err != nil {
			t.Fatal(err)
		}
		if im := sum(b); im.Counts.Medium != 1 {
			t.Errorf("after withdrawing: %+v", im)
		}

		// The audit log has every change, in order, with who.
		log, err := s.AuditLog(ctx, 0, 100, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range log {
			got = append(got, e.Actor+" "+e.Action)
		}
		want := []string{"alice triage.accepted", "bob triage.false_positive", "carol triage.accepted", "dave triage.assigned", "drydock triage.expired", "bob triage.deleted"}
		if len(got) != len(want) {
			t.Fatalf("audit: %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("audit entry %d: %q, want %q", i, got[i], want[i])
			}
		}
		newest, _ := s.AuditLog(ctx, 0, 1, true)
		if len(newest) != 1 || newest[0].ID != log[len(log)-1].ID {
			t.Errorf("newest first: %+v", newest)
		}
		if _, err := s.AddComment(ctx, store.Comment{Digest: a, VulnID: hi.ID, Author: "alice", Body: "fix lands in 2.3"}); err != nil {
			t.Fatal(err)
		}
		if cs, err := s.Comments(ctx, a, ""); err != nil || len(cs) != 1 || cs[0].Body != "fix lands in 2.3" {
			t.Errorf("comments: %+v %v", cs, err)
		}
	})
}

// TestFindingChangeEvents: a finding the image keeps emits finding.kev
// when it enters the KEV catalogue and finding.fix_available when a fix
// appears; the fleet export shows the oldest open critical with a fix.
func TestFindingChangeEvents(t *testing.T) {
	eachStore(t, store.Options{}, func(t *testing.T, ctx context.Context, s *store.Store) {
		text := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
		crit := fnd("CVE-2022-32149", nil, text, finding.Critical)
		crit.Status = finding.StatusUnfixed
		put(t, s, "sha256:aaaa", "reg.example/app", crit)
		if fl, err := s.Fleet(ctx, time.Now()); err != nil || len(fl) != 1 || fl[0].OldestFixable != nil {
			t.Fatalf("no fix yet: %+v %v", fl, err)
		}
		fixed := crit
		fixed.Status, fixed.FixedVersions = finding.StatusFixed, []string{"v0.3.8"}
		fixed.KEV = &finding.KEV{DateAdded: "2026-11-30"}
		if _, err := s.Rematch(ctx, "sha256:aaaa", []finding.Finding{fixed}, &report.Database{Updated: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}); err != nil {
			t.Fatal(err)
		}
		if k, f := eventsOf(t, s, store.EventFindingKEV), eventsOf(t, s, store.EventFixAvailable); len(k) != 1 || len(f) != 1 || k[0].VulnID != crit.ID || f[0].VulnID != crit.ID {
			t.Errorf("kev %+v, fix %+v", k, f)
		}
		if n := len(eventsOf(t, s, store.EventFindingNew)); n != 0 {
			t.Errorf("%d finding.new events for a finding the image had", n)
		}
		fl, err := s.Fleet(ctx, time.Now().Add(72*time.Hour))
		if err != nil || len(fl) != 1 || fl[0].OldestFixable == nil {
			t.Fatalf("fleet: %+v %v", fl, err)
		}
		o := fl[0].OldestFixable
		if o.VulnID != crit.ID || o.Fixed != "v0.3.8" || o.AgeDays != 3 || o.FixSeen.Before(o.FirstSeen) || o.FixSeen.IsZero() {
			t.Errorf("oldest fixable critical: %+v", o)
		}
	})
}
