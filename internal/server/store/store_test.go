package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/store"
	"github.com/drydockscan/drydock/internal/testutil/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	pg, err = pgtest.Start()
	if err != nil {
		if os.Getenv(pgtest.RequireEnv) == "1" {
			fmt.Fprintln(os.Stderr, "store tests:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "store tests: PostgreSQL cases skip:", err)
		pg = nil
	}
	code := m.Run()
	if pg != nil {
		pg.Cleanup()
	}
	os.Exit(code)
}

// stores returns a fresh SQLite store and, when PostgreSQL runs, a fresh
// PostgreSQL one.
func stores(t *testing.T) map[string]string {
	out := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "s.db")}
	if pg != nil {
		url, err := pg.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out["postgres"] = url
	}
	return out
}

// eachStore runs fn on a store of each dialect (PostgreSQL when the test
// server runs), opened with o and closed after.
func eachStore(t *testing.T, o store.Options, fn func(t *testing.T, ctx context.Context, s *store.Store)) {
	t.Helper()
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, url, o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fn(t, ctx, s)
		})
	}
}

// TestMigrationsFromEmpty: every migration applies to an empty store of
// each dialect, a second open applies nothing, and the dialects have the
// same versions.
func TestMigrationsFromEmpty(t *testing.T) {
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pgm, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pgm) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations", len(lite), len(pgm))
	}
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for range 2 {
				s, err := store.Open(ctx, url, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				v, err := s.SchemaVersion(ctx)
				s.Close()
				if err != nil || v != len(lite) {
					t.Fatalf("schema version %d (%v), want %d", v, err, len(lite))
				}
			}
		})
	}
}

func pkg(typ, name, version string) inventory.Package {
	p := inventory.Package{Type: typ, Name: name, Version: version, Path: "/app/go.sum", Layer: "sha256:l1"}
	p.PURL = inventory.PURL(&p, nil)
	return p
}

func fnd(id string, aliases []string, p inventory.Package, sev finding.Severity, fixed ...string) finding.Finding {
	return finding.Finding{
		ID: id, Aliases: aliases, Records: []string{"osv/Go:" + id}, Severity: sev, Status: finding.StatusFixed, FixedVersions: fixed,
		Package: finding.Package{Type: p.Type, Name: p.Name, Version: p.Version, PURL: p.PURL, Path: p.Path, Layer: p.Layer, Ecosystem: "Go"},
	}
}

// TestRecordQueriesRematch stores an image, finds it by alias and by
// package, re-matches it with a newer database and checks the events; a
// retried scan is stored once.
func TestRecordQueriesRematch(t *testing.T) {
	eachStore(t, store.Options{}, func(t *testing.T, ctx context.Context, s *store.Store) {
		text := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
		gin := pkg(inventory.TypeGo, "github.com/gin-gonic/gin", "v1.7.0")
		inv := &inventory.Inventory{Packages: []inventory.Package{gin, text}}
		f1 := fnd("CVE-2021-38561", []string{"GHSA-ppp9-7jff-5vj2", "GO-2021-0113"}, text, finding.High, "v0.3.7")
		f2 := fnd("CVE-2023-26125", []string{"GO-2023-1737"}, gin, finding.Medium, "v1.9.0")
		target := report.Target{Ref: "reg.example/app:1", Kind: "registry", ManifestDigest: "sha256:aaaa"}
		rep := &report.Report{Target: target, Vulnerabilities: []finding.Finding{f1, f2},
			Database: &report.Database{SchemaVersion: 1, Updated: "2026-01-01T00:00:00Z"}}
		sc := &store.Scan{Kind: store.KindImage, Ref: target.Ref}
		if err := s.CreateScan(ctx, sc); err != nil {
			t.Fatal(err)
		}
		res := store.Result{ScanID: sc.ID, Report: rep, Inventory: inv, Repository: "reg.example/app", Tags: []string{"1"}}
		for i, want := range []bool{true, false} {
			ok, err := s.Record(ctx, res)
			if err != nil || ok != want {
				t.Fatalf("record #%d: %v, %v; want %v", i+1, ok, err, want)
			}
		}
		// Found by its id and by each alias, in any case.
		for _, id := range []string{"CVE-2021-38561", "ghsa-ppp9-7jff-5vj2", "GO-2021-0113"} {
			aff, _, err := s.ImagesWithVuln(ctx, id, store.Page{Limit: 100})
			if err != nil || len(aff) != 1 || aff[0].Digest != "sha256:aaaa" || aff[0].Package != text.Name || aff[0].Version != text.Version ||
				!slices.Equal(aff[0].FixedVersions, []string{"v0.3.7"}) || aff[0].Layer != text.Layer {
				t.Errorf("images with %s: %+v, %v", id, aff, err)
			}
		}
		hold, err := s.ImagesWithPackage(ctx, store.PackageKey(text.PURL, "", ""), nil, store.Page{Limit: 100})
		if err != nil || hold.Images != 1 || len(hold.Holdings) != 1 || hold.Holdings[0].Version != "v0.3.5" {
			t.Errorf("images with %s: %+v, %v", text.PURL, hold, err)
		}
		im, err := s.GetImage(ctx, "sha256:aaaa")
		if err != nil {
			t.Fatal(err)
		}
		if im.Counts.High != 1 || im.Counts.Medium != 1 || len(im.History) != 1 || len(im.Tags) != 1 || im.Tags[0].Tag != "1" {
			t.Errorf("image: counts %+v, history %d, tags %+v", im.Counts, len(im.History), im.Tags)
		}

		// A newer database: f1 is gone, f3 is new.
		f3 := fnd("CVE-2022-32149", []string{"GO-2022-1059"}, text, finding.High, "v0.3.8")
		newer := &report.Database{SchemaVersion: 1, Updated: "2026-02-01T00:00:00Z"}
		ch, err := s.Rematch(ctx, "sha256:aaaa", []finding.Finding{f2, f3}, newer)
		if err != nil || ch.New != 1 || ch.Resolved != 1 {
			t.Fatalf("rematch: %+v, %v", ch, err)
		}
		// The same database again changes nothing.
		if ch, err := s.Rematch(ctx, "sha256:aaaa", nil, newer); err != nil || ch != (store.Rematched{}) {
			t.Errorf("rematch with the same database: %+v, %v", ch, err)
		}
		evs, err := s.Events(ctx, store.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+" "+e.VulnID)
		}
		want := []string{"image.added ", "finding.new CVE-2022-32149", "finding.resolved CVE-2021-38561"}
		if !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
		if aff, _, _ := s.ImagesWithVuln(ctx, "GO-2021-0113", store.Page{Limit: 100}); len(aff) != 0 {
			t.Errorf("resolved finding still indexed: %+v", aff)
		}
		later, _ := s.Events(ctx, store.EventQuery{AfterID: evs[1].ID})
		if len(later) != 1 || later[0].ID != evs[2].ID {
			t.Errorf("events after %d: %+v", evs[1].ID, later)
		}
	})
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret, tok, err := s.CreateToken(ctx, "ci", store.ScopeScan)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.ID != tok.ID || got.Scope != store.ScopeScan {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, secret+"x"); err != store.ErrBadToken {
		t.Errorf("wrong secret: %v", err)
	}
	if err := s.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); err != store.ErrBadToken {
		t.Errorf("revoked token: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, "x", "root"); err == nil {
		t.Error("a token of an unknown scope was made")
	}
	// Only the hash is stored.
	var n int
	if err := s.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM tokens WHERE hash = ?", secret).Scan(&n); err != nil || n != 0 {
		t.Errorf("token stored in clear: %d, %v", n, err)
	}
}
