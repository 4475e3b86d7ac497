// Package holdinit is the first program of a container that drydock run
// starts in a Docker engine: it holds the container's init until drydock
// has attached its tracer and network observer, then executes the image's
// program in its place (same process, same environment, working
// directory and user, which the engine has already applied).
//
// drydock binds its own executable, read-only, at Path in the container
// and makes it the entrypoint, followed by the image's program and its
// arguments. The hold is the container's standard input: drydock writes
// one byte to it when the workload may start. Should the input end
// without that byte (drydock gave up), the program exits without running
// anything. Before executing the image's program, standard input is
// replaced by /dev/null, as `docker run` without -i gives it.
package holdinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// Path is where the helper is bound in the container.
const Path = "/.drydock-init"

// Release is the byte drydock writes to let the workload start.
const Release = 'G'

// ReleaseTraced lets the workload start under a ptrace tracer that stops
// only where seccomp filters send it (the engine's profile, built by
// drydock, sends it most of the traced calls). That profile cannot send
// it the opens and the executions of programs: the runtime makes those
// under it before any tracer is attached, and they would fail. So the
// helper adds a filter of its own that does, once the tracer is there.
const ReleaseTraced = 'T'

// ExitNotReleased is the exit status when the hold ended without release;
// ExitExec when the image's program could not be executed (as a shell's
// 127 for a program not found, 126 otherwise).
const (
	ExitNotReleased = 125
	ExitNotFound    = 127
	ExitExec        = 126
)

// Is reports whether a process started with argv0 is the helper.
func Is(argv0 string) bool { return argv0 == Path }

// Main waits for the release on stdin, then executes args[1:] (args[0] is
// the helper itself). It returns only when that fails.
func Main(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "drydock-init: no program to run")
		return ExitExec
	}
	var b [1]byte
	if n, err := io.ReadFull(stdin, b[:]); n != 1 || b[0] != Release && b[0] != ReleaseTraced {
		fmt.Fprintf(stderr, "drydock-init: not released (%v): the program does not run\n", err)
		return ExitNotReleased
	}
	if b[0] == ReleaseTraced {
		if err := traceLateCalls(); err != nil {
			fmt.Fprintf(stderr, "drydock-init: sending opens and executions to the tracer: %v\n", err)
			return ExitExec
		}
	}
	null, err := syscall.Open("/dev/null", syscall.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "drydock-init: /dev/null: %v\n", err)
		return ExitExec
	}
	if err := syscall.Dup3(null, 0, 0); err != nil {
		fmt.Fprintf(stderr, "drydock-init: standard input: %v\n", err)
		return ExitExec
	}
	if null != 0 {
		_ = syscall.Close(null)
	}
	prog := args[1]
	// The program is looked up in the container's PATH, as the runtime
	// does for an entrypoint.
	p, err := exec.LookPath(prog)
	if err != nil && !errors.Is(err, exec.ErrDot) {
		fmt.Fprintf(stderr, "drydock-init: %s: %v\n", prog, err)
		return ExitNotFound
	}
	err = syscall.Exec(p, args[1:], os.Environ())
	fmt.Fprintf(stderr, "drydock-init: executing %s: %v\n", p, err)
	if errors.Is(err, syscall.ENOENT) {
		return ExitNotFound
	}
	return ExitExec
}
