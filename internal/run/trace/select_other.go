//go:build !linux

package trace

import "runtime"

// constructors: both tracers need Linux.
func constructors() []constructor {
	no := func(name string) constructor {
		return constructor{name, func() (Tracer, error) {
			return nil, unavailable(name, "Linux (this is "+runtime.GOOS+")", nil)
		}}
	}
	return []constructor{no("ebpf"), no("ptrace")}
}
