package store_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/inventory"
	"github.com/drydockscan/drydock/internal/report"
	"github.com/drydockscan/drydock/internal/server/store"
)

// TestIncidentPaging stores images most of which are affected by one
// vulnerability, some twice (two packages, or a finding and another
// finding aliasing it), and pages through the incident queries by cursor
// and by offset with several page sizes: every affected row comes exactly
// once, and the counts of images are those of what was stored.
func TestIncidentPaging(t *testing.T) {
	const n = 230
	eachStore(t, store.Options{}, func(t *testing.T, ctx context.Context, s *store.Store) {
		r := rand.New(rand.NewPCG(3, 4))
		// What was stored, kept independently of the store: the rows
		// the vulnerability query must return, the images holding
		// libc in each version.
		wantVuln := map[string]int{}
		vulnImages, aliasImages := map[string]bool{}, map[string]bool{}
		libcImages := map[string]map[string]bool{}
		for i := range n {
			digest := fmt.Sprintf("sha256:%064x", r.Uint64())
			libc := pkg(inventory.TypeDeb, "libc6", fmt.Sprintf("2.36-9+deb12u%d", r.IntN(4)))
			libc.Path = "/var/lib/dpkg/status"
			bin := libc
			bin.Name = "libc-bin"
			bin.PURL = inventory.PURL(&bin, nil)
			other := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
			inv := &inventory.Inventory{Packages: []inventory.Package{libc, bin, other}}
			var fs []finding.Finding
			switch i % 5 {
			case 0: // not affected
			case 1: // two packages
				fs = append(fs, fnd("CVE-2026-0001", nil, libc, finding.High, "2.36-9+deb12u9"), fnd("CVE-2026-0001", nil, bin, finding.High, "2.36-9+deb12u9"))
			case 2: // by an alias of another advisory too
				fs = append(fs, fnd("CVE-2026-0001", nil, libc, finding.High), fnd("DSA-9999-1", []string{"cve-2026-0001"}, libc, finding.High))
			default:
				fs = append(fs, fnd("CVE-2026-0001", []string{"DSA-9999-1"}, libc, finding.High))
			}
			fs = append(fs, fnd("GO-2021-0113", nil, other, finding.Medium))
			slices.SortFunc(fs, finding.Compare)
			for _, f := range fs {
				ids := append([]string{f.ID}, f.Aliases...)
				if slices.ContainsFunc(ids, func(a string) bool { return strings.EqualFold(a, "CVE-2026-0001") }) {
					wantVuln[digest+" "+f.ID+" "+f.Package.Name]++
					vulnImages[digest] = true
				}
				if slices.ContainsFunc(ids, func(a string) bool { return strings.EqualFold(a, "DSA-9999-1") }) {
					aliasImages[digest] = true
				}
			}
			if libcImages[libc.Version] == nil {
				libcImages[libc.Version] = map[string]bool{}
			}
			libcImages[libc.Version][digest] = true
			target := report.Target{Ref: "reg.example/app:" + fmt.Sprint(i), Kind: "registry", ManifestDigest: digest}
			rep := &report.Report{Target: target, Vulnerabilities: fs, Database: &report.Database{SchemaVersion: 1, Updated: "2026-01-01T00:00:00Z"}}
			if _, err := s.Record(ctx, store.Result{ScanID: store.NewID(), Kind: store.KindInventory, Ref: target.Ref, Report: rep, Inventory: inv,
				Repository: "reg.example/app", Tags: []string{fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		wantRows := 0
		for _, c := range wantVuln {
			wantRows += c
		}
		if wantRows <= len(vulnImages) || len(vulnImages) < n/2 {
			t.Fatalf("test data: %d rows in %d images", wantRows, len(vulnImages))
		}
		if got, err := s.CountImagesWithVuln(ctx, "cve-2026-0001"); err != nil || got != len(vulnImages) {
			t.Errorf("count of images: %d (%v), want %d", got, err, len(vulnImages))
		}
		for _, limit := range []int{1, 7, 50, wantRows, wantRows + 1} {
			for _, byOffset := range []bool{false, true} {
				got := map[string]int{}
				var order []string
				p := store.Page{Limit: limit}
				for pages := 0; ; pages++ {
					if pages > wantRows+1 {
						t.Fatalf("limit %d: no end to the pages", limit)
					}
					aff, next, err := s.ImagesWithVuln(ctx, "CVE-2026-0001", p)
					if err != nil {
						t.Fatal(err)
					}
					if len(aff) > limit || (next != "" && len(aff) != limit) {
						t.Fatalf("limit %d: a page of %d rows, next %q", limit, len(aff), next)
					}
					for _, a := range aff {
						k := a.Digest + " " + a.FindingID + " " + a.Package
						got[k]++
						order = append(order, a.Digest)
					}
					if next == "" {
						break
					}
					if byOffset {
						p.Offset += len(aff)
					} else {
						p.After = next
					}
				}
				if !maps.Equal(got, wantVuln) {
					t.Errorf("limit %d (offset %v): rows %v, want %v", limit, byOffset, got, wantVuln)
				}
				if !slices.IsSorted(order) {
					t.Errorf("limit %d (offset %v): not by digest", limit, byOffset)
				}
			}
		}
		// A newer database resolves the vulnerability in every third
		// affected image: the count follows, for the id and an alias.
		newer := &report.Database{SchemaVersion: 1, Updated: "2026-02-01T00:00:00Z"}
		resolved := 0
		for i, d := range slices.Sorted(maps.Keys(vulnImages)) {
			if i%3 != 0 {
				continue
			}
			other := pkg(inventory.TypeGo, "golang.org/x/text", "v0.3.5")
			if _, err := s.Rematch(ctx, d, []finding.Finding{fnd("GO-2021-0113", nil, other, finding.Medium)}, newer); err != nil {
				t.Fatal(err)
			}
			delete(vulnImages, d)
			delete(aliasImages, d)
			resolved++
		}
		for id, want := range map[string]int{"CVE-2026-0001": len(vulnImages), "dsa-9999-1": len(aliasImages), "GO-2021-0113": n, "CVE-1999-0001": 0} {
			if got, err := s.CountImagesWithVuln(ctx, id); err != nil || got != want {
				t.Errorf("after %d resolved: count of images with %s: %d (%v), want %d", resolved, id, got, err, want)
			}
		}
		if _, _, err := s.ImagesWithVuln(ctx, "CVE-2026-0001", store.Page{After: "bm90IGEgY3Vyc29y"}); err != store.ErrBadCursor {
			t.Errorf("a bad cursor: %v", err)
		}

		// The package query, with no filter and keeping two versions.
		key := store.PackageKey(inventory.PURL(&inventory.Package{Type: inventory.TypeDeb, Name: "libc6", Version: "1"}, nil), "", "")
		keepSome := func(v store.HeldVersion) bool {
			return strings.HasSuffix(v.Version, "u1") || strings.HasSuffix(v.Version, "u3")
		}
		for _, tc := range []struct {
			name string
			keep func(store.HeldVersion) bool
		}{{"all", nil}, {"some", keepSome}} {
			want := map[string]bool{}
			for v, ims := range libcImages {
				if tc.keep == nil || tc.keep(store.HeldVersion{Version: v}) {
					for d := range ims {
						want[d] = true
					}
				}
			}
			for _, limit := range []int{1, 13, n + 1} {
				got := map[string]int{}
				p := store.Page{Limit: limit}
				for pages := 0; ; pages++ {
					if pages > n+1 {
						t.Fatalf("%s, limit %d: no end to the pages", tc.name, limit)
					}
					ans, err := s.ImagesWithPackage(ctx, key, tc.keep, p)
					if err != nil {
						t.Fatal(err)
					}
					if ans.Images != len(want) {
						t.Errorf("%s, limit %d: %d images, want %d", tc.name, limit, ans.Images, len(want))
					}
					if len(ans.Holdings) > limit || (ans.Next != "" && len(ans.Holdings) != limit) {
						t.Fatalf("%s, limit %d: a page of %d rows, next %q", tc.name, limit, len(ans.Holdings), ans.Next)
					}
					for _, h := range ans.Holdings {
						if h.Name != "libc6" || !want[h.Digest] {
							t.Errorf("%s: %+v should not be listed", tc.name, h)
						}
						got[h.Digest]++
					}
					if p.After = ans.Next; p.After == "" {
						break
					}
				}
				if len(got) != len(want) {
					t.Errorf("%s, limit %d: %d images listed, want %d", tc.name, limit, len(got), len(want))
				}
				for d, c := range got {
					if c != 1 {
						t.Errorf("%s, limit %d: %s listed %d times", tc.name, limit, d, c)
					}
				}
			}
		}
	})
}
