package layers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/analyze/analyzetest"
	"github.com/drydockscan/drydock/internal/layers"
)

// The scripted terminal session runs this test binary again inside tmux,
// as the interactive view on edge-layers (TestMain sees the variable).
const tuiHelperEnv = "DRYDOCK_LAYERS_TUI_HELPER"

func TestMain(m *testing.M) {
	if target := os.Getenv(tuiHelperEnv); target != "" {
		if err := runTUIHelper(target); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runTUIHelper(target string) error {
	t := &testing.T{}
	a := analyse(t, target)
	if t.Failed() {
		return fmt.Errorf("analysis of %s failed", target)
	}
	return layers.Explore(context.Background(), a, os.Stdin, os.Stdout)
}

// tmuxSession drives a real terminal: keys in, screen out.
type tmuxSession struct {
	t    *testing.T
	name string
	sock string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", s.name) }

// waitFor waits until every string is on the screen and the screen holds
// still: a capture can catch a frame half drawn.
func (s *tmuxSession) waitFor(what ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, w := range what {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			time.Sleep(100 * time.Millisecond)
			if s.screen() == scr {
				return scr
			}
			continue
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q:\n%s", what, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *tmuxSession) keys(k ...string) { s.tmux(append([]string{"send-keys", "-t", s.name}, k...)...) }

func TestExploreInTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("DRYDOCK_REQUIRE_ENGINES") == "1" {
			t.Fatal("tmux not installed (DRYDOCK_REQUIRE_ENGINES=1)")
		}
		t.Skip("tmux not installed (Debian: tmux)")
	}
	target := filepath.Join(analyzetest.Corpus(t), "edge-layers", "oci")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dd-tmux-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s := &tmuxSession{t: t, name: "layers", sock: filepath.Join(dir, "sock")}
	done := filepath.Join(dir, "done")
	// CI set, as on the CI runners: the styling library then drops every
	// attribute, and the view must still show its cursor.
	cmd := fmt.Sprintf("env %s=%s TERM=xterm-256color CI=true %s -test.run=^$; echo $? > %s; sleep 30", tuiHelperEnv, target, self, done)
	s.tmux("new-session", "-d", "-s", s.name, "-x", "160", "-y", "45", cmd)
	defer exec.Command("tmux", "-S", s.sock, "kill-server").Run()

	s.waitFor("efficiency 99.16 %", "Layer 0 changes", "busybox")
	// Keys typed before the view has the terminal in raw mode are lost
	// with the line buffer: press until the view answers.
	for i := 0; i < 100 && !strings.Contains(s.screen(), "Layer 1 changes"); i++ {
		s.keys("j")
		time.Sleep(200 * time.Millisecond)
	}
	// Layer 2: the opaque directory and the whiteouts.
	s.keys("j")
	scr := s.waitFor("Layer 2 changes", "- ", "old.so", "package-lock.json")
	if !strings.Contains(scr, "~") || !strings.Contains(scr, "status") {
		t.Errorf("layer 2 should show /var/lib/dpkg/status modified:\n%s", scr)
	}
	// Filter the tree: only d.conf (and its parents) remain.
	s.keys("/", "d", ".", "c", "o", "n", "f", "Enter")
	scr = s.waitFor("filter: d.conf", "+ ", "d.conf")
	if strings.Contains(scr, "old.so") {
		t.Errorf("the filter left other paths:\n%s", scr)
	}
	s.keys("Escape")
	s.waitFor("old.so", "» Layer 2 changes")
	// Collapse /opt: its children disappear.
	s.keys("Tab")
	s.waitFor("» Layers")
	s.keys("Tab")
	s.waitFor("» Layer 2 changes")
	// One step at a time: press j, then wait for the cursor to move before
	// looking again, so a slow redraw cannot make the walk overshoot.
	scr = s.screen()
	for i := 0; i < 60 && !strings.Contains(cursorRow(scr), "▾ opt"); i++ {
		before := cursorRow(scr)
		if before == "" {
			t.Fatalf("no cursor row in the tree pane:\n%s", scr)
		}
		s.keys("j")
		for deadline := time.Now().Add(10 * time.Second); cursorRow(scr) == before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			scr = s.screen()
		}
		if cursorRow(scr) == before {
			t.Fatalf("j did not move the cursor from %q:\n%s", before, scr)
		}
		// A frame can be captured half drawn: look again until it holds still.
		for time.Sleep(100 * time.Millisecond); s.screen() != scr; time.Sleep(100 * time.Millisecond) {
			scr = s.screen()
		}
	}
	if !strings.Contains(cursorRow(scr), "▾ opt") {
		t.Fatalf("the cursor never reached /opt:\n%s", scr)
	}
	s.keys("Enter")
	scr = s.waitFor("▸ opt")
	if strings.Contains(scr, "old.so") {
		t.Errorf("collapsed /opt still shows its children:\n%s", scr)
	}
	s.keys("Enter")
	s.waitFor("▾ opt", "old.so")
	// The whole image tree names the layer each path came from: old.so
	// was last written by layer 3.
	s.keys("a")
	s.waitFor("Image tree", "L0")
	s.keys("/", "o", "l", "d", ".", "s", "o", "Enter")
	scr = s.waitFor("filter: old.so", "old.so")
	if !regexp.MustCompile(`L3 +3 B +old\.so`).MatchString(scr) {
		t.Errorf("old.so is not shown as coming from layer 3:\n%s", scr)
	}
	s.keys("q")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(done); err == nil {
			if strings.TrimSpace(string(b)) != "0" {
				t.Errorf("the view exited with %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cursorRow returns the tree pane's cursor row, the right pane's line
// marked with the cursor character, prefixed with its line number: rows
// that read the same are told apart by their place on the screen.
func cursorRow(screen string) string {
	for n, l := range strings.Split(screen, "\n") {
		_, right, ok := strings.Cut(l, "││")
		if row := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(right), "│")); ok && strings.HasPrefix(row, "›") {
			return fmt.Sprintf("%d:%s", n, row)
		}
	}
	return ""
}
