package debiantracker

import (
	"archive/zip"
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

var (
	derived = filepath.Join(vulndata, "debian-tracker/changelog-derived-tracker.json")
	vunnel  = filepath.Join(vulndata, "fixtures/vunnel/tests/unit/providers/debian/test-fixtures/input/debian.json")
)

func parseFile(t testing.TB, path string) []vulndb.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

type fixKey struct{ id, eco, name, fixed string }

// TestDerivedAgainstOSV parses the changelog-derived tracker file and checks
// it against the OSV records of the mirror's Debian:12 and Debian:13
// archives, which were derived from the same changelogs: the same records,
// packages and fixed versions.
func TestDerivedAgainstOSV(t *testing.T) {
	recs := parseFile(t, derived)
	got := map[fixKey]bool{}
	for _, r := range recs {
		if len(r.Aliases) != 1 || "DEBIAN-"+r.Aliases[0] != r.ID {
			t.Errorf("%s: aliases %v", r.ID, r.Aliases)
		}
		for _, a := range r.Affected {
			if a.Status != vulndb.StatusFixed || len(a.Ranges) != 1 || len(a.Ranges[0].Events) != 2 {
				t.Errorf("%s %s: %+v", r.ID, a.Package.Name, a)
				continue
			}
			if diff := cmp.Diff([]vulndb.Severity{{Type: vulndb.Vendor, Score: "not yet assigned", Source: "debian"}}, a.Severity); diff != "" {
				t.Errorf("%s severity (-want +got):\n%s", r.ID, diff)
			}
			got[fixKey{r.ID, a.Package.Ecosystem, a.Package.Name, a.Ranges[0].Events[1].Fixed}] = true
		}
	}
	want := map[fixKey]bool{}
	for _, eco := range []string{"Debian:12", "Debian:13"} {
		zr, err := zip.OpenReader(filepath.Join(vulndata, "osv-mirror", eco, "all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				ID       string
				Affected []struct {
					Package struct{ Ecosystem, Name string }
					Ranges  []struct {
						Events []map[string]string
					}
				}
			}
			if err := json.NewDecoder(rc).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			for _, a := range rec.Affected {
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						if v, ok := e["fixed"]; ok {
							want[fixKey{rec.ID, a.Package.Ecosystem, a.Package.Name, v}] = true
						}
					}
				}
			}
		}
		zr.Close()
	}
	if len(want) == 0 {
		t.Fatal("no OSV records")
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing %+v", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("extra %+v", k)
		}
	}
}

// TestVunnelFixture checks every (source, issue, release) of vunnel's
// tracker sample: each known release gives one affected entry whose status,
// fixed version and urgency follow the tracker's own fields.
func TestVunnelFixture(t *testing.T) {
	recs := parseFile(t, vunnel)
	byID := map[string]vulndb.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	data, err := os.ReadFile(vunnel)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]map[string]struct {
		Description string
		Releases    json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	entries := 0
	statuses := map[string]int{}
	for source, issues := range raw {
		for id, is := range issues {
			r, ok := byID["DEBIAN-"+id]
			if !ok {
				t.Errorf("%s: no record", id)
				continue
			}
			if is.Description != "" && r.Details != is.Description {
				t.Errorf("%s: details %q", id, r.Details)
			}
			var rels map[string]map[string]any
			if json.Unmarshal(is.Releases, &rels) != nil {
				continue // "releases": [] — no data
			}
			for codename, relAny := range rels {
				rel := map[string]string{}
				for k, v := range relAny {
					if s, ok := v.(string); ok {
						rel[k] = s
					}
				}
				eco, ok := Ecosystem(codename)
				if !ok {
					t.Errorf("%s: unknown code name %s", id, codename)
					continue
				}
				var a *vulndb.Affected
				for i := range r.Affected {
					if r.Affected[i].Package.Ecosystem == eco && r.Affected[i].Package.Name == source {
						a = &r.Affected[i]
					}
				}
				if a == nil {
					t.Errorf("%s %s %s: no affected entry", id, source, eco)
					continue
				}
				entries++
				statuses[a.Status]++
				urgency := strings.TrimRight(rel["urgency"], "*")
				switch {
				case rel["status"] == "resolved" && rel["fixed_version"] == "0":
					if a.Status != vulndb.StatusNotAffected || a.Ranges != nil {
						t.Errorf("%s %s: %+v, want not affected", id, eco, a)
					}
				case rel["status"] == "resolved":
					if a.Status != vulndb.StatusFixed || a.Ranges[0].Events[1].Fixed != rel["fixed_version"] {
						t.Errorf("%s %s: %+v, want fixed in %s", id, eco, a, rel["fixed_version"])
					}
				case urgency == "end-of-life":
					if a.Status != vulndb.StatusEndOfLife {
						t.Errorf("%s %s: %+v, want end-of-life", id, eco, a)
					}
				default:
					if a.Status != vulndb.StatusUnfixed {
						t.Errorf("%s %s: %+v, want unfixed", id, eco, a)
					}
				}
				if urgency != "end-of-life" {
					if len(a.Severity) != 1 || a.Severity[0].Score != urgency || a.Severity[0].Source != "debian" {
						t.Errorf("%s %s: severity %+v, urgency %q", id, eco, a.Severity, rel["urgency"])
					}
				}
			}
		}
	}
	if entries == 0 || statuses[vulndb.StatusFixed] == 0 || statuses[vulndb.StatusNotAffected] == 0 || statuses[vulndb.StatusEndOfLife] == 0 {
		t.Errorf("fixture coverage: %d entries, statuses %v", entries, statuses)
	}
}

// TestStatusRules covers the tracker states the samples lack (nodsa,
// ignored, postponed, undetermined, sid).
func TestStatusRules(t *testing.T) {
	const data = `{"openssl": {"CVE-2024-1": {"description": "d", "scope": "remote", "debianbug": 123, "releases": {
		"bookworm": {"status": "open", "repositories": {"bookworm": "3.0.1"}, "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"},
		"bullseye": {"status": "open", "repositories": {"bullseye": "1.1"}, "urgency": "medium*", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
		"trixie": {"status": "undetermined", "repositories": {"trixie": "3.5"}, "urgency": "not yet assigned"},
		"sid": {"status": "resolved", "repositories": {"sid": "3.5"}, "fixed_version": "3.4-1", "urgency": "unimportant"},
		"experimental": {"status": "resolved", "fixed_version": "3.4-1", "urgency": "low"}
	}}}}`
	recs, err := Parse(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	open := []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}}}}
	sev := func(s string) []vulndb.Severity {
		return []vulndb.Severity{{Type: vulndb.Vendor, Score: s, Source: "debian"}}
	}
	want := []vulndb.Record{{
		ID: "DEBIAN-CVE-2024-1", Aliases: []string{"CVE-2024-1"}, Details: "d",
		References: []vulndb.Reference{
			{Type: "ADVISORY", URL: TrackerURL + "CVE-2024-1"},
			{Type: "REPORT", URL: "https://bugs.debian.org/123"},
		},
		Affected: []vulndb.Affected{
			{Package: vulndb.Package{Ecosystem: "Debian:11", Name: "openssl", PURL: "pkg:deb/debian/openssl?arch=source&distro=bullseye"},
				Status: vulndb.StatusUnfixed, Ranges: open, Severity: sev("medium"), Note: "no-dsa: Minor issue; no-dsa reason: postponed"},
			{Package: vulndb.Package{Ecosystem: "Debian:12", Name: "openssl", PURL: "pkg:deb/debian/openssl?arch=source&distro=bookworm"},
				Status: vulndb.StatusWillNotFix, Ranges: open, Severity: sev("low"), Note: "no-dsa: Minor issue; no-dsa reason: ignored"},
			{Package: vulndb.Package{Ecosystem: "Debian:13", Name: "openssl", PURL: "pkg:deb/debian/openssl?arch=source&distro=trixie"},
				Status: vulndb.StatusUnfixed, Ranges: open, Severity: sev("not yet assigned"), Note: "status: undetermined"},
			{Package: vulndb.Package{Ecosystem: "Debian:sid", Name: "openssl", PURL: "pkg:deb/debian/openssl?arch=source&distro=sid"},
				Status: vulndb.StatusFixed, Ranges: []vulndb.Range{{Type: vulndb.RangeEcosystem, Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "3.4-1"}}}}, Severity: sev("unimportant")},
		},
	}}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"truncated", `{"openssl": {"CVE-2024-1": {"releases": {}}`},
		{"array", `[]`},
		{"bad source", `{"../x": {}}`},
		{"bad id", `{"x": {"CVE 1": {}}}`},
		{"wrong type", `{"x": {"CVE-1": {"releases": {"bookworm": {"status": 1}}}}}`},
		{"trailing", `{} {}`},
	} {
		if _, err := Parse(strings.NewReader(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{vunnel} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	data, err := os.ReadFile(derived)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:bytes.Index(data, []byte(`}}}}, "`))+4])
	f.Add([]byte(`{"openssl": {"CVE-2024-1": {"releases": {"bookworm": {"status": "open", "nodsa_reason": "ignored"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, r := range recs {
			for _, a := range r.Affected {
				if a.Status == "" {
					t.Fatalf("%s: affected entry without status", r.ID)
				}
			}
		}
	})
}
