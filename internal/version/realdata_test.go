package version

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// osvRecords reads every record of an OSV ecosystem archive from the
// shared mirror (records above 4 MiB are a test failure: the mirror holds
// no such records).
func osvRecords(t testing.TB, ecosystem string) []vulndb.Record {
	t.Helper()
	path := filepath.Join(osvMirror, ecosystem, "all.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	var out []vulndb.Record
	for _, f := range zr.File {
		if filepath.Ext(f.Name) != ".json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, 4<<20+1))
		rc.Close()
		if err != nil || len(data) > 4<<20 {
			t.Fatalf("%s: %s: read failed or too large: %v", path, f.Name, err)
		}
		var r vulndb.Record
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", path)
	}
	return out
}

// eventVersions returns the distinct versions named by range events and
// versions lists of records for one ecosystem prefix.
func eventVersions(records []vulndb.Record) []string {
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && s != "0" {
			seen[s] = true
		}
	}
	for _, r := range records {
		for _, a := range r.Affected {
			for _, rg := range a.Ranges {
				if rg.Type == vulndb.RangeGit {
					continue
				}
				for _, e := range rg.Events {
					add(e.Introduced)
					add(e.Fixed)
					add(e.LastAffected)
				}
			}
			for _, v := range a.Versions {
				add(v)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// debianRealVersions returns real Debian versions: the dpkg packages of
// the corpus images and the versions of the Debian 12 OSV records.
func debianRealVersions(t testing.TB) []string {
	t.Helper()
	vs := eventVersions(osvRecords(t, "Debian:12"))
	dirs, err := filepath.Glob(filepath.Join(sharedCorpus, "*", "TRUTH.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range dirs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var truth struct {
			Dpkg struct {
				Packages []struct {
					Version       string `json:"version"`
					SourceVersion string `json:"source_version"`
				} `json:"packages"`
			} `json:"dpkg"`
		}
		if err := json.Unmarshal(data, &truth); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, p := range truth.Dpkg.Packages {
			vs = append(vs, p.Version, p.SourceVersion)
		}
	}
	return vs
}

func pypiRealVersions(t testing.TB) []string {
	t.Helper()
	return eventVersions(osvRecords(t, "PyPI"))
}
