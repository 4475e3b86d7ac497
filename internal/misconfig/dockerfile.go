package misconfig

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/secret"
)

// MaxDockerfileSize caps a Dockerfile.
const MaxDockerfileSize = 1 << 20

// IsDockerfileName reports whether a file name is a Dockerfile's:
// Dockerfile, Containerfile, Dockerfile.<x>, <x>.Dockerfile (any case).
func IsDockerfileName(name string) bool {
	l := strings.ToLower(name)
	return l == "dockerfile" || l == "containerfile" || strings.HasPrefix(l, "dockerfile.") ||
		strings.HasSuffix(l, ".dockerfile") || strings.HasPrefix(l, "containerfile.")
}

// DockerfileAt reads and checks the Dockerfile at rel below root.
func DockerfileAt(root, rel string, sc *secret.Scanner) ([]finding.Misconfiguration, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxDockerfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(b) > MaxDockerfileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", rel, MaxDockerfileSize)
	}
	return Dockerfile("/"+rel, b, sc)
}

// stage is one build stage of a Dockerfile.
type stage struct {
	name        string
	base        string
	line        int
	user        string
	userLine    int
	healthcheck bool
}

// Dockerfile parses a Dockerfile with BuildKit's parser and runs the
// checks: the image checks on the final stage (user, health check,
// ports, secrets) and the multi-stage-aware build checks (base images
// pinned and tagged, apt-get install pinned and cleaned, update alone,
// remote ADD, curl | sh). path names the file in findings.
func Dockerfile(path string, content []byte, sc *secret.Scanner) ([]finding.Misconfiguration, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []finding.Misconfiguration
	add := func(id string, line int, ev string) {
		f := newFinding(id, "dockerfile", ev)
		f.Path, f.Line = path, line
		out = append(out, f)
	}
	args := map[string]string{} // ARGs declared before the first FROM, with defaults
	var stages []*stage
	var cur *stage
	for _, n := range res.AST.Children {
		instr := strings.ToLower(n.Value)
		words := nodeWords(n)
		switch instr {
		case "arg":
			for _, w := range words {
				name, val, hasVal := strings.Cut(w, "=")
				if cur == nil && hasVal {
					args[name] = strings.Trim(val, `"'`)
				}
				if SecretName(name) {
					ev := "ARG " + name
					if hasVal && secretValue(strings.Trim(val, `"'`)) {
						v := strings.Trim(val, `"'`)
						ev += "=" + secret.Redact(v) + " (" + secret.Fingerprint(v) + ")"
					}
					add(SecretInArg, n.StartLine, ev)
				}
			}
		case "from":
			if len(words) == 0 {
				continue
			}
			st := &stage{base: expandArgs(words[0], args), line: n.StartLine}
			if len(words) >= 3 && strings.EqualFold(words[1], "as") {
				st.name = strings.ToLower(words[2])
			}
			stages = append(stages, st)
			cur = st
		case "user":
			if cur != nil && len(words) > 0 {
				cur.user, cur.userLine = words[0], n.StartLine
			}
		case "healthcheck":
			if cur != nil {
				cur.healthcheck = len(words) > 0 && !strings.EqualFold(words[0], "NONE")
			}
		case "expose":
			for _, w := range words {
				if name, ok := adminPort(w); ok {
					add(RemoteAdminPort, n.StartLine, fmt.Sprintf("EXPOSE %s (%s)", w, name))
				}
			}
		case "env", "label":
			id := SecretInEnv
			if instr == "label" {
				id = SecretInLabel
			}
			for _, kv := range envPairs(n) {
				if ev, ok := secretAssignment(kv[0], kv[1], sc); ok {
					add(id, n.StartLine, strings.ToUpper(instr)+" "+ev)
				}
			}
		case "add":
			for _, w := range words {
				if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") {
					if !slices.ContainsFunc(n.Flags, func(f string) bool { return strings.HasPrefix(f, "--checksum") }) {
						add(AddRemoteURL, n.StartLine, "ADD "+RedactCommand(w, sc))
					}
				}
			}
		case "run":
			run := strings.Join(words, " ")
			for _, h := range n.Heredocs {
				run += "\n" + h.Content
			}
			runChecks(run, n.StartLine, sc, add)
		}
	}
	names := map[string]bool{}
	for i, st := range stages {
		base := strings.ToLower(st.base)
		if base == "scratch" || names[base] || strings.Contains(base, "$") {
			if st.name != "" {
				names[st.name] = true
			}
			continue
		}
		_ = i
		if st.name != "" {
			names[st.name] = true
		}
		ref, digest, _ := strings.Cut(st.base, "@")
		tag := ""
		if j := strings.LastIndex(ref, ":"); j > strings.LastIndex(ref, "/") {
			tag = ref[j+1:]
		}
		if digest == "" {
			add(UnpinnedBaseImage, st.line, "FROM "+st.base)
			if tag == "" || tag == "latest" {
				add(LatestTag, st.line, "FROM "+st.base)
			}
		}
	}
	if len(stages) > 0 {
		final := stages[len(stages)-1]
		if root, _ := rootUser(final.user); root {
			line, ev := final.line, "the final stage sets no USER"
			if final.user != "" {
				line, ev = final.userLine, "USER "+final.user
			}
			add(RootUser, line, ev)
		}
		if !final.healthcheck {
			add(NoHealthcheck, final.line, "the final stage has no HEALTHCHECK")
		}
	}
	slices.SortStableFunc(out, finding.CompareMisconfigurations)
	return out, nil
}

var (
	aptInstall = secret.Lazy(`\bapt(?:-get)?\s+(?:-\S+\s+)*install\b(.*)`)
	aptClean   = secret.Lazy(`rm\s+(?:-\S+\s+)*[^&;|]*?/var/lib/apt/lists`)
	argName    = secret.Lazy(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
)

// runChecks checks one RUN's shell command.
func runChecks(run string, line int, sc *secret.Scanner, add func(id string, line int, ev string)) {
	parts := splitCommands(run)
	for _, part := range parts {
		if updateCmd().MatchString(part) && !installInSameRun(run) {
			add(UpdateAlone, line, "RUN "+truncate(RedactCommand(part, sc), 120))
			break
		}
	}
	if m := pipeShell().FindString(run); m != "" {
		add(PipeToShell, line, "RUN "+truncate(RedactCommand(m, sc), 120))
	}
	installs := false
	for _, part := range parts {
		m := aptInstall().FindStringSubmatch(part)
		if m == nil {
			continue
		}
		installs = true
		var unpinned []string
		for _, w := range strings.Fields(m[1]) {
			if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "$") {
				continue
			}
			if !strings.Contains(w, "=") && !strings.HasSuffix(w, ".deb") {
				unpinned = append(unpinned, w)
			}
		}
		if len(unpinned) > 0 {
			add(AptNoPin, line, "apt-get install "+truncate(strings.Join(unpinned, " "), 100)+" without =version")
		}
	}
	if installs && !aptClean().MatchString(run) {
		add(AptNoCleanup, line, "RUN installs with apt-get and leaves /var/lib/apt/lists")
	}
}

// nodeWords returns an instruction's arguments.
func nodeWords(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

// envPairs returns ENV/LABEL name/value pairs (the parser gives them as
// name, value, "=" triples; the legacy "ENV name value" form as one pair).
func envPairs(n *parser.Node) [][2]string {
	var out [][2]string
	for a := n.Next; a != nil && a.Next != nil; {
		name, val := a.Value, a.Next.Value
		out = append(out, [2]string{name, strings.Trim(val, `"'`)})
		a = a.Next.Next
		if a != nil && a.Value == "=" {
			a = a.Next
		}
	}
	return out
}

// expandArgs substitutes ${NAME} and $NAME with the ARG defaults known.
func expandArgs(s string, args map[string]string) string {
	return argName().ReplaceAllStringFunc(s, func(m string) string {
		name := argName().FindStringSubmatch(m)[1]
		if v, ok := args[name]; ok {
			return v
		}
		return m
	})
}
