// Package sandbox runs one container with an OCI runtime (runc or crun):
// it writes the bundle's config.json with the official runtime-spec types,
// mounts the copy-on-write root file system, drives the runtime's
// create/start/kill/delete commands and reads the container's cgroup
// counters before they are gone.
//
// The isolation is fixed, not configurable: user, mount, pid, network, ipc,
// uts and cgroup namespaces; no host mount (the standard device nodes aside,
// which runtimes bind in user namespaces); memory, CPU and pid limits;
// Docker's default seccomp profile and capability set.
package sandbox

import (
	"fmt"
	"runtime"

	seccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits are the container's resource limits.
type Limits struct {
	// MemoryBytes caps memory.
	MemoryBytes int64
	// CPUs is the CPU quota in CPUs (1.5 = one and a half CPUs).
	CPUs float64
	// Pids caps the number of processes and threads.
	Pids int64
}

// DefaultLimits are the limits a run gets unless told otherwise.
var DefaultLimits = Limits{MemoryBytes: 512 << 20, CPUs: 1, Pids: 256}

// IDRange is the host id range the container's ids 0…Size-1 map to.
type IDRange struct {
	Host, Size uint32
}

// SpecOptions describe the container.
type SpecOptions struct {
	Args     []string
	Env      []string
	Cwd      string
	UID, GID uint32
	// Groups are the additional groups of the user.
	Groups   []uint32
	Hostname string
	IDs      IDRange
	Limits   Limits
	// CgroupsPath is the container's cgroup, relative to the hierarchy
	// root ("/drydock/<id>").
	CgroupsPath string
	// TraceSyscalls are the system calls the seccomp profile sends to a
	// ptrace tracer (SCMP_ACT_TRACE) rather than allowing or refusing them
	// itself; see TraceSyscalls. Empty: the profile is Docker's as it is.
	TraceSyscalls []string
}

// DefaultCapabilities are Docker's default capabilities.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker's masked and read-only paths.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// SpecVersion is the runtime-spec version config.json declares: the
// configuration uses nothing newer, and Debian 12's crun (1.8) refuses
// versions it does not know.
const SpecVersion = "1.0.2"

// Spec returns the runtime configuration of the container.
func Spec(o SpecOptions) (*specs.Spec, error) {
	caps := append([]string(nil), DefaultCapabilities...)
	var effective, permitted []string
	if o.UID == 0 {
		// As docker run does: root gets the set, other users only the
		// bounding set (setuid binaries and file capabilities aside).
		effective, permitted = caps, caps
	}
	mem := o.Limits.MemoryBytes
	pids := o.Limits.Pids
	period := uint64(100000)
	quota := int64(o.Limits.CPUs * float64(period))
	s := &specs.Spec{
		Version:  SpecVersion,
		Hostname: o.Hostname,
		Root:     &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Args: o.Args,
			Env:  o.Env,
			Cwd:  o.Cwd,
			User: specs.User{UID: o.UID, GID: o.GID, AdditionalGids: o.Groups},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: effective, Permitted: permitted,
			},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.IDs.Host, Size: o.IDs.Size}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.IDs.Host, Size: o.IDs.Size}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.UserNamespace},
				{Type: specs.CgroupNamespace},
			},
			CgroupsPath: o.CgroupsPath,
			Resources: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: &mem},
				CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
				Pids:   &specs.LinuxPids{Limit: &pids},
			},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
		},
	}
	if quota <= 0 {
		s.Linux.Resources.CPU = nil
	}
	sc, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	if sc == nil || len(sc.Syscalls) == 0 {
		return nil, fmt.Errorf("default seccomp profile: empty for %s", runtime.GOARCH)
	}
	if len(o.TraceSyscalls) > 0 {
		traceSyscalls(sc, o.TraceSyscalls)
	}
	s.Linux.Seccomp = sc
	return s, nil
}

// eperm is what a seccomp profile's ERRNO action returns when the profile
// names no errno (runc and crun both default to it).
const eperm = 1

// traceSyscalls makes a profile send the named system calls to a ptrace
// tracer (SCMP_ACT_TRACE), without changing what it lets through: the
// action's data tells the tracer what the profile decided. A call the
// profile allows is traced with data 0 (the tracer records it and lets it
// run); a call it refuses with errno N is traced with data N (the tracer
// records the attempt and skips the call, which returns -N). Calls a rule
// kills, traps or logs are left as they are. With no tracer attached the
// kernel fails a traced call with ENOSYS: the filter needs its tracer.
func traceSyscalls(sc *specs.LinuxSeccomp, names []string) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	errnoOf := func(p *uint) uint {
		if p != nil {
			return *p
		}
		return eperm
	}
	data := func(action specs.LinuxSeccompAction, errnoRet *uint) (uint, bool) {
		switch action {
		case specs.ActAllow:
			return 0, true
		case specs.ActErrno:
			// ERRNO(0) fakes success without running the call: a trace
			// with data 0 would run it.
			if e := errnoOf(errnoRet); e != 0 {
				return e, true
			}
		}
		return 0, false
	}
	named := map[string]bool{}
	var out []specs.LinuxSyscall
	for _, r := range sc.Syscalls {
		var keep, traced []string
		for _, n := range r.Names {
			named[n] = true
			if want[n] {
				traced = append(traced, n)
			} else {
				keep = append(keep, n)
			}
		}
		d, ok := data(r.Action, r.ErrnoRet)
		if len(traced) == 0 || !ok {
			out = append(out, r)
			continue
		}
		if len(keep) > 0 {
			k := r
			k.Names = keep
			out = append(out, k)
		}
		t := r
		t.Names = traced
		t.Action = specs.ActTrace
		t.ErrnoRet = &d
		out = append(out, t)
	}
	// The calls no rule names get the default action.
	var rest []string
	for _, n := range names {
		if !named[n] {
			rest = append(rest, n)
		}
	}
	if d, ok := data(sc.DefaultAction, sc.DefaultErrnoRet); ok && len(rest) > 0 {
		out = append(out, specs.LinuxSyscall{Names: rest, Action: specs.ActTrace, ErrnoRet: &d})
	}
	sc.Syscalls = out
}
