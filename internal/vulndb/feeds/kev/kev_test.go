package kev

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydockscan/drydock/internal/vulndb"
)

const vulndata = "../../../../../shared/vulndata"

var files = []string{
	filepath.Join(vulndata, "kev/known_exploited_vulnerabilities.json"),
	filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/kev/test-fixtures/valid-catalog-1.json"),
}

// TestParseCatalogs checks the real catalogue (and vunnel's sample) entry by
// entry against a generic decoding and against the catalogue's JSON schema:
// every property the schema defines for a vulnerability is kept.
func TestParseCatalogs(t *testing.T) {
	schemaData, err := os.ReadFile(filepath.Join(vulndata, "kev/known_exploited_vulnerabilities_schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Vulnerability struct {
				Properties map[string]struct {
					Pattern string `json:"pattern"`
				} `json:"properties"`
			} `json:"vulnerability"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemaData, &schema); err != nil {
		t.Fatal(err)
	}
	props := schema.Defs.Vulnerability.Properties
	if len(props) < 10 {
		t.Fatalf("schema: %d properties", len(props))
	}
	cvePattern := regexp.MustCompile(props["cveID"].Pattern)

	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				CatalogVersion  string
				Vulnerabilities []map[string]any
			}
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			c, err := Parse(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if c.CatalogVersion != raw.CatalogVersion {
				t.Errorf("catalogVersion %q, want %q", c.CatalogVersion, raw.CatalogVersion)
			}
			byCVE := map[string]vulndb.KEV{}
			for _, e := range c.Entries {
				if !cvePattern.MatchString(e.CVE) {
					t.Errorf("%s does not match the schema's pattern", e.CVE)
				}
				byCVE[e.CVE] = e
			}
			seen := map[string]bool{}
			for _, v := range raw.Vulnerabilities {
				id := v["cveID"].(string)
				if seen[id] {
					continue
				}
				seen[id] = true
				got, err := json.Marshal(byCVE[id])
				if err != nil {
					t.Fatal(err)
				}
				var gotMap map[string]any
				json.Unmarshal(got, &gotMap)
				want := map[string]any{}
				for k, val := range v {
					if l, ok := val.([]any); ok && len(l) == 0 {
						continue
					}
					if _, ok := props[k]; ok && val != "" {
						want[k] = val
					}
				}
				if diff := cmp.Diff(want, gotMap, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s (-want +got):\n%s", id, diff)
				}
			}
			if len(c.Entries) != len(seen) || len(seen) == 0 {
				t.Errorf("%d entries, catalogue has %d distinct CVEs", len(c.Entries), len(seen))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not json", `{"vulnerabilities": [`},
		{"no array", `{"title": "x"}`},
		{"array type", `{"vulnerabilities": {}}`},
		{"bad cve", `{"vulnerabilities": [{"cveID": "CVE-24-1", "dateAdded": "2024-01-01"}]}`},
		{"bad date", `{"vulnerabilities": [{"cveID": "CVE-2024-1234", "dateAdded": "01/01/2024"}]}`},
		{"field type", `{"vulnerabilities": [{"cveID": "CVE-2024-1234", "dateAdded": "2024-01-01", "cwes": "CWE-1"}]}`},
	} {
		if _, err := Parse(strings.NewReader(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	c, err := Parse(strings.NewReader(`{"vulnerabilities": [{"cveID": "CVE-2024-1234", "dateAdded": "2024-01-01", "newField": 1}, {"cveID": "CVE-2024-1234", "dateAdded": "2024-02-01"}]}`))
	if err != nil || len(c.Entries) != 1 || c.Entries[0].DateAdded != "2024-01-01" {
		t.Errorf("got %+v, %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(files[1])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"vulnerabilities": [{"cveID": "CVE-2024-1234", "dateAdded": "2024-01-01"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, e := range c.Entries {
			if !vulndb.ValidCVE(e.CVE) {
				t.Fatalf("accepted %q", e.CVE)
			}
		}
	})
}
