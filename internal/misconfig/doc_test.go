package misconfig_test

import (
	"os"
	"strings"
	"testing"

	"github.com/drydockscan/drydock/internal/misconfig"
	"github.com/drydockscan/drydock/internal/secret"
)

// TestChecksDocumented keeps docs/checks.md true: every check and every
// secret rule is listed there with its id.
func TestChecksDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/checks.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, c := range misconfig.Checks() {
		if !strings.Contains(doc, "`"+c.ID+"`") {
			t.Errorf("docs/checks.md does not list check %s", c.ID)
		}
	}
	for _, r := range secret.Rules() {
		if !strings.Contains(doc, "`"+r.ID+"`") {
			t.Errorf("docs/checks.md does not list secret rule %s", r.ID)
		}
	}
}
