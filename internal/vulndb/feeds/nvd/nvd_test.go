package nvd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/vulndb"
)

const vulndata = "../../../../../shared/vulndata"

var pages = []string{
	filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json"),
	filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/nvd/test-fixtures/single-entry.json"),
	filepath.Join(vulndata, "fixtures/claircore/enricher/cvss/testdata/feed.json"),
}

var cve5 = []string{"testdata/CVE-2024-1010.json", "testdata/CVE-2024-51567.json"}

// rating is one metric as the raw data gives it, with the base score the
// publisher computed.
type rating struct {
	typ, vector, source string
	baseScore           float64
}

// checkEntry checks that the entry holds exactly the given ratings and that
// each vector's base score, computed by internal/cvss, is the publisher's.
func checkEntry(t *testing.T, e Entry, want []rating) {
	t.Helper()
	if e.Dropped != 0 {
		t.Errorf("%s: %d metrics dropped", e.CVE, e.Dropped)
	}
	got := map[vulndb.Severity]bool{}
	for _, s := range e.Severities {
		got[s] = true
	}
	n := 0
	for _, w := range want {
		s := vulndb.Severity{Type: w.typ, Score: w.vector, Source: w.source}
		if !got[s] {
			t.Errorf("%s: missing %+v", e.CVE, s)
			continue
		}
		n++
		sc, err := cvss.FromSeverity(s)
		if err != nil {
			t.Errorf("%s: %v", e.CVE, err)
			continue
		}
		if sc.Base != w.baseScore {
			t.Errorf("%s: %s base score %v, publisher says %v", e.CVE, w.vector, sc.Base, w.baseScore)
		}
	}
	if len(e.Severities) > len(want) {
		t.Errorf("%s: %d ratings, data has %d", e.CVE, len(e.Severities), len(want))
	}
}

func TestParsePage(t *testing.T) {
	types := map[string]string{"cvssMetricV2": vulndb.CVSSv2, "cvssMetricV30": vulndb.CVSSv3, "cvssMetricV31": vulndb.CVSSv3, "cvssMetricV40": vulndb.CVSSv4}
	for _, path := range pages {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				TotalResults    int
				Vulnerabilities []struct {
					CVE struct {
						ID      string
						Metrics map[string][]struct {
							Source   string
							CVSSData struct {
								VectorString string
								BaseScore    float64
							}
						}
					}
				}
			}
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			p, err := ParsePage(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if p.TotalResults != raw.TotalResults || len(p.Entries) != len(raw.Vulnerabilities) {
				t.Fatalf("page: total %d, %d entries; want %d, %d", p.TotalResults, len(p.Entries), raw.TotalResults, len(raw.Vulnerabilities))
			}
			metrics := 0
			for i, v := range raw.Vulnerabilities {
				e := p.Entries[i]
				if e.CVE != v.CVE.ID {
					t.Fatalf("entry %d: %s, want %s", i, e.CVE, v.CVE.ID)
				}
				if e.Modified.IsZero() {
					t.Errorf("%s: no modified time", e.CVE)
				}
				var want []rating
				for key, ms := range v.CVE.Metrics {
					for _, m := range ms {
						src := m.Source
						if src == "nvd@nist.gov" {
							src = "nvd"
						}
						want = append(want, rating{types[key], m.CVSSData.VectorString, src, m.CVSSData.BaseScore})
						metrics++
					}
				}
				// Identical ratings from one source appear once.
				checkEntry(t, e, want)
			}
			if metrics == 0 {
				t.Fatal("no metrics in fixture")
			}
		})
	}
}

func TestParseCVE5(t *testing.T) {
	types := map[string]string{"cvssV2_0": vulndb.CVSSv2, "cvssV3_0": vulndb.CVSSv3, "cvssV3_1": vulndb.CVSSv3, "cvssV4_0": vulndb.CVSSv4}
	for _, path := range cve5 {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			type container struct {
				ProviderMetadata struct{ ShortName string }
				Metrics          []map[string]json.RawMessage
			}
			var raw struct {
				CVEMetadata struct{ CVEID string }
				Containers  struct {
					CNA container
					ADP []container
				}
			}
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			var want []rating
			for _, c := range append([]container{raw.Containers.CNA}, raw.Containers.ADP...) {
				for _, m := range c.Metrics {
					for key, val := range m {
						typ, ok := types[key]
						if !ok {
							continue
						}
						var d struct {
							VectorString string
							BaseScore    float64
						}
						if err := json.Unmarshal(val, &d); err != nil {
							t.Fatal(err)
						}
						want = append(want, rating{typ, d.VectorString, c.ProviderMetadata.ShortName, d.BaseScore})
					}
				}
			}
			if len(want) == 0 {
				t.Fatal("no metrics in record")
			}
			e, err := ParseCVE5(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if e.CVE != raw.CVEMetadata.CVEID || e.Status != "PUBLISHED" || e.Modified.IsZero() {
				t.Errorf("entry %+v", e)
			}
			checkEntry(t, e, want)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not json", `{"vulnerabilities": [`},
		{"not a page", `{"vulnerabilities": []}`},
		{"format", `{"resultsPerPage": 0, "startIndex": 0, "totalResults": 0, "format": "X", "vulnerabilities": []}`},
		{"bad id", `{"resultsPerPage": 1, "startIndex": 0, "totalResults": 1, "vulnerabilities": [{"cve": {"id": "CVE-1"}}]}`},
		{"bad time", `{"resultsPerPage": 1, "startIndex": 0, "totalResults": 1, "vulnerabilities": [{"cve": {"id": "CVE-2024-1234", "lastModified": "now"}}]}`},
		{"negative", `{"resultsPerPage": 1, "startIndex": -1, "totalResults": 1, "vulnerabilities": []}`},
	} {
		if _, err := ParsePage(strings.NewReader(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("page %s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	for _, tc := range []struct{ name, data string }{
		{"not json", `{`},
		{"not cve5", `{"dataType": "CVE_RECORD", "dataVersion": "4.0"}`},
		{"bad id", `{"dataType": "CVE_RECORD", "dataVersion": "5.1", "cveMetadata": {"cveId": "X"}}`},
	} {
		if _, err := ParseCVE5(strings.NewReader(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("cve5 %s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	// Invalid vectors are dropped and counted; rejected records carry no
	// ratings.
	e, err := ParseCVE5(strings.NewReader(`{"dataType": "CVE_RECORD", "dataVersion": "5.1", "cveMetadata": {"cveId": "CVE-2024-1234", "state": "PUBLISHED"},
		"containers": {"cna": {"providerMetadata": {"shortName": "x"}, "metrics": [{"cvssV3_1": {"vectorString": "CVSS:3.1/AV:Z"}}, {"cvssV4_0": {"vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}]}}}`))
	if err != nil || e.Dropped != 2 || len(e.Severities) != 0 {
		t.Errorf("invalid vectors: %+v, %v", e, err)
	}
	e, err = ParseCVE5(strings.NewReader(`{"dataType": "CVE_RECORD", "dataVersion": "5.1", "cveMetadata": {"cveId": "CVE-2024-1234", "state": "REJECTED"},
		"containers": {"cna": {"metrics": [{"cvssV3_1": {"vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}]}}}`))
	if err != nil || len(e.Severities) != 0 || e.Status != "REJECTED" {
		t.Errorf("rejected: %+v, %v", e, err)
	}
}

func FuzzParsePage(f *testing.F) {
	for _, p := range pages[1:] {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePage(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, e := range p.Entries {
			for _, s := range e.Severities {
				if _, err := cvss.FromSeverity(s); err != nil {
					t.Fatalf("kept invalid rating %+v: %v", s, err)
				}
			}
		}
	})
}

func FuzzParseCVE5(f *testing.F) {
	for _, p := range cve5 {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseCVE5(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !vulndb.ValidCVE(e.CVE) {
			t.Fatalf("accepted id %q", e.CVE)
		}
	})
}
