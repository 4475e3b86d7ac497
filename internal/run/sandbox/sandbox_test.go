package sandbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drydockscan/drydock/internal/run/sandbox"
)

// TestSpec: the isolation the package promises is what config.json says.
func TestSpec(t *testing.T) {
	s, err := sandbox.Spec(sandbox.SpecOptions{Args: []string{"/bin/app"}, UID: 1000, GID: 1000, IDs: sandbox.IDRange{Host: 1 << 20, Size: 65536}, Limits: sandbox.DefaultLimits, CgroupsPath: "/drydock/x"})
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s: every namespace must be new", n.Type, n.Path)
		}
		ns = append(ns, string(n.Type))
	}
	for _, want := range []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		if !slices.Contains(ns, string(want)) {
			t.Errorf("no %s namespace", want)
		}
	}
	for _, m := range s.Mounts {
		if m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind") {
			t.Errorf("host mount %+v", m)
		}
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0].HostID != 1<<20 || m[0].ContainerID != 0 || m[0].Size != 65536 {
		t.Errorf("uid map %+v", m)
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != sandbox.DefaultLimits.MemoryBytes || *r.Pids.Limit != sandbox.DefaultLimits.Pids || *r.CPU.Quota != 100000 {
		t.Errorf("limits %+v %+v %+v", r.Memory, r.Pids, r.CPU)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) < 10 {
		t.Errorf("seccomp %+v", s.Linux.Seccomp)
	}
	c := s.Process.Capabilities
	if !slices.Equal(c.Bounding, sandbox.DefaultCapabilities) || len(c.Effective) != 0 || slices.Contains(c.Bounding, "CAP_SYS_ADMIN") {
		t.Errorf("capabilities of a non-root user %+v", c)
	}
	if s.Version != sandbox.SpecVersion {
		t.Errorf("version %s", s.Version)
	}
}

// TestResolveUser reads --user as docker run does.
func TestResolveUser(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/usr/sbin/nologin\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nshadow:x:42:app\napp:x:10001:\nnogroup:x:65534:\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	cases := []struct {
		spec    string
		uid     uint32
		gid     uint32
		groups  []uint32
		home    string
		wantErr string
	}{
		{spec: "", uid: 0, gid: 0, home: "/"},
		{spec: "app", uid: 10001, gid: 10001, groups: []uint32{42}, home: "/app"},
		{spec: "10001", uid: 10001, gid: 10001, groups: []uint32{42}, home: "/app"},
		{spec: "app:nogroup", uid: 10001, gid: 65534, groups: []uint32{42}, home: "/app"},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "4242:4343", uid: 4242, gid: 4343, home: "/"},
		{spec: "ghost", wantErr: `no user "ghost"`},
		{spec: "app:ghosts", wantErr: `no group "ghosts"`},
	}
	for _, c := range cases {
		u, err := sandbox.ResolveUser(root, c.spec)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: got %v, want %q", c.spec, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if u.UID != c.uid || u.GID != c.gid || u.Home != c.home || !slices.Equal(u.Groups, c.groups) {
			t.Errorf("%q: got %+v, want uid %d gid %d groups %v home %s", c.spec, u, c.uid, c.gid, c.groups, c.home)
		}
	}
}

// TestSpecTraceSyscalls: sending calls to a tracer changes no decision of
// the profile: each traced call the profile allows is traced with data 0,
// each it refuses with its errno as the data, and every other call keeps
// the rules it had.
func TestSpecTraceSyscalls(t *testing.T) {
	opts := sandbox.SpecOptions{Args: []string{"/bin/app"}, UID: 0, IDs: sandbox.IDRange{Host: 1 << 20, Size: 65536}, Limits: sandbox.DefaultLimits}
	plain, err := sandbox.Spec(opts)
	if err != nil {
		t.Fatal(err)
	}
	// ptrace and execve are allowed by Docker's profile; mount and
	// init_module are refused (no rule names them: the default action).
	traced := []string{"execve", "ptrace", "mount", "init_module"}
	opts.TraceSyscalls = traced
	s, err := sandbox.Spec(opts)
	if err != nil {
		t.Fatal(err)
	}
	// decisions maps a call to what a profile does with it, rule by rule.
	decisions := func(sc *specs.LinuxSeccomp) map[string][]string {
		m := map[string][]string{}
		for _, r := range sc.Syscalls {
			errno := "-"
			if r.ErrnoRet != nil {
				errno = strconv.Itoa(int(*r.ErrnoRet))
			}
			for _, n := range r.Names {
				m[n] = append(m[n], fmt.Sprintf("%s/%s/%d args", r.Action, errno, len(r.Args)))
			}
		}
		return m
	}
	before, after := decisions(plain.Linux.Seccomp), decisions(s.Linux.Seccomp)
	defErrno := 1
	if d := plain.Linux.Seccomp.DefaultErrnoRet; d != nil {
		defErrno = int(*d)
	}
	for _, n := range traced {
		var want []string
		switch {
		case len(before[n]) == 0 && plain.Linux.Seccomp.DefaultAction == specs.ActErrno:
			want = []string{fmt.Sprintf("%s/%d/0 args", specs.ActTrace, defErrno)}
		case len(before[n]) == 1 && strings.HasPrefix(before[n][0], string(specs.ActAllow)+"/-/"):
			want = []string{fmt.Sprintf("%s/0/%s", specs.ActTrace, strings.SplitN(before[n][0], "/", 3)[2])}
		default:
			t.Fatalf("%s: the profile's rules changed (%q): update the test", n, before[n])
		}
		if !slices.Equal(after[n], want) {
			t.Errorf("%s: rules %q, want %q (before: %q)", n, after[n], want, before[n])
		}
	}
	for n, rules := range before {
		if slices.Contains(traced, n) {
			continue
		}
		if !slices.Equal(after[n], rules) {
			t.Errorf("%s: rules %q, want them unchanged %q", n, after[n], rules)
		}
	}
	if s.Linux.Seccomp.DefaultAction != plain.Linux.Seccomp.DefaultAction {
		t.Errorf("default action %s, want %s", s.Linux.Seccomp.DefaultAction, plain.Linux.Seccomp.DefaultAction)
	}
}
