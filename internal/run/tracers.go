package run

import "github.com/drydockscan/drydock/internal/run/trace"

// BuiltinTracers are the tracers built into drydock, in order of
// preference: eBPF where the kernel allows it, else ptrace. --tracer auto
// takes the first that attaches.
func BuiltinTracers() []TracerFactory {
	var out []TracerFactory
	for _, name := range trace.Names() {
		out = append(out, TracerFactory{Name: name, New: func() (trace.Tracer, error) { return trace.Named(name) }})
	}
	return out
}
