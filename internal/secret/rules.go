// Package secret finds secrets (cloud keys, private keys, tokens,
// passwords) in file contents and text, and redacts them: a secret never
// leaves this package in full, only a few leading characters and a short
// fingerprint.
//
// Rules are data: each has keywords, a cheap prefilter that must occur in
// the content before its regular expression runs, so the walk over every
// file of every layer stays fast.
package secret

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/drydockscan/drydock/internal/finding"
)

// Rule is one kind of secret.
type Rule struct {
	// ID is stable: ignore files and policies name it.
	ID       string
	Title    string
	Severity finding.Severity
	// Keywords: at least one must occur (case-sensitively, as written)
	// before the regular expression runs.
	Keywords []string
	// Regex finds the secret; the submatch named "secret" (else the whole
	// match) is the secret.
	Regex Pattern
	// Paths, when set, limit the rule to files whose path matches.
	Paths Pattern
	// Skip rejects a match (placeholders, examples).
	Skip func(secret string) bool
	// Windowed rules' expressions run only near their keywords: a match
	// starts at most a line and 512 bytes before a keyword and ends within
	// 16 KiB after it.
	Windowed bool
}

// Pattern is a regular expression compiled on first use: most processes
// run few of the rules, or none (a scan's history redaction runs only the
// rules whose keywords occur), and compiling them all took a millisecond.
// The image and Dockerfile checks keep theirs the same way.
type Pattern func() *regexp.Regexp

// Lazy returns the Pattern of expr.
func Lazy(expr string) Pattern {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// configFiles are the files where password assignments are looked for:
// .env files and configuration formats.
var configFiles = Lazy(`(?i)(^|/)(\.env(\.[^/]*)?|[^/]+\.env|[^/]+\.(conf|cfg|cnf|ini|properties|ya?ml|toml|json|xml)|credentials|secrets?)$`)

// Rules returns the built-in rules, in a fixed order. Their patterns are
// shared by every caller, so each compiles once in a process, however many
// scanners it builds (a server builds one per scan).
func Rules() []Rule { return slices.Clone(builtinRules()) }

var builtinRules = sync.OnceValue(func() []Rule {
	return []Rule{
		{
			ID: "aws-access-key-id", Title: "AWS access key ID", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"AKIA", "ASIA", "ABIA", "ACCA"},
			Regex:    Lazy(`(?:^|[^A-Za-z0-9/+])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?:$|[^A-Za-z0-9/+=])`),
			Skip:     func(s string) bool { return strings.HasSuffix(s, "EXAMPLE") },
		},
		{
			ID: "aws-secret-access-key", Title: "AWS secret access key", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"aws_secret", "AWS_SECRET", "SecretAccessKey", "secret_access_key", "aws-secret"},
			Regex:    Lazy(`(?i)(?:aws[_-]?secret[_-]?(?:access[_-]?)?key|secretaccesskey)["']?\s*[:=]\s*["']?(?P<secret>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])`),
			Skip:     func(s string) bool { return strings.Contains(s, "EXAMPLEKEY") },
		},
		{
			ID: "gcp-service-account", Title: "GCP service-account key", Severity: finding.Critical,
			Keywords: []string{"service_account"},
			Regex:    Lazy(`"private_key_id"\s*:\s*"(?P<secret>[0-9a-f]{40})"`),
			// The key id can be anywhere in the document: no window.
		},
		{
			ID: "private-key", Title: "Private key", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"PRIVATE KEY-----"},
			// A header alone (parsers and documentation mention it) is not
			// a key: at least 64 characters of key material must follow.
			Regex: Lazy(`-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----\r?\n(?:[A-Za-z-]+: [^\n]*\r?\n)*\r?\n?(?P<secret>[A-Za-z0-9+/=\r\n]{64,})`),
		},
		{
			ID: "github-token", Title: "GitHub token", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
			Regex:    Lazy(`(?:^|[^A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})(?:$|[^A-Za-z0-9_])`),
		},
		{
			ID: "gitlab-token", Title: "GitLab token", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"glpat-", "glrt-", "gldt-", "glptt-"},
			Regex:    Lazy(`(?:^|[^A-Za-z0-9_-])(?P<secret>(?:glpat|glrt|gldt)-[A-Za-z0-9_-]{20,}|glptt-[0-9a-f]{40})`),
		},
		{
			ID: "slack-token", Title: "Slack token", Severity: finding.High,
			Windowed: true,
			Keywords: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"},
			Regex:    Lazy(`(?P<secret>xox[bpares]-(?:[0-9]+-)?[0-9A-Za-z-]{10,})`),
		},
		{
			ID: "slack-webhook", Title: "Slack incoming webhook", Severity: finding.High,
			Windowed: true,
			Keywords: []string{"hooks.slack.com"},
			Regex:    Lazy(`(?P<secret>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,})`),
		},
		{
			ID: "stripe-key", Title: "Stripe live API key", Severity: finding.Critical,
			Windowed: true,
			Keywords: []string{"sk_live_", "rk_live_"},
			Regex:    Lazy(`(?:^|[^A-Za-z0-9_])(?P<secret>[sr]k_live_[0-9A-Za-z]{24,99})`),
		},
		{
			ID: "jwt", Title: "JSON Web Token", Severity: finding.Medium,
			Windowed: true,
			Keywords: []string{".eyJ"},
			Regex:    Lazy(`(?:^|[^A-Za-z0-9_.-])(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})`),
		},
		{
			ID: "password-assignment", Title: "Password in a configuration file", Severity: finding.High,
			Windowed: true,
			Keywords: []string{"pass", "PASS", "Pass", "pwd", "PWD", "secret", "SECRET", "Secret"},
			Paths:    configFiles,
			Regex:    Lazy(`(?im)^[ \t]*["']?[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[^\s"'#;,]{6,})`),
			Skip:     placeholder,
		},
	}
})

// placeholder reports whether a password value is a placeholder, a
// reference or an empty marker rather than a password.
func placeholder(s string) bool {
	l := strings.ToLower(s)
	if strings.ContainsAny(s, "${}<>%()[]") || strings.HasPrefix(s, "/") || strings.HasPrefix(l, "env:") {
		return true
	}
	switch l {
	case "pass:insta": // OpenSSL's openssl.cnf sample for the public Insta Demo CA
		return true
	case "password", "passwd", "changeme", "change_me", "secret", "example", "required", "optional",
		"string", "null", "none", "false", "true", "xxxxxx", "******", "redacted", "undefined":
		return true
	}
	return strings.Trim(l, "x*.-_") == ""
}
