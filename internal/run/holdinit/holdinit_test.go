package holdinit

import (
	"bytes"
	"strings"
	"testing"
)

// TestMainWithoutExec covers the paths that return instead of executing
// the program (the container tests execute it for real). A release makes
// Main replace this process's standard input by /dev/null.
func TestMainWithoutExec(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{"no program", []string{Path}, "G", ExitExec, "no program"},
		{"input ends without release", []string{Path, "/bin/true"}, "", ExitNotReleased, "not released"},
		{"wrong byte", []string{Path, "/bin/true"}, "x", ExitNotReleased, "not released"},
		{"program not found", []string{Path, "no-such-program-" + strings.Repeat("x", 8)}, "G", ExitNotFound, "no-such-program"},
		{"path that does not exist", []string{Path, "/nonexistent/prog"}, "G", ExitNotFound, "/nonexistent/prog"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(c.args, strings.NewReader(c.stdin), &stderr)
			if code != c.code || !strings.HasPrefix(stderr.String(), "drydock-init: ") || !strings.Contains(stderr.String(), c.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.msg)
			}
		})
	}
	if !Is(Path) || Is("/usr/bin/drydock") {
		t.Error("Is")
	}
}
