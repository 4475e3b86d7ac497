//go:build !linux || !(amd64 || arm64)

package trace

import "runtime"

// constructors: both tracers need Linux on amd64 or arm64.
func constructors() []constructor {
	no := func(name string) constructor {
		return constructor{name, func() (Tracer, error) {
			return nil, unavailable(name, "Linux on amd64 or arm64 (this is "+runtime.GOOS+"/"+runtime.GOARCH+")", nil)
		}}
	}
	return []constructor{no("ebpf"), no("ptrace")}
}
