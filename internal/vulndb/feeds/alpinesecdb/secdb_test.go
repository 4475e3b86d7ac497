package alpinesecdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/vulndb"
)

const vulndata = "../../../../../shared/vulndata"

func secdbFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(vulndata, "alpine-secdb/*/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no secdb files: %v", err)
	}
	more, _ := filepath.Glob(filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/*/test-fixtures/input/secdb/security.json"))
	if len(more) < 3 {
		t.Fatalf("vunnel secdb fixtures: %v", more)
	}
	files = append(files, more...)
	return append(files, filepath.Join(vulndata, "fixtures/claircore/alpine/testdata/fetch/v3.10/community.json"))
}

type fix struct{ issue, eco, pkg, version string }

// TestParseFiles parses every real secdb file and checks the (issue,
// package, version) triples against a generic decoding of the file.
func TestParseFiles(t *testing.T) {
	ecosystems := map[string]bool{}
	for _, path := range secdbFiles(t) {
		t.Run(strings.TrimPrefix(path, vulndata), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			var eco string
			switch dv, _ := raw["distroversion"].(string); {
			case dv != "":
				eco = "Alpine:" + dv
			case strings.Contains(path, "/wolfi/"):
				eco = "Wolfi"
			case strings.Contains(path, "/chainguard/"):
				eco = "Chainguard"
			case strings.Contains(path, "/minimos/"):
				eco = "MinimOS"
			}
			want := map[fix]bool{}
			pkgs, _ := raw["packages"].([]any)
			for _, p := range pkgs {
				pkg := p.(map[string]any)["pkg"].(map[string]any)
				sf, _ := pkg["secfixes"].(map[string]any)
				for version, ids := range sf {
					list, _ := ids.([]any)
					for _, id := range list {
						// The issue is the first word made of letters,
						// digits and "-" with a digit ("CVE-????-????? XSA-295"
						// is XSA-295); the secdb's typo "CVE_2019-2426" is
						// CVE-2019-2426.
						for _, w := range strings.Fields(strings.ReplaceAll(id.(string), "CVE_", "CVE-")) {
							if strings.Trim(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == "" && strings.ContainsAny(w, "0123456789") && strings.Contains(w, "-") {
								want[fix{w, eco, pkg["name"].(string), version}] = true
								break
							}
						}
					}
				}
			}
			recs, err := Parse(bytes.NewReader(data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[fix]bool{}
			for _, r := range recs {
				if r.ID != strings.ToUpper(vulndb.EcosystemBase(eco))+"-"+r.Aliases[0] {
					t.Errorf("id %s, aliases %v", r.ID, r.Aliases)
				}
				for _, a := range r.Affected {
					v := "0"
					switch a.Status {
					case vulndb.StatusFixed:
						v = a.Ranges[0].Events[1].Fixed
						if a.Ranges[0].Events[0].Introduced != "0" {
							t.Errorf("%s: %+v", r.ID, a.Ranges)
						}
					case vulndb.StatusNotAffected:
						if a.Ranges != nil {
							t.Errorf("%s: not affected with ranges %+v", r.ID, a.Ranges)
						}
					default:
						t.Errorf("%s: status %q", r.ID, a.Status)
					}
					got[fix{r.Aliases[0], a.Package.Ecosystem, a.Package.Name, v}] = true
					ecosystems[vulndb.EcosystemBase(a.Package.Ecosystem)] = true
				}
			}
			if len(want) == 0 && len(pkgs) > 0 {
				t.Fatal("no fixes in file")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, e := range []string{"Alpine", "Wolfi", "Chainguard", "MinimOS"} {
		if !ecosystems[e] {
			t.Errorf("no records for %s", e)
		}
	}
}

// TestAliasesAndMerge checks multi-id entries ("CVE-… XSA-…") and that
// merging all branches keeps every affected entry.
func TestAliasesAndMerge(t *testing.T) {
	var sets [][]vulndb.Record
	total := 0
	var sawXSA bool
	for _, path := range secdbFiles(t)[:18] {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := Parse(f, Options{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			total += len(r.Affected)
			if len(r.Aliases) > 1 && strings.HasPrefix(r.Aliases[1], "XSA-") {
				sawXSA = true
			}
		}
		sets = append(sets, recs)
	}
	if !sawXSA {
		t.Error("no record with an XSA alias")
	}
	merged := Merge(sets...)
	n := 0
	ids := map[string]bool{}
	for _, r := range merged {
		if ids[r.ID] {
			t.Errorf("duplicate %s", r.ID)
		}
		ids[r.ID] = true
		n += len(r.Affected)
	}
	if n != total {
		t.Errorf("merged records hold %d affected entries, files %d", n, total)
	}
	for _, set := range sets {
		for _, r := range set {
			if !ids[r.ID] {
				t.Errorf("%s lost", r.ID)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not json", `{"packages": [`},
		{"no ecosystem", `{"urlprefix": "https://example.com", "packages": []}`},
		{"bad name", `{"distroversion": "v3.19", "packages": [{"pkg": {"name": "../x", "secfixes": {}}}]}`},
		{"bad version", `{"distroversion": "v3.19", "packages": [{"pkg": {"name": "x", "secfixes": {"1 2": ["CVE-1-1"]}}}]}`},
		{"bad distroversion", `{"distroversion": "v3/19", "packages": []}`},
		{"secfixes list", `{"distroversion": "v3.19", "packages": [{"pkg": {"name": "x", "secfixes": {"1": "CVE-1-1"}}}]}`},
	} {
		if _, err := Parse(strings.NewReader(tc.data), Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	recs, err := Parse(strings.NewReader(`{"urlprefix": "https://example.com", "packages": [{"pkg": {"name": "x", "secfixes": {"1-r0": ["CVE-2024-1", "no id here"], "2-r0": null}}}]}`), Options{Ecosystem: "Wolfi"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != "WOLFI-CVE-2024-1" {
		t.Errorf("got %+v", recs)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range secdbFiles(f)[18:] {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Parse(bytes.NewReader(data), Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, r := range recs {
			if len(r.Affected) == 0 || len(r.Aliases) == 0 {
				t.Fatalf("record %+v", r)
			}
		}
	})
}
