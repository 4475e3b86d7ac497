//go:build linux && (amd64 || arm64)

package trace

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const capSysPtrace = 19

// ptraceTracer is the fallback tracer: it seizes the target's threads and
// stops them at every system call entry and exit, reading the arguments
// with PTRACE_GET_SYSCALL_INFO (architecture-neutral: no register layouts)
// and the memory they point to with process_vm_readv.
type ptraceTracer struct{}

func (ptraceTracer) Name() string { return "ptrace" }

// SeccompTrace says the tracer can use Target.SeccompTrace: a sandbox
// that knows it traces with ptrace can trap only the traced calls.
func (ptraceTracer) SeccompTrace() bool { return true }

// newPtrace checks what ptrace needs: Linux 5.3 (PTRACE_GET_SYSCALL_INFO),
// the ptrace system call not refused to this process, and a Yama policy
// that lets this process trace a process that is not its child.
func newPtrace() (Tracer, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		rel := unix.ByteSliceToString(u.Release[:])
		if !kernelAtLeast(rel, 5, 3) {
			return nil, unavailable("ptrace", "Linux 5.3 or later for PTRACE_GET_SYSCALL_INFO (this kernel is "+rel+")", nil)
		}
	}
	// ptrace(2) itself may be refused to this process (a seccomp filter,
	// a security module): a request about a pid that cannot exist gets
	// ESRCH from the kernel, and something else when it is refused first.
	if err := ptrace(unix.PTRACE_SEIZE, -1, 0, 0); !errors.Is(err, unix.ESRCH) {
		return nil, unavailable("ptrace", "the ptrace system call is refused to this process (a seccomp filter or a security module)", err)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		scope := strings.TrimSpace(string(b))
		switch {
		case scope == "3":
			return nil, unavailable("ptrace", "ptrace is disabled by Yama (kernel.yama.ptrace_scope=3)", nil)
		case scope != "0" && !hasCap(capSysPtrace):
			return nil, unavailable("ptrace", "ptrace is restricted by Yama (kernel.yama.ptrace_scope="+scope+") and this process lacks CAP_SYS_PTRACE", nil)
		}
	}
	return ptraceTracer{}, nil
}

// kernelAtLeast compares a kernel release ("6.1.0-13-amd64") with major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

func (ptraceTracer) Attach(ctx context.Context, t Target) (Session, error) {
	if t.PID <= 0 {
		return nil, fmt.Errorf("ptrace trace: no target pid")
	}
	s := newPtraceSession(ctx, t)
	ready := make(chan error, 1)
	go s.run(t.PID, ready)
	if err := <-ready; err != nil {
		<-s.finished
		return nil, err
	}
	return s, nil
}

func newPtraceSession(ctx context.Context, t Target) *ptraceSession {
	s := &ptraceSession{
		ctx:      ctx,
		out:      make(chan Event, 1024),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		ids:      readIDMap(t.PID),
		seccomp:  t.SeccompTrace,
		threads:  map[int]*pthread{},
		procs:    map[int]*pproc{},
	}
	for nr, o := range opSyscalls() {
		if nr < maxSyscall {
			s.ops[nr] = o
		}
	}
	return s
}

type ptraceSession struct {
	ctx       context.Context
	out       chan Event
	done      chan struct{} // closed by Close
	finished  chan struct{} // closed when the tracer thread is done
	closeOnce sync.Once
	ids       idMap
	ops       [maxSyscall]op
	seccomp   bool // Target.SeccompTrace: stop at seccomp's traps, not at every syscall

	// owned by the tracer thread
	threads map[int]*pthread
	procs   map[int]*pproc
	stop    bool // Close or ctx: detach and return
	stops   int  // ptrace stops handled (the tests compare the modes)
	buf     [4096]byte
}

type pthread struct {
	tid, tgid int
	started   bool  // had its first stop
	pending   *call // a traced syscall entered and not yet returned
}

type pproc struct {
	ppid, uid int
	comm      string
	threads   int
}

func (s *ptraceSession) Events() <-chan Event { return s.out }

// Lost is always 0: a slow reader holds the traced processes stopped
// instead.
func (s *ptraceSession) Lost() uint64 { return 0 }

func (s *ptraceSession) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	<-s.finished
	return nil
}

// run is the tracer thread. Every ptrace request must come from the
// thread that attached, so run locks its goroutine to the OS thread and
// never unlocks it: when run returns, Go ends the thread and the kernel
// detaches whatever is still traced, which then runs on untraced.
func (s *ptraceSession) run(pid int, ready chan<- error) {
	runtime.LockOSThread()
	defer close(s.finished)
	defer close(s.out)
	// Each ptrace stop sends the tracer SIGCHLD; with it the loop sleeps in
	// select (and so sees Close and ctx) instead of in a blocking wait4.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, unix.SIGCHLD)
	defer signal.Stop(sigc)
	if err := s.seize(pid); err != nil {
		ready <- err
		return
	}
	ready <- nil
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		s.drain()
		if s.stop || len(s.threads) == 0 {
			return
		}
		select {
		case <-sigc:
		case <-tick.C:
			s.reapGone()
		case <-s.done:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// seizeOptions always include TRACESECCOMP: a SECCOMP_RET_TRACE filter
// with a tracer that lacks it fails the call with ENOSYS.
const seizeOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
	unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_TRACESECCOMP

// seize attaches to every thread of pid (again until no new thread
// appears) and interrupts each, so that each starts reporting syscalls.
func (s *ptraceSession) seize(pid int) error {
	st, err := readStatus(pid)
	if err != nil {
		return fmt.Errorf("ptrace trace: target %d: %w", pid, err)
	}
	s.procs[pid] = &pproc{ppid: st.ppid, uid: s.ids.toNS(st.uid), comm: readComm(pid)}
	for round := 0; round < 100; round++ {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return fmt.Errorf("ptrace trace: target %d: %w", pid, err)
		}
		added := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || s.threads[tid] != nil {
				continue
			}
			if err := ptrace(unix.PTRACE_SEIZE, tid, 0, seizeOptions); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue
				}
				if errors.Is(err, unix.EPERM) {
					return unavailable("ptrace", fmt.Sprintf("permission to trace pid %d (EPERM: no CAP_SYS_PTRACE, Yama, a seccomp filter, or it is traced already)", pid), err)
				}
				return fmt.Errorf("ptrace trace: seize %d: %w", tid, err)
			}
			s.threads[tid] = &pthread{tid: tid, tgid: pid}
			s.procs[pid].threads++
			added++
		}
		if added == 0 {
			break
		}
	}
	for tid := range s.threads {
		if err := ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("ptrace trace: interrupt %d: %w", tid, err)
		}
	}
	return nil
}

func ptrace(req int, pid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// drain handles every stop and exit the kernel has for this thread's
// tracees (__WNOTHREAD: never the statuses of other threads' children).
// This thread may also be the parent of processes that are not traced: Go
// ran other goroutines on it, and their os/exec children, before run locked
// it. Those belong to their own Wait, so drain looks before it reaps
// (waitid with WNOWAIT) and leaves them be; while one of them waits to be
// reaped, it would hide the tracees behind it, and drain asks for each
// known tracee by its tid instead.
func (s *ptraceSession) drain() {
	for !s.stop {
		pid, code, err := peekChild()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil { // ECHILD: no tracee left
			for _, th := range s.threads {
				s.threadGone(th, nil)
			}
			return
		}
		if pid <= 0 {
			return
		}
		if s.threads[pid] == nil && code != cldTrapped && !tracedByThisThread(pid) {
			s.drainEach()
			return
		}
		if !s.reap(pid) {
			return
		}
	}
}

// drainEach handles the pending stops and exits of the known tracees one
// tid at a time; a stop names the new processes and threads, which are
// then asked for too.
func (s *ptraceSession) drainEach() {
	for progress := true; progress && !s.stop; {
		progress = false
		for tid := range s.threads {
			if s.stop {
				return
			}
			if s.reap(tid) {
				progress = true
			}
		}
	}
}

// reap takes the pending status of tracee tid, if it has one, and handles it.
func (s *ptraceSession) reap(tid int) bool {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(tid, &ws, unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return false
		}
		s.handle(got, ws)
		return true
	}
}

// cldTrapped is the si_code of a ptrace stop: only a tracee has one.
const cldTrapped = 4

// siginfoChld is the head of a siginfo_t for SIGCHLD on 64-bit Linux.
type siginfoChld struct {
	signo, errno, code int32
	_                  int32
	pid, uid, status   int32
	_                  [100]byte
}

// peekChild names a child or tracee of this thread that has a status to
// report, without taking it: its pid (0 when none has) and the si_code.
func peekChild() (pid int, code int32, err error) {
	var si siginfoChld
	_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_ALL, 0, uintptr(unsafe.Pointer(&si)),
		unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL|unix.WNOTHREAD, 0, 0)
	if e != 0 {
		return 0, 0, e
	}
	return int(si.pid), si.code, nil
}

// tracedByThisThread says whether pid is traced from the calling thread (a
// tracee that ended before its first stop was seen).
func tracedByThisThread(pid int) bool {
	st, err := readStatus(pid)
	return err == nil && st.tracer == unix.Gettid()
}

// reapGone forgets the threads that no longer exist, should their exit
// have been reported elsewhere.
func (s *ptraceSession) reapGone() {
	for tid, th := range s.threads {
		if err := unix.Tgkill(th.tgid, tid, 0); errors.Is(err, unix.ESRCH) {
			s.threadGone(th, nil)
		}
	}
}

// resume restarts a stopped thread, delivering sig when not 0. Without
// SeccompTrace it stops again at the next syscall entry or exit; with it,
// only at the exit of a traced call it is in, and at seccomp's traps.
func (s *ptraceSession) resume(tid int, sig unix.Signal) {
	if s.seccomp {
		if th := s.threads[tid]; th == nil || th.pending == nil {
			_ = unix.PtraceCont(tid, int(sig))
			return
		}
	}
	_ = unix.PtraceSyscall(tid, int(sig))
}

func (s *ptraceSession) handle(tid int, ws unix.WaitStatus) {
	s.stops++
	th := s.threads[tid]
	if th == nil {
		th = s.newThread(tid)
		if th == nil {
			return
		}
	}
	if ws.Exited() || ws.Signaled() {
		s.threadGone(th, &ws)
		return
	}
	if !ws.Stopped() {
		return
	}
	sig := ws.StopSignal()
	if sig == unix.SIGTRAP|0x80 {
		th.started = true
		s.syscallStop(th)
		s.resume(tid, 0)
		return
	}
	switch event := int(ws>>16) & 0xff; event {
	case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil && s.threads[int(msg)] == nil {
			s.newThread(int(msg))
		}
		s.resume(tid, 0)
	case unix.PTRACE_EVENT_EXEC:
		former := tid
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil {
			former = int(msg)
		}
		s.execed(th, former)
		s.resume(tid, 0)
	case unix.PTRACE_EVENT_EXIT:
		if th.tid == th.tgid && ownChild(tid) {
			s.detachExiting(th)
			return
		}
		s.resume(tid, 0)
	case unix.PTRACE_EVENT_SECCOMP:
		// a seccomp SECCOMP_RET_TRACE trap: the call's entry
		th.started = true
		s.syscallStop(th)
		s.resume(tid, 0)
	case unix.PTRACE_EVENT_STOP:
		if th.started && (sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU) {
			// group-stop: stay stopped, but report SIGCONT and other events
			_ = ptrace(unix.PTRACE_LISTEN, tid, 0, 0)
			return
		}
		th.started = true
		s.resume(tid, 0)
	case 0:
		// signal-delivery-stop: deliver the signal
		th.started = true
		s.resume(tid, sig)
	default:
		s.resume(tid, 0)
	}
}

// ownChild says whether a process's real parent is this process (a
// container init handed over through a child subreaper, a child started
// with os/exec).
func ownChild(pid int) bool {
	st, err := readStatus(pid)
	return err == nil && st.ppid == os.Getpid()
}

// detachExiting lets go of a process of our own at its exit stop. Its
// parent (this process) waits for it and needs its status; but when the
// tracer is in the real parent's thread group, the kernel lets the
// tracer's wait reap the tracee outright, and the parent's wait would find
// nothing. The status comes from the exit event's message instead.
func (s *ptraceSession) detachExiting(th *pthread) {
	msg, err := unix.PtraceGetEventMsg(th.tid)
	if derr := unix.PtraceDetach(th.tid); derr != nil {
		s.resume(th.tid, 0) // gone meanwhile: its exit is reported as usual
		return
	}
	if err != nil {
		s.threadGone(th, nil)
		return
	}
	ws := unix.WaitStatus(msg)
	s.threadGone(th, &ws)
}

// newThread registers a thread or process the kernel attached for us
// (its creator's fork/clone event and its own first stop come in either
// order).
func (s *ptraceSession) newThread(tid int) *pthread {
	st, err := readStatus(tid)
	if err != nil {
		return nil
	}
	th := &pthread{tid: tid, tgid: st.tgid}
	s.threads[tid] = th
	p := s.procs[st.tgid]
	if p == nil {
		p = &pproc{ppid: st.ppid, uid: s.ids.toNS(st.uid), comm: readComm(tid)}
		s.procs[st.tgid] = p
	}
	p.threads++
	return th
}

// threadGone forgets a thread; the last of a process makes its exit event.
func (s *ptraceSession) threadGone(th *pthread, ws *unix.WaitStatus) {
	if s.threads[th.tid] != th {
		return
	}
	delete(s.threads, th.tid)
	p := s.procs[th.tgid]
	if p == nil {
		return
	}
	p.threads--
	if p.threads > 0 {
		return
	}
	delete(s.procs, th.tgid)
	if ws == nil {
		return // gone without a status we could read
	}
	s.emit(Event{
		Time: time.Now(), Kind: KindExit, PID: th.tgid, TID: th.tid, PPID: p.ppid, UID: p.uid, Comm: p.comm,
		Result: exitResult(*ws),
	})
}

// execed reports a successful exec. A thread other than the leader that
// execs takes the leader's tid, and the old leader vanishes unreported.
func (s *ptraceSession) execed(th *pthread, former int) {
	if former != th.tid {
		if ex := s.threads[former]; ex != nil {
			delete(s.threads, former)
			ex.tid = th.tid
			s.threads[th.tid] = ex
			if p := s.procs[th.tgid]; p != nil {
				p.threads--
			}
			th = ex
		}
	}
	c := th.pending
	th.pending = nil
	if c == nil {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", th.tid))
		c = &call{op: opExecve, path: inRoot(th.tid, exe)}
	}
	p := s.procs[th.tgid]
	if st, err := readStatus(th.tid); err == nil && p != nil {
		p.ppid = st.ppid
		p.uid = s.ids.toNS(st.uid)
	}
	if p != nil {
		p.comm = readComm(th.tid)
	}
	c.ret = 0
	c.tid = th.tid
	c.stdin = fdStdin(th.tid)
	s.finish(th, c)
}

// syscallInfo is struct ptrace_syscall_info.
type syscallInfo struct {
	Op     uint8
	_      [3]uint8
	Arch   uint32
	IP     uint64
	SP     uint64
	Nr     uint64 // entry: nr; exit: rval
	Args   [6]uint64
	RetDat uint32
	_      uint32
}

func (s *ptraceSession) syscallStop(th *pthread) {
	var info syscallInfo
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(th.tid),
		unsafe.Sizeof(info), uintptr(unsafe.Pointer(&info)), 0, 0)
	if e != 0 {
		return
	}
	switch info.Op {
	case unix.PTRACE_SYSCALL_INFO_ENTRY, unix.PTRACE_SYSCALL_INFO_SECCOMP:
		th.pending = nil
		if info.Op == unix.PTRACE_SYSCALL_INFO_SECCOMP && info.RetDat != 0 {
			// The filter refuses this call (with errno RetDat): skip it,
			// whatever it is, and record the attempt below.
			s.refuse(th, int(info.RetDat&0xffff))
		}
		if info.Arch != nativeArch || info.Nr >= maxSyscall {
			return
		}
		if o := s.ops[info.Nr]; o != opNone {
			th.pending = s.enter(th, o, info.Args)
		}
	case unix.PTRACE_SYSCALL_INFO_EXIT:
		c := th.pending
		th.pending = nil
		if c == nil {
			return
		}
		c.ret = int64(info.Nr)
		if c.op.isExec() && c.ret == 0 {
			return // reported at PTRACE_EVENT_EXEC
		}
		s.exited(th, c)
	}
}

// refuse skips the call a thread is stopped in at a seccomp trap, so that
// it returns -errno as the profile wants. A call that cannot be skipped
// must not run: the process is killed instead.
func (s *ptraceSession) refuse(th *pthread, errno int) {
	if err := skipSyscall(th.tid, errno); err != nil {
		slog.Warn("a refused system call could not be skipped: killing the process", "tracer", "ptrace", "pid", th.tgid, "tid", th.tid, "err", err)
		_ = unix.Tgkill(th.tgid, th.tid, unix.SIGKILL)
	}
}

// enter reads, at syscall entry, what the arguments point to.
func (s *ptraceSession) enter(th *pthread, o op, args [6]uint64) *call {
	tid := th.tid
	c := &call{op: o, args: args, pid: th.tgid, tid: tid}
	if pi, di := o.pathArg(); pi >= 0 {
		p, _ := s.readString(tid, args[pi], maxPath)
		dirfd := int64(-1)
		if di >= 0 {
			dirfd = dirfdArg(args[di])
		}
		c.path = resolvePath(tid, dirfd, p)
	}
	switch o {
	case opExecve:
		c.argv = s.readArgv(tid, args[1])
	case opExecveat:
		c.argv = s.readArgv(tid, args[2])
	case opOpenat2:
		var b [8]byte
		if s.readMem(tid, args[2], b[:]) == 8 {
			c.aux = binary.NativeEndian.Uint64(b[:])
		}
	case opConnect, opBind:
		n := min(args[2], maxSockLen)
		if n > 0 {
			b := make([]byte, n)
			if s.readMem(tid, args[1], b) == int(n) {
				c.sa = b
			}
		}
	case opCapset:
		if args[1] != 0 {
			var lo, hi [4]byte
			s.readMem(tid, args[1], lo[:])
			s.readMem(tid, args[1]+12, hi[:])
			c.aux = uint64(binary.NativeEndian.Uint32(lo[:])) | uint64(binary.NativeEndian.Uint32(hi[:]))<<32
		}
	case opFinitModule:
		c.path = fdPath(tid, int64(int32(args[0])))
	}
	return c
}

// exited completes a call at its syscall exit and reports it.
func (s *ptraceSession) exited(th *pthread, c *call) {
	switch c.op {
	case opConnect, opBind:
		c.sock, _ = socketOf(th.tgid, int(int32(c.args[0])), false)
	case opListen:
		c.sock, c.sa = socketOf(th.tgid, int(int32(c.args[0])), true)
	case opSetuid, opSetreuid, opSetresuid, opSetfsuid:
		if c.ret == 0 {
			if st, err := readStatus(th.tid); err == nil && s.procs[th.tgid] != nil {
				s.procs[th.tgid].uid = s.ids.toNS(st.uid)
			}
		}
	}
	s.finish(th, c)
}

func (s *ptraceSession) finish(th *pthread, c *call) {
	c.time = time.Now()
	if p := s.procs[th.tgid]; p != nil {
		c.ppid, c.uid, c.comm = p.ppid, p.uid, p.comm
	}
	for _, ev := range c.events() {
		s.emit(ev)
	}
}

func (s *ptraceSession) emit(ev Event) {
	if s.stop {
		return
	}
	select {
	case s.out <- ev:
	case <-s.done:
		s.stop = true
	case <-s.ctx.Done():
		s.stop = true
	}
}

// socketOf is the family and type of a process's socket, and with local
// its own address (TCP/UDP only, as the eBPF tracer reports it), from a
// duplicate of the fd (pidfd_getfd).
func socketOf(pid, fd int, local bool) (sockInfo, []byte) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return sockInfo{}, nil
	}
	defer unix.Close(pfd)
	sfd, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return sockInfo{}, nil
	}
	defer unix.Close(sfd)
	var si sockInfo
	si.family, _ = unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	si.typ, _ = unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_TYPE)
	if !local || si.family != unix.AF_INET && si.family != unix.AF_INET6 {
		return si, nil
	}
	var buf [maxSockLen]byte
	n := uint32(len(buf))
	_, _, e := unix.Syscall(unix.SYS_GETSOCKNAME, uintptr(sfd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return si, nil
	}
	return si, append([]byte(nil), buf[:min(int(n), len(buf))]...)
}

// readMem reads tracee memory; it returns how many bytes it read.
func (s *ptraceSession) readMem(tid int, addr uint64, b []byte) int {
	if addr == 0 || len(b) == 0 {
		return 0
	}
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	n, err := unix.ProcessVMReadv(tid, local, remote, 0)
	if err != nil {
		return 0
	}
	return n
}

// readString reads a NUL-terminated string of at most max bytes, page by
// page (a string may end just before an unmapped page). ok is false when
// nothing could be read.
func (s *ptraceSession) readString(tid int, addr uint64, max int) (string, bool) {
	if addr == 0 {
		return "", false
	}
	var out []byte
	for len(out) < max {
		n := min(4096-int(addr%4096), max-len(out)+1)
		got := s.readMem(tid, addr, s.buf[:n])
		if got == 0 {
			return string(out), len(out) > 0
		}
		if i := bytes.IndexByte(s.buf[:got], 0); i >= 0 {
			out = append(out, s.buf[:i]...)
			return string(out[:min(len(out), max)]), true
		}
		out = append(out, s.buf[:got]...)
		addr += uint64(got)
	}
	return string(out[:max]), true
}

// readArgv reads an exec's argv with the eBPF tracer's bounds: at most
// maxArgs entries of maxArgLen bytes, none added once maxArgvBuf bytes
// are used.
func (s *ptraceSession) readArgv(tid int, argvp uint64) []string {
	var argv []string
	used := 0
	for i := 0; i < maxArgs && used < maxArgvBuf && argvp != 0; i++ {
		var b [8]byte
		if s.readMem(tid, argvp+uint64(8*i), b[:]) != 8 {
			break
		}
		p := binary.NativeEndian.Uint64(b[:])
		if p == 0 {
			break
		}
		a, ok := s.readString(tid, p, maxArgLen)
		if !ok {
			break
		}
		argv = append(argv, a)
		used += len(a) + 1
	}
	return argv
}
