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
