package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/store"
)

// A re-match writes only the rows that changed: after each step the
// image's rows of the incident index are those a fresh write of the same
// findings gives, and the counts of images by id agree with the rows —
// through additions, a changed fix, removals, a change of most rows and
// no findings at all.
func TestRematchRowsEqualAFreshWrite(t *testing.T) {
	text := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
	gin := pkg(inventory.TypeGo, "github.com/gin-gonic/gin", "v1.7.0")
	net := pkg(inventory.TypeGo, "golang.org/x/net", "v0.1.0")
	f1 := fnd("CVE-2021-38561", []string{"GHSA-ppp9-7jff-5vj2", "GO-2021-0113"}, text, finding.High, "v0.3.7")
	f1fixed := fnd("CVE-2021-38561", []string{"GHSA-ppp9-7jff-5vj2", "GO-2021-0113"}, text, finding.High, "v0.3.7", "v0.3.8")
	f2 := fnd("CVE-2023-26125", []string{"GO-2023-1737"}, gin, finding.Medium, "v1.9.0")
	f3 := fnd("CVE-2022-41723", []string{"GO-2023-1571"}, net, finding.High, "v0.7.0")
	f4 := fnd("CVE-2023-44487", nil, net, finding.Critical, "v0.17.0")
	steps := [][]finding.Finding{
		{f1, f2, f3},      // one added
		{f1fixed, f2, f3}, // a fix added to one
		{f1fixed, f3},     // one removed
		{f4},              // most rows change
		nil,               // none left
		{f1, f2, f3, f4},  // all back
		{f1, f2, f3, f4},  // nothing changes
	}
	eachStore(t, store.Options{}, func(t *testing.T, ctx context.Context, s *store.Store) {
		inv := &inventory.Inventory{Packages: []inventory.Package{gin, text, net}}
		record := func(digest string, fs []finding.Finding) {
			t.Helper()
			target := report.Target{Ref: "reg.example/app:1", Kind: "registry", ManifestDigest: digest}
			rep := &report.Report{Target: target, Vulnerabilities: fs, Database: &report.Database{SchemaVersion: 1, Updated: "2026-01-01T00:00:00Z"}}
			sc := &store.Scan{Kind: store.KindImage, Ref: target.Ref}
			if err := s.CreateScan(ctx, sc); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Record(ctx, store.Result{ScanID: sc.ID, Report: rep, Inventory: inv, Repository: "reg.example/app", Tags: []string{"1"}}); err != nil {
				t.Fatal(err)
			}
		}
		record("sha256:aaaa", []finding.Finding{f1, f2})
		for i, fs := range steps {
			newer := &report.Database{Updated: time.Date(2026, 2, 1+i, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)}
			if _, err := s.Rematch(ctx, "sha256:aaaa", fs, newer); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			fresh := fmt.Sprintf("sha256:f%03d", i)
			record(fresh, fs)
			got, want := vulnRows(t, s, "sha256:aaaa"), vulnRows(t, s, fresh)
			if !slices.Equal(got, want) {
				t.Errorf("step %d: rows after the re-match\n%s\nwant (a fresh write)\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkVulnImages(t, s, i)
		}
	})
}

// vulnRows returns an image's rows of image_vulns without the digest, sorted.
func vulnRows(t *testing.T, s *store.Store, digest string) []string {
	t.Helper()
	q := `SELECT vuln_id, finding_id, severity, status, package_type, package_name, package_version, purl, path, layer, fixed_versions FROM image_vulns WHERE digest = ?`
	if s.Dialect() == store.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	rows, err := s.SQL().Query(q, digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		v := make([]string, 11)
		p := make([]any, len(v))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(v, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkVulnImages compares vuln_images with a count from the rows.
func checkVulnImages(t *testing.T, s *store.Store, step int) {
	t.Helper()
	count := func(q string) map[string]int {
		rows, err := s.SQL().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				out[id] = n
			}
		}
		return out
	}
	kept := count(`SELECT vuln_id, images FROM vuln_images`)
	real := count(`SELECT vuln_id, COUNT(DISTINCT digest) FROM image_vulns GROUP BY vuln_id`)
	if fmt.Sprint(kept) != fmt.Sprint(real) {
		t.Errorf("step %d: vuln_images %v, the rows say %v", step, kept, real)
	}
}
