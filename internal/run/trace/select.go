package trace

import (
	"errors"
	"fmt"
	"strings"
)

// UnavailableError says why a tracer cannot run on this machine, naming
// what is missing (no BTF, a capability, a kernel feature, ptrace
// restricted…). The sandbox reports it and exits 2.
type UnavailableError struct {
	Tracer  string // "ebpf" or "ptrace"
	Missing string // what is missing, for people
	Err     error  // the underlying error, if any
}

func (e *UnavailableError) Error() string {
	msg := e.Tracer + " unavailable: " + e.Missing
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *UnavailableError) Unwrap() error { return e.Err }

func unavailable(tracer, missing string, err error) error {
	return &UnavailableError{Tracer: tracer, Missing: missing, Err: err}
}

// constructor builds a tracer after checking that it can run here.
type constructor struct {
	name string
	new  func() (Tracer, error)
}

// Names lists the tracers in the order Auto tries them.
func Names() []string {
	var names []string
	for _, c := range constructors() {
		names = append(names, c.name)
	}
	return names
}

// Named returns the tracer called name ("ebpf" or "ptrace"), or an error
// (an *UnavailableError when it cannot run here).
func Named(name string) (Tracer, error) {
	for _, c := range constructors() {
		if c.name == name {
			return c.new()
		}
	}
	return nil, fmt.Errorf("no tracer %q (have: %s)", name, strings.Join(Names(), ", "))
}

// Auto returns the first tracer that can run here: eBPF, else ptrace.
// note says why the tracers before the chosen one were passed over
// ("ebpf unavailable: no kernel BTF …"), empty when the first was chosen.
// When none can run, the error joins every tracer's reason.
func Auto() (t Tracer, note string, err error) {
	var errs []error
	for _, c := range constructors() {
		t, err := c.new()
		if err == nil {
			var notes []string
			for _, e := range errs {
				notes = append(notes, e.Error())
			}
			return t, strings.Join(notes, "; "), nil
		}
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}
