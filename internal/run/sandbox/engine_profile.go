package sandbox

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// EngineTraceProfile is Docker's default seccomp profile as the engine
// applies it to a container with Docker's default capabilities, with the
// named system calls sent to a ptrace tracer as in the built-in sandbox
// (see traceSyscalls: what the profile lets through and refuses stays the
// same), in the form a Docker engine takes for a container's
// "seccomp=PROFILE" security option. Every rule is resolved for this
// kernel and architecture, so the engine applies it as it is.
func EngineTraceProfile(names []string) ([]byte, error) {
	caps := append([]string(nil), DefaultCapabilities...)
	sc, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}})
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	if sc == nil || len(sc.Syscalls) == 0 {
		return nil, fmt.Errorf("default seccomp profile: empty for %s", runtime.GOARCH)
	}
	traceSyscalls(sc, names)
	p := seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{
		DefaultAction: sc.DefaultAction, DefaultErrnoRet: sc.DefaultErrnoRet,
		Architectures: sc.Architectures, Flags: sc.Flags,
	}}
	for i := range sc.Syscalls {
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: sc.Syscalls[i]})
	}
	return json.Marshal(p)
}
