package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A Gate holds a container's init in the runtime's createRuntime hook
// until a tracer is attached to it. runc runs that hook once it has made
// the init and its namespaces, and the init waits for the hook to finish
// before it installs the seccomp filter and drops its privileges: a tracer
// attached there sees every system call the filter sends it (a filter of
// SCMP_ACT_TRACE actions needs its tracer from the moment it is
// installed: without one, the kernel fails those calls with ENOSYS).
//
// The hook is the host's POSIX shell and two FIFOs in the run's own
// directory: it passes the container's state (with the init's pid) to
// drydock through one, and waits on the other for drydock's word.
type Gate struct {
	state, release string
	sh             string
	// Attach is called with the init's pid while the init waits in the
	// hook; an error fails the container's creation.
	Attach func(pid int) error
	err    error
}

// GateTimeout is how long the runtime lets the hook wait (seconds).
const GateTimeout = 60

// NewGate makes the gate's FIFOs in dir (a directory only root can write).
func NewGate(dir string, attach func(pid int) error) (*Gate, error) {
	sh, err := exec.LookPath("/bin/sh")
	if err != nil {
		return nil, fmt.Errorf("%w: /bin/sh, which runs the hook that holds the container until it is traced: %v", ErrMissing, err)
	}
	g := &Gate{state: filepath.Join(dir, "gate-state"), release: filepath.Join(dir, "gate-release"), sh: sh, Attach: attach}
	for _, p := range []string{g.state, g.release} {
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return nil, fmt.Errorf("gate FIFO %s: %w", p, err)
		}
	}
	return g, nil
}

// Hook is the createRuntime hook config.json must hold.
func (g *Gate) Hook() specs.Hook {
	timeout := GateTimeout
	return specs.Hook{
		Path: g.sh,
		// $1: the state FIFO, $2: the release FIFO. The state arrives on
		// standard input; the hook fails unless drydock says "go".
		Args:    []string{"sh", "-c", `cat >"$1" && read -r word <"$2" && [ "$word" = go ]`, "drydock-gate", g.state, g.release},
		Env:     []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Timeout: &timeout,
	}
}

// Err is the error Attach returned, if it was called.
func (g *Gate) Err() error { return g.err }

// errGateNotReached: the runtime ended before it ran the hook.
var errGateNotReached = errors.New("the runtime ended before the container's init reached the gate")

// run receives the init's state, calls Attach, and answers the hook.
// exited is closed when the runtime's create command has ended.
func (g *Gate) run(ctx context.Context, exited <-chan struct{}) error {
	type state struct {
		b   []byte
		err error
	}
	got := make(chan state, 1)
	go func() {
		f, err := os.Open(g.state) // blocks until the hook opens it
		if err != nil {
			got <- state{err: err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 1<<20))
		got <- state{b, err}
	}()
	// unblock opens a FIFO for reading and writing (which never blocks)
	// and closes it, so that a goroutine of ours blocked in opening it
	// returns; removing it makes a later open fail.
	unblock := func(p string) {
		if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	}
	defer func() {
		for _, p := range []string{g.state, g.release} {
			unblock(p)
			_ = os.Remove(p)
		}
	}()
	var st state
	select {
	case st = <-got:
	case <-exited:
		return errGateNotReached
	case <-ctx.Done():
		return ctx.Err()
	}
	word := "no"
	var s specs.State
	switch {
	case st.err != nil:
		g.err = fmt.Errorf("reading the container's state from the hook: %w", st.err)
	case json.Unmarshal(st.b, &s) != nil || s.Pid <= 0:
		g.err = fmt.Errorf("the hook passed no container state with a pid: %q", strings.TrimSpace(string(st.b)))
	default:
		if g.err = g.Attach(s.Pid); g.err == nil {
			word = "go"
		}
	}
	sent := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(g.release, os.O_WRONLY, 0) // blocks until the hook opens it
		if err == nil {
			_, err = f.WriteString(word + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		sent <- err
	}()
	select {
	case err := <-sent:
		if err != nil && g.err == nil {
			g.err = fmt.Errorf("releasing the container's init: %w", err)
		}
	case <-exited:
	case <-ctx.Done():
	}
	return g.err
}
