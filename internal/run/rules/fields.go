package rules

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event sources.
const (
	SourceTrace   = "trace"   // the tracer
	SourceNetwork = "network" // the network observer and socket tables
	SourceFiles   = "files"   // the copy-on-write layer after the run
	SourceLimits  = "limits"  // the cgroup counters
)

// Event types beyond the tracer's kinds (exec, open, connect, …).
const (
	TypeDNS         = "dns"          // a name asked of the resolver
	TypeFileWritten = "file_written" // a file created or modified (from the copy-on-write layer)
	TypeFileDeleted = "file_deleted"
	TypeLimit       = "limit" // a cgroup limit was hit (Limit names it)
)

// Event is what a rule sees: one thing the sandbox did, with what is known
// about the process that did it.
type Event struct {
	Time   time.Time
	Source string
	Type   string

	PID, PPID, UID int
	// Name is the program's name (the executable's base name).
	Name string
	Exe  string
	Argv []string
	// Parent is the parent's program name.
	Parent string
	// Entrypoint is set for the container's first program.
	Entrypoint bool
	// ExeSetuid: the executed file has a setuid or setgid bit.
	ExeSetuid bool
	Stdin     string

	Path   string
	Access string

	Proto string
	Addr  string
	Port  int
	// DNSName is the name asked (TypeDNS), or the name whose sinkhole
	// address a connection went to.
	DNSName string
	// Exposed: the port is one the image exposes.
	Exposed bool
	// Local: the address is the sandbox's own (loopback, its addresses).
	Local bool
	// Resolver: the address is drydock's DNS resolver.
	Resolver bool

	// Result is the system call's result (negative errno when refused);
	// HasResult says it is known.
	Result    int
	HasResult bool
	// Limit names the cgroup limit hit ("pids", "memory"); Count how often.
	Limit string
	Count int
}

type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindList
)

type value struct {
	kind kind
	s    string
	i    int64
	b    bool
	l    []string
}

func (v value) truth() bool {
	switch v.kind {
	case kindBool:
		return v.b
	case kindInt:
		return v.i != 0
	case kindList:
		return len(v.l) > 0
	}
	return v.s != ""
}

func (v value) empty() bool {
	switch v.kind {
	case kindList:
		return len(v.l) == 0
	case kindString:
		return v.s == ""
	}
	return false
}

// any applies f to the value as text (each item of a list).
func (v value) any(f func(string) bool) bool {
	switch v.kind {
	case kindList:
		for _, s := range v.l {
			if f(s) {
				return true
			}
		}
		return false
	case kindInt:
		return f(strconv.FormatInt(v.i, 10))
	case kindBool:
		return f(strconv.FormatBool(v.b))
	}
	return f(v.s)
}

func (v value) String() string {
	switch v.kind {
	case kindList:
		return strings.Join(v.l, " ")
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindBool:
		return strconv.FormatBool(v.b)
	}
	return v.s
}

type field struct {
	name string
	kind kind
	doc  string
	get  func(e *Event) value
}

func str(f func(e *Event) string) func(e *Event) value {
	return func(e *Event) value { return value{kind: kindString, s: f(e)} }
}
func num(f func(e *Event) int) func(e *Event) value {
	return func(e *Event) value { return value{kind: kindInt, i: int64(f(e))} }
}
func boolean(f func(e *Event) bool) func(e *Event) value {
	return func(e *Event) value { return value{kind: kindBool, b: f(e)} }
}

var fieldList = []field{
	{"evt.type", kindString, "exec, open, connect, bind, listen, setuid, capset, mount, ptrace, module, dns, file_written, file_deleted, limit", str(func(e *Event) string { return e.Type })},
	{"evt.source", kindString, "trace, network, files, limits", str(func(e *Event) string { return e.Source })},
	{"evt.result", kindInt, "the system call's result (negative errno when refused)", num(func(e *Event) int { return e.Result })},
	{"evt.failed", kindBool, "the kernel refused the call", boolean(func(e *Event) bool { return e.HasResult && e.Result < 0 })},
	{"proc.pid", kindInt, "process id", num(func(e *Event) int { return e.PID })},
	{"proc.ppid", kindInt, "parent process id", num(func(e *Event) int { return e.PPID })},
	{"proc.uid", kindInt, "real user id in the sandbox", num(func(e *Event) int { return e.UID })},
	{"proc.name", kindString, "program name", str(func(e *Event) string { return e.Name })},
	{"proc.exe", kindString, "executable path", str(func(e *Event) string { return e.Exe })},
	{"proc.cmdline", kindString, "the command line", str(func(e *Event) string { return strings.Join(e.Argv, " ") })},
	{"proc.args", kindString, "the arguments after argv[0]", str(func(e *Event) string {
		if len(e.Argv) < 2 {
			return ""
		}
		return strings.Join(e.Argv[1:], " ")
	})},
	{"proc.pname", kindString, "the parent's program name", str(func(e *Event) string { return e.Parent })},
	{"proc.entrypoint", kindBool, "the container's first program", boolean(func(e *Event) bool { return e.Entrypoint })},
	{"proc.exe_setuid", kindBool, "the executable has a setuid or setgid bit", boolean(func(e *Event) bool { return e.ExeSetuid })},
	{"proc.stdin", kindString, "what fd 0 is at exec: socket, pipe, tty, file, null", str(func(e *Event) string { return e.Stdin })},
	{"fd.name", kindString, "the file path", str(func(e *Event) string { return e.Path })},
	{"fd.directory", kindString, "the file's directory", str(func(e *Event) string {
		if i := strings.LastIndex(e.Path, "/"); i > 0 {
			return e.Path[:i]
		}
		return "/"
	})},
	{"fd.filename", kindString, "the file's base name", str(func(e *Event) string { return e.Path[strings.LastIndex(e.Path, "/")+1:] })},
	{"fd.access", kindString, "read, write, exec, read|write", str(func(e *Event) string { return e.Access })},
	{"fd.is_write", kindBool, "opened for writing", boolean(func(e *Event) bool { return strings.Contains(e.Access, "write") })},
	{"fd.is_read", kindBool, "opened for reading", boolean(func(e *Event) bool { return strings.Contains(e.Access, "read") })},
	{"net.proto", kindString, "tcp, udp, tcp6, udp6, unix, icmp", str(func(e *Event) string { return e.Proto })},
	{"net.addr", kindString, "the remote (connect) or local (bind, listen) address", str(func(e *Event) string { return e.Addr })},
	{"net.port", kindInt, "the port", num(func(e *Event) int { return e.Port })},
	{"net.name", kindString, "the DNS name the address was given for", str(func(e *Event) string { return e.DNSName })},
	{"net.exposed", kindBool, "the port is one the image exposes", boolean(func(e *Event) bool { return e.Exposed })},
	{"net.local", kindBool, "the address is the sandbox's own (loopback, its addresses, unspecified)", boolean(func(e *Event) bool { return e.Local })},
	{"net.resolver", kindBool, "the address is drydock's DNS resolver", boolean(func(e *Event) bool { return e.Resolver })},
	{"dns.name", kindString, "the name asked", str(func(e *Event) string { return e.DNSName })},
	{"limit.name", kindString, "pids, memory", str(func(e *Event) string { return e.Limit })},
	{"limit.count", kindInt, "how often the limit was hit", num(func(e *Event) int { return e.Count })},
}

var fields = func() map[string]field {
	m := map[string]field{}
	for _, f := range fieldList {
		m[f.name] = f
	}
	return m
}()

// Fields lists the fields conditions may use, with what they mean.
func Fields() [][2]string {
	var out [][2]string
	for _, f := range fieldList {
		out = append(out, [2]string{f.name, f.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
