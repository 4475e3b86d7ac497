package cidocs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// exampleRunners run each ci-example block of docs/ci.md; every block
// needs one and every runner a block.
var exampleRunners = map[string]func(r *runner, b block){
	"github-action":  runGitHubActionExample,
	"github-steps":   runGitHubStepsExample,
	"gitlab":         runGitLabExample,
	"jenkins":        runJenkinsExample,
	"azure":          runAzureExample,
	"circleci":       runCircleCIExample,
	"exit-status":    runExitStatusExample,
	"ignore-and-vex": runIgnoreAndVEXExample,
}

func TestCIExamples(t *testing.T) {
	blocks := docBlocks(t)
	examples := blocksOf(blocks, "example")
	seen := map[string]bool{}
	for _, b := range examples {
		if _, ok := exampleRunners[b.name]; !ok {
			t.Errorf("docs/ci.md:%d: example %q has no runner in this test", b.line, b.name)
		}
		seen[b.name] = true
	}
	for name := range exampleRunners {
		if !seen[name] {
			t.Errorf("docs/ci.md has no example %q", name)
		}
	}
	e := setup(t)
	for _, b := range examples {
		run := exampleRunners[b.name]
		if run == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			// Shell examples find drydock on PATH; pipeline examples
			// install it with their own steps.
			r := newRunner(t, e, blocksOf(blocks, "file"), b.lang == "sh")
			run(r, b)
		})
	}
}

func decodeYAML(t *testing.T, what, text string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(text), v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// --- GitHub Actions ---

type ghStep struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

type ghWorkflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []ghStep          `yaml:"steps"`
	} `yaml:"jobs"`
}

type ghAction struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Steps []ghStep `yaml:"steps"`
	} `yaml:"runs"`
}

func loadAction(t *testing.T) *ghAction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var a ghAction
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a
}

var ghExprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// ghExpand evaluates the ${{ }} expressions of a value: names in ctx,
// and github.* and secrets.*, which are empty here.
func ghExpand(t *testing.T, s string, ctx map[string]string) string {
	t.Helper()
	return ghExprRE.ReplaceAllStringFunc(s, func(m string) string {
		expr := ghExprRE.FindStringSubmatch(m)[1]
		if v, ok := ctx[expr]; ok {
			return v
		}
		if strings.HasPrefix(expr, "github.") || strings.HasPrefix(expr, "secrets.") {
			return ""
		}
		t.Errorf("unsupported expression %q", m)
		return ""
	})
}

// runsAfterFailure reports whether an if: condition runs a step after a
// failed one.
func runsAfterFailure(cond string) bool {
	return strings.Contains(cond, "always()") || strings.Contains(cond, "!cancelled()") || strings.Contains(cond, "failure()")
}

// ghRun runs the steps of a job or composite action. uses handles the
// uses: steps; it returns whether the step failed.
func (r *runner) ghRun(steps []ghStep, env map[string]string, ctx map[string]string, uses func(s *ghStep) bool) (outputs map[string]map[string]string) {
	t := r.t
	t.Helper()
	outputs = map[string]map[string]string{}
	failed := false
	for i := range steps {
		s := &steps[i]
		name := s.Name
		if name == "" {
			name = s.Uses + s.Run
		}
		if failed && !runsAfterFailure(s.If) {
			continue
		}
		if s.Uses != "" {
			if uses(s) {
				failed = true
			}
			continue
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q: the script uses a ${{ }} expression; pass values through env", name)
		}
		if s.Shell != "" && s.Shell != "bash" {
			t.Errorf("step %q: shell %q, want bash", name, s.Shell)
		}
		vars := map[string]string{}
		for k, v := range env {
			vars[k] = v
		}
		for k, v := range s.Env {
			vars[k] = ghExpand(t, v, ctx)
		}
		dir := t.TempDir()
		vars["GITHUB_OUTPUT"] = filepath.Join(dir, "output")
		vars["GITHUB_PATH"] = filepath.Join(dir, "path")
		vars["GITHUB_ENV"] = filepath.Join(dir, "env")
		code, _ := r.run(name, s.Run, vars)
		r.checkCode(name, s.Run, code)
		if code != 0 {
			failed = true
		}
		// Paths added to GITHUB_PATH come first in the later steps.
		for _, p := range readLines(vars["GITHUB_PATH"]) {
			r.path = append([]string{p}, r.path...)
		}
		if s.ID != "" {
			outputs[s.ID] = map[string]string{}
			for _, l := range readLines(vars["GITHUB_OUTPUT"]) {
				k, v, _ := strings.Cut(l, "=")
				outputs[s.ID][k] = v
				ctx["steps."+s.ID+".outputs."+k] = v
			}
		}
	}
	return outputs
}

// ghCommonUses handles the uses: steps of the examples and the action
// other than drydock's own.
func (r *runner) ghCommonUses(s *ghStep, ctx map[string]string) bool {
	t := r.t
	switch {
	case strings.HasPrefix(s.Uses, "actions/setup-go@"):
		// setup-go puts $(go env GOPATH)/bin on PATH.
		r.path = append([]string{filepath.Join(r.home, "go", "bin")}, r.path...)
	case strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@"):
		if !runsAfterFailure(s.If) {
			t.Errorf("upload-sarif step: if %q does not upload after a failed gate", s.If)
		}
		r.checkSARIF(ghExpand(t, s.With["sarif_file"], ctx))
	case strings.HasPrefix(s.Uses, "actions/checkout@"), strings.HasPrefix(s.Uses, "actions/cache@"),
		strings.HasPrefix(s.Uses, "docker/login-action@"):
		// Nothing to do here: the work directory is the checkout, the
		// cache starts empty, the image is local.
	default:
		t.Errorf("step uses %s, which this test does not know", s.Uses)
	}
	return false
}

// runAction runs action.yml's steps with the given inputs, as the runner
// runs a composite action.
func (r *runner) runAction(with map[string]string) {
	t := r.t
	a := loadAction(t)
	ctx := map[string]string{"runner.temp": filepath.Join(r.home, "runner-temp"), "runner.os": "Linux"}
	for name, in := range a.Inputs {
		ctx["inputs."+name] = in.Default
	}
	for k, v := range with {
		if _, ok := a.Inputs[k]; !ok {
			t.Errorf("with: %s is not an input of action.yml", k)
		}
		ctx["inputs."+k] = v
	}
	for name, in := range a.Inputs {
		if in.Required && ctx["inputs."+name] == "" {
			t.Errorf("required input %s not given", name)
		}
	}
	outputs := r.ghRun(a.Runs.Steps, nil, ctx, func(s *ghStep) bool { return r.ghCommonUses(s, ctx) })
	sarif := ctx["inputs.sarif-file"]
	if got := outputs["scan"]["sarif-file"]; got != sarif {
		t.Errorf("output sarif-file = %q, want %q", got, sarif)
	}
	if code := outputs["scan"]["exit-code"]; code != "0" && code != "1" {
		t.Errorf("output exit-code = %q", code)
	}
	r.checkSARIF(sarif)
}

func runGitHubActionExample(r *runner, b block) {
	t := r.t
	var wf ghWorkflow
	decodeYAML(t, "github-action example", b.body, &wf)
	ran := false
	for _, job := range wf.Jobs {
		r.ghRun(job.Steps, nil, map[string]string{}, func(s *ghStep) bool {
			if !strings.HasPrefix(s.Uses, "drydockscan/drydock@") {
				return r.ghCommonUses(s, nil)
			}
			ran = true
			with := map[string]string{}
			for k, v := range s.With {
				with[k] = ghExpand(t, v, nil)
			}
			// The example scans the image the workflow pushed; here,
			// the corpus image. Its VEX file is the docs' ci-file.
			with["image"] = r.e.image
			r.runAction(with)
			return false
		})
	}
	if !ran {
		t.Error("the example does not use drydockscan/drydock")
	}
}

func runGitHubStepsExample(r *runner, b block) {
	t := r.t
	var wf ghWorkflow
	decodeYAML(t, "github-steps example", b.body, &wf)
	for _, job := range wf.Jobs {
		ctx := map[string]string{"runner.temp": filepath.Join(r.home, "runner-temp"), "runner.os": "Linux"}
		env := map[string]string{}
		for k, v := range job.Env {
			env[k] = ghExpand(t, v, ctx)
		}
		env["IMAGE"] = r.e.image
		r.ghRun(job.Steps, env, ctx, func(s *ghStep) bool { return r.ghCommonUses(s, ctx) })
	}
}

// --- GitLab CI ---

type glJob struct {
	Stage        string            `yaml:"stage"`
	Image        string            `yaml:"image"`
	Variables    map[string]string `yaml:"variables"`
	Cache        map[string]any    `yaml:"cache"`
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	Artifacts    struct {
		When    string            `yaml:"when"`
		Reports map[string]string `yaml:"reports"`
		Paths   []string          `yaml:"paths"`
	} `yaml:"artifacts"`
}

const gitlabTemplate = "ci/gitlab/drydock.gitlab-ci.yml"

func loadGitLabTemplate(t *testing.T) map[string]glJob {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(gitlabTemplate)))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var jobs map[string]glJob
	if err := dec.Decode(&jobs); err != nil {
		t.Fatalf("%s: %v", gitlabTemplate, err)
	}
	return jobs
}

func runGitLabExample(r *runner, b block) {
	t := r.t
	var doc map[string]yaml.Node
	decodeYAML(t, "gitlab example", b.body, &doc)
	var include []struct {
		Remote string `yaml:"remote"`
	}
	if n, ok := doc["include"]; !ok || n.Decode(&include) != nil || len(include) != 1 || !strings.HasSuffix(include[0].Remote, "/"+gitlabTemplate) {
		t.Fatalf("the example does not include %s", gitlabTemplate)
	}
	jobs := loadGitLabTemplate(t)
	for name, n := range doc {
		if name == "include" {
			continue
		}
		job, ok := jobs[name]
		if !ok {
			t.Fatalf("the example overrides job %q, which the template does not define", name)
		}
		var override map[string]map[string]string
		if err := n.Decode(&override); err != nil {
			t.Fatalf("job %s: %v", name, err)
		}
		vars := map[string]string{}
		for k, v := range job.Variables {
			vars[k] = v
		}
		for key, m := range override {
			if key != "variables" {
				t.Errorf("job %s: the example overrides %q; only variables are expected", name, key)
			}
			for k, v := range m {
				vars[k] = v
			}
		}
		r.runGitLabJob(name, job, vars)
	}
}

func (r *runner) runGitLabJob(name string, job glJob, vars map[string]string) {
	t := r.t
	predefined := map[string]string{
		"CI_PROJECT_DIR":    r.work,
		"CI_REGISTRY_IMAGE": "registry.example.com/acme/orders-api",
		"CI_COMMIT_SHA":     "4f1b2d9c0e7a",
	}
	env := map[string]string{}
	for k, v := range vars {
		env[k] = os.Expand(v, func(k string) string { return predefined[k] })
	}
	for k, v := range predefined {
		env[k] = v
	}
	// The job's image scans the corpus image; golang images have
	// $GOPATH/bin on PATH.
	env["DRYDOCK_IMAGE"] = r.e.image
	r.path = append([]string{filepath.Join(r.home, "go", "bin")}, r.path...)
	script := strings.Join(append(append([]string{}, job.BeforeScript...), job.Script...), "\n")
	code, _ := r.run(name, script, env)
	r.checkCode(name, script, code)
	if job.Artifacts.When != "always" {
		t.Errorf("artifacts: when %q, want always (the report is wanted when the gate fails)", job.Artifacts.When)
	}
	report := job.Artifacts.Reports["container_scanning"]
	if report == "" {
		t.Fatal("no container_scanning report")
	}
	if !strings.Contains(strings.Join(job.Script, "\n"), "-o gitlab="+report) {
		t.Errorf("the script does not write %s with -o gitlab=", report)
	}
	r.checkGitLab(report)
}

// --- Jenkins ---

var (
	jenkinsEnvRE   = regexp.MustCompile(`(?m)^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"\s*$`)
	jenkinsShRE    = regexp.MustCompile(`(?m)^\s*sh\s+(?:'([^']*)'|"""([\s\S]*?)"""|'''([\s\S]*?)''')\s*$`)
	jenkinsJUnitRE = regexp.MustCompile(`junit\b[^\n]*testResults:\s*'([^']+)'`)
	groovyVarRE    = regexp.MustCompile(`\$\{(?:env\.)?([A-Za-z_][A-Za-z0-9_]*)\}`)
)

func runJenkinsExample(r *runner, b block) {
	t := r.t
	text := b.body
	envStart := strings.Index(text, "environment {")
	if envStart < 0 {
		t.Fatal("no environment block")
	}
	end := regexp.MustCompile(`(?m)^\s*\}\s*$`).FindStringIndex(text[envStart:])
	if end == nil {
		t.Fatal("environment block not closed")
	}
	envBlock := text[envStart : envStart+end[0]]
	jenkins := map[string]string{"WORKSPACE": r.work, "GIT_COMMIT": "4f1b2d9c0e7a"}
	env := map[string]string{}
	for _, m := range jenkinsEnvRE.FindAllStringSubmatch(envBlock, -1) {
		env[m[1]] = groovyVarRE.ReplaceAllStringFunc(m[2], func(s string) string {
			return jenkins[groovyVarRE.FindStringSubmatch(s)[1]]
		})
	}
	env["IMAGE"] = r.e.image
	env["WORKSPACE"] = r.work
	steps := jenkinsShRE.FindAllStringSubmatch(text, -1)
	if len(steps) == 0 {
		t.Fatal("no sh steps")
	}
	for _, m := range steps {
		script := m[1] + m[2] + m[3]
		code, _ := r.run(script, script, env)
		r.checkCode(script, script, code)
		if code != 0 {
			break // later stages are skipped; post { always } still runs
		}
	}
	post := strings.Index(text, "post {")
	junit := jenkinsJUnitRE.FindStringSubmatchIndex(text)
	if junit == nil {
		t.Fatal("no junit step")
	}
	if post < 0 || junit[0] < post || !strings.Contains(text[post:junit[0]], "always {") {
		t.Error("the junit step is not in post { always { … } }")
	}
	r.checkJUnit(text[junit[2]:junit[3]])
}

// --- Azure Pipelines ---

type azStep struct {
	Task        string            `yaml:"task"`
	Bash        string            `yaml:"bash"`
	Script      string            `yaml:"script"`
	DisplayName string            `yaml:"displayName"`
	Condition   string            `yaml:"condition"`
	Inputs      map[string]string `yaml:"inputs"`
	Env         map[string]string `yaml:"env"`
}

var (
	azMacroRE       = regexp.MustCompile(`\$\(([A-Za-z0-9_.]+)\)`)
	azPrependPathRE = regexp.MustCompile(`(?m)^##vso\[task\.prependpath\](.+)$`)
)

func runAzureExample(r *runner, b block) {
	t := r.t
	var p struct {
		Variables map[string]string `yaml:"variables"`
		Steps     []azStep          `yaml:"steps"`
	}
	decodeYAML(t, "azure example", b.body, &p)
	vars := map[string]string{
		"Build.SourceVersion": "4f1b2d9c0e7a",
		"Build.BuildId":       "1",
		"Pipeline.Workspace":  filepath.Join(r.home, "pipeline"),
		"Agent.OS":            "Linux",
	}
	// Macros expand when a variable of that name exists, else stay.
	expand := func(s string) string {
		return azMacroRE.ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := vars[azMacroRE.FindStringSubmatch(m)[1]]; ok {
				return v
			}
			return m
		})
	}
	env := map[string]string{}
	for k, v := range p.Variables {
		vars[k] = expand(v)
	}
	for k, v := range vars {
		env[strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = v
	}
	env["IMAGE"] = r.e.image
	failed := false
	published := map[string]bool{}
	for _, s := range p.Steps {
		always := strings.Contains(s.Condition, "succeededOrFailed()") || strings.Contains(s.Condition, "always()")
		if failed && !always {
			continue
		}
		script := s.Bash + s.Script
		switch {
		case script != "":
			name := s.DisplayName
			code, out := r.run(name, expand(script), env)
			r.checkCode(name, script, code)
			failed = failed || code != 0
			for _, m := range azPrependPathRE.FindAllStringSubmatch(out, -1) {
				r.path = append([]string{strings.TrimSpace(m[1])}, r.path...)
			}
		case strings.HasPrefix(s.Task, "PublishTestResults@"):
			if !always {
				t.Errorf("%s: condition %q does not publish after a failed gate", s.Task, s.Condition)
			}
			if s.Inputs["testResultsFormat"] != "JUnit" {
				t.Errorf("%s: testResultsFormat %q", s.Task, s.Inputs["testResultsFormat"])
			}
			r.checkJUnit(expand(s.Inputs["testResultsFiles"]))
			published["junit"] = true
		case strings.HasPrefix(s.Task, "PublishBuildArtifacts@"):
			if !always {
				t.Errorf("%s: condition %q does not publish after a failed gate", s.Task, s.Condition)
			}
			path := expand(s.Inputs["PathtoPublish"])
			if strings.HasSuffix(path, ".sarif") {
				r.checkSARIF(path)
				published["sarif"] = true
			}
		case strings.HasPrefix(s.Task, "GoTool@"), strings.HasPrefix(s.Task, "Cache@"):
		default:
			t.Errorf("task %q is unknown to this test", s.Task)
		}
	}
	for _, want := range []string{"junit", "sarif"} {
		if !published[want] {
			t.Errorf("the example does not publish the %s report", want)
		}
	}
}

// --- CircleCI ---

func runCircleCIExample(r *runner, b block) {
	t := r.t
	var cfg struct {
		Jobs map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Steps       []yaml.Node       `yaml:"steps"`
		} `yaml:"jobs"`
	}
	decodeYAML(t, "circleci example", b.body, &cfg)
	for _, job := range cfg.Jobs {
		env := map[string]string{}
		for k, v := range job.Environment {
			env[k] = v
		}
		env["IMAGE"] = r.e.image
		// cimg/go has $GOPATH/bin on PATH.
		r.path = append([]string{filepath.Join(r.home, "go", "bin")}, r.path...)
		failed, stored := false, false
		for _, n := range job.Steps {
			var step map[string]yaml.Node
			if n.Kind == yaml.ScalarNode {
				continue // checkout
			}
			if err := n.Decode(&step); err != nil {
				t.Fatal(err)
			}
			for kind, v := range step {
				switch kind {
				case "run":
					if failed {
						continue
					}
					var run struct {
						Name    string `yaml:"name"`
						Command string `yaml:"command"`
					}
					if v.Kind == yaml.ScalarNode {
						run.Command = v.Value
					} else if err := v.Decode(&run); err != nil {
						t.Fatal(err)
					}
					code, _ := r.run(run.Name, run.Command, env)
					r.checkCode(run.Name, run.Command, code)
					failed = code != 0
				case "store_test_results":
					var s struct {
						Path string `yaml:"path"`
					}
					if err := v.Decode(&s); err != nil {
						t.Fatal(err)
					}
					files, _ := filepath.Glob(filepath.Join(r.file(s.Path), "*", "*.xml"))
					more, _ := filepath.Glob(filepath.Join(r.file(s.Path), "*.xml"))
					files = append(files, more...)
					if len(files) == 0 {
						t.Errorf("store_test_results: no XML file under %s", s.Path)
					}
					for _, f := range files {
						rel, _ := filepath.Rel(r.work, f)
						r.checkJUnit(filepath.ToSlash(rel))
					}
					stored = true
				case "store_artifacts", "save_cache", "restore_cache":
				default:
					t.Errorf("step %q is unknown to this test", kind)
				}
			}
		}
		if !stored {
			t.Error("the example does not store test results")
		}
	}
}

// --- Shell examples ---

func runExitStatusExample(r *runner, b block) {
	t := r.t
	code, out := r.run(b.name, b.body, nil)
	// The script maps the gate's --exit-code 3 to 1 and passes errors on.
	if code != 0 && code != 1 {
		t.Errorf("exit %d", code)
	}
	if code == 1 && !strings.Contains(out, "CRITICAL findings") {
		t.Errorf("exit 1 without the gate message")
	}
	doc := r.checkJSON("drydock.json")
	if gate, _ := doc["gate"].(map[string]any); gate["fail_on"] != "CRITICAL" {
		t.Errorf("report gate = %v, want fail_on CRITICAL", doc["gate"])
	}
}

func runIgnoreAndVEXExample(r *runner, b block) {
	t := r.t
	code, out := r.run(b.name, b.body, nil)
	r.checkCode(b.name, b.body, code)
	doc := r.checkJSON("drydock.json")
	vulns, _ := doc["vulnerabilities"].([]any)
	got := map[string][]string{}
	for _, v := range vulns {
		f := v.(map[string]any)
		sup, ok := f["suppression"].(map[string]any)
		if !ok {
			continue
		}
		pkg := f["package"].(map[string]any)["name"].(string)
		key := fmt.Sprintf("%s %s", sup["kind"], f["id"])
		got[key] = append(got[key], pkg)
	}
	// The ignore file (.drydock/ignore.yaml, read by default) and the VEX
	// document of the docs suppress these findings of debian12-app.
	want := map[string][]string{
		"ignore CVE-2026-35189": {"libssl3", "openssl"},
		"vex CVE-2023-45288":    {"golang.org/x/net", "stdlib"},
	}
	for k, pkgs := range want {
		slices.Sort(got[k])
		if !slices.Equal(got[k], pkgs) {
			t.Errorf("%s suppressed in %v, want %v (all suppressions: %v)", k, got[k], pkgs, got)
		}
	}
	if !strings.Contains(out, `"kind": "vex"`) {
		t.Error("the jq command printed no VEX suppression")
	}
}
