//go:build linux && (amd64 || arm64)

package trace

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The scenario every tracer test runs, as a busybox sh script. Each line
// is one behaviour the tests look for in the events; $D is the scenario
// directory (known.txt, rootonly), $BIN busybox's applet directory and
// $HELPER, when set, this test binary (the thread workload).
const scenario = `
cat "$D/known.txt" </dev/null >/dev/null
echo hi | cat >/dev/null
( read -r line < "$D/known.txt" )
busybox nc -w 1 192.0.2.1 4444 </dev/null >/dev/null 2>&1
busybox nc -l -p 4445 </dev/null >/dev/null 2>&1 &
i=0
while [ $i -lt 400 ] && ! grep -q ':115D ' /proc/net/tcp /proc/net/tcp6; do usleep 50000; i=$((i+1)); done
kill $!
wait
busybox su -s "$BIN/sh" nobody -c 'echo x > "$0/rootonly"' "$D" 2>/dev/null
[ -z "${HELPER:-}" ] || "$HELPER"
exit 0
`

// TestMain runs this binary as the scenario's thread workload when the
// scenario calls it.
func TestMain(m *testing.M) {
	switch os.Getenv("DRYDOCK_TRACE_HELPER") {
	case "threads":
		os.Exit(threadWorkload())
	case "wait":
		os.Exit(waitThenExec())
	case "refuse":
		os.Exit(refusedCalls())
	}
	code := m.Run()
	if busyboxRoot != "" {
		os.RemoveAll(filepath.Dir(busyboxRoot))
	}
	os.Exit(code)
}

// threadWorkload opens $D/thread.txt from a thread other than the main
// one: the main goroutine keeps the main thread, so the other goroutine
// runs on another. It then makes the calls busybox cannot, each refused
// or without effect: a mount on a missing directory, a ptrace request on
// a process it does not trace, a capset of its own capabilities and a
// module load from a text file.
func threadWorkload() int {
	defer otherCalls()
	runtime.LockOSThread()
	errc := make(chan error)
	go func() {
		f, err := os.Open(filepath.Join(os.Getenv("D"), "thread.txt"))
		if err == nil {
			f.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func otherCalls() {
	_ = unix.Mount("none", missingMount, "tmpfs", 0, "")
	_, _, _ = unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, uintptr(os.Getppid()), 0, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		_ = unix.Capset(&hdr, &data[0])
	}
	if f, err := os.Open(filepath.Join(os.Getenv("D"), "known.txt")); err == nil {
		_ = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
	}
}

// missingMount is a mount point that does not exist: the mount is refused.
const missingMount = "/nonexistent/drydock-trace-mount"

// waitThenExec is the Go form of the created-but-not-started target: a
// multi-threaded process (as runc's init is) that waits for a line on fd 3
// and then execs its arguments. With DRYDOCK_TRACE_SECCOMP set it first
// installs, on all its threads, a seccomp filter that traps the traced
// system calls to the tracer, as a sandbox does for Target.SeccompTrace.
func waitThenExec() int {
	if os.Getenv("DRYDOCK_TRACE_SECCOMP") != "" {
		if err := installTraceFilter(); err != nil {
			fmt.Fprintln(os.Stderr, "seccomp:", err)
			return 1
		}
	}
	var b [1]byte
	for {
		if n, err := syscall.Read(3, b[:]); n <= 0 || err != nil || b[0] == '\n' {
			break
		}
	}
	syscall.Close(3)
	env := append(os.Environ(), "DRYDOCK_TRACE_HELPER=threads")
	err := syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 1
}

// installTraceFilter installs a classic BPF seccomp filter that returns
// SECCOMP_RET_TRACE for SeccompTraceSyscalls' calls and allows the rest.
func installTraceFilter() error {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
	}
	var nrs []uint32
	for nr := range opSyscalls() {
		nrs = append(nrs, uint32(nr))
	}
	// struct seccomp_data: nr at 0, arch at 4.
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4),
		jeq(nativeArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0),
	}
	for i, nr := range nrs {
		// jump to the RET_TRACE after the remaining compares and the RET_ALLOW
		prog = append(prog, jeq(nr, uint8(len(nrs)-i), 0))
	}
	prog = append(prog,
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE))
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return e
	}
	return nil
}

// needRoot skips a test that needs root, unless DRYDOCK_REQUIRE_SANDBOX
// is set (as CI sets it), where a missing requirement fails.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "tracing tests need root")
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("DRYDOCK_REQUIRE_SANDBOX") != "" {
		t.Fatal(why + " (DRYDOCK_REQUIRE_SANDBOX is set)")
	}
	t.Skip(why)
}

func tracerNamed(t *testing.T, name string) Tracer {
	t.Helper()
	tr, err := Named(name)
	if err != nil {
		skipOrFail(t, err.Error())
	}
	return tr
}

// busyboxRoot is the corpus busybox image, unpacked once for the host
// scenarios (its applets run from $BIN).
var busyboxRoot string

func hostBusybox(t testing.TB) string {
	t.Helper()
	if busyboxRoot == "" {
		parent, err := os.MkdirTemp("", "drydock-trace-busybox-")
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(parent, "rootfs")
		if err := unpackBusybox(root); err != nil {
			os.RemoveAll(parent)
			t.Fatal(err)
		}
		if err := os.Chmod(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		busyboxRoot = root
	}
	return busyboxRoot
}

// unpackBusybox unpacks the multiarch-busybox corpus image for this
// machine's architecture into dir, with the standard library only.
func unpackBusybox(dir string) error {
	layout := filepath.Join("..", "..", "..", "..", "shared", "corpus", "multiarch-busybox", "oci")
	blob := func(digest string) string {
		return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
	}
	var index struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture, OS string }
		}
	}
	if err := readJSON(filepath.Join(layout, "index.json"), &index); err != nil {
		return err
	}
	for _, m := range index.Manifests {
		if m.Platform.OS != "linux" || m.Platform.Architecture != runtime.GOARCH {
			continue
		}
		var man struct{ Layers []struct{ Digest string } }
		if err := readJSON(blob(m.Digest), &man); err != nil {
			return err
		}
		for _, l := range man.Layers {
			if err := untarGz(blob(l.Digest), dir); err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: no linux/%s image", layout, runtime.GOARCH)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func untarGz(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		if strings.HasPrefix(filepath.Base(name), ".wh.") {
			continue // whiteouts: the corpus image's app layer has none that matter here
		}
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		// Never write through a symlink out of the rootfs.
		if parent, err := filepath.EvalSymlinks(filepath.Dir(target)); err != nil || !strings.HasPrefix(parent+"/", dir+"/") {
			return fmt.Errorf("%s: parent outside the rootfs", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, os.FileMode(h.Mode)&0o7777|0o700)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777); err == nil {
				_, err = io.Copy(out, tr)
				if cerr := out.Close(); err == nil {
					err = cerr
				}
			}
		case tar.TypeSymlink:
			os.Remove(target)
			err = os.Symlink(h.Linkname, target)
		case tar.TypeLink:
			os.Remove(target)
			err = os.Link(filepath.Join(dir, filepath.Clean("/"+h.Linkname)), target)
		}
		if err != nil {
			return err
		}
	}
}

// scenarioDir makes the files the scenario reads and refuses to write,
// world-readable so that nobody can reach them.
func scenarioDir(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, mode := range map[string]os.FileMode{"known.txt": 0o644, "thread.txt": 0o644, "rootonly": 0o644, "outside-marker": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("drydock\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.sh"), []byte(scenario), 0o755); err != nil {
		t.Fatal(err)
	}
}

// run is one traced run of the scenario.
type run struct {
	events  []Event
	root    int    // the traced tree's root pid
	dir     string // $D as the traced processes see it
	outside int    // pid of a process run outside the tree meanwhile
	threads bool   // whether the thread workload ran
	stops   int    // ptrace: the stops the tracer handled
}

// environment starts the scenario in the created-but-not-started state a
// Target describes, traced by tr.
type environment struct {
	name string
	run  func(t *testing.T, tr Tracer, hostDir string) run
}

var environments = []environment{
	{"helper", func(t *testing.T, tr Tracer, dir string) run { return runHelper(t, tr, dir, false) }},
	{"gohelper", func(t *testing.T, tr Tracer, dir string) run { return runHelper(t, tr, dir, true) }},
	{"runc", runRunc},
}

// runHelper runs the scenario as a child that waits on a pipe before it
// execs the script, in a network namespace of its own (no uplink: the
// connect attempt cannot leave the machine). The child is busybox's shell,
// or with goHelper this test binary (multi-threaded, like runc's init),
// which for the ptrace tracer also traps the traced calls with seccomp
// (Target.SeccompTrace).
func runHelper(t *testing.T, tr Tracer, dir string, goHelper bool) run {
	return runHelperMode(t, tr, dir, goHelper, goHelper && tr.Name() == "ptrace")
}

func runHelperMode(t *testing.T, tr Tracer, dir string, goHelper, seccomp bool) run {
	bin := filepath.Join(hostBusybox(t), "usr", "bin")
	scenarioDir(t, dir)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "sh"), "-c", `read -r x <&3; exec 3<&-; exec "$0" "$1"`, filepath.Join(bin, "sh"), filepath.Join(dir, "scenario.sh"))
	cmd.Env = []string{"PATH=" + bin, "BIN=" + bin, "D=" + dir, "HELPER=" + self, "DRYDOCK_TRACE_HELPER=threads"}
	target := Target{}
	if goHelper {
		cmd = exec.Command(self, filepath.Join(bin, "sh"), filepath.Join(dir, "scenario.sh"))
		cmd.Env = []string{"PATH=" + bin, "BIN=" + bin, "D=" + dir, "HELPER=" + self, "DRYDOCK_TRACE_HELPER=wait"}
		if seccomp {
			cmd.Env = append(cmd.Env, "DRYDOCK_TRACE_SECCOMP=1")
			target.SeccompTrace = true
		}
	}
	cmd.ExtraFiles = []*os.File{pr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	r := run{root: cmd.Process.Pid, dir: dir, threads: true}
	target.PID = r.root
	r.events, r.outside, r.stops = traceTree(t, tr, target, func() {
		pw.Write([]byte("go\n"))
		pw.Close()
	}, filepath.Join(bin, "cat"), filepath.Join(dir, "outside-marker"))
	// The traced root is this process's child: its parent reaps it and
	// reads its status (the scenario exits 0). Here the tracer is a
	// thread of the parent's own process, and the kernel lets a tracer in
	// the real parent's thread group reap a tracee whose exit it waits
	// for: when the root exits while still traced, its status is gone
	// before the parent asks (ECHILD). Only that is tolerated.
	if err := cmd.Wait(); err != nil && !errors.Is(err, syscall.ECHILD) {
		t.Errorf("%s: the parent's wait for the traced root: %v", tr.Name(), err)
	} else if err != nil {
		t.Logf("%s: the root's status was taken by the tracer in this process: %v", tr.Name(), err)
	}
	if stderr.Len() > 0 {
		t.Logf("scenario stderr: %s", stderr.String())
	}
	return r
}

// runRunc runs the scenario as a real container: runc create from the
// corpus busybox rootfs, traced, then runc start.
func runRunc(t *testing.T, tr Tracer, _ string) run {
	runc, err := exec.LookPath("runc")
	if err != nil {
		skipOrFail(t, "runc is not installed (apt-get install runc)")
	}
	base := t.TempDir()
	bundle := filepath.Join(base, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := unpackBusybox(rootfs); err != nil {
		t.Fatal(err)
	}
	scenarioDir(t, filepath.Join(rootfs, "tmp", "trace"))
	spec := exec.Command(runc, "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	var cfg map[string]any
	if err := readJSON(filepath.Join(bundle, "config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/sh", "/tmp/trace/scenario.sh"}
	proc["env"] = []string{"PATH=/bin", "BIN=/bin", "D=/tmp/trace"}
	// Docker's default capabilities include SETUID and SETGID (su needs
	// them); runc's default spec has neither.
	caps := proc["capabilities"].(map[string]any)
	for _, set := range []string{"bounding", "effective", "permitted"} {
		list, _ := caps[set].([]any)
		caps[set] = append(list, "CAP_SETUID", "CAP_SETGID")
	}
	cfg["root"].(map[string]any)["readonly"] = false
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(base, "state")
	id := fmt.Sprintf("drydock-trace-%d", os.Getpid())
	runcCmd := func(args ...string) *exec.Cmd {
		return exec.Command(runc, append([]string{"--root", state}, args...)...)
	}
	// The container's stdio is runc create's: a file, not a pipe whose
	// reader would wait for the container to close it.
	logPath := filepath.Join(base, "output")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	create := runcCmd("create", "--bundle", bundle, "--pid-file", filepath.Join(base, "pid"), id)
	create.Stdout, create.Stderr = logf, logf
	if err := create.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("runc create: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = runcCmd("delete", "--force", id).Run() })
	pidText, err := os.ReadFile(filepath.Join(base, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	r := run{root: pid, dir: "/tmp/trace"}
	r.events, r.outside, r.stops = traceTree(t, tr, Target{PID: pid}, func() {
		if out, err := runcCmd("start", id).CombinedOutput(); err != nil {
			t.Errorf("runc start: %v: %s", err, out)
		}
	}, filepath.Join(rootfs, "bin", "cat"), filepath.Join(rootfs, "tmp", "trace", "outside-marker"))
	return r
}

// traceTree attaches tr to the target, runs a process outside the tree,
// starts the tree and collects its events until it has exited.
func traceTree(t *testing.T, tr Tracer, target Target, start func(), outsideCmd, outsideArg string) (evs []Event, outsidePID, stops int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sess, err := tr.Attach(ctx, target)
	if err != nil {
		t.Fatalf("%s: attach %d: %v", tr.Name(), target.PID, err)
	}
	defer sess.Close()
	outside := exec.Command(outsideCmd, outsideArg)
	if err := outside.Run(); err != nil {
		t.Fatalf("outside process: %v", err)
	}
	start()
	for ev := range sess.Events() {
		evs = append(evs, ev)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s: the traced tree did not finish in time", tr.Name())
	}
	if lr, ok := sess.(LossReporter); !ok {
		t.Errorf("%s session is no LossReporter", tr.Name())
	} else if n := lr.Lost(); n != 0 {
		t.Errorf("%s lost %d records", tr.Name(), n)
	}
	if ps, ok := sess.(*ptraceSession); ok {
		stops = ps.stops // written before the channel closed
	}
	return evs, outside.Process.Pid, stops
}

func TestScenario(t *testing.T) {
	needRoot(t)
	for _, name := range Names() {
		for _, env := range environments {
			t.Run(name+"/"+env.name, func(t *testing.T) {
				tr := tracerNamed(t, name)
				r := env.run(t, tr, filepath.Join(t.TempDir(), "d"))
				logEvents(t, r)
				checkScenario(t, r)
			})
		}
	}
}

// logEvents logs a run's events with -v.
func logEvents(t *testing.T, r run) {
	if testing.Verbose() {
		for _, ev := range r.events {
			b, _ := json.Marshal(ev)
			t.Logf("%s", b)
		}
	}
}

// checkScenario checks the events against what the scenario script does.
func checkScenario(t *testing.T, r run) {
	t.Helper()
	known := r.dir + "/known.txt"
	find := func(what string, ok func(Event) bool) (Event, bool) {
		for _, ev := range r.events {
			if ok(ev) {
				return ev, true
			}
		}
		t.Errorf("no event: %s", what)
		return Event{}, false
	}
	execPIDs := map[int]bool{}
	for _, ev := range r.events {
		if ev.Kind == KindExec && ev.Result == 0 {
			execPIDs[ev.PID] = true
		}
	}

	// cat "$D/known.txt" </dev/null: exec with argv and parent, then the
	// open. (busybox's shell runs its applets by exec of /proc/self/exe.)
	cat, ok := find("exec cat known.txt", func(ev Event) bool {
		return ev.Kind == KindExec && ev.Result == 0 && ev.Path != "" && equalStrings(ev.Argv, []string{"cat", known})
	})
	if ok {
		if cat.PPID != r.root {
			t.Errorf("exec cat: ppid %d, want the script's pid %d", cat.PPID, r.root)
		}
		if cat.Stdin != "null" {
			t.Errorf("exec cat </dev/null: stdin %q, want null", cat.Stdin)
		}
		find("cat opens known.txt for read", func(ev Event) bool {
			return ev.Kind == KindOpen && ev.PID == cat.PID && ev.Path == known && ev.Access == AccessRead && ev.Result >= 0
		})
		find("cat's program opened for exec", func(ev Event) bool {
			return ev.Kind == KindOpen && ev.PID == cat.PID && ev.Path == cat.Path && ev.Access == AccessExec
		})
	}
	// echo hi | cat: stdin is a pipe.
	find("exec cat with stdin a pipe", func(ev Event) bool {
		return ev.Kind == KindExec && ev.Result == 0 && equalStrings(ev.Argv, []string{"cat"}) && ev.Stdin == "pipe"
	})
	// ( read -r line < known.txt ): a forked subshell that never execs.
	find("open of known.txt by a forked child that did not exec", func(ev Event) bool {
		return ev.Kind == KindOpen && ev.Path == known && ev.Access == AccessRead && ev.Result >= 0 &&
			ev.PPID == r.root && ev.PID != r.root && !execPIDs[ev.PID]
	})
	// nc 192.0.2.1 4444 in a namespace with no route: refused with ENETUNREACH.
	find("connect to 192.0.2.1:4444 refused with ENETUNREACH", func(ev Event) bool {
		return ev.Kind == KindConnect && ev.Addr == "192.0.2.1" && ev.Port == 4444 && ev.Proto == "tcp" &&
			ev.Result == -int(syscall.ENETUNREACH)
	})
	// nc -l -p 4445: bind and listen on the wildcard address (busybox nc
	// takes an IPv6 socket when the kernel has IPv6).
	wildcard := func(ev Event) bool {
		return ev.Proto == "tcp" && ev.Addr == "0.0.0.0" || ev.Proto == "tcp6" && ev.Addr == "::"
	}
	find("bind *:4445", func(ev Event) bool {
		return ev.Kind == KindBind && ev.Port == 4445 && wildcard(ev) && ev.Result == 0
	})
	find("listen on *:4445", func(ev Event) bool {
		return ev.Kind == KindListen && ev.Port == 4445 && wildcard(ev) && ev.Result == 0
	})
	// su nobody: setuid to 65534, then a write refused with EACCES.
	find("setuid(65534)", func(ev Event) bool {
		return ev.Kind == KindSetUID && ev.Syscall == "setuid" && ev.UID == 65534 && ev.Result == 0
	})
	find("open rootonly for write refused with EACCES as uid 65534", func(ev Event) bool {
		return ev.Kind == KindOpen && ev.Path == r.dir+"/rootonly" && strings.Contains(ev.Access, AccessWrite) &&
			ev.Result == -int(syscall.EACCES) && ev.UID == 65534
	})
	if r.threads {
		find("open of thread.txt from a thread other than the main one", func(ev Event) bool {
			return ev.Kind == KindOpen && ev.Path == r.dir+"/thread.txt" && ev.TID != ev.PID && ev.TID != 0 && ev.Result >= 0
		})
		find("mount on a missing directory refused with ENOENT", func(ev Event) bool {
			return ev.Kind == KindMount && ev.Syscall == "mount" && ev.Path == missingMount && ev.Result == -int(syscall.ENOENT)
		})
		find("ptrace of the parent, not traced: ESRCH", func(ev Event) bool {
			return ev.Kind == KindPtrace && ev.TargetPID == r.root && ev.Result == -int(syscall.ESRCH)
		})
		var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil {
			t.Fatal(err)
		}
		find("capset of root's own effective set", func(ev Event) bool {
			return ev.Kind == KindCapset && ev.Result == 0 && ev.CapEffective == uint64(caps[0].Effective)|uint64(caps[1].Effective)<<32
		})
		find("finit_module of a text file, refused", func(ev Event) bool {
			return ev.Kind == KindModule && ev.Syscall == "finit_module" && ev.Result < 0
		})
	}
	find("the script's exit with status 0", func(ev Event) bool {
		return ev.Kind == KindExit && ev.PID == r.root && ev.Result == 0
	})
	for _, ev := range r.events {
		if ev.PID == r.outside || strings.Contains(ev.Path, "outside-marker") || strings.Contains(strings.Join(ev.Argv, " "), "outside-marker") {
			t.Errorf("event from outside the traced tree: %+v", ev)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTracersAgree runs the same scenario under both tracers and compares
// what they saw: the set of (kind, path or address, result).
func TestTracersAgree(t *testing.T) {
	needRoot(t)
	for _, env := range environments {
		t.Run(env.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			sets := map[string]map[string]bool{}
			for _, name := range Names() {
				r := env.run(t, tracerNamed(t, name), dir)
				sets[name] = eventSet(r)
			}
			a, b := sets["ebpf"], sets["ptrace"]
			for k := range a {
				if !b[k] {
					t.Errorf("only ebpf saw %s", k)
				}
			}
			for k := range b {
				if !a[k] {
					t.Errorf("only ptrace saw %s", k)
				}
			}
			if len(a) < 10 {
				t.Errorf("ebpf saw only %d distinct events", len(a))
			}
		})
	}
}

// eventSet is the set of (kind, path or address, result) of a run, with
// the pids left out (they differ from run to run).
func eventSet(r run) map[string]bool {
	set := map[string]bool{}
	for _, ev := range r.events {
		what := ev.Path
		if ev.Kind == KindModule {
			what = "" // eBPF finds finit_module's path only while the process lives
		}
		if ev.Addr != "" || ev.Port != 0 {
			what = ev.Proto + " " + ev.Addr + ":" + strconv.Itoa(ev.Port)
		}
		result := strconv.Itoa(ev.Result)
		if ev.Kind == KindOpen && ev.Result >= 0 {
			result = "fd" // which fd number a run gets is no business of the tracer
		}
		set[fmt.Sprintf("%s %s %s result=%s", ev.Kind, ev.Syscall, what, result)] = true
	}
	return set
}

// TestSeccompTrace: with Target.SeccompTrace the ptrace tracer sees the
// same calls but stops far less often (only at the traced calls).
func TestSeccompTrace(t *testing.T) {
	needRoot(t)
	tr := tracerNamed(t, "ptrace")
	dir := filepath.Join(t.TempDir(), "d")
	plain := runHelperMode(t, tr, dir, true, false)
	trapped := runHelperMode(t, tr, dir, true, true)
	logEvents(t, plain)
	logEvents(t, trapped)
	checkScenario(t, trapped)
	a, b := eventSet(plain), eventSet(trapped)
	for k := range a {
		if !b[k] {
			t.Errorf("only without seccomp: %s", k)
		}
	}
	for k := range b {
		if !a[k] {
			t.Errorf("only with seccomp: %s", k)
		}
	}
	t.Logf("ptrace stops: %d at every syscall, %d with seccomp traps", plain.stops, trapped.stops)
	if trapped.stops*2 > plain.stops {
		t.Errorf("seccomp traps: %d stops, every syscall: %d; want less than half", trapped.stops, plain.stops)
	}
}

// refusedCalls installs a filter that sends bind (a traced call) and
// mkdirat (an untraced one) to the tracer as refused (SECCOMP_RET_TRACE
// with the errno as data), waits for a line on fd 3, then tries both: each
// must fail with the filter's errno and leave nothing behind.
func refusedCalls() int {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
	}
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4),
		jeq(nativeArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0),
		jeq(uint32(unix.SYS_BIND), 2, 0),
		jeq(uint32(unix.SYS_MKDIRAT), 2, 0),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE|uint32(unix.EPERM)),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE|uint32(unix.EACCES)),
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "no_new_privs:", err)
		return 1
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		fmt.Fprintln(os.Stderr, "seccomp:", e)
		return 1
	}
	var b [1]byte
	for {
		if n, err := syscall.Read(3, b[:]); n <= 0 || err != nil || b[0] == '\n' {
			break
		}
	}
	syscall.Close(3)
	d := os.Getenv("D")
	code := 0
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket:", err)
		return 1
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(d, "sock")}); err != unix.EPERM {
		fmt.Fprintln(os.Stderr, "bind: got", err, "want EPERM")
		code = 1
	}
	if err := unix.Mkdirat(unix.AT_FDCWD, filepath.Join(d, "dir"), 0o755); err != unix.EACCES {
		fmt.Fprintln(os.Stderr, "mkdirat: got", err, "want EACCES")
		code = 1
	}
	for _, n := range []string{"sock", "dir"} {
		if _, err := os.Lstat(filepath.Join(d, n)); err == nil {
			fmt.Fprintln(os.Stderr, "the refused call ran:", n, "exists")
			code = 1
		}
	}
	return code
}

// TestSeccompRefused: a call the filter traps as refused (data: the
// errno) is skipped by the tracer and returns that errno — a traced call
// (bind, recorded with its result) and an untraced one (mkdirat) alike.
func TestSeccompRefused(t *testing.T) {
	needRoot(t)
	tr := tracerNamed(t, "ptrace")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"D=" + dir, "DRYDOCK_TRACE_HELPER=refuse"}
	cmd.ExtraFiles = []*os.File{pr}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	evs, _, _ := traceTree(t, tr, Target{PID: cmd.Process.Pid, SeccompTrace: true}, func() {
		pw.Write([]byte("go\n"))
		pw.Close()
	}, "/bin/true", "")
	// A multi-threaded process whose exit_group comes from a thread other
	// than its leader: the leader dies without an exit stop and the
	// tracer reaps it (its exit event has the status).
	if err := cmd.Wait(); err != nil && !errors.Is(err, unix.ECHILD) {
		t.Errorf("the workload: %v: %s", err, stderr.String())
	}
	exited := false
	for _, ev := range evs {
		if ev.Kind == KindExit && ev.PID == cmd.Process.Pid {
			exited = true
			if ev.Result != 0 {
				t.Errorf("the workload exited %d: %s", ev.Result, stderr.String())
			}
		}
	}
	if !exited {
		t.Errorf("no exit event for the workload")
	}
	found := false
	for _, ev := range evs {
		if ev.Kind == KindBind && ev.Path == filepath.Join(dir, "sock") {
			found = true
			if ev.Result != -int(unix.EPERM) {
				t.Errorf("bind recorded with result %d, want %d", ev.Result, -int(unix.EPERM))
			}
		}
	}
	if !found {
		t.Errorf("the refused bind is not recorded: %+v", evs)
	}
}
