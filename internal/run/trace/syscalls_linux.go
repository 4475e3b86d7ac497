//go:build linux && (amd64 || arm64)

package trace

import (
	"slices"

	"golang.org/x/sys/unix"
)

// op is what a traced system call does, shared by both tracers. The
// values must match enum op in bpf/trace.bpf.c.
type op uint32

const (
	opNone op = iota
	opOpen
	opOpenat
	opOpenat2
	opCreat
	opExecve
	opExecveat
	opConnect
	opBind
	opListen
	opSetuid
	opSetgid
	opSetreuid
	opSetregid
	opSetresuid
	opSetresgid
	opSetfsuid
	opSetfsgid
	opCapset
	opMount
	opUmount2
	opPtrace
	opInitModule
	opFinitModule
	opMax
)

// maxSyscall bounds the syscall numbers the tracers look up (the size of
// the eBPF sysops array).
const maxSyscall = 1024

// opSyscalls lists, for the running architecture, the syscall numbers of
// each traced operation; archSyscalls (syscalls_ARCH.go) adds the calls
// only some architectures have.
func opSyscalls() map[uint64]op {
	m := map[uint64]op{
		unix.SYS_OPENAT:       opOpenat,
		unix.SYS_OPENAT2:      opOpenat2,
		unix.SYS_EXECVE:       opExecve,
		unix.SYS_EXECVEAT:     opExecveat,
		unix.SYS_CONNECT:      opConnect,
		unix.SYS_BIND:         opBind,
		unix.SYS_LISTEN:       opListen,
		unix.SYS_SETUID:       opSetuid,
		unix.SYS_SETGID:       opSetgid,
		unix.SYS_SETREUID:     opSetreuid,
		unix.SYS_SETREGID:     opSetregid,
		unix.SYS_SETRESUID:    opSetresuid,
		unix.SYS_SETRESGID:    opSetresgid,
		unix.SYS_SETFSUID:     opSetfsuid,
		unix.SYS_SETFSGID:     opSetfsgid,
		unix.SYS_CAPSET:       opCapset,
		unix.SYS_MOUNT:        opMount,
		unix.SYS_UMOUNT2:      opUmount2,
		unix.SYS_PTRACE:       opPtrace,
		unix.SYS_INIT_MODULE:  opInitModule,
		unix.SYS_FINIT_MODULE: opFinitModule,
	}
	for nr, o := range archSyscalls() {
		m[nr] = o
	}
	return m
}

// syscallNames names each operation's system call in events.
var syscallNames = [opMax]string{
	opOpen:        "open",
	opOpenat:      "openat",
	opOpenat2:     "openat2",
	opCreat:       "creat",
	opExecve:      "execve",
	opExecveat:    "execveat",
	opConnect:     "connect",
	opBind:        "bind",
	opListen:      "listen",
	opSetuid:      "setuid",
	opSetgid:      "setgid",
	opSetreuid:    "setreuid",
	opSetregid:    "setregid",
	opSetresuid:   "setresuid",
	opSetresgid:   "setresgid",
	opSetfsuid:    "setfsuid",
	opSetfsgid:    "setfsgid",
	opCapset:      "capset",
	opMount:       "mount",
	opUmount2:     "umount2",
	opPtrace:      "ptrace",
	opInitModule:  "init_module",
	opFinitModule: "finit_module",
}

func (o op) name() string {
	if o < opMax {
		return syscallNames[o]
	}
	return ""
}

func (o op) isExec() bool { return o == opExecve || o == opExecveat }

// LateTraceSyscalls are the traced calls a container's own seccomp filter
// cannot send to a ptrace tracer attached once the container has started
// (a Docker engine's container): the runtime opens its exec FIFO and
// executes the container's first program under that filter, before any
// tracer can be there, and a traced call without a tracer fails. A filter
// the container's first program adds once the tracer is attached sends
// them instead. Docker's default profile lets every one of them through.
func LateTraceSyscalls() []string {
	return []string{"creat", "execve", "execveat", "open", "openat", "openat2"}
}

// LateTraceFilter is the seccomp program that sends LateTraceSyscalls of
// this architecture to the ptrace tracer (SECCOMP_RET_TRACE, data 0: the
// call runs once the tracer lets it) and allows every other call; the
// filters already in place still decide what runs. Another
// architecture's calls are allowed: the tracers decode only this one's.
func LateTraceFilter() []unix.SockFilter {
	const (
		nrOffset   = 0 // struct seccomp_data: nr, arch, …
		archOffset = 4
	)
	var nrs []uint32
	for nr, o := range opSyscalls() {
		if slices.Contains(LateTraceSyscalls(), o.name()) {
			nrs = append(nrs, uint32(nr))
		}
	}
	slices.Sort(nrs)
	n := len(nrs)
	f := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: archOffset},
		// Another architecture: to the last instruction but one (allow).
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nativeArch, Jt: 0, Jf: uint8(n + 1)},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: nrOffset},
	}
	for i, nr := range nrs {
		// A match jumps to the last instruction (trace).
		f = append(f, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: uint8(n - i), Jf: 0})
	}
	return append(f,
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_TRACE},
	)
}

// SeccompTraceSyscalls names the system calls the tracers record on this
// architecture, as seccomp profiles name them: the calls a filter must
// send to the ptrace tracer (SCMP_ACT_TRACE) when Target.SeccompTrace is
// set.
func SeccompTraceSyscalls() []string {
	var names []string
	for _, o := range opSyscalls() {
		if !slices.Contains(names, o.name()) {
			names = append(names, o.name())
		}
	}
	slices.Sort(names)
	return names
}
