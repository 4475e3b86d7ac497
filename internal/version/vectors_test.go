package version

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Shared test data lives beside the repository.
const (
	scalibrVectors  = "../../../shared/vulndata/fixtures/osv-scalibr/semantic/testdata"
	claircoreRPM    = "../../../shared/vulndata/fixtures/claircore/internal/rpmver/testdata"
	claircoreMaven  = "../../../shared/vulndata/fixtures/claircore/internal/maven/testdata"
	osvMirror       = "../../../shared/vulndata/osv-mirror"
	sharedCorpus    = "../../../shared/corpus"
	vectorFileLimit = 64 << 20
)

// vector is one line "a op b" of a comparison fixture.
type vector struct {
	file string
	line int
	a, b string
	want int // -1, 0, +1
	text string
}

// readVectors reads a fixture of "a op b" lines; '#' and '//' start
// comment lines, blank lines are skipped. Ops are <, >, = and ==.
func readVectors(t testing.TB, path string) []vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open vectors: %v", err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("%s:%d: malformed vector %q", path, n, line)
		}
		var want int
		switch fields[1] {
		case "<":
			want = -1
		case ">":
			want = 1
		case "=", "==":
			want = 0
		default:
			t.Fatalf("%s:%d: unknown operator in %q", path, n, line)
		}
		out = append(out, vector{file: filepath.Base(path), line: n, a: fields[0], b: fields[2], want: want, text: line})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", path)
	}
	return out
}

// disagreement is a vector line this package is known to order
// differently, with the reason.
type disagreement struct {
	text   string // the vector line, exactly
	reason string
	// invalid is set when the disagreement is that one side is rejected.
	invalid bool
}

// checkVectors runs every vector through c, in both orientations, and
// fails on any line that is neither passing nor listed in known (and on
// any listed line that passes: the list must stay exact).
func checkVectors(t *testing.T, c Comparer, files []string, known []disagreement) (pass int) {
	t.Helper()
	knownBy := map[string]disagreement{}
	for _, k := range known {
		knownBy[k.text] = k
	}
	seen := map[string]bool{}
	for _, path := range files {
		for _, v := range readVectors(t, path) {
			got, err := c.Compare(v.a, v.b)
			var rev int
			var errRev error
			if err == nil {
				rev, errRev = c.Compare(v.b, v.a)
			}
			ok := err == nil && errRev == nil && got == v.want && rev == -v.want
			k, isKnown := knownBy[v.text]
			switch {
			case ok && isKnown:
				t.Errorf("%s:%d: %q is listed as a known disagreement (%s) but passes", v.file, v.line, v.text, k.reason)
			case ok:
				pass++
			case isKnown:
				seen[v.text] = true
				if k.invalid != (err != nil) {
					t.Errorf("%s:%d: %q: known disagreement expects invalid=%v, got err=%v result=%d", v.file, v.line, v.text, k.invalid, err, got)
				}
				if err != nil && !errors.Is(err, ErrInvalid) {
					t.Errorf("%s:%d: error %v does not wrap ErrInvalid", v.file, v.line, err)
				}
			case err != nil:
				t.Errorf("%s:%d: %q: %v", v.file, v.line, v.text, err)
			default:
				t.Errorf("%s:%d: %q: Compare = %d, reversed %d (err %v), want %d", v.file, v.line, v.text, got, rev, errRev, v.want)
			}
		}
	}
	for _, k := range known {
		if !seen[k.text] {
			t.Errorf("known disagreement %q not found in the vectors", k.text)
		}
	}
	t.Logf("%d vectors pass, %d known disagreements", pass, len(known))
	return pass
}

func scalibr(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(scalibrVectors, n))
	}
	return out
}

func TestVectorsDebian(t *testing.T) {
	checkVectors(t, Dpkg{}, scalibr("debian-versions.txt", "debian-versions-generated.txt"), nil)
}

func TestVectorsAlpine(t *testing.T) {
	checkVectors(t, APK{}, scalibr("alpine-versions.txt", "alpine-versions-generated.txt"), knownAlpine)
}

func TestVectorsRedHat(t *testing.T) {
	checkVectors(t, RPM{}, append(scalibr("redhat-versions.txt"), filepath.Join(claircoreRPM, "rpmvercmp")), nil)
}

func TestVectorsPyPI(t *testing.T) {
	checkVectors(t, PEP440{}, scalibr("pypi-versions.txt", "pypi-versions-generated.txt"), knownPyPI)
}

func TestVectorsMaven(t *testing.T) {
	checkVectors(t, Maven{}, append(scalibr("maven-versions.txt", "maven-versions-generated.txt"), filepath.Join(claircoreMaven, "compare.list")), knownMaven)
}

func TestVectorsPackagist(t *testing.T) {
	checkVectors(t, Composer{}, scalibr("packagist-versions.txt", "packagist-versions-generated.txt"), knownPackagist)
}

func TestVectorsRubyGems(t *testing.T) {
	checkVectors(t, RubyGems{}, scalibr("rubygems-versions.txt", "rubygems-versions-generated.txt"), knownRubyGems)
}

func TestVectorsNuGet(t *testing.T) {
	checkVectors(t, NuGet{}, scalibr("nuget-versions.txt"), nil)
}

func TestVectorsSemVer(t *testing.T) {
	checkVectors(t, SemVer{}, scalibr("semver-versions.txt"), knownSemVer)
}
