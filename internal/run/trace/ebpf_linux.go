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
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/trace/bpf"
)

// Record types of the ring buffer (enum rec in bpf/trace.bpf.c).
const (
	recCall     = 1
	recExecArgs = 2
	recExec     = 3
	recFork     = 4
	recExit     = 5
)

// Linux capability numbers the eBPF tracer needs.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// ebpfTracer traces with the programs in package bpf, attached to the
// raw tracepoints sys_enter, sys_exit and sched_process_{fork,exec,exit}
// (BTF-typed, so no tracefs is needed).
type ebpfTracer struct{}

func (ebpfTracer) Name() string { return "ebpf" }

// newEBPF checks that this kernel and process can run the eBPF tracer:
// kernel BTF, the capabilities, the memlock limit, and that the verifier
// accepts the programs.
func newEBPF() (Tracer, error) {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return nil, unavailable("ebpf", "no kernel BTF (/sys/kernel/btf/vmlinux; the kernel needs CONFIG_DEBUG_INFO_BTF)", err)
	}
	if !hasCap(capSysAdmin) && !(hasCap(capBPF) && hasCap(capPerfmon)) {
		return nil, unavailable("ebpf", "neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON", nil)
	}
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK: raise it
	// where the process may. Later kernels charge the memory cgroup and
	// ignore the limit; where it is too low and fixed, loading the
	// programs below fails and says so. (cilium/ebpf's rlimit package
	// does the same, but probes the kernel with a BPF map at every start
	// of every drydock command, which is why it is not used.)
	memlockErr := unix.Prlimit(0, unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil)
	objs, err := loadTraceObjects()
	if err != nil {
		if memlockErr != nil && errors.Is(err, unix.EPERM) {
			return nil, unavailable("ebpf", "RLIMIT_MEMLOCK too low and cannot be raised", memlockErr)
		}
		return nil, err
	}
	objs.Close()
	return ebpfTracer{}, nil
}

func loadTraceObjects() (*bpf.TraceObjects, error) {
	var objs bpf.TraceObjects
	if err := bpf.LoadTraceObjects(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			slog.Debug("eBPF verifier log", "log", fmt.Sprintf("%+v", ve))
			return nil, unavailable("ebpf", "the kernel's verifier rejected the tracing programs (kernel too old?)", ve)
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, unavailable("ebpf", "a kernel feature the tracer needs (BPF ring buffer, BTF tracepoints: Linux 5.11 or later)", err)
		}
		return nil, unavailable("ebpf", "loading the tracing programs failed", err)
	}
	return &objs, nil
}

func hasCap(c uint) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

func (ebpfTracer) Attach(ctx context.Context, t Target) (Session, error) {
	if t.PID <= 0 {
		return nil, fmt.Errorf("ebpf trace: no target pid")
	}
	objs, err := loadTraceObjects()
	if err != nil {
		return nil, err
	}
	s := &ebpfSession{
		objs:     objs,
		out:      make(chan Event, 1024),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		ids:      readIDMap(t.PID),
		root:     t.PID,
		live:     map[int]bool{t.PID: true},
		execArgs: map[uint32]execArgs{},
	}
	if err := s.setup(t); err != nil {
		s.release()
		return nil, err
	}
	go s.run(ctx)
	return s, nil
}

type execArgs struct {
	op   op
	path string
	argv []string
}

type ebpfSession struct {
	objs   *bpf.TraceObjects
	links  []link.Link
	rd     *ringbuf.Reader
	out    chan Event
	ids    idMap
	root   int
	offset int64 // wall clock minus CLOCK_MONOTONIC, in ns

	done      chan struct{} // closed by Close
	finished  chan struct{} // closed when run returns
	closeOnce sync.Once

	lost atomic.Uint64 // records the ring buffer dropped, set when the session ends

	// owned by run
	live     map[int]bool
	execArgs map[uint32]execArgs
}

func (s *ebpfSession) setup(t Target) error {
	for nr, o := range opSyscalls() {
		if nr >= maxSyscall {
			continue
		}
		if err := s.objs.Sysops.Put(uint32(nr), uint32(o)); err != nil {
			return fmt.Errorf("ebpf trace: syscall table: %w", err)
		}
	}
	if err := s.objs.Traced.Put(uint32(t.PID), uint8(1)); err != nil {
		return fmt.Errorf("ebpf trace: traced set: %w", err)
	}
	if t.CgroupPath != "" {
		id, err := cgroupID(t.CgroupPath)
		if err != nil {
			return fmt.Errorf("ebpf trace: %w", err)
		}
		if id != 0 {
			if err := s.objs.Cgroups.Put(id, uint8(1)); err != nil {
				return fmt.Errorf("ebpf trace: cgroup set: %w", err)
			}
		}
	}
	var err error
	if s.rd, err = ringbuf.NewReader(s.objs.Events); err != nil {
		return fmt.Errorf("ebpf trace: ring buffer: %w", err)
	}
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return fmt.Errorf("ebpf trace: clock: %w", err)
	}
	s.offset = time.Now().UnixNano() - mono.Nano()
	// Fork, exec and exit first, so that the tree is followed from the
	// first syscall on.
	for _, p := range []*ebpf.Program{s.objs.SchedProcessFork, s.objs.SchedProcessExec, s.objs.SchedProcessExit, s.objs.SysExit, s.objs.SysEnter} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return unavailable("ebpf", "attaching to the kernel's raw tracepoints failed", err)
		}
		s.links = append(s.links, l)
	}
	return nil
}

// cgroupID is the id of a cgroup v2 directory (its inode number), or 0
// when the path is not on a cgroup v2 file system (cgroup v1: the tree is
// followed through forks only).
func cgroupID(path string) (uint64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return 0, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", path, err)
	}
	return st.Ino, nil
}

func (s *ebpfSession) Events() <-chan Event { return s.out }

// Lost is the number of records the ring buffer dropped; it is known once
// the Events channel is closed.
func (s *ebpfSession) Lost() uint64 { return s.lost.Load() }

func (s *ebpfSession) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	<-s.finished
	return nil
}

func (s *ebpfSession) release() {
	for _, l := range s.links {
		l.Close()
	}
	if s.rd != nil {
		s.rd.Close()
	}
	if s.objs != nil {
		var dropped [2]uint64
		for i := range dropped {
			_ = s.objs.Drops.Lookup(uint32(i), &dropped[i])
		}
		if dropped[0]+dropped[1] > 0 {
			slog.Warn("trace records lost: the ring buffer was full", "tracer", "ebpf", "calls", dropped[0], "exec_args", dropped[1])
		}
		s.lost.Store(dropped[0] + dropped[1])
		s.objs.Close()
	}
}

func (s *ebpfSession) run(ctx context.Context) {
	defer close(s.finished)
	defer close(s.out)
	defer s.release()
	var rec ringbuf.Record
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		default:
		}
		// Records below the wakeup threshold (bpf/trace.bpf.c) are read
		// when this deadline passes.
		s.rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
		err := s.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.reapGone()
			if len(s.live) == 0 {
				return
			}
			continue
		case err != nil:
			slog.Warn("trace ring buffer read failed", "tracer", "ebpf", "err", err)
			return
		}
		for _, ev := range s.decode(rec.RawSample) {
			select {
			case s.out <- ev:
			case <-s.done:
				return
			case <-ctx.Done():
				return
			}
		}
		if len(s.live) == 0 {
			return
		}
	}
}

// reapGone drops from the live set the processes that no longer exist,
// should their exit record have been lost.
func (s *ebpfSession) reapGone() {
	for pid := range s.live {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			delete(s.live, pid)
		}
	}
}

func (s *ebpfSession) decode(raw []byte) []Event {
	if len(raw) < 4 {
		return nil
	}
	switch binary.NativeEndian.Uint32(raw) {
	case recExecArgs:
		var ea bpf.TraceExecArgs
		if !unmarshal(raw, &ea) {
			return nil
		}
		n := min(int(ea.Len), len(ea.Argv))
		s.execArgs[ea.Tid] = execArgs{
			op:   op(ea.Op),
			path: cString(ea.Path[:]),
			argv: splitArgv(int8Bytes(ea.Argv[:n]), int(ea.Argc)),
		}
		return nil
	case recCall, recExec, recFork, recExit:
	default:
		return nil
	}
	var e bpf.TraceEvent
	if !unmarshal(raw, &e) {
		return nil
	}
	pid, tid := int(e.Pid), int(e.Tid)
	c := call{
		op:   op(e.Op),
		time: time.Unix(0, int64(e.Ts)+s.offset),
		pid:  pid,
		tid:  tid,
		ppid: int(e.Ppid),
		uid:  s.ids.toNS(int(e.Uid)),
		comm: cString(e.Comm[:]),
		args: e.Args,
		ret:  e.Ret,
		aux:  e.Aux,
	}
	if e.Type != recExit && !s.live[pid] {
		s.live[pid] = true // joined by its cgroup
	}
	switch e.Type {
	case recFork:
		s.live[int(e.Aux)] = true
		return nil
	case recExit:
		delete(s.live, pid)
		return []Event{{
			Time: c.time, Kind: KindExit, PID: pid, TID: tid, PPID: c.ppid, UID: c.uid, Comm: c.comm,
			Result: exitResult(unix.WaitStatus(uint32(e.Aux))),
		}}
	case recExec:
		old := uint32(e.Aux)
		ea, ok := s.execArgs[old]
		delete(s.execArgs, old)
		if !ok {
			ea = execArgs{op: opExecve}
		}
		c.op, c.ret, c.argv = ea.op, 0, ea.argv
		c.path = resolvePath(tid, -1, ea.path)
		if e.StdinMode == 0 {
			c.stdin = "closed"
		} else {
			// the kernel's dev_t: major in the top 12 bits, minor in the low 20
			c.stdin = stdinKind(e.StdinMode, e.StdinRdev>>20, e.StdinRdev&0xfffff)
		}
		return c.events()
	}
	// recCall
	if c.op.isExec() {
		ea := s.execArgs[e.Tid]
		delete(s.execArgs, e.Tid)
		c.argv = ea.argv
		c.path = ea.path
		if c.op == opExecveat {
			c.path = resolvePath(tid, dirfdArg(c.args[0]), c.path)
		} else {
			c.path = resolvePath(tid, -1, c.path)
		}
		return c.events()
	}
	c.path = cString(e.Path[:])
	if pi, di := c.op.pathArg(); pi >= 0 {
		dirfd := int64(-1)
		if di >= 0 {
			dirfd = dirfdArg(c.args[di])
		}
		c.path = resolvePath(tid, dirfd, c.path)
	}
	if c.op == opFinitModule {
		c.path = fdPath(tid, int64(int32(c.args[0])))
	}
	if e.SaLen > 0 {
		c.sa = append([]byte(nil), e.Sa[:min(int(e.SaLen), len(e.Sa))]...)
	}
	c.sock = sockInfo{family: int(e.SockFamily), typ: int(e.SockType)}
	return c.events()
}

// dirfdArg is a dirfd syscall argument as resolvePath takes it.
func dirfdArg(a uint64) int64 {
	fd := int64(int32(a))
	if a == atFDCWD || fd == -100 {
		return -1
	}
	return fd
}

// unmarshal copies a ring buffer record into its bpf2go type, whose
// layout is the C struct's (structs.HostLayout).
func unmarshal[T any](raw []byte, v *T) bool {
	n := int(unsafe.Sizeof(*v))
	if len(raw) < n {
		return false
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), n), raw)
	return true
}

func int8Bytes(b []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

func cString(b []int8) string {
	bb := int8Bytes(b)
	if i := bytes.IndexByte(bb, 0); i >= 0 {
		bb = bb[:i]
	}
	return string(bb)
}
