//go:build linux && (amd64 || arm64)

package trace

// constructors lists the tracers, preferred first.
func constructors() []constructor {
	return []constructor{
		{"ebpf", newEBPF},
		{"ptrace", newPtrace},
	}
}
