package run

import (
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/run/netobs"
	"github.com/drydockscan/drydock/internal/run/rules"
	"github.com/drydockscan/drydock/internal/run/trace"
)

// proc is what is known of one process from its events.
type proc struct {
	pid, ppid, uid int
	exe            string
	argv           []string
	name           string
	stdin          string
	time           time.Time
	exit           *int
	execs          int
}

// processTable follows the exec events: pid -> latest program.
func processTable(events []trace.Event) (map[int]*proc, []int) {
	procs := map[int]*proc{}
	var order []int
	get := func(e *trace.Event) *proc {
		p, ok := procs[e.PID]
		if !ok {
			p = &proc{pid: e.PID, ppid: e.PPID, uid: e.UID, name: e.Comm, time: e.Time}
			// A fork: the child runs its parent's program until it execs.
			if pp, ok := procs[e.PPID]; ok && e.PPID != 0 {
				p.exe, p.argv = pp.exe, pp.argv
				if p.name == "" {
					p.name = pp.name
				}
			}
			procs[e.PID] = p
			order = append(order, e.PID)
		}
		if p.ppid == 0 && e.PPID != 0 {
			p.ppid = e.PPID
		}
		return p
	}
	for i := range events {
		e := &events[i]
		if e.PID == 0 {
			continue
		}
		p := get(e)
		switch e.Kind {
		case trace.KindExec:
			if e.Result < 0 {
				continue
			}
			p.exe, p.argv, p.uid, p.stdin = e.Path, e.Argv, e.UID, e.Stdin
			p.name = progName(e.Path, e.Argv)
			p.execs++
			if p.execs == 1 {
				p.time = e.Time
			}
		case trace.KindExit:
			r := e.Result
			p.exit = &r
		}
	}
	return procs, order
}

// progName is a program's name: the executed file's base name, or
// argv[0]'s when the program re-executed itself through /proc/self/exe
// (as busybox runs its applets).
func progName(exe string, argv []string) string {
	if exe == "" || (strings.HasPrefix(exe, "/proc/") && strings.HasSuffix(exe, "/exe")) {
		if len(argv) > 0 {
			return path.Base(argv[0])
		}
	}
	return path.Base(exe)
}

// exposedSet reads the image's exposed ports ("8080/tcp", "53/udp").
func exposedSet(exposed []string) map[string]bool {
	m := map[string]bool{}
	for _, e := range exposed {
		port, proto, ok := strings.Cut(e, "/")
		if !ok {
			proto = "tcp"
		}
		m[port+"/"+strings.ToLower(proto)] = true
	}
	return m
}

func isExposed(set map[string]bool, proto string, port int) bool {
	p := strings.TrimSuffix(proto, "6")
	return set[strconv.Itoa(port)+"/"+p]
}

// isLocal: the sandbox's own addresses (loopback, unspecified, its own).
func isLocal(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr == "" || !strings.Contains(addr, ".") && !strings.Contains(addr, ":")
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified() || a == netobs.SandboxAddr.Addr() || a == netobs.SandboxAddr6.Addr()
}

// ephemeralUDP: a UDP socket on a port the kernel hands out for clients
// is not a service.
func ephemeralUDP(proto string, port int) bool {
	return strings.HasPrefix(proto, "udp") && port >= 32768
}

// RuleEvents turns everything the run recorded into the events rules see.
func (r *Result) RuleEvents() []rules.Event {
	procs, _ := processTable(r.Events)
	exposed := exposedSet(r.Exposed)
	nameOf := r.NameOf
	if nameOf == nil {
		nameOf = func(string) string { return "" }
	}
	resolver := netobs.ResolverAddr.String()
	entry := -1
	for i, e := range r.Events {
		if e.Kind == trace.KindExec && e.Result >= 0 {
			entry = i
			break
		}
	}
	var out []rules.Event
	for i := range r.Events {
		e := &r.Events[i]
		ev := rules.Event{Time: e.Time, Source: rules.SourceTrace, Type: e.Kind, PID: e.PID, PPID: e.PPID, UID: e.UID,
			Path: e.Path, Access: e.Access, Proto: e.Proto, Addr: e.Addr, Port: e.Port, Result: e.Result, HasResult: true, Stdin: e.Stdin}
		if p, ok := procs[e.PID]; ok {
			ev.Name, ev.Exe, ev.Argv = p.name, p.exe, p.argv
			if ev.PPID == 0 {
				ev.PPID = p.ppid
			}
			if pp, ok := procs[ev.PPID]; ok {
				ev.Parent = pp.name
			}
		}
		if ev.Name == "" {
			ev.Name = e.Comm
		}
		switch e.Kind {
		case trace.KindExec:
			ev.Exe, ev.Argv = e.Path, e.Argv
			ev.Name = progName(e.Path, e.Argv)
			ev.Entrypoint = i == entry
			ev.ExeSetuid = r.Setuid[e.Path]
		case trace.KindConnect, trace.KindBind, trace.KindListen:
			if e.Proto == "unix" {
				ev.Local = true
			} else {
				ev.Local = isLocal(e.Addr)
			}
			ev.Resolver = e.Addr == resolver
			ev.DNSName = nameOf(e.Addr)
			ev.Exposed = isExposed(exposed, e.Proto, e.Port)
		}
		out = append(out, ev)
	}
	for _, q := range r.Net.DNS {
		out = append(out, rules.Event{Time: q.Time, Source: rules.SourceNetwork, Type: rules.TypeDNS, DNSName: q.Name})
	}
	for _, a := range r.Net.Attempts {
		out = append(out, rules.Event{Time: a.Time, Source: rules.SourceNetwork, Type: trace.KindConnect, Proto: a.Proto, Addr: a.Address, Port: a.Port,
			DNSName: a.Name, Resolver: a.Address == resolver, Local: isLocal(a.Address)})
	}
	for _, l := range r.Listeners {
		if ephemeralUDP(l.Proto, l.Port) {
			continue
		}
		out = append(out, rules.Event{Time: l.Time, Source: rules.SourceNetwork, Type: trace.KindListen, Proto: l.Proto, Addr: l.Address, Port: l.Port,
			Exposed: isExposed(exposed, l.Proto, l.Port), Local: true})
	}
	end := r.Started.Add(r.Ran)
	for _, c := range r.Changes {
		if c.Type == "dir" {
			continue
		}
		t := rules.TypeFileWritten
		if c.Op == "deleted" {
			t = rules.TypeFileDeleted
		}
		out = append(out, rules.Event{Time: end, Source: rules.SourceFiles, Type: t, Path: c.Path, Access: c.Op})
	}
	if r.Counters.PidsLimitHits > 0 {
		out = append(out, rules.Event{Time: end, Source: rules.SourceLimits, Type: rules.TypeLimit, Limit: "pids", Count: int(r.Counters.PidsLimitHits)})
	}
	if r.Counters.OOMKills > 0 {
		out = append(out, rules.Event{Time: end, Source: rules.SourceLimits, Type: rules.TypeLimit, Limit: "memory", Count: int(r.Counters.OOMKills)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Process is one process of the run, with its children.
type Process struct {
	PID  int      `json:"pid"`
	PPID int      `json:"ppid,omitempty"`
	UID  int      `json:"uid"`
	Exe  string   `json:"exe,omitempty"`
	Argv []string `json:"argv,omitempty"`
	// Execs counts the programs the process executed (0: a fork that
	// never executed one).
	Execs    int       `json:"execs"`
	Time     time.Time `json:"time"`
	Exit     *int      `json:"exit,omitempty"`
	Children []Process `json:"children,omitempty"`
}

// ProcessTree returns the processes the tracer saw, as a tree.
func (r *Result) ProcessTree() []Process {
	procs, order := processTable(r.Events)
	children := map[int][]int{}
	var roots []int
	for _, pid := range order {
		p := procs[pid]
		if _, ok := procs[p.ppid]; ok && p.ppid != pid {
			children[p.ppid] = append(children[p.ppid], pid)
		} else {
			roots = append(roots, pid)
		}
	}
	var build func(pid int, depth int) Process
	build = func(pid int, depth int) Process {
		p := procs[pid]
		n := Process{PID: p.pid, PPID: p.ppid, UID: p.uid, Exe: p.exe, Argv: p.argv, Execs: p.execs, Time: p.time, Exit: p.exit}
		if depth < 64 {
			for _, c := range children[pid] {
				n.Children = append(n.Children, build(c, depth+1))
			}
		}
		return n
	}
	out := []Process{}
	for _, pid := range roots {
		out = append(out, build(pid, 0))
	}
	return out
}

// FileUse is one file the run touched.
type FileUse struct {
	Path string `json:"path"`
	// Access is "read", "write", "exec", "read|write", or for changes
	// found in the copy-on-write layer "created", "modified", "deleted".
	Access string `json:"access"`
	Source string `json:"source"`
	PID    int    `json:"pid,omitempty"`
	// Error names the refusal of a refused attempt ("EACCES").
	Error string `json:"error,omitempty"`
	Count int    `json:"count"`
}

// Files are the files the run wrote, read and executed.
type Files struct {
	Written  []FileUse `json:"written"`
	Read     []FileUse `json:"read"`
	Executed []FileUse `json:"executed"`
	// Truncated says a list was capped.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxFileList caps each list of Files.
const MaxFileList = 5000

// FileUses lists the files the run touched.
func (r *Result) FileUses() Files {
	f := Files{Written: []FileUse{}, Read: []FileUse{}, Executed: []FileUse{}, Truncated: r.ChangesTrunc}
	// One index per list: the same key may be in several lists (an exec
	// is also an open for exec).
	idx := map[*[]FileUse]map[string]int{&f.Written: {}, &f.Read: {}, &f.Executed: {}}
	add := func(list *[]FileUse, u FileUse) {
		key := u.Path + "|" + u.Access + "|" + u.Source + "|" + u.Error
		if i, ok := idx[list][key]; ok {
			(*list)[i].Count++
			return
		}
		if len(*list) >= MaxFileList {
			f.Truncated = true
			return
		}
		idx[list][key] = len(*list)
		u.Count = 1
		*list = append(*list, u)
	}
	for _, e := range r.Events {
		if e.Path == "" {
			continue
		}
		errName := ""
		if e.Result < 0 {
			errName = errnoName(-e.Result)
		}
		switch e.Kind {
		case trace.KindExec:
			add(&f.Executed, FileUse{Path: e.Path, Access: trace.AccessExec, Source: rules.SourceTrace, PID: e.PID, Error: errName})
		case trace.KindOpen:
			u := FileUse{Path: e.Path, Access: e.Access, Source: rules.SourceTrace, PID: e.PID, Error: errName}
			if strings.Contains(e.Access, trace.AccessWrite) {
				add(&f.Written, u)
			} else {
				add(&f.Read, u)
			}
		}
	}
	for _, c := range r.Changes {
		if c.Type == "dir" {
			continue
		}
		add(&f.Written, FileUse{Path: c.Path, Access: c.Op, Source: rules.SourceFiles})
	}
	return f
}

// Connection is one outbound connection attempt.
type Connection struct {
	Time    time.Time `json:"time"`
	Proto   string    `json:"proto"`
	Address string    `json:"address"`
	Port    int       `json:"port"`
	// Name is the DNS name the sandbox was given this address for.
	Name     string   `json:"name,omitempty"`
	PID      int      `json:"pid,omitempty"`
	Argv     []string `json:"argv,omitempty"`
	Error    string   `json:"error,omitempty"`
	Attempts int      `json:"attempts"`
	// Source is "trace", "network" or both ("trace+network").
	Source string `json:"source"`
}

// Listening is one port the run listened on.
type Listening struct {
	Proto   string `json:"proto"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Exposed bool   `json:"exposed"`
	PID     int    `json:"pid,omitempty"`
	Source  string `json:"source"`
}

// Connections merges the tracer's connect calls with the observer's
// attempts.
func (r *Result) Connections() []Connection {
	procs, _ := processTable(r.Events)
	out := []Connection{}
	idx := map[string]int{}
	key := func(proto, addr string, port int) string {
		return strings.TrimSuffix(proto, "6") + "|" + addr + "|" + strconv.Itoa(port)
	}
	nameOf := r.NameOf
	if nameOf == nil {
		nameOf = func(string) string { return "" }
	}
	resolver := netobs.ResolverAddr.String()
	for _, e := range r.Events {
		if e.Kind != trace.KindConnect || e.Proto == "unix" || e.Proto == "" || isLocal(e.Addr) {
			continue
		}
		if e.Addr == resolver && e.Port == 53 {
			continue
		}
		k := key(e.Proto, e.Addr, e.Port)
		if i, ok := idx[k]; ok {
			out[i].Attempts++
			continue
		}
		c := Connection{Time: e.Time, Proto: e.Proto, Address: e.Addr, Port: e.Port, Name: nameOf(e.Addr), PID: e.PID, Attempts: 1, Source: rules.SourceTrace}
		if p, ok := procs[e.PID]; ok {
			c.Argv = p.argv
		}
		if e.Result < 0 {
			c.Error = errnoName(-e.Result)
		}
		idx[k] = len(out)
		out = append(out, c)
	}
	for _, a := range r.Net.Attempts {
		k := key(a.Proto, a.Address, a.Port)
		if i, ok := idx[k]; ok {
			if !strings.Contains(out[i].Source, rules.SourceNetwork) {
				out[i].Source += "+" + rules.SourceNetwork
			}
			if out[i].Name == "" {
				out[i].Name = a.Name
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, Connection{Time: a.Time, Proto: a.Proto, Address: a.Address, Port: a.Port, Name: a.Name, Attempts: a.Packets, Source: rules.SourceNetwork})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// ListeningPorts merges the tracer's listen calls with the socket tables.
func (r *Result) ListeningPorts() []Listening {
	exposed := exposedSet(r.Exposed)
	out := []Listening{}
	idx := map[string]int{}
	for _, e := range r.Events {
		if e.Kind != trace.KindListen || e.Port == 0 || e.Result < 0 {
			continue
		}
		k := strings.TrimSuffix(e.Proto, "6") + "|" + strconv.Itoa(e.Port)
		if _, ok := idx[k]; ok {
			continue
		}
		idx[k] = len(out)
		out = append(out, Listening{Proto: e.Proto, Address: e.Addr, Port: e.Port, Exposed: isExposed(exposed, e.Proto, e.Port), PID: e.PID, Source: rules.SourceTrace})
	}
	for _, l := range r.Listeners {
		if ephemeralUDP(l.Proto, l.Port) {
			continue
		}
		k := strings.TrimSuffix(l.Proto, "6") + "|" + strconv.Itoa(l.Port)
		if i, ok := idx[k]; ok {
			if !strings.Contains(out[i].Source, rules.SourceNetwork) {
				out[i].Source += "+" + rules.SourceNetwork
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, Listening{Proto: l.Proto, Address: l.Address, Port: l.Port, Exposed: isExposed(exposed, l.Proto, l.Port), Source: rules.SourceNetwork})
	}
	slices.SortStableFunc(out, func(a, b Listening) int { return a.Port - b.Port })
	return out
}
