package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime is an OCI runtime binary (runc or crun) with its own state
// directory, so drydock's containers never mix with anyone else's.
type Runtime struct {
	// Path is the runtime binary.
	Path string
	// StateDir is the runtime's --root.
	StateDir string
}

// Name is the runtime's binary name ("runc", "crun").
func (r Runtime) Name() string { return filepath.Base(r.Path) }

// WriteBundle writes config.json into dir (which holds rootfs/).
func WriteBundle(dir string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

// Container is a created container whose init process is stopped before
// the image's program: trace it, then Start it.
type Container struct {
	rt  Runtime
	ID  string
	Pid int
	// CgroupPath is the container's cgroup v2 directory, when the host
	// has a cgroup v2 hierarchy ("" otherwise).
	CgroupPath string
	cgroups    cgroupDirs
	proc       *os.Process
	exited     chan struct{}
	status     Exit
	output     *capture
	deleted    bool
}

// Exit is how the container's init ended.
type Exit struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
}

// Output is what the container wrote, capped.
type Output struct {
	Stdout, Stderr []byte
	// Truncated says the cap was reached.
	Truncated bool
}

// MaxOutput caps the stdout and stderr kept, each.
const MaxOutput = 1 << 20

var subreaperOnce sync.Once
var subreaperErr error

// Create creates the container of bundle and returns when its init
// process exists. drydock becomes a child subreaper (a process-wide
// setting) so that the init process, once the runtime has handed it over,
// is drydock's child and its exit status can be read. gate, when not nil,
// is the Gate whose hook the bundle's config.json holds: its Attach is
// called while the init waits there.
func Create(ctx context.Context, rt Runtime, id, bundle string, gate *Gate) (*Container, error) {
	subreaperOnce.Do(func() {
		subreaperErr = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
	if subreaperErr != nil {
		return nil, fmt.Errorf("becoming a child subreaper: %w", subreaperErr)
	}
	if err := os.MkdirAll(rt.StateDir, 0o700); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(bundle, "init.pid")
	out, err := newCapture()
	if err != nil {
		return nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		out.close()
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.CommandContext(ctx, rt.Path, "--root", rt.StateDir, "create", "--bundle", bundle, "--pid-file", pidFile, id)
	cmd.Stdin = devnull
	cmd.Stdout = out.stdoutW
	cmd.Stderr = out.stderrW
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var runErr, gateErr error
	if gate == nil {
		runErr = cmd.Run()
	} else if runErr = cmd.Start(); runErr == nil {
		exited := make(chan struct{})
		waitErr := make(chan error, 1)
		go func() { waitErr <- cmd.Wait(); close(exited) }()
		gateErr = gate.run(ctx, exited)
		runErr = <-waitErr
	}
	out.closeWriters()
	if gateErr != nil && !errors.Is(gateErr, errGateNotReached) {
		_ = rt.run(context.Background(), "delete", "--force", id)
		return nil, fmt.Errorf("%s create: holding the container until it is traced: %w", rt.Name(), gateErr)
	}
	if runErr != nil {
		msg := strings.TrimSpace(out.waitShort())
		_ = rt.run(context.Background(), "delete", "--force", id)
		if strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") && strings.Contains(msg, "exec") {
			return nil, fmt.Errorf("%w: %s could not start the image's program (it is not in the image, or not on its PATH): %s", ErrNoProgram, rt.Name(), msg)
		}
		return nil, fmt.Errorf("%s create: %w: %s", rt.Name(), runErr, msg)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("%s create: reading the init pid: %w", rt.Name(), err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("%s create: bad init pid %q", rt.Name(), b)
	}
	c := &Container{rt: rt, ID: id, Pid: pid, exited: make(chan struct{}), output: out}
	c.cgroups = findCgroups(pid)
	c.CgroupPath = c.cgroups.unified
	c.proc, _ = os.FindProcess(pid)
	go c.wait()
	return c, nil
}

func (c *Container) wait() {
	defer close(c.exited)
	// A ptrace tracer in this process traces the init, which is this
	// process's child: the kernel reports the init's ptrace stops to every
	// wait of this process, not only to the tracer's thread, and a wait
	// here would take them from the tracer (the init would stay stopped).
	// So wait for the exit on a pidfd first, and reap only then.
	if pfd, err := unix.PidfdOpen(c.Pid, 0); err == nil {
		pollExit(pfd)
		unix.Close(pfd)
	}
	st, err := c.proc.Wait()
	if err != nil {
		// Not our child (no subreaper): poll until it is gone.
		for syscall.Kill(c.Pid, 0) == nil {
			time.Sleep(50 * time.Millisecond)
		}
		c.status = Exit{Code: -1}
		return
	}
	ws := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		c.status = Exit{Code: 128 + int(ws.Signal()), Signal: unix.SignalName(ws.Signal())}
	default:
		c.status = Exit{Code: ws.ExitStatus()}
	}
}

// pollExit returns when the process of pidfd has exited (it is a zombie,
// or reaped already).
func pollExit(pfd int) {
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// Start runs the image's program.
func (c *Container) Start(ctx context.Context) error {
	return c.rt.run(ctx, "start", c.ID)
}

// Exited is closed when the init process has ended.
func (c *Container) Exited() <-chan struct{} { return c.exited }

// Status is the init's exit; valid once Exited is closed.
func (c *Container) Status() Exit { return c.status }

// Kill stops every process of the container (SIGKILL) and waits, at most
// grace, for the init to be gone.
func (c *Container) Kill(ctx context.Context, grace time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	err := c.rt.run(ctx, "kill", "--all", c.ID, "KILL")
	if err != nil {
		// A runtime that fails to kill: the init is our child, and the
		// kernel ends a pid namespace with its init.
		_ = syscall.Kill(c.Pid, syscall.SIGKILL)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
		_ = syscall.Kill(c.Pid, syscall.SIGKILL)
		select {
		case <-c.exited:
			return nil
		case <-time.After(grace):
			return fmt.Errorf("container %s: init %d still running after SIGKILL", c.ID, c.Pid)
		}
	}
}

// Counters reads the cgroup counters; call it before Delete.
func (c *Container) Counters() Counters { return c.cgroups.counters() }

// Delete removes the container and its cgroup.
func (c *Container) Delete(ctx context.Context) error {
	if c.deleted {
		return nil
	}
	c.deleted = true
	return c.rt.run(ctx, "delete", "--force", c.ID)
}

// Output returns what the container wrote; call it after Exited.
func (c *Container) Output(wait time.Duration) Output { return c.output.result(wait) }

func (r Runtime) run(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Path, append([]string{"--root", r.StateDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", r.Name(), args[0], err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// capture collects a container's stdout and stderr through pipes whose
// write ends the container holds.
type capture struct {
	stdoutW, stderrW *os.File
	wg               sync.WaitGroup
	mu               sync.Mutex
	out              Output
	done             chan struct{}
}

func newCapture() (*capture, error) {
	c := &capture{done: make(chan struct{})}
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		or.Close()
		ow.Close()
		return nil, err
	}
	c.stdoutW, c.stderrW = ow, ew
	c.wg.Add(2)
	go c.read(or, &c.out.Stdout)
	go c.read(er, &c.out.Stderr)
	go func() { c.wg.Wait(); close(c.done) }()
	return c, nil
}

func (c *capture) read(r *os.File, dst *[]byte) {
	defer c.wg.Done()
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.mu.Lock()
			room := MaxOutput - len(*dst)
			if n > room {
				c.out.Truncated = true
				n = max(room, 0)
			}
			*dst = append(*dst, buf[:n]...)
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (c *capture) closeWriters() {
	c.stdoutW.Close()
	c.stderrW.Close()
}

func (c *capture) close() { c.closeWriters() }

// waitShort returns stderr once the runtime's create has failed.
func (c *capture) waitShort() string {
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out.Stderr) + string(c.out.Stdout)
}

// result waits (at most wait) for the pipes to close, then returns the
// output. Processes that outlive the init cannot exist in a pid namespace,
// so the pipes close when the container is gone.
func (c *capture) result(wait time.Duration) Output {
	select {
	case <-c.done:
	case <-time.After(wait):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.out
	o.Stdout = append([]byte(nil), o.Stdout...)
	o.Stderr = append([]byte(nil), o.Stderr...)
	return o
}

// ErrNoProgram is returned when the program to run is not in the image.
var ErrNoProgram = errors.New("program not found")

// ErrMissing is wrapped by preflight errors naming what the host lacks.
var ErrMissing = errors.New("missing")
