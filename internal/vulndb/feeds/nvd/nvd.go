// Package nvd reads CVSS ratings of CVEs, used to enrich records whose own
// source gives none: pages of the NVD CVE API 2.0
// (https://services.nvd.nist.gov/rest/json/cves/2.0) and CVE JSON 5 records
// (the CVE Program's list, with its CNA and ADP containers).
//
// Each metric becomes a vulndb.Severity: type CVSS_V2, CVSS_V3 (v3.0 and
// v3.1) or CVSS_V4, the vector as score, and as source "nvd" for NVD's own
// analysis (source nvd@nist.gov) or the rating organisation as the data
// names it (an NVD secondary source's e-mail or UUID, a CVE 5 container's
// short name such as "VulDB" or "CISA-ADP"). Vectors that do not parse as
// CVSS of their declared version are dropped and counted.
package nvd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/drydockscan/drydock/internal/cvss"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid CVE data")

// MaxPageSize caps an API page (2,000 CVEs are some tens of megabytes);
// MaxRecordSize caps a CVE 5 record.
const (
	MaxPageSize   = 512 << 20
	MaxRecordSize = 16 << 20
)

// Entry is the ratings of one CVE.
type Entry struct {
	CVE        string
	Severities []vulndb.Severity
	// Modified is the source's last modification time of the CVE.
	Modified time.Time
	// Status is NVD's vulnStatus ("Analyzed", "Rejected", …) or the CVE
	// record's state ("PUBLISHED", "REJECTED").
	Status string
	// Dropped counts metrics whose vector did not parse.
	Dropped int
}

// Page is one page of an NVD CVE API 2.0 response.
type Page struct {
	StartIndex     int
	ResultsPerPage int
	TotalResults   int
	Timestamp      string
	Entries        []Entry
}

type cvssData struct {
	Version      string `json:"version"`
	VectorString string `json:"vectorString"`
}

type apiMetric struct {
	Source   string   `json:"source"`
	Type     string   `json:"type"`
	CVSSData cvssData `json:"cvssData"`
}

type apiPage struct {
	ResultsPerPage  *int   `json:"resultsPerPage"`
	StartIndex      *int   `json:"startIndex"`
	TotalResults    *int   `json:"totalResults"`
	Format          string `json:"format"`
	Timestamp       string `json:"timestamp"`
	Vulnerabilities *[]struct {
		CVE struct {
			ID           string `json:"id"`
			LastModified string `json:"lastModified"`
			VulnStatus   string `json:"vulnStatus"`
			Metrics      struct {
				V2  []apiMetric `json:"cvssMetricV2"`
				V30 []apiMetric `json:"cvssMetricV30"`
				V31 []apiMetric `json:"cvssMetricV31"`
				V40 []apiMetric `json:"cvssMetricV40"`
			} `json:"metrics"`
		} `json:"cve"`
	} `json:"vulnerabilities"`
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, limit)
	}
	return data, nil
}

// ParsePage reads one NVD CVE API 2.0 page.
func ParsePage(r io.Reader) (Page, error) {
	data, err := readLimited(r, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	var p apiPage
	if err := json.Unmarshal(data, &p); err != nil {
		return Page{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.Vulnerabilities == nil || p.TotalResults == nil || p.StartIndex == nil || p.ResultsPerPage == nil {
		return Page{}, fmt.Errorf("%w: not an NVD CVE API page (vulnerabilities, totalResults, startIndex, resultsPerPage required)", ErrInvalid)
	}
	if p.Format != "" && p.Format != "NVD_CVE" {
		return Page{}, fmt.Errorf("%w: format %q", ErrInvalid, p.Format)
	}
	out := Page{StartIndex: *p.StartIndex, ResultsPerPage: *p.ResultsPerPage, TotalResults: *p.TotalResults, Timestamp: p.Timestamp}
	if out.StartIndex < 0 || out.ResultsPerPage < 0 || out.TotalResults < 0 {
		return Page{}, fmt.Errorf("%w: negative paging values", ErrInvalid)
	}
	for _, v := range *p.Vulnerabilities {
		c := &v.CVE
		if !vulndb.ValidCVE(c.ID) {
			return Page{}, fmt.Errorf("%w: CVE id %q", ErrInvalid, c.ID)
		}
		e := Entry{CVE: c.ID, Status: c.VulnStatus}
		if c.LastModified != "" {
			t, err := parseNVDTime(c.LastModified)
			if err != nil {
				return Page{}, fmt.Errorf("%w: %s: lastModified %q", ErrInvalid, c.ID, c.LastModified)
			}
			e.Modified = t
		}
		for _, group := range []struct {
			typ     string
			metrics []apiMetric
		}{
			{vulndb.CVSSv4, c.Metrics.V40}, {vulndb.CVSSv3, c.Metrics.V31}, {vulndb.CVSSv3, c.Metrics.V30}, {vulndb.CVSSv2, c.Metrics.V2},
		} {
			for _, m := range group.metrics {
				source := m.Source
				if source == "nvd@nist.gov" {
					source = "nvd"
				}
				e.add(group.typ, m.CVSSData.VectorString, source)
			}
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

// parseNVDTime reads NVD's times: ISO 8601 without a zone, in UTC
// ("2024-11-21T04:53:33.567").
func parseNVDTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// add appends a rating unless its vector is empty, invalid or already there.
func (e *Entry) add(typ, vector, source string) {
	if vector == "" {
		return
	}
	sev := vulndb.Severity{Type: typ, Score: vector, Source: source}
	if _, err := cvss.FromSeverity(sev); err != nil {
		e.Dropped++
		return
	}
	if !slices.Contains(e.Severities, sev) {
		e.Severities = append(e.Severities, sev)
	}
}

type cve5Metric struct {
	V2  *cvssData `json:"cvssV2_0"`
	V30 *cvssData `json:"cvssV3_0"`
	V31 *cvssData `json:"cvssV3_1"`
	V40 *cvssData `json:"cvssV4_0"`
}

type cve5Container struct {
	ProviderMetadata struct {
		OrgID     string `json:"orgId"`
		ShortName string `json:"shortName"`
	} `json:"providerMetadata"`
	Metrics []cve5Metric `json:"metrics"`
}

// ParseCVE5 reads one CVE JSON 5 record (dataType CVE_RECORD) and returns
// the ratings of its CNA container, then of its ADP containers.
func ParseCVE5(r io.Reader) (Entry, error) {
	data, err := readLimited(r, MaxRecordSize)
	if err != nil {
		return Entry{}, err
	}
	var rec struct {
		DataType    string `json:"dataType"`
		DataVersion string `json:"dataVersion"`
		CVEMetadata struct {
			CVEID       string `json:"cveId"`
			State       string `json:"state"`
			DateUpdated string `json:"dateUpdated"`
		} `json:"cveMetadata"`
		Containers struct {
			CNA *cve5Container  `json:"cna"`
			ADP []cve5Container `json:"adp"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if rec.DataType != "CVE_RECORD" || len(rec.DataVersion) < 2 || rec.DataVersion[:2] != "5." {
		return Entry{}, fmt.Errorf("%w: not a CVE JSON 5 record (dataType %q, dataVersion %q)", ErrInvalid, rec.DataType, rec.DataVersion)
	}
	id := rec.CVEMetadata.CVEID
	if !vulndb.ValidCVE(id) {
		return Entry{}, fmt.Errorf("%w: CVE id %q", ErrInvalid, id)
	}
	e := Entry{CVE: id, Status: rec.CVEMetadata.State}
	if s := rec.CVEMetadata.DateUpdated; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: %s: dateUpdated %q", ErrInvalid, id, s)
		}
		e.Modified = t.UTC()
	}
	if e.Status == "REJECTED" {
		return e, nil
	}
	containers := rec.Containers.ADP
	if rec.Containers.CNA != nil {
		containers = append([]cve5Container{*rec.Containers.CNA}, containers...)
	}
	for _, c := range containers {
		source := c.ProviderMetadata.ShortName
		if source == "" {
			source = c.ProviderMetadata.OrgID
		}
		for _, m := range c.Metrics {
			for _, v := range []struct {
				typ string
				d   *cvssData
			}{{vulndb.CVSSv4, m.V40}, {vulndb.CVSSv3, m.V31}, {vulndb.CVSSv3, m.V30}, {vulndb.CVSSv2, m.V2}} {
				if v.d != nil {
					e.add(v.typ, v.d.VectorString, source)
				}
			}
		}
	}
	return e, nil
}
