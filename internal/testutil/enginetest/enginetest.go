// Package enginetest starts real container engines for tests: dockerd
// (Debian's docker.io) and Podman's API service, each on a private socket
// and data directory, with nothing pulled: images are loaded from the
// shared corpus. Engines start once per test binary, on first use; call
// Stop from TestMain. Without root or the binaries the tests skip, unless
// DRYDOCK_REQUIRE_ENGINES=1 (CI) makes that a failure.
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engine is a running engine.
type Engine struct {
	// Name is "docker" or "podman"; Host its API address (unix://…).
	Name, Host string
	dir        string
	cmd        *exec.Cmd
	cli        []string // the engine's CLI with its private flags
	mu         sync.Mutex
	loaded     map[string]bool
}

var (
	mu      sync.Mutex
	engines = map[string]*Engine{}
	failed  = map[string]error{}
)

// Docker returns the test binary's dockerd, starting it on first use.
func Docker(t testing.TB) *Engine { return get(t, "docker") }

// Podman returns the test binary's Podman service, starting it on first use.
func Podman(t testing.TB) *Engine { return get(t, "podman") }

func required() bool { return os.Getenv("DRYDOCK_REQUIRE_ENGINES") == "1" }

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format+" (DRYDOCK_REQUIRE_ENGINES=1)", args...)
	}
	t.Skipf(format, args...)
}

func get(t testing.TB, name string) *Engine {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if e := engines[name]; e != nil {
		return e
	}
	if err := failed[name]; err != nil {
		unavailable(t, "%s: %v", name, err)
	}
	if os.Geteuid() != 0 {
		unavailable(t, "%s: the test engines need root", name)
	}
	bin := map[string]string{"docker": "dockerd", "podman": "podman"}[name]
	if _, err := exec.LookPath(bin); err != nil {
		unavailable(t, "%s: %s not installed (Debian: %s)", name, bin, map[string]string{"docker": "docker.io", "podman": "podman"}[name])
	}
	e, err := start(name)
	if err != nil {
		failed[name] = err
		t.Fatalf("starting %s: %v", name, err)
	}
	engines[name] = e
	return e
}

func start(name string) (*Engine, error) {
	// Unix socket paths are short: a directory right under /tmp.
	dir, err := os.MkdirTemp("", "dd-"+name+"-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, name+".sock")
	e := &Engine{Name: name, Host: "unix://" + sock, dir: dir, loaded: map[string]bool{}}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	switch name {
	case "docker":
		e.cmd = exec.Command("dockerd", "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
			"--host", e.Host, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "pid"), "--containerd-namespace", "dd-test", "--containerd-plugins-namespace", "dd-test-p")
		e.cli = []string{"docker", "--host", e.Host}
	case "podman":
		flags := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "vfs", "--tmpdir", filepath.Join(dir, "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
		if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
			return nil, err
		}
		e.cmd = exec.Command("podman", append(flags, "system", "service", "--time=0", e.Host)...)
		e.cli = append([]string{"podman"}, flags...)
	}
	e.cmd.Stdout, e.cmd.Stderr = log, log
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return e, nil
		}
		if e.cmd.ProcessState != nil || time.Now().After(deadline) {
			e.stop()
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("no API socket after start: %s", tail(b))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// Load loads a docker-archive tar into the engine once.
func (e *Engine) Load(t testing.TB, archive string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loaded[archive] {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(append([]string{}, e.cli[1:]...), "load", "-i", archive)
	out, err := exec.CommandContext(ctx, e.cli[0], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s load %s: %v\n%s", e.Name, archive, err, out)
	}
	e.loaded[archive] = true
}

func (e *Engine) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	os.RemoveAll(e.dir)
}

// Stop stops every engine this test binary started.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	for name, e := range engines {
		e.stop()
		delete(engines, name)
	}
}
