package osv

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drydockscan/drydock/internal/vulndb"
)

const (
	vulndata = "../../../../../shared/vulndata"
	mirror   = vulndata + "/osv-mirror"
	fixtures = vulndata + "/fixtures"
)

func mirrorEcosystems(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(mirror, "ecosystems.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ecos := strings.Fields(string(data))
	if len(ecos) == 0 {
		t.Fatal("ecosystems.txt is empty")
	}
	return ecos
}

// generic is an independent view of an OSV record, decoded without the
// package's types.
type generic map[string]any

func (g generic) str(k string) string { s, _ := g[k].(string); return s }
func (g generic) list(k string) []any { l, _ := g[k].([]any); return l }

// TestReadZipMirror reads every all.zip of the mirror and checks the records
// against the archive listing, the modified_id.csv index and a generic JSON
// decoding of each entry.
func TestReadZipMirror(t *testing.T) {
	for _, eco := range mirrorEcosystems(t) {
		t.Run(eco, func(t *testing.T) {
			path := filepath.Join(mirror, eco, "all.zip")
			zr, err := zip.OpenReader(path)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			want := map[string]generic{}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				var g generic
				if err := json.NewDecoder(rc).Decode(&g); err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				rc.Close()
				if g.str("id")+".json" != f.Name {
					t.Fatalf("entry %s holds id %s", f.Name, g.str("id"))
				}
				want[g.str("id")] = g
			}

			file, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			st, _ := file.Stat()
			got := map[string]vulndb.Record{}
			err = ReadZip(context.Background(), file, st.Size(), Limits{}, func(r vulndb.Record) error {
				got[r.ID] = r
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("ReadZip: %d records, archive has %d", len(got), len(want))
			}
			for id, g := range want {
				compareGeneric(t, g, got[id])
			}

			// The index lists exactly the archive's records, with the
			// modified strings of the records.
			csv, err := os.Open(filepath.Join(mirror, eco, "modified_id.csv"))
			if err != nil {
				t.Fatal(err)
			}
			defer csv.Close()
			idx, err := ParseModifiedIDs(csv, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx) != len(want) {
				t.Errorf("modified_id.csv: %d ids, archive has %d", len(idx), len(want))
			}
			for _, m := range idx {
				g, ok := want[m.ID]
				if !ok {
					t.Errorf("modified_id.csv: %s not in archive", m.ID)
					continue
				}
				if m.Modified != g.str("modified") {
					t.Errorf("modified_id.csv: %s modified %q, record says %q", m.ID, m.Modified, g.str("modified"))
				}
			}
		})
	}
}

// compareGeneric checks a parsed record against the generic decoding of the
// same JSON.
func compareGeneric(t *testing.T, g generic, r vulndb.Record) {
	t.Helper()
	id := g.str("id")
	if r.ID != id {
		t.Errorf("id %q, want %q", r.ID, id)
		return
	}
	strs := func(l []any) []string {
		var out []string
		for _, v := range l {
			out = append(out, v.(string))
		}
		return out
	}
	if diff := cmp.Diff(strs(g.list("aliases")), r.Aliases, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s aliases (-want +got):\n%s", id, diff)
	}
	if (g.str("withdrawn") != "") != !r.Withdrawn.IsZero() {
		t.Errorf("%s: withdrawn %q, parsed %v", id, g.str("withdrawn"), r.Withdrawn)
	}
	if s := g.str("modified"); s != "" && s != "0001-01-01T00:00:00Z" && r.Modified.IsZero() {
		t.Errorf("%s: modified %q lost", id, s)
	}
	if len(g.list("affected")) != len(r.Affected) {
		t.Fatalf("%s: %d affected, want %d", id, len(r.Affected), len(g.list("affected")))
	}
	prefix, _, _ := strings.Cut(id, "-")
	var wantSev []vulndb.Severity
	for _, s := range g.list("severity") {
		m := s.(map[string]any)
		if m["type"] == "Ubuntu" {
			wantSev = append(wantSev, vulndb.Severity{Type: vulndb.Vendor, Score: strings.ToLower(m["score"].(string)), Source: "ubuntu"})
			continue
		}
		wantSev = append(wantSev, vulndb.Severity{Type: m["type"].(string), Score: m["score"].(string), Source: "osv:" + prefix})
	}
	if ds, ok := g["database_specific"].(map[string]any); ok && strings.HasPrefix(id, "GHSA-") {
		if s, ok := ds["severity"].(string); ok {
			wantSev = append(wantSev, vulndb.Severity{Type: vulndb.Vendor, Score: strings.ToLower(s), Source: "ghsa"})
		}
	}
	if diff := cmp.Diff(wantSev, r.Severity, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s severity (-want +got):\n%s", id, diff)
	}
	for i, a := range g.list("affected") {
		am := a.(map[string]any)
		pkg, _ := am["package"].(map[string]any)
		got := r.Affected[i]
		if pkg != nil && (pkg["ecosystem"] != got.Package.Ecosystem || pkg["name"] != got.Package.Name) {
			t.Errorf("%s affected[%d]: package %v, parsed %+v", id, i, pkg, got.Package)
		}
		var wantRanges []vulndb.Range
		for _, rg := range anyList(am["ranges"]) {
			rm := rg.(map[string]any)
			wr := vulndb.Range{Type: rm["type"].(string)}
			if repo, ok := rm["repo"].(string); ok {
				wr.Repo = repo
			}
			for _, e := range anyList(rm["events"]) {
				em := e.(map[string]any)
				var ev vulndb.Event
				for k, v := range em {
					switch k {
					case "introduced":
						ev.Introduced = v.(string)
					case "fixed":
						ev.Fixed = v.(string)
					case "last_affected":
						ev.LastAffected = v.(string)
					case "limit":
						ev.Limit = v.(string)
					}
				}
				wr.Events = append(wr.Events, ev)
			}
			wantRanges = append(wantRanges, wr)
		}
		if _, ok := am["ranges"]; !ok {
			wantRanges = nil
		}
		if diff := cmp.Diff(wantRanges, got.Ranges, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s affected[%d] ranges (-want +got):\n%s", id, i, diff)
		}
		if diff := cmp.Diff(strs(anyList(am["versions"])), got.Versions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s affected[%d] versions (-want +got):\n%s", id, i, diff)
		}
		if _, ok := am["ecosystem_specific"]; ok != (got.EcosystemSpecific != nil) {
			t.Errorf("%s affected[%d]: ecosystem_specific present %v, kept %v", id, i, ok, got.EcosystemSpecific != nil)
		}
	}
}

func anyList(v any) []any { l, _ := v.([]any); return l }

// osvFixtures returns the OSV records among the fixtures: JSON files with an
// "id" and "modified" and no CVE/NVD/CSAF markers.
func osvFixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(fixtures, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var g generic
		if json.Unmarshal(data, &g) != nil {
			return nil
		}
		if _, ok := g["id"].(string); ok {
			if _, ok := g["modified"].(string); ok {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 30 {
		t.Fatalf("only %d OSV fixtures found", len(out))
	}
	sort.Strings(out)
	return out
}

// TestParseFixtures parses the OSV records of the fixtures (osv-schema
// linter records, GHSA and Red Hat conversion outputs, Ubuntu, AlmaLinux,
// Rocky Linux and Chainguard records) and checks them against a generic
// decoding.
func TestParseFixtures(t *testing.T) {
	ecosystems := map[string]bool{}
	ghsa := 0
	for _, p := range osvFixtures(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var g generic
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		r, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		compareGeneric(t, g, r)
		for _, s := range r.Severity {
			if s.Source == "ghsa" {
				ghsa++
			}
		}
		for _, a := range r.Affected {
			ecosystems[vulndb.EcosystemBase(a.Package.Ecosystem)] = true
		}
	}
	if ghsa == 0 {
		t.Error("no fixture record with a GitHub rating")
	}
	for _, want := range []string{"PyPI", "npm", "Maven", "RubyGems", "Go", "Ubuntu", "AlmaLinux", "Rocky Linux", "Red Hat", "Chainguard", "Wolfi", "Alpine"} {
		if !ecosystems[want] {
			t.Errorf("no fixture record for ecosystem %s", want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not json", `{"id": "X-1",`},
		{"no id", `{"modified": "2024-01-01T00:00:00Z"}`},
		{"path in id", `{"id": "../etc/passwd", "modified": "2024-01-01T00:00:00Z"}`},
		{"slash in id", `{"id": "a/b", "modified": "2024-01-01T00:00:00Z"}`},
		{"bad time", `{"id": "X-1", "modified": "yesterday"}`},
		{"bad withdrawn", `{"id": "X-1", "modified": "2024-01-01T00:00:00Z", "withdrawn": "2024-13-01T00:00:00Z"}`},
		{"wrong type", `{"id": "X-1", "affected": "all"}`},
	} {
		if _, err := Parse([]byte(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := Decode(strings.NewReader(`{"id": "X-1", "details": "`+strings.Repeat("a", 100)+`"}`), 50); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized record: error %v", err)
	}
}

// zipOf builds a zip archive from name/content pairs.
func zipOf(t testing.TB, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		f, err := w.Create(e[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(e[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func rec(id string) string {
	return `{"id": "` + id + `", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}`
}

func readAll(data []byte, lim Limits) (int, error) {
	n := 0
	err := ReadZip(context.Background(), bytes.NewReader(data), int64(len(data)), lim, func(vulndb.Record) error {
		n++
		return nil
	})
	return n, err
}

func TestReadZipHostile(t *testing.T) {
	good := zipOf(t, [2]string{"A-1.json", rec("A-1")}, [2]string{"A-2.json", rec("A-2")})
	if n, err := readAll(good, Limits{}); err != nil || n != 2 {
		t.Fatalf("good archive: %d records, %v", n, err)
	}

	// A zip bomb: 64 MiB of zeros deflate to about 64 KiB.
	var bomb bytes.Buffer
	w := zip.NewWriter(&bomb)
	f, _ := w.Create("BOMB-1.json")
	zeros := make([]byte, 1<<20)
	for range 64 {
		f.Write(zeros)
	}
	w.Close()

	// An entry whose header understates its size.
	var liar bytes.Buffer
	w = zip.NewWriter(&liar)
	content := []byte(rec("L-1") + strings.Repeat(" ", 10000))
	var deflated bytes.Buffer
	{
		zw := zip.NewWriter(&deflated)
		ff, _ := zw.Create("x")
		ff.Write(content)
		zw.Close()
	}
	zr, _ := zip.NewReader(bytes.NewReader(deflated.Bytes()), int64(deflated.Len()))
	raw, _ := zr.File[0].OpenRaw()
	hdr := zr.File[0].FileHeader
	hdr.Name = "L-1.json"
	hdr.UncompressedSize64 = 100
	rw, _ := w.CreateRaw(&hdr)
	var rawBytes bytes.Buffer
	rawBytes.ReadFrom(raw)
	rw.Write(rawBytes.Bytes())
	w.Close()

	// A corrupted entry: flip a byte of the compressed data.
	corrupt := bytes.Clone(good)
	corrupt[40] ^= 0xff

	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want string
	}{
		{"parent path", zipOf(t, [2]string{"../A-1.json", rec("A-1")}), Limits{}, "not a plain"},
		{"sub directory", zipOf(t, [2]string{"dir/A-1.json", rec("A-1")}), Limits{}, "not a plain"},
		{"absolute", zipOf(t, [2]string{"/A-1.json", rec("A-1")}), Limits{}, "not a plain"},
		{"backslash", zipOf(t, [2]string{`..\A-1.json`, rec("A-1")}), Limits{}, "not a plain"},
		{"not json", zipOf(t, [2]string{"README", "hello"}), Limits{}, "not a plain"},
		{"too many entries", good, Limits{MaxEntries: 1}, "entries"},
		{"zip bomb", bomb.Bytes(), Limits{MaxEntrySize: 1 << 20}, "limit"},
		{"lying header", liar.Bytes(), Limits{MaxEntrySize: 1000}, `"L-1.json"`},
		{"total size", good, Limits{MaxTotalSize: 300}, "in total"},
		{"duplicate id", zipOf(t, [2]string{"A-1.json", rec("A-1")}, [2]string{"B-1.json", rec("A-1")}), Limits{}, "duplicate"},
		{"bad json", zipOf(t, [2]string{"A-1.json", `{"id": "A-1"`}), Limits{}, `"A-1.json"`},
		{"truncated", good[:len(good)-30], Limits{}, "zip"},
		{"corrupt", corrupt, Limits{}, `"A-1.json"`},
		{"empty", nil, Limits{}, "zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.data, tc.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseModifiedIDsErrors(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"no comma", "2024-01-01T00:00:00Z A-1\n"},
		{"bad id", "2024-01-01T00:00:00Z,../x\n"},
		{"empty modified", ",A-1\n"},
		{"long line", "2024-01-01T00:00:00Z," + strings.Repeat("A", 5000) + "\n"},
	} {
		if _, err := ParseModifiedIDs(strings.NewReader(tc.data), 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := ParseModifiedIDs(strings.NewReader("a,A-1\nb,A-2\nc,A-3\n"), 2); err == nil {
		t.Error("line cap not enforced")
	}
	got, err := ParseModifiedIDs(strings.NewReader("b,A-1\n\na,A-1\nc,B-2\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ModifiedID{{"b", "A-1"}, {"c", "B-2"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range osvFixtures(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !ValidID(r.ID) {
			t.Fatalf("accepted id %q", r.ID)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("parsed record does not marshal: %v", err)
		}
	})
}

func FuzzReadZip(f *testing.F) {
	f.Add(zipOf(f, [2]string{"A-1.json", rec("A-1")}, [2]string{"A-2.json", rec("A-2")}))
	f.Add(zipOf(f, [2]string{"../A-1.json", rec("A-1")}))
	fixturesData := osvFixtures(f)
	var entries [][2]string
	for i, p := range fixturesData {
		data, _ := os.ReadFile(p)
		entries = append(entries, [2]string{filepath.Base(p), string(data)})
		if i == 5 {
			break
		}
	}
	f.Add(zipOf(f, entries...))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxEntries: 100, MaxEntrySize: 1 << 20, MaxTotalSize: 4 << 20}
		ids := map[string]bool{}
		err := ReadZip(context.Background(), bytes.NewReader(data), int64(len(data)), lim, func(r vulndb.Record) error {
			if ids[r.ID] {
				t.Fatalf("duplicate id %s delivered", r.ID)
			}
			ids[r.ID] = true
			return nil
		})
		if err == nil && len(ids) > lim.MaxEntries {
			t.Fatalf("%d records, limit %d", len(ids), lim.MaxEntries)
		}
	})
}

func BenchmarkReadZip(b *testing.B) {
	path := filepath.Join(mirror, "PyPI", "all.zip")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := readAll(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
