package cidocs

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/policy"
	"github.com/drydockscan/drydock/internal/testutil/schematest"
)

// tableRows returns the cells of the markdown table starting at (or after
// blank lines from) lines[start], without the header and separator rows.
func tableRows(t *testing.T, lines []string, start int) [][]string {
	t.Helper()
	var rows [][]string
	for j := start; j < len(lines); j++ {
		l := strings.TrimSpace(lines[j])
		if l == "" && len(rows) == 0 {
			continue
		}
		if !strings.HasPrefix(l, "|") {
			break
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(l, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 {
		t.Fatalf("docs/ci.md:%d: no table", start+1)
	}
	return rows[2:]
}

// lineIndex returns the index of the line l, failing when it is missing.
func lineIndex(t *testing.T, lines []string, l string) int {
	t.Helper()
	i := slices.Index(lines, l)
	if i < 0 {
		t.Fatalf("docs/ci.md: no line %q", l)
	}
	return i
}

func unquote(cell string) string { return strings.TrimSuffix(strings.TrimPrefix(cell, "`"), "`") }

// TestExitCodeTable runs the example of each row of the exit code table
// and checks drydock exits with the row's code.
func TestExitCodeTable(t *testing.T) {
	lines := docLines(t)
	rows := tableRows(t, lines, lineIndex(t, lines, "<!-- ci-exit-codes -->")+1)
	e := setup(t)
	codes := map[string]bool{}
	for _, row := range rows {
		if len(row) != 3 {
			t.Fatalf("row %q: want code, meaning, example", row)
		}
		code, example := unquote(row[0]), unquote(row[2])
		want, err := strconv.Atoi(code)
		if code == "N" {
			m := regexp.MustCompile(`--exit-code (\d+)`).FindStringSubmatch(example)
			if m == nil {
				t.Fatalf("row %q: no --exit-code in the example", row)
			}
			want, err = strconv.Atoi(m[1])
		}
		if err != nil {
			t.Fatalf("row %q: %v", row, err)
		}
		codes[code] = true
		t.Run(example, func(t *testing.T) {
			r := newRunner(t, e, nil, true)
			got, out := r.run(example, example, nil)
			if got != want {
				t.Errorf("exit %d, want %d", got, want)
			}
			if want == 2 && !strings.Contains(out, "drydock: ") {
				t.Errorf("error exit without an error message")
			}
		})
	}
	for _, c := range []string{"0", "1", "2", "N"} {
		if !codes[c] {
			t.Errorf("the exit code table has no row for %s", c)
		}
	}
}

// TestCIFiles checks the files the docs show: the ignore file parses, the
// VEX documents parse and validate against their schema.
func TestCIFiles(t *testing.T) {
	files := blocksOf(docBlocks(t), "file")
	if len(files) == 0 {
		t.Fatal("docs/ci.md shows no ignore file or VEX document")
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			switch {
			case strings.HasSuffix(f.name, "ignore.yaml"):
				ig, err := policy.ParseIgnoreFile([]byte(f.body), f.name)
				if err != nil {
					t.Fatal(err)
				}
				if len(ig.Entries) == 0 {
					t.Error("no entries")
				}
			case strings.HasSuffix(f.name, ".json"):
				v, err := policy.ParseVEX([]byte(f.body), f.name)
				if err != nil {
					t.Fatal(err)
				}
				if v.Format == policy.FormatOpenVEX {
					schematest.Validate(t, "openvex/openvex_json_schema.json", []byte(f.body))
				}
			default:
				t.Errorf("file %s: no check for it", f.name)
			}
		})
	}
}

var inputRefRE = regexp.MustCompile(`\$\{\{[^}]*\binputs\.([a-z0-9-]+)`)

// TestActionYAML checks action.yml: it parses strictly, its inputs are the
// ones docs/ci.md lists, scripts take inputs through env only, every
// input is used, and the SARIF upload runs when the gate fails.
func TestActionYAML(t *testing.T) {
	a := loadAction(t)
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using = %q, want composite", a.Runs.Using)
	}
	if a.Name == "" || a.Description == "" {
		t.Error("name and description are required for the marketplace")
	}
	for _, want := range []string{"image", "severity", "fail-on", "format", "sarif-file", "version"} {
		if _, ok := a.Inputs[want]; !ok {
			t.Errorf("no input %q", want)
		}
	}
	if !a.Inputs["image"].Required {
		t.Error("input image is not required")
	}

	// The docs' input table lists exactly the inputs, with their defaults.
	lines := docLines(t)
	documented := map[string]string{}
	for _, row := range tableRows(t, lines, lineIndex(t, lines, "| input | default | meaning |")) {
		documented[unquote(row[0])] = row[1]
	}
	for name, in := range a.Inputs {
		d, ok := documented[name]
		if !ok {
			t.Errorf("input %s is not in the docs' table", name)
			continue
		}
		if strings.HasPrefix(d, "`") && unquote(d) != in.Default {
			t.Errorf("input %s: docs say default %s, action.yml %q", name, d, in.Default)
		}
	}
	for name := range documented {
		if _, ok := a.Inputs[name]; !ok {
			t.Errorf("the docs list input %s, which action.yml does not have", name)
		}
	}

	used := map[string]bool{}
	uploads := 0
	for _, s := range a.Runs.Steps {
		all := s.If + s.Run
		for _, v := range s.With {
			all += v
		}
		for _, v := range s.Env {
			all += v
			for _, m := range ghExprRE.FindAllStringSubmatch(v, -1) {
				if !regexp.MustCompile(`^(inputs|runner)\.[a-z0-9-]+$`).MatchString(m[1]) {
					t.Errorf("step %q: env expression %q", s.Name, m[0])
				}
			}
		}
		for _, m := range inputRefRE.FindAllStringSubmatch(all, -1) {
			used[m[1]] = true
			if _, ok := a.Inputs[m[1]]; !ok {
				t.Errorf("step %q refers to unknown input %s", s.Name, m[1])
			}
		}
		if s.Run != "" {
			if s.Shell != "bash" {
				t.Errorf("step %q: shell %q, want bash", s.Name, s.Shell)
			}
			if strings.Contains(s.Run, "${{") {
				t.Errorf("step %q: expression in the script (script injection); use env", s.Name)
			}
		}
		if strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") {
			uploads++
			if !runsAfterFailure(s.If) {
				t.Errorf("upload step: if %q skips the upload when the gate fails", s.If)
			}
		}
	}
	for name := range a.Inputs {
		if !used[name] {
			t.Errorf("input %s is not used", name)
		}
	}
	if uploads != 1 {
		t.Errorf("%d upload-sarif steps, want 1", uploads)
	}
	for name, o := range a.Outputs {
		if !strings.Contains(o.Value, "steps.scan.outputs."+name) {
			t.Errorf("output %s = %q", name, o.Value)
		}
	}
}

// TestGitLabTemplate checks the template parses strictly and that the
// excerpt docs/ci.md shows is in it.
func TestGitLabTemplate(t *testing.T) {
	jobs := loadGitLabTemplate(t)
	job, ok := jobs["drydock_container_scanning"]
	if !ok {
		t.Fatalf("no job drydock_container_scanning (have %v)", jobs)
	}
	if job.Artifacts.Reports["container_scanning"] != "gl-container-scanning-report.json" {
		t.Errorf("container_scanning report = %q", job.Artifacts.Reports["container_scanning"])
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(gitlabTemplate)))
	if err != nil {
		t.Fatal(err)
	}
	excerpts := 0
	for _, x := range blocksOf(docBlocks(t), "excerpt") {
		excerpts++
		if x.name != gitlabTemplate {
			t.Errorf("excerpt of %s: no check for it", x.name)
			continue
		}
		// Every line of the excerpt is in the file, in the same order.
		rest := string(b)
		s := bufio.NewScanner(strings.NewReader(x.body))
		for s.Scan() {
			l := s.Text()
			if strings.TrimSpace(l) == "" {
				continue
			}
			i := strings.Index(rest, l+"\n")
			if i < 0 {
				t.Errorf("docs/ci.md:%d: excerpt line %q is not in %s (or out of order)", x.line, l, gitlabTemplate)
				continue
			}
			rest = rest[i+len(l):]
		}
	}
	if excerpts == 0 {
		t.Error("docs/ci.md shows no excerpt of the template")
	}
}

// TestDockerfile checks the Dockerfile statically (images cannot be
// pulled here): a Go 1.26 build stage producing a static, trimmed,
// stripped binary, and a non-root final stage whose entrypoint is drydock.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var stages [][]string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %q", l)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], l)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build and a final stage", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]
	for _, want := range []string{"FROM golang:1.26", "CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w`, "./cmd/drydock"} {
		if !strings.Contains(build, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	base := strings.Fields(final[0])[1]
	if base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("final stage FROM %s", base)
	}
	var user, entrypoint string
	for _, l := range final {
		if v, ok := strings.CutPrefix(l, "USER "); ok {
			user = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
			entrypoint = strings.TrimSpace(v)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if entrypoint != `["drydock"]` {
		t.Errorf(`ENTRYPOINT %s, want ["drydock"] (exec form)`, entrypoint)
	}
	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(ignore), "\n"), ".git") {
		t.Error(".dockerignore does not exclude .git")
	}
}
