package cidocs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

// repoRoot is the repository, relative to this package.
var repoRoot = filepath.Join("..", "..")

// tmpRoot holds what the tests share: the built binary, the go stand-in,
// the seeded database. Made and removed by TestMain.
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drydock-cidocs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is what running an example needs.
type env struct {
	// drydockDir holds the drydock binary; shimDir the go stand-in.
	drydockDir, shimDir string
	binary              string
	seedDB              string
	mirror              string
	// image is the OCI layout of the corpus image the examples scan.
	image string
}

var (
	setupOnce sync.Once
	setupEnv  *env
	setupErr  error
)

// goShim stands in for the go command in the examples, which cannot fetch
// drydock from the network here: "go install" of drydock copies the binary
// the test built to where go install would put it.
const goShim = `#!/usr/bin/env bash
set -euo pipefail
gopath="${GOPATH:-$HOME/go}"
case "$*" in
"env GOPATH") echo "$gopath" ;;
"install github.com/drydockscan/drydock/cmd/drydock@"?*)
  dest="${GOBIN:-$gopath/bin}"
  mkdir -p "$dest"
  cp "$DRYDOCK_TEST_BINARY" "$dest/drydock"
  ;;
*) echo "go (test stand-in): unexpected arguments: $*" >&2; exit 1 ;;
esac
`

// setup builds drydock once and imports the offline vulnerability data
// into a seed database.
func setup(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds drydock and runs the CI examples")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	shared, err := filepath.Abs(filepath.Join(repoRoot, "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(shared, "vulndata", "osv-mirror")
	image := filepath.Join(shared, "corpus", "debian12-app", "oci")
	for _, p := range []string{mirror, image} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("test data missing: %v", err)
		}
	}
	setupOnce.Do(func() {
		e := &env{
			drydockDir: filepath.Join(tmpRoot, "bin"),
			shimDir:    filepath.Join(tmpRoot, "shim"),
			seedDB:     filepath.Join(tmpRoot, "seed", "drydock.db"),
			mirror:     mirror,
			image:      image,
		}
		e.binary = filepath.Join(e.drydockDir, "drydock")
		setupErr = e.build()
		setupEnv = e
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return setupEnv
}

func (e *env) build() error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building drydock: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", e.binary, "./cmd/drydock")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/drydock: %v\n%s", err, out)
	}
	if err := os.MkdirAll(e.shimDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.shimDir, "go"), []byte(goShim), 0o755); err != nil {
		return err
	}
	cmd = exec.CommandContext(ctx, e.binary, "db", "import", e.mirror, "--db-path", e.seedDB, "-q")
	cmd.Env = []string{"HOME=" + tmpRoot, "PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("drydock db import %s: %v\n%s", e.mirror, err, out)
	}
	return nil
}

// runner runs the shell steps of one example in a fresh work directory
// and home, the way a CI runner would: each step a bash script with
// -e -o pipefail, sharing the directory and the environment.
type runner struct {
	t    *testing.T
	e    *env
	work string
	home string
	// vars is the environment of every step; path the directories put
	// before the system ones.
	vars map[string]string
	path []string
}

// newRunner prepares a work directory holding the docs' ci-file blocks
// (the repository the pipeline checks out) and a home whose default
// database is a copy of the seed.
func newRunner(t *testing.T, e *env, files []block, withDrydock bool) *runner {
	t.Helper()
	dir := t.TempDir()
	r := &runner{
		t:    t,
		e:    e,
		work: filepath.Join(dir, "work"),
		home: filepath.Join(dir, "home"),
		vars: map[string]string{
			"TMPDIR": filepath.Join(dir, "tmp"),
			// Stand-ins for the network: the feeds come from the local
			// mirror, nothing else is fetched.
			"DRYDOCK_OFFLINE":     "true",
			"DRYDOCK_DB_MIRROR":   e.mirror,
			"DRYDOCK_TEST_BINARY": e.binary,
			"IMAGE":               e.image,
		},
		path: []string{e.shimDir},
	}
	r.vars["HOME"] = r.home
	if withDrydock {
		r.path = append(r.path, e.drydockDir)
	}
	for _, d := range []string{r.work, r.home, r.vars["TMPDIR"]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, e.seedDB, filepath.Join(r.home, ".cache", "drydock", "db", "drydock.db"))
	for _, f := range files {
		p := filepath.Join(r.work, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// run runs one step and returns its exit code and output. extra adds to
// (and overrides) the runner's environment.
func (r *runner) run(name, script string, extra map[string]string) (int, string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = r.work
	vars := map[string]string{}
	for k, v := range r.vars {
		vars[k] = v
	}
	for k, v := range extra {
		vars[k] = v
	}
	vars["PATH"] = strings.Join(append(append([]string{}, r.path...), "/usr/local/bin", "/usr/bin", "/bin"), ":")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		r.t.Fatalf("step %q: %v", name, err)
	}
	r.t.Logf("step %q: exit %d\n%s", name, code, indent(out.String()))
	return code, out.String()
}

func indent(s string) string {
	if len(s) > 4000 {
		s = s[:2000] + "\n…\n" + s[len(s)-2000:]
	}
	return "    | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    | ")
}

// scanStep reports whether a script runs a scan, whose exit code may be
// the gate's.
func scanStep(script string) bool {
	return regexp.MustCompile(`drydock"? image\b|"\$\{args\[@\]\}"`).MatchString(script)
}

// checkCode fails the test unless code is right for the step: 0, or for a
// scan step also the gate-failure code 1 (the images of the corpus have
// findings; whether they reach --fail-on depends on the database).
func (r *runner) checkCode(name, script string, code int) {
	r.t.Helper()
	if code == 0 || (code == 1 && scanStep(script)) {
		return
	}
	r.t.Errorf("step %q exited %d", name, code)
}

func (r *runner) file(rel string) string {
	return filepath.Join(r.work, filepath.FromSlash(rel))
}

func (r *runner) read(rel string) []byte {
	r.t.Helper()
	b, err := os.ReadFile(r.file(rel))
	if err != nil {
		r.t.Errorf("report not written: %v", err)
		return nil
	}
	return b
}

// checkSARIF checks a SARIF report against the SARIF 2.1.0 schema.
func (r *runner) checkSARIF(rel string) {
	r.t.Helper()
	if b := r.read(rel); b != nil {
		schematest.Validate(r.t, "sarif-2.1.0/sarif-schema-2.1.0.json", b)
	}
}

// checkGitLab checks a GitLab container-scanning report against its schema.
func (r *runner) checkGitLab(rel string) {
	r.t.Helper()
	if b := r.read(rel); b != nil {
		schematest.Validate(r.t, "gitlab/15.2.1/container-scanning-report-format.json", b)
	}
}

// checkJUnit checks that a JUnit report parses and holds test suites.
func (r *runner) checkJUnit(rel string) {
	r.t.Helper()
	b := r.read(rel)
	if b == nil {
		return
	}
	var doc struct {
		XMLName xml.Name
		Suites  []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		r.t.Errorf("%s: not XML: %v", rel, err)
		return
	}
	if doc.XMLName.Local != "testsuites" || len(doc.Suites) == 0 {
		r.t.Errorf("%s: root %q with %d test suites, want testsuites with at least one", rel, doc.XMLName.Local, len(doc.Suites))
	}
	cases := 0
	for _, s := range doc.Suites {
		cases += len(s.Cases)
	}
	if cases == 0 {
		r.t.Errorf("%s: no test case; the image has findings", rel)
	}
}

// checkJSON checks a drydock JSON report and returns it.
func (r *runner) checkJSON(rel string) map[string]any {
	r.t.Helper()
	b := r.read(rel)
	if b == nil {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		r.t.Errorf("%s: %v", rel, err)
		return nil
	}
	return doc
}

// readOutputs reads a GITHUB_OUTPUT/GITHUB_PATH style file: key=value
// lines (or plain lines for paths).
func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// block is a fenced block of docs/ci.md that a marker comment names.
type block struct {
	kind string // "example", "file", "excerpt"
	name string // example name, file path or excerpted file
	lang string
	body string
	line int
}

var (
	markerRE = regexp.MustCompile(`^<!-- ci-(example|file|excerpt): (\S+) -->$`)
	fenceRE  = regexp.MustCompile("^```([a-z]*)$")
)

// docBlocks returns the marked blocks of docs/ci.md.
func docBlocks(t *testing.T) []block {
	t.Helper()
	lines := docLines(t)
	var out []block
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := block{kind: m[1], name: m[2]}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		f := fenceRE.FindStringSubmatch(lines[min(j, len(lines)-1)])
		if j >= len(lines) || f == nil || f[1] == "" {
			t.Fatalf("docs/ci.md:%d: marker not followed by a fenced block with a language", i+1)
		}
		b.lang, b.line = f[1], j+2
		var body []string
		for j++; j < len(lines) && lines[j] != "```"; j++ {
			body = append(body, lines[j])
		}
		if j == len(lines) {
			t.Fatalf("docs/ci.md:%d: unterminated block", b.line)
		}
		b.body = strings.Join(body, "\n") + "\n"
		out = append(out, b)
		i = j
	}
	return out
}

func docLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

func blocksOf(bs []block, kind string) []block {
	var out []block
	for _, b := range bs {
		if b.kind == kind {
			out = append(out, b)
		}
	}
	return out
}
