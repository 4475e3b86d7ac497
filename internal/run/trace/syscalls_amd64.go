//go:build linux && amd64

package trace

import "golang.org/x/sys/unix"

// nativeArch is the AUDIT_ARCH of 64-bit system calls. 32-bit calls made
// with int 0x80 have another number space; the tracers do not decode
// them (docs/tracing.md).
const nativeArch = unix.AUDIT_ARCH_X86_64

func archSyscalls() map[uint64]op {
	return map[uint64]op{
		unix.SYS_OPEN:  opOpen,
		unix.SYS_CREAT: opCreat,
	}
}

// skipSyscall makes a thread stopped at a system call's seccomp trap skip
// the call, which then returns -errno: the system call number -1 skips
// it, and the return register holds what the call returns.
func skipSyscall(tid int, errno int) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &regs); err != nil {
		return err
	}
	regs.Orig_rax = ^uint64(0)
	regs.Rax = uint64(-int64(errno))
	return unix.PtraceSetRegs(tid, &regs)
}
