//go:build linux && arm64

package trace

import "golang.org/x/sys/unix"

// nativeArch is the AUDIT_ARCH of 64-bit system calls. 32-bit (compat)
// calls have another number space; the tracers do not decode them.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// archSyscalls: arm64 has no open, creat: only openat and openat2.
func archSyscalls() map[uint64]op { return nil }
