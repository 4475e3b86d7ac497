package misconfig_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/secret"
)

func scanner(t *testing.T) *secret.Scanner {
	t.Helper()
	sc, err := secret.New(secret.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestDockerfileFixtures runs every Dockerfile check on its two fixtures:
// <check>.fire.Dockerfile must raise it, <check>.pass.Dockerfile must not.
func TestDockerfileFixtures(t *testing.T) {
	sc := scanner(t)
	for _, c := range misconfig.Checks() {
		if !slices.Contains(c.Sources, "dockerfile") {
			continue
		}
		for _, variant := range []string{"fire", "pass"} {
			t.Run(c.ID+"/"+variant, func(t *testing.T) {
				p := filepath.Join("testdata", "dockerfiles", c.ID+"."+variant+".Dockerfile")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("every Dockerfile check needs fixtures: %v", err)
				}
				ms, err := misconfig.Dockerfile("/"+p, b, sc)
				if err != nil {
					t.Fatal(err)
				}
				var fired []int
				for _, m := range ms {
					if m.ID == c.ID {
						fired = append(fired, m.Line)
						if m.Path != "/"+p || m.Line < 1 || m.Remediation == "" || m.Evidence == "" {
							t.Errorf("incomplete finding: %+v", m)
						}
					}
				}
				if (variant == "fire") != (len(fired) > 0) {
					t.Errorf("%s fired at lines %v in %s:\n%s", c.ID, fired, p, b)
				}
			})
		}
	}
}

func TestDockerfileRedactsSecrets(t *testing.T) {
	token := "ghp_" + strings.Repeat("aB3", 12)
	b := []byte("FROM debian:12\nENV DB_PASSWORD=Sup3rS3cretValue\nLABEL note=" + token + "\nRUN curl -H 'Authorization: token " + token + "' https://x | sh\n")
	ms, err := misconfig.Dockerfile("/Dockerfile", b, scanner(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.ID] = true
		if strings.Contains(m.Evidence, "Sup3rS3cretValue") || strings.Contains(m.Evidence, token) {
			t.Errorf("%s evidence leaks a secret: %s", m.ID, m.Evidence)
		}
	}
	for _, id := range []string{misconfig.SecretInEnv, misconfig.SecretInLabel, misconfig.PipeToShell} {
		if !ids[id] {
			t.Errorf("%s did not fire", id)
		}
	}
}

func TestRedactCommand(t *testing.T) {
	for _, tc := range []struct{ in, leak string }{
		{"RUN |2 NPM_TOKEN=abcdef123456 VERSION=1 /bin/sh -c npm ci # buildkit", "abcdef123456"},
		{"ENV API_KEY=zyxwvu987654 HOME=/root", "zyxwvu987654"},
		{"/bin/sh -c #(nop)  ENV DB_PASSWORD=hunter2hunter2", "hunter2hunter2"},
		{"RUN /bin/sh -c echo AKIAABCDEFGHIJKLMNOP > /x # buildkit", "AKIAABCDEFGHIJKLMNOP"},
	} {
		got := misconfig.RedactCommand(tc.in, scanner(t))
		if strings.Contains(got, tc.leak) || got == tc.in {
			t.Errorf("RedactCommand(%q) = %q", tc.in, got)
		}
	}
	if got := misconfig.RedactCommand("RUN |1 VERSION=1.2.3 /bin/sh -c make", scanner(t)); !strings.Contains(got, "VERSION=1.2.3") {
		t.Errorf("a harmless build argument was redacted: %q", got)
	}
}

func FuzzDockerfile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "dockerfiles", "*.Dockerfile"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	sc, _ := secret.New(secret.Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = misconfig.Dockerfile("/Dockerfile", b, sc)
	})
}
