//go:build linux && (amd64 || arm64)

package holdinit

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/trace"
)

// nativeArch is this architecture's AUDIT_ARCH value, as seccomp sees it.
var nativeArch = map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[runtime.GOARCH]

// traceFilter sends the system calls numbered nrs, of this architecture,
// to the tracer (SECCOMP_RET_TRACE, data 0: the call runs once the tracer
// lets it) and allows everything else; the filters already in place still
// decide what runs.
func traceFilter(nrs []uint32) []unix.SockFilter {
	const (
		nrOffset   = 0 // struct seccomp_data: nr, arch, …
		archOffset = 4
	)
	n := len(nrs)
	f := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: archOffset},
		// Another architecture's calls: allowed (to the last instruction
		// but one).
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nativeArch, Jt: 0, Jf: uint8(n + 1)},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: nrOffset},
	}
	for i, nr := range nrs {
		// A match jumps to the last instruction.
		f = append(f, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: uint8(n - i), Jf: 0})
	}
	return append(f,
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_TRACE},
	)
}

// traceLateCalls installs, on every thread of this process (the program is
// executed from whichever thread Go runs the call on), a filter that
// sends the tracer the calls the container's own filter could not
// (trace.LateTraceSyscalls).
func traceLateCalls() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	f := traceFilter(trace.SeccompTraceNumbers(trace.LateTraceSyscalls()))
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return e
	}
	return nil
}
