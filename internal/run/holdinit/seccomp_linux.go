//go:build linux && (amd64 || arm64)

package holdinit

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/trace"
)

// traceLateCalls installs trace.LateTraceFilter on every thread of this
// process (the program is executed from whichever thread Go runs the call
// on): it sends the tracer the calls the container's own filter could not.
func traceLateCalls() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	f := trace.LateTraceFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return e
	}
	return nil
}
