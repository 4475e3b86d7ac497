//go:build linux && (amd64 || arm64)

package trace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The overhead workloads: the same busybox shell loops run untraced and
// under each tracer. docs/tracing.md has the figures.
var overheadWorkloads = []struct{ name, script string }{
	// 10,000 times: open, read (byte by byte: busybox's read builtin), close.
	{"open-read-close-10000", `i=0; while [ $i -lt 10000 ]; do read -r l < "$D/known.txt"; i=$((i+1)); done`},
	// 1,000 fork+exec of a program that exits at once.
	{"exec-1000", `i=0; while [ $i -lt 1000 ]; do busybox true; i=$((i+1)); done`},
}

// BenchmarkOverhead runs each workload with no tracer, with eBPF and with
// ptrace, and (ebpf-bystander) untraced while an eBPF session traces
// another process: the eBPF programs run on every system call of the
// machine, so that is their cost to everything else.
//
//	go test -run '^$' -bench Overhead -benchtime 5x ./internal/run/trace
func BenchmarkOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("tracing needs root")
	}
	bin := filepath.Join(hostBusybox(b), "usr", "bin")
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "known.txt"), []byte("drydock\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	modes := []string{"none", "ebpf", "ptrace", "ptrace-seccomp", "ebpf-bystander"}
	for _, w := range overheadWorkloads {
		for _, mode := range modes {
			b.Run(w.name+"/"+mode, func(b *testing.B) {
				var tr Tracer
				switch mode {
				case "ebpf", "ptrace", "ptrace-seccomp":
					var err error
					if tr, err = Named(strings.TrimSuffix(mode, "-seccomp")); err != nil {
						b.Skip(err)
					}
				case "ebpf-bystander":
					stop := traceBystander(b, bin)
					defer stop()
				}
				var cpu, attach time.Duration
				for i := 0; i < b.N; i++ {
					c, a := runWorkload(b, bin, dir, w.script, tr, mode == "ptrace-seccomp")
					cpu += c
					attach += a
				}
				b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op")
				if tr != nil {
					b.ReportMetric(attach.Seconds()*1000/float64(b.N), "attach-cpu-ms/op")
				}
			})
		}
	}
}

// cpuTime is the user and system time of this process (the tracer) and
// of its waited-for children (the workload, whoever reaped it): on a busy
// machine a steadier measure of the cost than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	var self, children unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &children); err != nil {
		b.Fatal(err)
	}
	var d time.Duration
	for _, tv := range []unix.Timeval{self.Utime, self.Stime, children.Utime, children.Stime} {
		d += time.Duration(tv.Nano())
	}
	return d
}

// runWorkload runs one script from the Go wrapper (waitThenExec), traced
// by tr when tr is not nil, and waits for it (and its session) to end.
// With seccomp the wrapper traps the traced calls (Target.SeccompTrace).
// It returns the CPU time of the run (the workload's and the tracer's) and
// of the attach (loading the eBPF programs), which the timer leaves out.
func runWorkload(b *testing.B, bin, dir, script string, tr Tracer, seccomp bool) (cpu, attach time.Duration) {
	b.StopTimer()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self, filepath.Join(bin, "sh"), "-c", script)
	cmd.Env = []string{"PATH=" + bin, "D=" + dir, "DRYDOCK_TRACE_HELPER=wait"}
	if seccomp {
		cmd.Env = append(cmd.Env, "DRYDOCK_TRACE_SECCOMP=1")
	}
	cmd.ExtraFiles = []*os.File{pr}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pr.Close()
	var s Session
	t0 := cpuTime(b)
	if tr != nil {
		if s, err = tr.Attach(context.Background(), Target{PID: cmd.Process.Pid, SeccompTrace: seccomp}); err != nil {
			b.Fatal(err)
		}
	}
	t1 := cpuTime(b)
	b.StartTimer()
	pw.Write([]byte("go\n"))
	pw.Close()
	if s != nil {
		n := 0
		for range s.Events() {
			n++
		}
		s.Close()
		b.ReportMetric(float64(n), "events/op")
	}
	if err := cmd.Wait(); err != nil && tr == nil {
		b.Fatal(err)
	}
	return cpuTime(b) - t1, t1 - t0
}

// traceBystander attaches eBPF to an idle process and returns how to stop.
func traceBystander(b *testing.B, bin string) func() {
	tr, err := Named("ebpf")
	if err != nil {
		b.Skip(err)
	}
	idle := exec.Command(filepath.Join(bin, "sleep"), "3600")
	if err := idle.Start(); err != nil {
		b.Fatal(err)
	}
	s, err := tr.Attach(context.Background(), Target{PID: idle.Process.Pid})
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		idle.Process.Kill()
		for range s.Events() {
		}
		s.Close()
		idle.Wait()
	}
}
