package run_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run"
	"github.com/drydockscan/drydock/internal/run/trace"
)

// straceTracer is a tracer for tests only: it attaches strace to the
// sandbox's init and turns strace's output into trace.Events, so that the
// sandbox, the rules and the report can be tested with real events before
// (and beside) the product tracers. It is not a product tracer.
type straceTracer struct{}

func (straceTracer) Name() string { return "strace-test" }

// testTracers are the tracers the sandbox tests run with; the product
// tracers are added here once they are built in.
func testTracers() []run.TracerFactory {
	if _, err := exec.LookPath("strace"); err != nil {
		return nil
	}
	return []run.TracerFactory{{Name: "strace-test", New: func() (trace.Tracer, error) { return straceTracer{}, nil }}}
}

var straceSyscalls = "execve,execveat,open,openat,openat2,creat,connect,bind,listen,setuid,setgid,setreuid,setregid,setresuid,setresgid,capset,mount,umount2,ptrace,init_module,finit_module"

type straceSession struct {
	cmd    *exec.Cmd
	events chan trace.Event
	once   sync.Once
	cancel context.CancelFunc
}

func (s *straceSession) Events() <-chan trace.Event { return s.events }

func (s *straceSession) Close() error {
	s.once.Do(func() {
		s.cancel()
	})
	return nil
}

func (straceTracer) Attach(ctx context.Context, t trace.Target) (trace.Session, error) {
	ctx, cancel := context.WithCancel(ctx)
	// strace writes to its (unbuffered) standard error, so nothing is
	// lost if it has to be stopped; lines carry "[pid N]" only while
	// several processes are traced, so the parser tracks which are.
	cmd := exec.CommandContext(ctx, "strace", "-f", "-ttt", "-yy", "-s", "4096", "-e", "trace="+straceSyscalls, "-e", "signal=none", "-p", strconv.Itoa(t.PID))
	out, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	s := &straceSession{cmd: cmd, events: make(chan trace.Event, 4096), cancel: cancel}
	ready := make(chan error, 1)
	go func() {
		defer close(s.events)
		p := &straceParser{unfinished: map[int]string{}, binds: map[string]int{}, base: idBase(t.PID), live: map[int]bool{}}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		signalled := false
		var dump *os.File
		if p := os.Getenv("DRYDOCK_TEST_STRACE_LOG"); p != "" {
			dump, _ = os.Create(p)
			defer dump.Close()
		}
		for sc.Scan() {
			line := sc.Text()
			if dump != nil {
				fmt.Fprintln(dump, line)
			}
			if strings.HasPrefix(line, "strace: ") {
				if strings.Contains(line, "attached") {
					p.attached(line)
					if !signalled {
						signalled = true
						ready <- nil
					}
				}
				continue
			}
			for _, ev := range p.parse(line) {
				s.events <- ev
			}
		}
		if !signalled {
			ready <- errors.New("strace did not attach")
		}
		_ = cmd.Wait()
	}()
	select {
	case err := <-ready:
		if err != nil {
			cancel()
			return nil, err
		}
	case <-time.After(10 * time.Second):
		cancel()
		return nil, errors.New("strace did not attach in 10s")
	}
	// strace reports each thread as it attaches: give it a moment for all.
	time.Sleep(200 * time.Millisecond)
	return s, nil
}

// idBase reads the host uid the sandbox's uid 0 maps to.
func idBase(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

type straceParser struct {
	unfinished map[int]string
	binds      map[string]int // pid|fd -> port
	base       int
	// live are the traced processes; a line without "[pid N]" belongs
	// to the only one.
	live map[int]bool
	last int
}

// attached reads "strace: Process N attached[ with M threads]".
func (p *straceParser) attached(line string) {
	f := strings.Fields(line)
	if len(f) >= 3 {
		if n, err := strconv.Atoi(f[2]); err == nil {
			p.live[n] = true
			p.last = n
		}
	}
}

// pidOf splits the "[pid N] " prefix off a line.
func (p *straceParser) pidOf(line string) (int, string) {
	if strings.HasPrefix(line, "[pid ") {
		end := strings.IndexByte(line, ']')
		if end > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(line[5:end])); err == nil {
				p.live[n] = true
				p.last = n
				return n, strings.TrimSpace(line[end+1:])
			}
		}
	}
	if len(p.live) == 1 {
		for n := range p.live {
			return n, line
		}
	}
	return p.last, line
}

func (p *straceParser) procInfo(pid int) (ppid, uid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "PPid:":
			ppid, _ = strconv.Atoi(f[1])
		case "Uid:":
			uid, _ = strconv.Atoi(f[1])
			uid -= p.base
		}
	}
	return ppid, uid
}

func stdinOf(pid int) string {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	switch {
	case err != nil:
		return ""
	case strings.HasPrefix(l, "socket:"):
		return "socket"
	case strings.HasPrefix(l, "pipe:"):
		return "pipe"
	case l == "/dev/null":
		return "null"
	case strings.HasPrefix(l, "/dev/pts") || strings.HasPrefix(l, "/dev/tty"):
		return "tty"
	}
	return "file"
}

func (p *straceParser) parse(line string) []trace.Event {
	pid, line := p.pidOf(line)
	f := strings.SplitN(line, " ", 2)
	if len(f) < 2 || pid == 0 {
		return nil
	}
	ts, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil
	}
	t := time.Unix(0, int64(ts*1e9))
	rest := f[1]
	if strings.HasPrefix(rest, "+++ ") {
		delete(p.live, pid)
	}
	if strings.HasPrefix(rest, "+++ exited with ") {
		code, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rest, "+++ exited with "), " +++"))
		return []trace.Event{{Time: t, Kind: trace.KindExit, PID: pid, Result: code}}
	}
	if strings.HasPrefix(rest, "+++ killed by ") {
		return []trace.Event{{Time: t, Kind: trace.KindExit, PID: pid, Result: 137}}
	}
	if i := strings.Index(rest, " <unfinished ...>"); i >= 0 {
		p.unfinished[pid] = rest[:i]
		return nil
	}
	if strings.HasPrefix(rest, "<... ") {
		i := strings.Index(rest, " resumed>")
		if i < 0 {
			return nil
		}
		rest = p.unfinished[pid] + rest[i+len(" resumed>"):]
		delete(p.unfinished, pid)
	}
	open := strings.IndexByte(rest, '(')
	eq := strings.LastIndex(rest, ") = ")
	if open < 0 || eq < 0 {
		return nil
	}
	name := rest[:open]
	args := splitArgs(rest[open+1 : eq])
	result := parseResult(rest[eq+4:])
	ppid, uid := p.procInfo(pid)
	ev := trace.Event{Time: t, PID: pid, PPID: ppid, UID: uid, Result: result}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "execve", "execveat":
		off := 0
		if name == "execveat" {
			off = 1
		}
		ev.Kind, ev.Path, ev.Argv = trace.KindExec, unquote(arg(off)), parseArray(arg(off+1))
		if result >= 0 {
			ev.Stdin = stdinOf(pid)
		}
	case "open", "openat", "openat2", "creat":
		pi, fi := 1, 2
		if name == "open" {
			pi, fi = 0, 1
		}
		ev.Kind, ev.Path = trace.KindOpen, unquote(arg(pi))
		flags := arg(fi)
		switch {
		case name == "creat" || strings.Contains(flags, "O_WRONLY"):
			ev.Access = trace.AccessWrite
		case strings.Contains(flags, "O_RDWR"):
			ev.Access = trace.AccessRead + "|" + trace.AccessWrite
		default:
			ev.Access = trace.AccessRead
		}
	case "connect", "bind":
		ev.Kind = name
		ev.Proto, ev.Addr, ev.Port = sockAddr(arg(0), arg(1))
		if name == "bind" && result == 0 {
			p.binds[fmt.Sprintf("%d|%s", pid, fdNum(arg(0)))] = ev.Port
		}
	case "listen":
		ev.Kind = trace.KindListen
		ev.Proto, _, _ = sockAddr(arg(0), "")
		ev.Port = p.binds[fmt.Sprintf("%d|%s", pid, fdNum(arg(0)))]
	case "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid":
		ev.Kind = trace.KindSetUID
		n, _ := strconv.Atoi(arg(0))
		ev.UID = n
	case "capset":
		ev.Kind = trace.KindCapset
	case "mount":
		ev.Kind, ev.Path = trace.KindMount, unquote(arg(1))
	case "umount2":
		ev.Kind, ev.Path = trace.KindMount, unquote(arg(0))
	case "ptrace":
		ev.Kind = trace.KindPtrace
		ev.TargetPID, _ = strconv.Atoi(arg(1))
	case "init_module", "finit_module":
		ev.Kind = trace.KindModule
	default:
		return nil
	}
	return []trace.Event{ev}
}

func fdNum(s string) string {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		return s[:i]
	}
	return s
}

func parseResult(s string) int {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-1 ") {
		name := strings.Fields(s)[1]
		for e := 1; e < 200; e++ {
			if unix.ErrnoName(syscall.Errno(e)) == name {
				return -e
			}
		}
		return -1
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	if i := strings.IndexByte(f[0], '<'); i >= 0 {
		f[0] = f[0][:i]
	}
	n, err := strconv.ParseInt(f[0], 0, 64)
	if err != nil {
		return 0
	}
	return int(n)
}

// sockAddr reads strace's socket fd ("3<TCP:[...]>") and address
// ("{sa_family=AF_INET, sin_port=htons(4444), sin_addr=inet_addr(\"192.0.2.1\")}").
func sockAddr(fd, addr string) (proto, ip string, port int) {
	switch {
	case strings.Contains(fd, "<TCPv6"):
		proto = "tcp6"
	case strings.Contains(fd, "<TCP"):
		proto = "tcp"
	case strings.Contains(fd, "<UDPv6"):
		proto = "udp6"
	case strings.Contains(fd, "<UDP"):
		proto = "udp"
	case strings.Contains(fd, "<UNIX"):
		proto = "unix"
	}
	if strings.Contains(addr, "AF_UNIX") {
		proto = "unix"
		if i := strings.Index(addr, "sun_path="); i >= 0 {
			ip = unquote(strings.TrimSuffix(strings.Fields(addr[i+len("sun_path="):])[0], "}"))
		}
		return
	}
	if i := strings.Index(addr, "htons("); i >= 0 {
		j := strings.IndexByte(addr[i:], ')')
		port, _ = strconv.Atoi(addr[i+6 : i+j])
	}
	if i := strings.Index(addr, "inet_addr(\""); i >= 0 {
		j := strings.IndexByte(addr[i+11:], '"')
		ip = addr[i+11 : i+11+j]
	}
	if i := strings.Index(addr, "inet_pton(AF_INET6, \""); i >= 0 {
		j := strings.IndexByte(addr[i+21:], '"')
		ip = addr[i+21 : i+21+j]
	}
	return
}

// splitArgs splits a system call's argument list at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func parseArray(s string) []string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return nil
	}
	var out []string
	for _, a := range splitArgs(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")) {
		if a != "" {
			out = append(out, unquote(a))
		}
	}
	return out
}

// unquote reads a C-escaped strace string ("…" with \n, \", \\, \ooo, \xhh).
func unquote(s string) string {
	s = strings.TrimSuffix(s, "...")
	if i := strings.IndexByte(s, '<'); i > 0 && !strings.HasPrefix(s, "\"") {
		s = s[:i]
	}
	if len(s) < 2 || s[0] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
				}
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 8)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
