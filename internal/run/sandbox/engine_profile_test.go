package sandbox

import (
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestEngineTraceProfile: the profile handed to a Docker engine reads
// back (as the engine reads it) as exactly the built-in sandbox's traced
// profile for the same capabilities; the traced calls are SCMP_ACT_TRACE
// and nothing else is.
func TestEngineTraceProfile(t *testing.T) {
	names := []string{"openat", "connect", "mount", "setuid"}
	b, err := EngineTraceProfile(names)
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: DefaultCapabilities}}}
	got, err := seccomp.LoadProfile(string(b), spec)
	if err != nil {
		t.Fatalf("the engine's loader refuses the profile: %v\n%s", err, b)
	}
	want, err := seccomp.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	traceSyscalls(want, names)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("profile read back differs (-built-in +engine):\n%s", diff)
	}
	traced := map[string]bool{}
	for _, r := range got.Syscalls {
		if r.Action != specs.ActTrace {
			continue
		}
		for _, n := range r.Names {
			traced[n] = true
			if !slices.Contains(names, n) {
				t.Errorf("%s is traced, not asked for", n)
			}
		}
	}
	for _, n := range names {
		if !traced[n] {
			t.Errorf("%s is not traced", n)
		}
	}
}
