//go:build !linux || !(amd64 || arm64)

package holdinit

import (
	"errors"
	"runtime"
)

// traceLateCalls: the ptrace tracer runs only on Linux on amd64 or arm64.
func traceLateCalls() error {
	return errors.New("seccomp filters are not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}
