package misconfig

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/drydockscan/drydock/internal/secret"
)

// remoteAdminPorts are the ports of remote-administration services.
var remoteAdminPorts = map[int]string{
	22: "SSH", 23: "telnet", 2375: "Docker API", 2376: "Docker API (TLS)", 3389: "RDP",
	5900: "VNC", 5985: "WinRM", 5986: "WinRM (TLS)",
}

// Image runs the configuration and history checks on an image's config.
// Secrets in evidence are redacted with the scanner's rules.
func Image(cfg *v1.ConfigFile, sc *secret.Scanner) []finding.Misconfiguration {
	if cfg == nil {
		return nil
	}
	c := cfg.Config
	var out []finding.Misconfiguration
	if root, why := rootUser(c.User); root {
		out = append(out, newFinding(RootUser, "config", why))
	}
	if c.Healthcheck == nil || len(c.Healthcheck.Test) == 0 || strings.EqualFold(c.Healthcheck.Test[0], "NONE") {
		out = append(out, newFinding(NoHealthcheck, "config", "config.Healthcheck is not set"))
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	for _, p := range ports {
		if name, ok := adminPort(p); ok {
			out = append(out, newFinding(RemoteAdminPort, "config", fmt.Sprintf("EXPOSE %s (%s)", p, name)))
		}
	}
	envSeen := map[string]bool{}
	for _, kv := range c.Env {
		name, val, _ := strings.Cut(kv, "=")
		if ev, ok := secretAssignment(name, val, sc); ok {
			envSeen[name+"\x00"+val] = true
			out = append(out, newFinding(SecretInEnv, "config", "ENV "+ev))
		}
	}
	var labels []string
	for k := range c.Labels {
		labels = append(labels, k)
	}
	slices.Sort(labels)
	for _, k := range labels {
		if ev, ok := secretAssignment(k, c.Labels[k], sc); ok {
			out = append(out, newFinding(SecretInLabel, "config", "LABEL "+ev))
		}
	}
	out = append(out, History(cfg.History, envSeen, sc)...)
	return out
}

// rootUser reports whether a USER value means root.
func rootUser(u string) (bool, string) {
	u = strings.TrimSpace(u)
	if u == "" {
		return true, "config.User is not set: the default user is root"
	}
	user, _, _ := strings.Cut(u, ":")
	if user == "root" || user == "0" {
		return true, "config.User is " + strconv.Quote(u)
	}
	return false, ""
}

// adminPort reads "22/tcp" or "22".
func adminPort(p string) (string, bool) {
	num, proto, _ := strings.Cut(p, "/")
	if proto != "" && proto != "tcp" {
		return "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return "", false
	}
	name, ok := remoteAdminPorts[n]
	return name, ok
}

// secretWords are the name parts that mark a variable as a secret.
var secretWords = []string{"PASSWORD", "PASSWD", "PASS", "SECRET", "SECRETS", "TOKEN", "CREDENTIAL", "CREDENTIALS", "APIKEY", "PASSPHRASE"}

// keyQualifiers make a following KEY a secret (API_KEY, ACCESS_KEY, …).
var keyQualifiers = []string{"API", "ACCESS", "SECRET", "PRIVATE", "AUTH", "ENCRYPTION", "SIGNING", "MASTER", "CLIENT"}

// notSecretSuffixes name variables that point at a secret rather than
// hold one.
var notSecretSuffixes = []string{"FILE", "PATH", "DIR", "URL", "HOST", "USER", "USERNAME", "NAME", "ID", "TYPE", "LENGTH", "METHOD", "POLICY"}

var nameSplit = secret.Lazy(`[^A-Za-z0-9]+`)

// SecretName reports whether a variable name says it holds a secret.
func SecretName(name string) bool {
	parts := nameSplit().Split(strings.ToUpper(name), -1)
	if len(parts) == 0 {
		return false
	}
	if slices.Contains(notSecretSuffixes, parts[len(parts)-1]) {
		return false
	}
	for i, p := range parts {
		if slices.Contains(secretWords, p) {
			return true
		}
		if p == "KEY" && i > 0 && slices.Contains(keyQualifiers, parts[i-1]) {
			return true
		}
	}
	return false
}

// secretAssignment decides whether name=value exposes a secret: the
// value matches a secret rule, or the name says it is a secret and the
// value is not a placeholder or a path. The evidence it returns is
// redacted.
func secretAssignment(name, val string, sc *secret.Scanner) (string, bool) {
	if sc != nil {
		if hits := sc.ScanText(val); len(hits) > 0 {
			return fmt.Sprintf("%s=%s (%s, %s)", name, hits[0].Match, hits[0].Rule, hits[0].Fingerprint), true
		}
	}
	if !SecretName(name) || !secretValue(val) {
		return "", false
	}
	return fmt.Sprintf("%s=%s (%s)", name, secret.Redact(val), secret.Fingerprint(val)), true
}

// secretValue rejects empty values, references, paths and placeholders.
func secretValue(v string) bool {
	v = strings.TrimSpace(strings.Trim(v, `"'`))
	if v == "" || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "./") {
		return false
	}
	switch strings.ToLower(v) {
	case "changeme", "change-me", "password", "secret", "none", "null", "false", "true", "example", "xxx", "<secret>":
		return false
	}
	return true
}

var (
	// buildArgs is the "|N NAME=value …" prefix RUN history entries carry
	// when build arguments were in scope.
	buildArgs  = regexp.MustCompile(`^(?:RUN\s+)?\|(\d+)\s+`)
	addURL     = secret.Lazy(`(?:^|#\(nop\)\s*|\s)ADD\s+(?:--\S+\s+)*(https?://\S+)`)
	updateCmd  = secret.Lazy(`\b(?:apt-get|apt|aptitude)\s+(?:-\S+\s+)*update\b|\bapk\s+(?:-\S+\s+)*update\b|\b(?:yum|dnf|microdnf)\s+(?:-\S+\s+)*makecache\b|\bzypper\s+(?:-\S+\s+)*(?:refresh|ref)\b`)
	installCmd = secret.Lazy(`\b(?:install|upgrade|dist-upgrade|add|update\s+-y|up)\b`)
	pipeShell  = secret.Lazy(`\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b`)
	envInstr   = regexp.MustCompile(`^(?:/bin/sh -c #\(nop\)\s+)?(ENV|ARG|LABEL)\s+(.*)$`)
)

// History runs the history checks. envSeen holds "name\x00value" of the
// ENV assignments the config check already reported; they are not
// reported again.
func History(hist []v1.History, envSeen map[string]bool, sc *secret.Scanner) []finding.Misconfiguration {
	var out []finding.Misconfiguration
	layer := 0
	seen := map[string]bool{}
	for _, h := range hist {
		var li *int
		if !h.EmptyLayer {
			l := layer
			li = &l
			layer++
		}
		cb := strings.TrimSpace(h.CreatedBy)
		if cb == "" {
			continue
		}
		add := func(id, ev string) {
			if seen[id+"\x00"+ev] {
				return
			}
			seen[id+"\x00"+ev] = true
			f := newFinding(id, "history", ev)
			f.LayerIndex = li
			out = append(out, f)
		}
		for _, ev := range historySecrets(cb, envSeen, sc) {
			add(SecretInHistory, ev)
		}
		if m := addURL().FindStringSubmatch(cb); m != nil {
			add(AddRemoteURL, "ADD "+RedactCommand(m[1], sc))
		}
		if run, ok := runCommand(cb); ok {
			for _, part := range splitCommands(run) {
				if updateCmd().MatchString(part) && !installInSameRun(run) {
					add(UpdateAlone, "RUN "+truncate(RedactCommand(part, sc), 120))
					break
				}
			}
			if m := pipeShell().FindString(run); m != "" {
				add(PipeToShell, "RUN "+truncate(RedactCommand(m, sc), 120))
			}
		}
	}
	return out
}

// runCommand returns the shell command of a RUN history entry.
func runCommand(cb string) (string, bool) {
	s := cb
	s = strings.TrimPrefix(s, "RUN ")
	if m := buildArgs.FindStringSubmatchIndex(s); m != nil {
		n, _ := strconv.Atoi(s[m[2]:m[3]])
		words := strings.Fields(s[m[1]:])
		if n <= len(words) {
			s = strings.Join(words[n:], " ")
		}
	}
	if strings.Contains(s, "#(nop)") {
		return "", false
	}
	for _, p := range []string{"/bin/sh -c ", "/bin/bash -c ", "sh -c "} {
		if r, ok := strings.CutPrefix(s, p); ok {
			return strings.TrimSuffix(r, " # buildkit"), true
		}
	}
	if strings.HasPrefix(cb, "RUN ") {
		return strings.TrimSuffix(s, " # buildkit"), true
	}
	return "", false
}

func installInSameRun(run string) bool {
	for _, part := range splitCommands(run) {
		if updateCmd().MatchString(part) {
			continue
		}
		if installCmd().MatchString(part) {
			return true
		}
	}
	return false
}

var commandSep = secret.Lazy(`&&|\|\||;|\n`)

// splitCommands splits a shell command list at &&, ||, ; and newlines.
func splitCommands(s string) []string { return commandSep().Split(s, -1) }

// historySecrets finds secrets in one created_by: build arguments of a
// RUN, ENV/ARG/LABEL assignments, and anything a secret rule matches.
func historySecrets(cb string, envSeen map[string]bool, sc *secret.Scanner) []string {
	var out []string
	if m := buildArgs.FindStringSubmatchIndex(strings.TrimPrefix(cb, "RUN ")); m != nil {
		s := strings.TrimPrefix(cb, "RUN ")
		n, _ := strconv.Atoi(s[m[2]:m[3]])
		words := strings.Fields(s[m[1]:])
		for i := 0; i < n && i < len(words); i++ {
			name, val, ok := strings.Cut(words[i], "=")
			if !ok {
				continue
			}
			if ev, ok := secretAssignment(name, val, sc); ok {
				out = append(out, "build argument "+ev)
			}
		}
	} else if m := envInstr.FindStringSubmatch(cb); m != nil {
		for _, kv := range assignments(m[2]) {
			name, val, _ := strings.Cut(kv, "=")
			val = strings.Trim(val, `"'`)
			if m[1] == "ENV" && envSeen[name+"\x00"+val] {
				continue
			}
			if ev, ok := secretAssignment(name, val, sc); ok {
				out = append(out, m[1]+" "+ev)
			}
		}
		return out
	}
	if len(out) == 0 && sc != nil {
		for _, h := range sc.ScanText(cb) {
			out = append(out, fmt.Sprintf("%s %s (%s)", h.Rule, h.Match, h.Fingerprint))
		}
	}
	return out
}

// assignments splits "A=b C=d" (values may be quoted) into "A=b", "C=d".
func assignments(s string) []string {
	var out []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote == 0 && (ch == '"' || ch == '\''):
			quote = ch
		case quote == 0 && ch == ' ':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteByte(ch)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// truncate cuts s to n runes, marking the cut with "…".
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// RedactCommand returns a history command (created_by) with the values of
// secret build arguments and ENV/ARG/LABEL assignments, and everything a
// secret rule matches, redacted: what reports may show of it.
func RedactCommand(cb string, sc *secret.Scanner) string {
	out := cb
	redactAssign := func(kv string) string {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			return kv
		}
		v := strings.Trim(val, `"'`)
		if SecretName(name) && secretValue(v) {
			return name + "=" + secret.Redact(v) + "[" + secret.Fingerprint(v) + "]"
		}
		return kv
	}
	s := strings.TrimPrefix(out, "RUN ")
	if m := buildArgs.FindStringSubmatchIndex(s); m != nil {
		n, _ := strconv.Atoi(s[m[2]:m[3]])
		words := strings.Fields(s[m[1]:])
		for i := 0; i < n && i < len(words); i++ {
			words[i] = redactAssign(words[i])
		}
		out = out[:len(out)-len(s)] + s[:m[1]] + strings.Join(words, " ")
	} else if m := envInstr.FindStringSubmatchIndex(out); m != nil {
		parts := assignments(out[m[4]:m[5]])
		for i := range parts {
			parts[i] = redactAssign(parts[i])
		}
		out = out[:m[4]] + strings.Join(parts, " ")
	}
	if sc != nil {
		out = sc.RedactText(out)
	}
	return out
}
