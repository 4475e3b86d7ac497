package secret_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/secret"
)

// random returns n characters of alphabet, different on every run, so no
// test value is a real secret and every match is computed.
func random(t *testing.T, alphabet string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64         = alnum + "+/"
)

func rsaPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// TestRules gives every rule content that fires it and content that
// must not, and checks no output carries the secret.
func TestRules(t *testing.T) {
	aws := "AKIA" + random(t, upperDigits, 16)
	awsSecret := random(t, b64, 40)
	ghp := "ghp_" + random(t, alnum, 36)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx" + random(t, alnum, 12) + "." + random(t, alnum, 43)
	pass := random(t, alnum, 16)
	key := rsaPEM(t)
	cases := []struct {
		rule, path, content, secretValue string
		fire                             bool
	}{
		{"aws-access-key-id", "root/.aws/credentials", "aws_access_key_id = " + aws + "\n", aws, true},
		{"aws-access-key-id", "app/docs.txt", "AKIAIOSFODNN7EXAMPLE is the documented example\n", "", false},
		{"aws-secret-access-key", "root/.aws/credentials", "aws_secret_access_key = " + awsSecret + "\n", awsSecret, true},
		{"aws-secret-access-key", "app/x.txt", "aws_secret_access_key = ${AWS_SECRET}\n", "", false},
		{"gcp-service-account", "app/sa.json", `{"type": "service_account", "private_key_id": "` + strings.ToLower(random(t, "0123456789abcdef", 40)) + `"}`, "", true},
		{"private-key", "app/tls.key", key, strings.Split(key, "\n")[2], true},
		{"private-key", "usr/lib/python3/ssl.py", "if line == '-----BEGIN RSA PRIVATE KEY-----':\n    parse()\n", "", false},
		{"github-token", "app/.npmrc", "token=" + ghp + "\n", ghp, true},
		{"github-token", "app/x.txt", "ghp_short\n", "", false},
		{"gitlab-token", "app/ci.sh", "export T=glpat-" + random(t, alnum, 20) + "\n", "", true},
		{"slack-token", "app/bot.py", "TOKEN = 'xoxb-" + random(t, "0123456789", 11) + "-" + random(t, alnum, 24) + "'\n", "", true},
		{"slack-webhook", "app/hook.txt", "https://hooks.slack.com/services/T" + random(t, upperDigits, 8) + "/B" + random(t, upperDigits, 8) + "/" + random(t, alnum, 24) + "\n", "", true},
		{"stripe-key", "app/pay.js", "const k = 'sk_live_" + random(t, alnum, 24) + "'\n", "", true},
		{"stripe-key", "app/pay.js", "const k = 'sk_test_" + random(t, alnum, 24) + "'\n", "", false},
		{"jwt", "app/token.txt", "Authorization: Bearer " + jwt + "\n", jwt, true},
		{"password-assignment", "app/.env", "DB_PASSWORD=" + pass + "\n", pass, true},
		{"password-assignment", "app/config.yaml", "db:\n  password: \"" + pass + "\"\n", pass, true},
		{"password-assignment", "app/config.yaml", "password: ${DB_PASSWORD}\n", "", false},
		{"password-assignment", "app/main.go", "password := \"" + pass + "\"\n", "", false},
	}
	sc, err := secret.New(secret.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i, "-", tc.rule), func(t *testing.T) {
			hits := sc.ScanFile(tc.path, []byte(tc.content))
			fired := false
			for _, h := range hits {
				if h.Rule == tc.rule {
					fired = true
					if h.Line < 1 || !strings.HasPrefix(h.Fingerprint, "sha256:") || len(h.Fingerprint) != len("sha256:")+12 {
						t.Errorf("hit %+v", h)
					}
				}
				if tc.secretValue != "" && (strings.Contains(h.Match, tc.secretValue) || strings.Contains(h.Fingerprint, tc.secretValue)) {
					t.Errorf("hit carries the secret: %+v", h)
				}
			}
			if fired != tc.fire {
				t.Errorf("%s fired %v on %q, want %v (hits %+v)", tc.rule, fired, tc.content, tc.fire, hits)
			}
		})
	}
}

func TestAllowAndBinary(t *testing.T) {
	aws := "AKIA" + random(t, upperDigits, 16)
	sc, err := secret.New(secret.Options{Allow: secret.Allow{Paths: []string{`^app/fixtures/`}, Regexes: []string{`^AKIA.*Z$`}}})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Wants("app/fixtures/creds", 10) || !sc.Wants("app/creds", 10) || sc.Wants("usr/lib/libc.so.6", 10) || sc.Wants("x", sc.MaxSize()+1) {
		t.Error("Wants ignores the allow paths, binary names or the size cap")
	}
	allowed := aws[:19] + "Z"
	if hits := sc.ScanFile("app/x", []byte(allowed)); len(hits) != 0 {
		t.Errorf("allowed value reported: %+v", hits)
	}
	if hits := sc.ScanFile("app/x", []byte("\x00\x01"+aws)); len(hits) != 0 {
		t.Errorf("binary content scanned: %+v", hits)
	}
	if _, err := secret.New(secret.Options{Allow: secret.Allow{Regexes: []string{"("}}}); err == nil {
		t.Error("a bad allow regex is accepted")
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hunter2", "h…"}, {"AKIAABCDEFGHIJKLMNOP", "AKIA…"}, {"abc", "…"},
	} {
		if got := secret.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if secret.Fingerprint("a") == secret.Fingerprint("b") {
		t.Error("fingerprints collide")
	}
}

func FuzzScanFile(f *testing.F) {
	f.Add("root/.aws/credentials", []byte("aws_access_key_id = AKIAABCDEFGHIJKLMNOP\naws_secret_access_key = abcdefghijABCDEFGHIJ0123456789abcdefghij\n"))
	f.Add("app/.env", []byte("PASSWORD=abcdefgh\n-----BEGIN PRIVATE KEY-----\nAAAA\n"))
	sc, _ := secret.New(secret.Options{})
	f.Fuzz(func(t *testing.T, p string, b []byte) {
		for _, h := range sc.ScanFile(p, b) {
			if h.Rule == "" || !strings.HasSuffix(h.Match, "…") && !strings.Contains(h.Match, "…") {
				t.Fatalf("hit %+v", h)
			}
		}
		_ = sc.RedactText(string(b))
	})
}

// TestWindows puts secrets far apart in a large file: each is found, on
// its line, as the whole-file search would find it.
func TestWindows(t *testing.T) {
	sc, err := secret.New(secret.Options{})
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("lorem ipsum dolor sit amet\n", 4000)
	a, b := "AKIA"+random(t, upperDigits, 16), "AKIA"+random(t, upperDigits, 16)
	content := filler + "key=" + a + "\n" + filler + filler + "other " + b + " end\n" + "AKIA-not-a-key\n"
	hits := sc.ScanFile("app/big.txt", []byte(content))
	var lines []int
	for _, h := range hits {
		if h.Rule == "aws-access-key-id" {
			lines = append(lines, h.Line)
		}
	}
	if want := []int{4001, 12002}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("aws-access-key-id on lines %v, want %v", lines, want)
	}
	if hits[0].Fingerprint != secret.Fingerprint(a) || hits[1].Fingerprint != secret.Fingerprint(b) {
		t.Error("fingerprints are not those of the planted keys")
	}
}

// The rules' patterns compile on first use: every one must compile.
func TestRulePatternsCompile(t *testing.T) {
	for _, r := range secret.Rules() {
		t.Run(r.ID, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("pattern does not compile: %v", p)
				}
			}()
			if r.Regex == nil || r.Regex() == nil {
				t.Fatal("no pattern")
			}
			if r.Paths != nil && r.Paths() == nil {
				t.Fatal("no path pattern")
			}
		})
	}
}
