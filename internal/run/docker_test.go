package run_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/holdinit"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/trace"
	"github.com/drydockscan/drydock/internal/source"
	"github.com/drydockscan/drydock/internal/testutil/enginetest"
)

var (
	initOnce sync.Once
	initPath string
	initErr  error
)

// initBinary builds the hold helper alone, statically linked: the test
// binary (drydock's stand-in) is not.
func initBinary(t *testing.T) string {
	t.Helper()
	initOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-init-")
		if err != nil {
			initErr = err
			return
		}
		initPath = filepath.Join(dir, "drydock-init")
		cmd := exec.Command("go", "build", "-o", initPath, "github.com/drydockscan/drydock/internal/run/holdinit/standalone")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			initErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if initErr != nil {
		t.Fatalf("building the hold helper: %v", initErr)
	}
	return initPath
}

// dockerEngine is the test binary's dockerd (private socket and data
// directory, no bridge, no iptables), in the tests' network namespace.
func dockerEngine(t *testing.T) (*enginetest.Engine, *client.Client) {
	t.Helper()
	needSandbox(t)
	e := enginetest.Docker(t)
	c, err := client.New(client.WithHost(e.Host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return e, c
}

// drydockContainers lists the containers drydock run left in the engine.
func drydockContainers(t *testing.T, c *client.Client) []string {
	t.Helper()
	l, err := c.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "org.drydockscan.run")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range l.Items {
		ids = append(ids, s.ID)
	}
	return ids
}

func imageInEngine(t *testing.T, c *client.Client, img *source.Image) bool {
	t.Helper()
	id, err := img.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ImageInspect(context.Background(), id.String())
	return err == nil
}

// TestDockerRuntime runs the misbehaving image (the sandbox tests' own
// scenario) in a Docker engine, once with each tracer forced: the image
// is loaded from its OCI layout, the workload's processes are recorded
// from its first exec, the rules fire as in the built-in sandbox, and
// neither the container nor the loaded image is left behind.
func TestDockerRuntime(t *testing.T) {
	e, c := dockerEngine(t)
	helper := initBinary(t)
	img := buildImage(t, map[string]string{"bad.sh": badScript, "etc/shadow": "root:*:19000:0:99999:7:::\n"},
		map[string]int64{"etc/shadow": 0o640}, []string{"/bin/sh", "/bad.sh"}, "")
	if imageInEngine(t, c, img) {
		t.Fatal("the built image is in the engine before the run")
	}
	for _, tr := range needTracer(t) {
		t.Run(tr.Name, func(t *testing.T) {
			res, rep := runIt(t, img, run.Options{Runtime: run.RuntimeDocker, DockerHost: e.Host, InitBinary: helper,
				Tracer: tr.Name, Tracers: []run.TracerFactory{tr}})
			if res.Runtime != "docker" || rep.Run.Runtime != "docker" || rep.Tracer != tr.Name {
				t.Errorf("report says runtime %q, tracer %q; want docker, %s", rep.Run.Runtime, rep.Tracer, tr.Name)
			}
			if res.Exit.Code != 0 {
				t.Errorf("exit %+v; stderr %s", res.Exit, res.Output.Stderr)
			}
			if tr.Name == "ptrace" && (res.TracerMode != run.TraceSeccomp || rep.Run.TracerMode != run.TraceSeccomp) {
				t.Errorf("ptrace mode %q (report %q), want %q", res.TracerMode, rep.Run.TracerMode, run.TraceSeccomp)
			}
			if !strings.Contains(string(res.Output.Stdout), "spawned a shell") {
				t.Errorf("stdout %q", res.Output.Stdout)
			}
			// The first event is the workload's exec: nothing of the
			// helper, nothing missed before it.
			ex := execs(res)
			if len(res.Events) == 0 || res.Events[0].Kind != trace.KindOpen && res.Events[0].Kind != trace.KindExec {
				t.Fatalf("events start with %+v", res.Events)
			}
			if len(ex) < 2 || ex[0][0] != "/bin/sh" || ex[0][2] != "/bad.sh" {
				t.Errorf("execs %q: want /bin/sh /bad.sh first", ex)
			}
			// Only the container's processes: every event's process
			// descends from the workload's first.
			tree := map[int]bool{res.Events[0].PID: true}
			for _, ev := range res.Events {
				if strings.Contains(ev.Path, "drydock-init") || slicesContains(ev.Argv, holdinit.Path) {
					t.Errorf("the helper's own event recorded: %+v", ev)
				}
				if tree[ev.PPID] {
					tree[ev.PID] = true
				}
				if !tree[ev.PID] {
					t.Errorf("event of a process outside the container's tree: %+v", ev)
				}
			}
			check := alertCheck(t, rep)
			check("shell_spawned", func(e rules.Evidence) bool {
				return len(e.Argv) >= 2 && e.Argv[0] == "sh" && e.Argv[1] == "-c" && e.PID != 0
			}, "argv sh -c …")
			check("read_sensitive_file", func(e rules.Evidence) bool { return e.Path == "/etc/shadow" && e.PID != 0 }, "path /etc/shadow")
			check("write_below_system_dir", func(e rules.Evidence) bool { return e.Path == "/etc/passwd" }, "path /etc/passwd")
			check("mining_pool_dns", func(e rules.Evidence) bool { return e.Name == "pool.minexmr.com" }, "pool.minexmr.com")
			check("mining_pool_port", func(e rules.Evidence) bool { return e.Address == "192.0.2.1" && e.Port == 4444 }, "192.0.2.1:4444")
			modified := false
			for _, ch := range res.Changes {
				if ch.Path == "/etc/passwd" && ch.Op == "modified" {
					modified = true
				}
				if ch.Path == holdinit.Path {
					t.Errorf("the helper's mount point is listed as a change")
				}
			}
			if !modified {
				t.Errorf("/etc/passwd not among the container layer's changes: %+v", res.Changes)
			}
			if left := drydockContainers(t, c); len(left) != 0 {
				t.Errorf("containers left in the engine: %v", left)
			}
			if imageInEngine(t, c, img) {
				t.Errorf("the loaded image is left in the engine")
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestDockerRuntimePtraceModes: with ptrace in a Docker engine, the
// container's filter sends the tracer only the traced calls (most of them
// through the profile drydock gives the engine, the opens and executions
// through the helper's own filter) and what it records is what stopping
// at every system call records: the programs executed, a file opened,
// and a call the engine's profile refuses (mount, EPERM without
// CAP_SYS_ADMIN), which still fails.
func TestDockerRuntimePtraceModes(t *testing.T) {
	e, _ := dockerEngine(t)
	var ptrace []run.TracerFactory
	for _, tr := range needTracer(t) {
		if tr.Name == "ptrace" {
			ptrace = append(ptrace, tr)
		}
	}
	if len(ptrace) == 0 {
		t.Fatal("no ptrace tracer")
	}
	archive := filepath.Join(corpus, "multiarch-busybox", "docker-archive.tar")
	e.Load(t, archive)
	img := openImage(t, "docker-archive:"+archive)
	type seen struct{ execs, opens, mounts []string }
	record := func(res *run.Result) seen {
		var s seen
		for _, ev := range res.Events {
			switch ev.Kind {
			case trace.KindExec:
				s.execs = append(s.execs, strings.Join(append([]string{ev.Path}, ev.Argv...), " "))
			case trace.KindOpen:
				if ev.Path == "/etc/hostname" {
					s.opens = append(s.opens, fmt.Sprintf("%s %d", ev.Path, min(ev.Result, 1)))
				}
			case trace.KindMount:
				s.mounts = append(s.mounts, fmt.Sprintf("%s %d", ev.Path, ev.Result))
			}
		}
		return s
	}
	var got []seen
	for _, every := range []bool{false, true} {
		res, _ := runIt(t, img, run.Options{Runtime: run.RuntimeDocker, DockerHost: e.Host, InitBinary: initBinary(t),
			Network: run.NetworkNone, Tracer: "ptrace", Tracers: ptrace, EverySyscall: every,
			Command: []string{"sh", "-c", "cat /etc/hostname >/dev/null; mount -t tmpfs none /mnt && echo mounted; echo done"}})
		want := run.TraceSeccomp
		if every {
			want = run.TraceEverySyscall
		}
		if res.TracerMode != want {
			t.Errorf("every syscall %v: mode %q, want %q", every, res.TracerMode, want)
		}
		if out := string(res.Output.Stdout); out != "done\n" {
			t.Errorf("every syscall %v: stdout %q, want the mount refused", every, out)
		}
		s := record(res)
		if len(s.execs) < 3 || len(s.opens) != 1 || len(s.mounts) != 1 || !strings.HasPrefix(s.mounts[0], "/mnt -") {
			t.Errorf("every syscall %v: recorded %+v", every, s)
		}
		got = append(got, s)
	}
	if diff := gocmp.Diff(got[1], got[0], gocmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("seccomp mode records otherwise than stopping at every call (-every +seccomp):\n%s", diff)
	}
}

// TestDockerRuntimeEngineImage: an image the engine holds is used as it
// is (not loaded again, not removed), with --user and --network none.
func TestDockerRuntimeEngineImage(t *testing.T) {
	e, c := dockerEngine(t)
	archive := filepath.Join(corpus, "multiarch-busybox", "docker-archive.tar")
	e.Load(t, archive)
	img, err := source.Open(context.Background(), "docker-archive:"+archive, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if !imageInEngine(t, c, img) {
		t.Fatal("the corpus image is not in the engine after docker load")
	}
	res, _ := runIt(t, img, run.Options{Runtime: run.RuntimeDocker, DockerHost: e.Host, InitBinary: initBinary(t),
		Network: run.NetworkNone, User: "65534:65534", Tracers: needTracer(t),
		Command: []string{"sh", "-c", "id -u; ip link 2>&1 | grep -c ': <' ; exit 4"}})
	if res.Exit.Code != 4 {
		t.Errorf("exit %+v; stderr %s", res.Exit, res.Output.Stderr)
	}
	lines := strings.Fields(string(res.Output.Stdout))
	if len(lines) != 2 || lines[0] != "65534" || lines[1] != "1" {
		t.Errorf("stdout %q: want uid 65534 and only the loopback interface", res.Output.Stdout)
	}
	if res.User.UID != 65534 || res.User.GID != 65534 {
		t.Errorf("user %+v", res.User)
	}
	if !imageInEngine(t, c, img) {
		t.Error("the engine's own image was removed")
	}
	// The helper must run without the host's libraries.
	_, err = run.Run(context.Background(), img, run.Options{Runtime: run.RuntimeDocker, DockerHost: e.Host, InitBinary: "/bin/sh",
		Network: run.NetworkNone, Tracer: run.TracerNone})
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("a dynamically linked helper: error %v", err)
	}
	if left := drydockContainers(t, c); len(left) != 0 {
		t.Errorf("containers left in the engine: %v", left)
	}
}

// TestDockerRuntimeTimeout: at the end of --duration the container is
// killed (the whole tree: a background child as well) and removed.
func TestDockerRuntimeTimeout(t *testing.T) {
	e, c := dockerEngine(t)
	archive := filepath.Join(corpus, "multiarch-busybox", "docker-archive.tar")
	e.Load(t, archive)
	img := openImage(t, "docker-archive:"+archive)
	res, _ := runIt(t, img, run.Options{Runtime: run.RuntimeDocker, DockerHost: e.Host, InitBinary: initBinary(t),
		Network: run.NetworkNone, Tracer: run.TracerNone, Duration: 2 * time.Second,
		Command: []string{"sh", "-c", "sleep 300 & sleep 300"}})
	if !res.TimedOut || res.Exit.Code != 137 || res.Exit.Signal != "SIGKILL" {
		t.Errorf("timed out %v, exit %+v: want killed at the end of --duration", res.TimedOut, res.Exit)
	}
	if left := drydockContainers(t, c); len(left) != 0 {
		t.Errorf("containers left in the engine: %v", left)
	}
}

// TestDockerRuntimeNoEngine: an engine that is not there is an error
// naming its socket, before anything runs.
func TestDockerRuntimeNoEngine(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
	img := corpusImage(t, "multiarch-busybox/oci")
	_, err := run.Run(context.Background(), img, run.Options{Runtime: run.RuntimeDocker, DockerHost: sock, InitBinary: initBinary(t),
		Network: run.NetworkNone, Tracer: run.TracerNone})
	if !errors.Is(err, run.ErrNoEngine) || !strings.Contains(err.Error(), sock) {
		t.Fatalf("error %v: want ErrNoEngine naming %s", err, sock)
	}
}
