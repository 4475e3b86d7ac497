//go:build linux && arm64

package trace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// nativeArch is the AUDIT_ARCH of 64-bit system calls. 32-bit (compat)
// calls have another number space; the tracers do not decode them.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// archSyscalls: arm64 has no open, creat: only openat and openat2.
func archSyscalls() map[uint64]op { return nil }

// skipSyscall makes a thread stopped at a system call's seccomp trap skip
// the call, which then returns -errno: x0 holds what a skipped call
// returns, and the system call number -1 (NT_ARM_SYSTEM_CALL) skips it.
func skipSyscall(tid int, errno int) error {
	var regs unix.PtraceRegsArm64
	if err := unix.PtraceGetRegSetArm64(tid, unix.NT_PRSTATUS, &regs); err != nil {
		return err
	}
	regs.Regs[0] = uint64(-int64(errno))
	if err := unix.PtraceSetRegSetArm64(tid, unix.NT_PRSTATUS, &regs); err != nil {
		return err
	}
	nr := int32(-1)
	iov := unix.Iovec{Base: (*byte)(unsafe.Pointer(&nr))}
	iov.SetLen(int(unsafe.Sizeof(nr)))
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(tid), unix.NT_ARM_SYSTEM_CALL, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
