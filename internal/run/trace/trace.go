// Package trace records what the processes of a sandboxed run do: process
// executions, file opens, network calls, privilege changes, mounts, ptrace
// and module loads. Two tracers implement the same interface: eBPF (CO-RE,
// with the kernel's BTF) where the kernel allows it, else ptrace.
package trace

import (
	"context"
	"time"
)

// Event kinds.
const (
	KindExec    = "exec"    // a process executed a program (Path, Argv)
	KindExit    = "exit"    // a process exited (Result: exit status)
	KindOpen    = "open"    // a file was opened (Path, Access)
	KindConnect = "connect" // a socket connect (Proto, Addr, Port)
	KindBind    = "bind"    // a socket bind (Proto, Addr, Port)
	KindListen  = "listen"  // a socket listen (Proto, Addr, Port when known)
	KindSetUID  = "setuid"  // setuid/setreuid/setresuid/setgid… (UID: the requested id)
	KindCapset  = "capset"  // capset
	KindMount   = "mount"   // mount/umount (Path: the target)
	KindPtrace  = "ptrace"  // ptrace (TargetPID)
	KindModule  = "module"  // init_module/finit_module (Path when known)
)

// File access modes of KindOpen events, combined with "|" ("read|write").
const (
	AccessRead  = "read"
	AccessWrite = "write"
	AccessExec  = "exec"
)

// Event is one thing a traced process did. Fields that do not apply to a
// kind are zero. Paths are as the process named them, made absolute
// against its working directory when the tracer can.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	PID  int       `json:"pid"`
	// TID is the thread that made the call (equal to PID in the process's
	// main thread). PID, TID and PPID are the host's process ids.
	TID  int `json:"tid,omitempty"`
	PPID int `json:"ppid,omitempty"`
	// UID is the real user id of the process (in the sandbox's user
	// namespace), or the requested id for KindSetUID.
	UID  int    `json:"uid"`
	Comm string `json:"comm,omitempty"`
	// Syscall names the system call ("openat", "execve", "setresuid",
	// "umount2"…); empty for KindExit.
	Syscall string   `json:"syscall,omitempty"`
	Argv    []string `json:"argv,omitempty"`
	Path    string   `json:"path,omitempty"`
	// Access is the KindOpen mode (AccessRead, AccessWrite, "read|write").
	Access string `json:"access,omitempty"`
	// Proto is "tcp", "udp", "tcp6", "udp6" or "unix"; "raw"/"raw6" for
	// raw sockets, and the family name ("netlink", "packet", "af<N>")
	// for the others.
	Proto string `json:"proto,omitempty"`
	Addr  string `json:"addr,omitempty"`
	Port  int    `json:"port,omitempty"`
	// FD is the file descriptor the call concerned, when it matters (a
	// shell's standard input connected to a socket).
	FD        int `json:"fd,omitempty"`
	TargetPID int `json:"target_pid,omitempty"`
	// CapEffective is the effective capability set a KindCapset call
	// asked for (bit N = capability N).
	CapEffective uint64 `json:"cap_effective,omitempty"`
	// Result is the system call's result: 0 or a positive value on
	// success, the negated errno when the kernel refused (-13 for EACCES).
	// An attempt the kernel refused is still an event.
	Result int `json:"result"`
	// Stdin describes what the process's fd 0 is at exec ("socket",
	// "pipe", "tty", "file", "null"; "device" for another device, "dir",
	// "closed" when fd 0 is not open), for reverse-shell detection.
	Stdin string `json:"stdin,omitempty"`
}

// Target says what to trace: the process tree rooted at PID, which must
// not have executed the workload yet (an OCI runtime's created-but-not-
// started container init), and the cgroup it runs in.
type Target struct {
	PID int
	// CgroupPath is the absolute path of the workload's cgroup v2
	// directory (under /sys/fs/cgroup); tracers that filter by cgroup use
	// it, others may ignore it.
	CgroupPath string
	// SeccompTrace says the workload runs under a seccomp filter that
	// returns SECCOMP_RET_TRACE for the system calls SeccompTraceSyscalls
	// names (SCMP_ACT_TRACE in an OCI seccomp profile). The ptrace tracer
	// then stops the workload at those calls only, not at every system
	// call. Use it with the ptrace tracer only: with no ptrace tracer
	// attached, such a filter fails those calls with ENOSYS.
	//
	// The action's data says what the filter decided: 0 lets the call run
	// once recorded; N > 0 refuses it with errno N — the tracer records
	// the attempt and skips the call, which returns -N. (A call the
	// filter refuses with SECCOMP_RET_ERRNO never reaches a tracer.)
	SeccompTrace bool
}

// Tracer starts recording a target.
type Tracer interface {
	// Name is "ebpf" or "ptrace"; reports say which tracer was used.
	Name() string
	// Attach starts tracing t. Events are delivered on the session's
	// channel until the traced tree has exited or ctx is done; then the
	// channel is closed.
	Attach(ctx context.Context, t Target) (Session, error)
}

// Session is one attached trace.
type Session interface {
	Events() <-chan Event
	// Close detaches and releases the tracer's resources; it is safe to
	// call more than once.
	Close() error
}

// LossReporter is implemented by sessions that can lose events (the eBPF
// tracer's ring buffer can fill when user space falls behind). After the
// Events channel is closed, Lost says how many records were dropped; a
// report should say that the record is incomplete when it is not 0.
type LossReporter interface {
	Lost() uint64
}
