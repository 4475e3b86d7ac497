package cvss

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// testdata holds claircore's CVSS vector lists (upstream test vectors).
const testdata = "../../../shared/vulndata/fixtures/claircore/toolkit/types/cvss/testdata"

type listLine struct {
	fields  []string
	comment string
	line    int
}

// readList reads one of claircore's .list files: whitespace-separated
// fields, "#" starts a comment, blank lines skipped.
func readList(t *testing.T, name string) []listLine {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []listLine
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l, c, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(l)
		if len(fs) == 0 {
			continue
		}
		out = append(out, listLine{fields: fs, comment: strings.TrimSpace(c), line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return out
}

// TestScoreLists checks the score of every vector in claircore's score lists,
// which give the score with every metric group of the vector applied.
func TestScoreLists(t *testing.T) {
	for _, tc := range []struct {
		file    string
		version Version
	}{
		{"v2_score.list", V2},
		{"v30_score.list", V30},
		{"v31_score.list", V31},
		{"v4_score.list", V40},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, l := range readList(t, tc.file) {
				if len(l.fields) != 2 {
					t.Fatalf("line %d: want vector and score, got %q", l.line, l.fields)
				}
				want, err := strconv.ParseFloat(l.fields[1], 64)
				if err != nil {
					t.Fatalf("line %d: %v", l.line, err)
				}
				got, err := Parse(l.fields[0])
				if err != nil {
					t.Errorf("line %d: Parse(%q): %v", l.line, l.fields[0], err)
					continue
				}
				if got.Version != tc.version {
					t.Errorf("line %d: version %s, want %s", l.line, got.Version, tc.version)
				}
				if got.Score != want {
					t.Errorf("line %d: Parse(%q).Score = %v, want %v (%s)", l.line, l.fields[0], got.Score, want, l.comment)
				}
				if got.Rating != Rating(tc.version, want) {
					t.Errorf("line %d: rating %q", l.line, got.Rating)
				}
			}
		})
	}
}

// TestErrorLists checks claircore's error lists: lines commented "OK" are
// valid vectors, every other line must be rejected.
func TestErrorLists(t *testing.T) {
	for _, file := range []string{"v2_error.list", "v3_error.list", "v4_error.list"} {
		t.Run(file, func(t *testing.T) {
			for _, l := range readList(t, file) {
				vec := strings.Join(l.fields, " ")
				s, err := Parse(vec)
				ok := l.comment == "OK"
				// Each list tests one version's parser: a valid vector of
				// another version counts as rejected.
				if err == nil && file == "v4_error.list" && s.Version != V40 {
					err = ErrVector
				}
				if ok && err != nil {
					t.Errorf("line %d: Parse(%q): %v, want success", l.line, vec, err)
				}
				if !ok {
					if err == nil {
						t.Errorf("line %d: Parse(%q) succeeded, want error", l.line, vec)
					} else if !errors.Is(err, ErrVector) {
						t.Errorf("line %d: error %v does not wrap ErrVector", l.line, err)
					}
				}
			}
		})
	}
}

// TestRoundtripLists checks, for each vector of claircore's round-trip
// lists, that the canonical vector defines the same metrics with the same
// values in the same order (it may leave out or add metrics marked not
// defined, X or ND) and parses to the same scores.
func TestRoundtripLists(t *testing.T) {
	defined := func(vec string) []string {
		var out []string
		for _, m := range strings.Split(vec, "/") {
			if !strings.HasSuffix(m, ":X") && !strings.HasSuffix(m, ":ND") {
				out = append(out, m)
			}
		}
		return out
	}
	for _, file := range []string{"v2_roundtrip.list", "v3_roundtrip.list", "v4_roundtrip.list"} {
		t.Run(file, func(t *testing.T) {
			for _, l := range readList(t, file) {
				s, err := Parse(l.fields[0])
				if err != nil {
					t.Errorf("line %d: %v", l.line, err)
					continue
				}
				if diff := cmp.Diff(defined(l.fields[0]), defined(s.Vector)); diff != "" {
					t.Errorf("line %d: canonical vector %q defines other metrics (-want +got):\n%s", l.line, s.Vector, diff)
				}
				again, err := Parse(s.Vector)
				if err != nil || again != s {
					t.Errorf("line %d: reparse = %+v, %v; want %+v", l.line, again, err, s)
				}
			}
		})
	}
}

// TestBaseScore checks that Base ignores temporal/threat and environmental
// metrics: claircore's v2 list gives, for each vector with extra groups, the
// base-only vector first.
func TestBaseScore(t *testing.T) {
	for _, l := range readList(t, "v2_score.list") {
		vec := l.fields[0]
		base := strings.Join(strings.Split(vec, "/")[:6], "/")
		want, err := Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(vec)
		if err != nil {
			t.Fatal(err)
		}
		if got.Base != want.Score {
			t.Errorf("%s: Base = %v, want %v (score of %s)", vec, got.Base, want.Score, base)
		}
	}
	for _, l := range readList(t, "v4_score.list") {
		vec := l.fields[0]
		base := strings.Join(strings.Split(vec, "/")[:12], "/")
		want, err := Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(vec)
		if err != nil {
			t.Fatal(err)
		}
		if got.Base != want.Score {
			t.Errorf("%s: Base = %v, want %v (score of %s)", vec, got.Base, want.Score, base)
		}
	}
}

func TestFromSeverity(t *testing.T) {
	for _, tc := range []struct {
		sev     vulndb.Severity
		wantErr bool
	}{
		{vulndb.Severity{Type: vulndb.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, false},
		{vulndb.Severity{Type: vulndb.CVSSv3, Score: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, false},
		{vulndb.Severity{Type: vulndb.CVSSv2, Score: "AV:N/AC:L/Au:N/C:P/I:P/A:P"}, false},
		{vulndb.Severity{Type: vulndb.CVSSv4, Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}, false},
		{vulndb.Severity{Type: vulndb.CVSSv4, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, true},
		{vulndb.Severity{Type: vulndb.CVSSv2, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, true},
		{vulndb.Severity{Type: vulndb.Vendor, Score: "high"}, true},
	} {
		_, err := FromSeverity(tc.sev)
		if (err != nil) != tc.wantErr {
			t.Errorf("FromSeverity(%+v) error = %v, want error %v", tc.sev, err, tc.wantErr)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"v2_score.list", "v30_score.list", "v31_score.list", "v4_score.list", "v2_error.list", "v3_error.list", "v4_error.list"} {
		data, err := os.ReadFile(filepath.Join(testdata, file))
		if err != nil {
			f.Fatal(err)
		}
		for l := range strings.SplitSeq(string(data), "\n") {
			l, _, _ = strings.Cut(l, "#")
			if fs := strings.Fields(l); len(fs) > 0 {
				f.Add(fs[0])
			}
		}
	}
	f.Fuzz(func(t *testing.T, vector string) {
		s, err := Parse(vector)
		if err != nil {
			if !errors.Is(err, ErrVector) {
				t.Fatalf("error %v does not wrap ErrVector", err)
			}
			return
		}
		if s.Score < 0 || s.Score > 10 || s.Base < 0 || s.Base > 10 || s.Rating == "" {
			t.Fatalf("Parse(%q) = %+v", vector, s)
		}
		again, err := Parse(s.Vector)
		if err != nil || again != s {
			t.Fatalf("Parse(%q) = %+v; reparse of canonical vector = %+v, %v", vector, s, again, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	vectors := []string{
		"AV:N/AC:L/Au:N/C:P/I:P/A:P",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	}
	for b.Loop() {
		for _, v := range vectors {
			if _, err := Parse(v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
