//go:build linux && (amd64 || arm64)

package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNamedUnknown(t *testing.T) {
	_, err := Named("dtrace")
	if err == nil || !strings.Contains(err.Error(), "ebpf, ptrace") {
		t.Errorf("Named(dtrace) = %v, want an error listing the tracers", err)
	}
}

// TestAutoFallsBack runs this binary as nobody, where eBPF is refused for
// want of capabilities: Auto must choose ptrace and say why not eBPF.
func TestAutoFallsBack(t *testing.T) {
	needRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary may sit in a directory nobody cannot enter.
	bin := filepath.Join(t.TempDir(), "trace.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run", "^TestAutoChoice$", "-test.v")
	cmd.Env = append(os.Environ(), "DRYDOCK_TRACE_AUTO_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	wants := []string{"chose ptrace", "ebpf unavailable: neither CAP_SYS_ADMIN nor CAP_BPF"}
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(b)) != "0" {
		// Yama keeps nobody from ptrace too: Auto must say why for both.
		wants = []string{"no tracer", "ebpf unavailable: neither CAP_SYS_ADMIN nor CAP_BPF", "ptrace unavailable: ptrace is"}
	}
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

// TestAutoChoice is TestAutoFallsBack's child: it reports Auto's choice.
func TestAutoChoice(t *testing.T) {
	if os.Getenv("DRYDOCK_TRACE_AUTO_CHILD") == "" {
		t.Skip("run by TestAutoFallsBack")
	}
	tr, note, err := Auto()
	if err != nil {
		t.Logf("no tracer: %v", err)
	} else {
		t.Logf("chose %s; %s", tr.Name(), note)
	}
	_, err = Named("ebpf")
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Tracer != "ebpf" {
		t.Errorf("Named(ebpf) as nobody = %v, want an *UnavailableError", err)
	}
}

func TestAutoPrefersEBPF(t *testing.T) {
	needRoot(t)
	if _, err := Named("ebpf"); err != nil {
		skipOrFail(t, err.Error())
	}
	tr, note, err := Auto()
	if err != nil || tr.Name() != "ebpf" || note != "" {
		t.Errorf("Auto() = %v, %q, %v; want ebpf with no note", tr, note, err)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// TestAttachMissing: a target that does not exist is an error, not a
// session that never ends.
func TestAttachMissing(t *testing.T) {
	needRoot(t)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			tr := tracerNamed(t, name)
			// A pid that was just freed.
			c := exec.Command("true")
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := tr.Attach(ctx, Target{PID: c.Process.Pid})
			if err != nil {
				return // ptrace: no such process
			}
			// eBPF cannot know at attach; its session must end by itself.
			for range s.Events() {
			}
			if ctx.Err() != nil {
				t.Error("the session of a missing target did not end")
			}
			s.Close()
		})
	}
}

// TestCloseDetaches: closing a session early leaves the traced process
// running untraced to its normal end, and closes the channel.
func TestCloseDetaches(t *testing.T) {
	needRoot(t)
	bin := filepath.Join(hostBusybox(t), "usr", "bin")
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			tr := tracerNamed(t, name)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(bin, "sh"), "-c", `read -r x <&3; i=0; while [ $i -lt 50 ]; do cat /dev/null; i=$((i+1)); done; exit 7`)
			cmd.Env = []string{"PATH=" + bin}
			cmd.ExtraFiles = []*os.File{pr}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			s, err := tr.Attach(context.Background(), Target{PID: cmd.Process.Pid})
			if err != nil {
				t.Fatal(err)
			}
			pw.Write([]byte("go\n"))
			pw.Close()
			// Close once the workload is under way.
			for ev := range s.Events() {
				if ev.Kind == KindExec {
					break
				}
			}
			done := make(chan struct{})
			go func() { s.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Close did not return")
			}
			for range s.Events() {
			}
			werr := make(chan error, 1)
			go func() { werr <- cmd.Wait() }()
			select {
			case err := <-werr:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 7 {
					t.Errorf("workload after Close: %v, want exit status 7", err)
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the workload did not finish after Close (left stopped?)")
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestEBPFCgroup: a process that is not in the traced tree but runs in
// Target.CgroupPath (a cgroup v2 directory) is traced too.
func TestEBPFCgroup(t *testing.T) {
	needRoot(t)
	tr := tracerNamed(t, "ebpf")
	root := cgroup2Mount(t)
	cg := filepath.Join(root, fmt.Sprintf("drydock-trace-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(cg)
	bin := filepath.Join(hostBusybox(t), "usr", "bin")
	dir := filepath.Join(t.TempDir(), "d")
	scenarioDir(t, dir)
	start := func(script string) (*exec.Cmd, *os.File) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(bin, "sh"), "-c", `read -r x <&3; exec 3<&-; `+script)
		cmd.Env = []string{"PATH=" + bin}
		cmd.ExtraFiles = []*os.File{pr}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		return cmd, pw
	}
	tree, treeGo := start("exit 0")
	member, memberGo := start("cat " + filepath.Join(dir, "thread.txt") + " >/dev/null")
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(fmt.Sprint(member.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(fmt.Sprint(member.Process.Pid)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := tr.Attach(ctx, Target{PID: tree.Process.Pid, CgroupPath: cg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	memberGo.Write([]byte("go\n"))
	memberGo.Close()
	member.Wait()
	treeGo.Write([]byte("go\n"))
	treeGo.Close()
	var found bool
	for ev := range s.Events() {
		if ev.Kind == KindOpen && ev.Path == filepath.Join(dir, "thread.txt") && ev.PID != tree.Process.Pid {
			found = true
		}
	}
	tree.Wait()
	if !found {
		t.Error("no open of thread.txt by the process in the target's cgroup")
	}
}

// cgroup2Mount is where this machine mounts the cgroup v2 hierarchy.
func cgroup2Mount(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return f[4]
		}
	}
	skipOrFail(t, "no cgroup v2 hierarchy mounted")
	return ""
}
