package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeEventsFlags: --runtime-events marks what a recorded run used;
// a missing or broken events file, or --only-in-use without one, is an
// error (exit 2) naming what is wrong.
func TestRuntimeEventsFlags(t *testing.T) {
	img := corpusImage(t, "debian12-app")
	dir := t.TempDir()
	// A run that executed /app/bin/orders-api (the image's Go binary).
	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, []byte(
		`{"time":"2026-01-01T00:00:00Z","kind":"open","pid":7,"uid":0,"path":"/app/bin/orders-api","access":"exec","result":0}`+"\n"+
			`{"time":"2026-01-01T00:00:00Z","kind":"exec","pid":7,"uid":0,"path":"/app/bin/orders-api","argv":["/app/bin/orders-api"],"result":0}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(broken, []byte(`{"kind":"exec"}`+"\n"+`{"kind":`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "image", img, "--scanners", "none", "--runtime-events", events, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Packages []struct {
			Type  string `json:"type"`
			Path  string `json:"path"`
			InUse bool   `json:"in_use"`
		} `json:"packages"`
		Runtime struct {
			Events     string `json:"events"`
			EventCount int    `json:"event_count"`
		} `json:"runtime"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, p := range rep.Packages {
		if p.InUse != (p.Path == "/app/bin/orders-api") {
			t.Errorf("%s at %s: in_use %v", p.Type, p.Path, p.InUse)
		}
		if p.InUse {
			marked++
		}
	}
	if marked == 0 || rep.Runtime.Events != events || rep.Runtime.EventCount != 2 {
		t.Errorf("%d packages marked; runtime %+v", marked, rep.Runtime)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"only without events", []string{"--only-in-use"}, "--only-in-use needs --runtime-events"},
		{"missing file", []string{"--runtime-events", filepath.Join(dir, "nonexistent.jsonl")}, "nonexistent.jsonl"},
		{"broken file", []string{"--runtime-events", broken}, "broken.jsonl: events file: line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, append([]string{"image", img, "--scanners", "none"}, c.args...)...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, c.want)
			}
		})
	}
}
