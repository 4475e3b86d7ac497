package cli_test

import (
	"strings"
	"testing"
)

// TestRunCommandErrors: drydock run refuses what it cannot do with exit 2
// and a message naming what is wrong or missing, before any sandbox
// starts. (Runs of the sandbox itself are tested in internal/run, inside
// a network namespace of their own.)
func TestRunCommandErrors(t *testing.T) {
	img := corpusImage(t, "multiarch-busybox")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown tracer", []string{"run", img, "--tracer", "dtrace"}, `--tracer "dtrace" is not built in (have: ebpf, ptrace, auto, none)`},
		{"runtime missing", []string{"run", img, "--tracer", "none", "--runtime", "/nonexistent/runc"}, "/nonexistent/runc"},
		{"no docker engine", []string{"run", img, "--runtime", "docker", "--docker-host", "unix:///nonexistent/docker.sock"}, "no Docker engine at unix:///nonexistent/docker.sock"},
		{"bad network", []string{"run", img, "--tracer", "none", "--network", "host"}, `--network "host"`},
		{"bad format", []string{"run", img, "-o", "sarif"}, "drydock run writes table, json, html"},
		{"bad severity", []string{"run", img, "--fail-on", "urgent"}, "unknown severity"},
		{"bad memory", []string{"run", img, "--memory", "lots"}, "--memory"},
		{"command without --", []string{"run", img, "sh"}, "after --"},
		{"bad rules file", []string{"run", img, "--rules", "/nonexistent/rules.yaml"}, "--rules"},
		{"no such image", []string{"run", "/nonexistent/image.tar", "--tracer", "none"}, "no such image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, c.want)
			}
		})
	}
}
