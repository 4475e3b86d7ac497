package version

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests compare the comparers with the ecosystems' own tools when
// they are installed (dpkg, rpm, Python's packaging, Ruby, PHP, Maven's
// maven-artifact jar), over the fixture vectors' versions and real
// version strings. Each skips, saying why, when its tool is absent.

// pair is two versions to compare.
type pair struct{ a, b string }

// vectorPairs returns the pairs of the given vector files.
func vectorPairs(t *testing.T, files ...string) []pair {
	var out []pair
	for _, f := range files {
		for _, v := range readVectors(t, f) {
			out = append(out, pair{v.a, v.b})
		}
	}
	return out
}

// randomPairs draws n pairs from pool with a fixed seed.
func randomPairs(pool []string, n int) []pair {
	if len(pool) < 2 {
		return nil
	}
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]pair, 0, n)
	for range n {
		out = append(out, pair{pool[r.IntN(len(pool))], pool[r.IntN(len(pool))]})
	}
	return out
}

func uniqueVersions(ps []pair) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ps {
		for _, s := range []string{p.a, p.b} {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// runTool runs a command with stdin and returns its output lines.
func runTool(t *testing.T, stdin string, name string, args ...string) []string {
	t.Helper()
	out, err := runToolErr(stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runToolErr(stdin string, name string, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, stderr.String())
	}
	return strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n"), nil
}

// oracleResult parses "-1", "0", "1" (or any signed integer) or "E"
// (rejected) from a tool.
func oracleResult(t *testing.T, s string) (int, bool) {
	t.Helper()
	if s == "E" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("oracle output %q", s)
	}
	return sign(n), true
}

// compareWithOracle checks c against the oracle's answers for pairs. A
// pair counts as agreeing when both reject it (some side invalid) or both
// order it the same way.
func compareWithOracle(t *testing.T, c Comparer, pairs []pair, answers []string) {
	t.Helper()
	if len(answers) != len(pairs) {
		t.Fatalf("oracle gave %d answers for %d pairs", len(answers), len(pairs))
	}
	agree, bad := 0, 0
	for i, p := range pairs {
		want, wantOK := oracleResult(t, answers[i])
		got, err := c.Compare(p.a, p.b)
		switch {
		case !wantOK && err != nil:
			agree++
		case !wantOK:
			bad++
			t.Errorf("%q vs %q: oracle rejects, Compare = %d", p.a, p.b, got)
		case err != nil:
			bad++
			t.Errorf("%q vs %q: oracle says %d, Compare: %v", p.a, p.b, want, err)
		case got != want:
			bad++
			t.Errorf("%q vs %q: oracle says %d, Compare = %d", p.a, p.b, want, got)
		default:
			agree++
		}
		if bad > 50 {
			t.Fatal("too many disagreements")
		}
	}
	t.Logf("%d pairs agree with the oracle", agree)
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed; skipping the comparison with it", name)
	}
	return path
}

// dpkgScript answers, for each tab-separated pair on stdin, how dpkg
// orders it (E when dpkg rejects a version).
const dpkgScript = `while IFS="$(printf '\t')" read -r a b; do
	if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo -1
	elif dpkg --compare-versions "$a" gt "$b" 2>/dev/null; then echo 1
	elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0
	else echo E; fi
done`

// runDpkg asks dpkg about every pair, in two shells at once (each dpkg run
// costs milliseconds).
func runDpkg(t *testing.T, pairs []pair) []string {
	const workers = 2
	chunks := make([][]string, workers)
	errs := make([]error, workers)
	done := make(chan struct{}, workers)
	size := (len(pairs) + workers - 1) / workers
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			lo, hi := min(w*size, len(pairs)), min((w+1)*size, len(pairs))
			if lo == hi {
				return
			}
			var in strings.Builder
			for _, p := range pairs[lo:hi] {
				fmt.Fprintf(&in, "%s\t%s\n", p.a, p.b)
			}
			chunks[w], errs[w] = runToolErr(in.String(), "sh", "-c", dpkgScript)
		}()
	}
	for range workers {
		<-done
	}
	var out []string
	for w, c := range chunks {
		if errs[w] != nil {
			t.Fatal(errs[w])
		}
		out = append(out, c...)
	}
	return out
}

// TestDpkgOracle compares Dpkg with dpkg --compare-versions over the
// hand-written Debian vectors, every 8th line of the generated ones, and
// random pairs of real versions (the corpus images' packages and the
// Debian 12 OSV records).
func TestDpkgOracle(t *testing.T) {
	needTool(t, "dpkg")
	pairs := vectorPairs(t, scalibr("debian-versions.txt")...)
	for i, p := range vectorPairs(t, scalibr("debian-versions-generated.txt")...) {
		if i%8 == 0 {
			pairs = append(pairs, p)
		}
	}
	real := debianRealVersions(t)
	n := 2000
	if testing.Short() {
		pairs, n = pairs[:100], 100
	}
	pairs = append(pairs, randomPairs(real, n)...)
	compareWithOracle(t, Dpkg{}, pairs, runDpkg(t, pairs))
	t.Logf("%d real versions to draw from", len(real))
}

// TestDpkgOracleInvalid checks that dpkg and Dpkg reject the same malformed
// versions.
func TestDpkgOracleInvalid(t *testing.T) {
	needTool(t, "dpkg")
	// Malformed versions of each kind dpkg's parseversion rejects, and some
	// it only warns about.
	versions := []string{"1:", ":1", "a:1", "-1:2", "1.0-", "1:-1", "1 2", "99999999999:1", "2147483647:1", "2147483648:1",
		"a1.0", "1.0_x", "1.0-a_b", " 1.0", "1.0 ", "1:2:3", "1.0-1-2", "~1", "1.0~~", "+1:2"}
	var pairs []pair
	for _, v := range versions {
		pairs = append(pairs, pair{v, "1.0"})
	}
	compareWithOracle(t, Dpkg{}, pairs, runDpkg(t, pairs))
}

func TestRPMOracle(t *testing.T) {
	needTool(t, "rpm")
	pairs := vectorPairs(t, append(scalibr("redhat-versions.txt"), claircoreRPM+"/rpmvercmp")...)
	pairs = append(pairs, randomPairs(uniqueVersions(pairs), 2000)...)
	// Each rpm process evaluates a batch of comparisons in Lua (an
	// argument may not exceed 128 KiB); Lua long brackets need no escaping.
	var out []string
	for start := 0; start < len(pairs); start += 1000 {
		var lua strings.Builder
		for _, p := range pairs[start:min(start+1000, len(pairs))] {
			if strings.Contains(p.a+p.b, "]==]") || p.a == "" || p.b == "" {
				t.Fatalf("pair %q cannot be quoted for Lua", p)
			}
			fmt.Fprintf(&lua, "print(rpm.vercmp([==[%s]==], [==[%s]==]) .. \"\\n\")\n", p.a, p.b)
		}
		out = append(out, runTool(t, "", "rpm", "--eval", "%{lua:\n"+lua.String()+"}")...)
	}
	compareWithOracle(t, RPM{}, pairs, out)
}

// python3 with the packaging library (Debian's python3-packaging).
func pythonPackaging(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil {
			if exec.Command(path, "-c", "import packaging.version").Run() == nil {
				return path
			}
		}
	}
	t.Skip("python3 with the packaging library is not installed (apt-get install python3-packaging); skipping")
	return ""
}

const pythonCompare = `
import sys
from packaging.version import Version, InvalidVersion
def parse(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    x, y = parse(a), parse(b)
    print("E" if x is None or y is None else (x > y) - (x < y))
`

func TestPEP440Oracle(t *testing.T) {
	py := pythonPackaging(t)
	pairs := vectorPairs(t, scalibr("pypi-versions.txt", "pypi-versions-generated.txt")...)
	pool := append(uniqueVersions(pairs), pypiRealVersions(t)...)
	pairs = append(pairs, randomPairs(pool, 20000)...)
	// Every version against itself: validity agrees.
	for _, v := range pool {
		pairs = append(pairs, pair{v, v})
	}
	var in strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&in, "%s\t%s\n", p.a, p.b)
	}
	compareWithOracle(t, PEP440{}, pairs, runTool(t, in.String(), py, "-c", pythonCompare))
}

const rubyCompare = `
STDIN.each_line do |l|
  a, b = l.chomp.split("\t", 2)
  begin
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  rescue ArgumentError
    puts "E"
  end
end
`

func TestRubyGemsOracle(t *testing.T) {
	ruby := needTool(t, "ruby")
	pairs := vectorPairs(t, scalibr("rubygems-versions.txt", "rubygems-versions-generated.txt")...)
	pool := uniqueVersions(pairs)
	pairs = append(pairs, randomPairs(pool, 5000)...)
	for _, v := range pool {
		pairs = append(pairs, pair{v, v})
	}
	var in strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&in, "%s\t%s\n", p.a, p.b)
	}
	compareWithOracle(t, RubyGems{}, pairs, runTool(t, in.String(), ruby, "-e", rubyCompare))
}

const phpCompare = `while (($l = fgets(STDIN)) !== false) { [$a, $b] = explode("\t", rtrim($l, "\n"), 2); echo version_compare($a, $b), "\n"; }`

// TestComposerOracle compares with PHP's version_compare. Pairs with a
// number above 2^63-1 are left out (PHP saturates them, Composer compares
// exactly), and so are versions Composer rejects (PHP orders them
// inconsistently); the leading "v" is dropped before PHP sees them, as
// Composer's normalisation does.
func TestComposerOracle(t *testing.T) {
	php := needTool(t, "php")
	pairs := vectorPairs(t, scalibr("packagist-versions.txt", "packagist-versions-generated.txt")...)
	pairs = append(pairs, randomPairs(uniqueVersions(pairs), 5000)...)
	var kept []pair
	var in strings.Builder
	for _, p := range pairs {
		if hugeNumber(p.a) || hugeNumber(p.b) || Validate(Composer{}, p.a) != nil || Validate(Composer{}, p.b) != nil {
			continue
		}
		kept = append(kept, p)
		fmt.Fprintf(&in, "%s\t%s\n", stripComposerV(p.a), stripComposerV(p.b))
	}
	compareWithOracle(t, Composer{}, kept, runTool(t, in.String(), php, "-r", phpCompare))
}

// hugeNumber reports whether s has a run of more than 18 digits.
func hugeNumber(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			run++
			if run > 18 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

const mavenJar = "/usr/share/java/maven-artifact-3.x.jar"

// TestMavenOracle compares with Maven's own ComparableVersion (Debian's
// maven-artifact jar, libmaven3-core-java), whose main prints how each
// argument compares with the previous one.
func TestMavenOracle(t *testing.T) {
	java := needTool(t, "java")
	if err := exec.Command(java, "-cp", mavenJar, "org.apache.maven.artifact.versioning.ComparableVersion", "1").Run(); err != nil {
		t.Skipf("%s is not usable (apt-get install libmaven3-core-java): %v", mavenJar, err)
	}
	files := append(scalibr("maven-versions.txt", "maven-versions-generated.txt"), claircoreMaven+"/compare.list")
	pairs := vectorPairs(t, files...)
	pairs = append(pairs, randomPairs(uniqueVersions(pairs), 5000)...)
	var answers []string
	const batch = 2000
	for start := 0; start < len(pairs); start += batch {
		chunk := pairs[start:min(start+batch, len(pairs))]
		args := []string{"-cp", mavenJar, "org.apache.maven.artifact.versioning.ComparableVersion"}
		for _, p := range chunk {
			args = append(args, p.a, p.b)
		}
		var cmpLines []string
		for _, l := range runTool(t, "", java, args...) {
			if strings.HasPrefix(l, "   ") {
				cmpLines = append(cmpLines, l)
			}
		}
		// Comparison k is between arguments k and k+1; pair i is 2i, 2i+1.
		if len(cmpLines) != 2*len(chunk)-1 {
			t.Fatalf("maven printed %d comparisons for %d arguments", len(cmpLines), 2*len(chunk))
		}
		for i, p := range chunk {
			l := cmpLines[2*i]
			rest, ok := strings.CutPrefix(strings.TrimPrefix(l, "   "), p.a+" ")
			if !ok {
				t.Fatalf("unexpected maven output %q for %q", l, p.a)
			}
			op, _, _ := strings.Cut(rest, " ")
			answers = append(answers, map[string]string{"<": "-1", "==": "0", ">": "1"}[op])
		}
	}
	compareWithOracle(t, Maven{}, pairs, answers)
}
