package run_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/drydockscan/drydock/internal/run"
)

// TestMeasure prints the figures docs/run.md and docs/tracing.md quote:
// the time to start corpus images in the sandbox, the cost of the observed
// network, and the overhead of recording a workload with each tracer
// (TestMeasure/recording alone: go test -run TestMeasure/recording). It
// asserts nothing about time and runs only with DRYDOCK_MEASURE=1
// (DRYDOCK_MEASURE_ROUNDS sets the rounds of the recording figures).
func TestMeasure(t *testing.T) {
	if os.Getenv("DRYDOCK_MEASURE") != "1" {
		t.Skip("set DRYDOCK_MEASURE=1 to measure")
	}
	needSandbox(t)
	tracers := needTracer(t)
	const rounds = 3
	timeRun := func(img string, o run.Options) (setup, ran time.Duration, events int) {
		im := corpusImage(t, img)
		for i := 0; i < rounds; i++ {
			res, err := run.Run(context.Background(), im, o)
			if err != nil {
				t.Fatal(err)
			}
			setup += res.Setup
			ran += res.Ran
			events += len(res.Events)
		}
		return setup / rounds, ran / rounds, events / rounds
	}
	t.Run("start", func(t *testing.T) {
		quick := []string{"sh", "-c", "exit 0"}
		for _, img := range []string{"multiarch-busybox/oci", "edge-layers/oci", "debian12-app/oci"} {
			o := run.Options{Tracer: run.TracerNone, Command: quick, Network: run.NetworkNone}
			if img == "debian12-app/oci" {
				o.Command = []string{"/bin/true"}
			}
			s, _, _ := timeRun(img, o)
			o.Network = run.NetworkObserve
			s2, _, _ := timeRun(img, o)
			t.Logf("start %-22s network none %v, observe %v (mean of %d)", img, s.Round(time.Millisecond), s2.Round(time.Millisecond), rounds)
		}
	})
	t.Run("network", func(t *testing.T) {
		// The observer under load: 100 DNS lookups and 100 refused connections.
		net := []string{"sh", "-c", "i=0; while [ $i -lt 100 ]; do nslookup n$i.example.org >/dev/null 2>&1; nc -w 1 192.0.2.1 4444 </dev/null 2>/dev/null; i=$((i+1)); done"}
		_, none, _ := timeRun("multiarch-busybox/oci", run.Options{Tracer: run.TracerNone, Command: net, Network: run.NetworkNone, Duration: time.Minute})
		_, obs, _ := timeRun("multiarch-busybox/oci", run.Options{Tracer: run.TracerNone, Command: net, Network: run.NetworkObserve, Duration: time.Minute})
		t.Logf("100 lookups + 100 connects: network none %v (all fail at once), observe %v (all answered)", none.Round(time.Millisecond), obs.Round(time.Millisecond))
	})
	t.Run("recording", func(t *testing.T) { measureRecording(t, tracers) })
}

// measureRecording runs the same workloads untraced and with each tracer
// (ptrace in both of its modes) and prints, per mode, the means of: the
// wall time from the program's start to its exit, the CPU time of the
// sandbox's cgroup (the workload, and the eBPF programs that run in its
// context) and the CPU time of this process during the whole run (setup
// included; its excess over the untraced runs is the tracer's work in
// user space: ptrace's stops, the eBPF reader).
func measureRecording(t *testing.T, tracers []run.TracerFactory) {
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("DRYDOCK_MEASURE_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	workloads := []struct{ name, script string }{
		{"5000 × open/read/close (sh's read < file, no fork)", "i=0; while [ $i -lt 5000 ]; do read -r x < /etc/passwd; i=$((i+1)); done"},
		{"300 × fork + exec + open (busybox cat)", "i=0; while [ $i -lt 300 ]; do /bin/busybox cat /etc/passwd >/dev/null; i=$((i+1)); done"},
	}
	type mode struct {
		name string
		o    run.Options
	}
	modes := []mode{{"none", run.Options{Tracer: run.TracerNone}}}
	for _, f := range tracers {
		o := run.Options{Tracer: f.Name, Tracers: []run.TracerFactory{f}}
		if f.Name != "ptrace" {
			modes = append(modes, mode{f.Name, o})
			continue
		}
		modes = append(modes, mode{"ptrace (seccomp)", o})
		o.EverySyscall = true
		modes = append(modes, mode{"ptrace (every syscall)", o})
	}
	img := corpusImage(t, "multiarch-busybox/oci")
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, w := range workloads {
		for _, m := range modes {
			var ran, self time.Duration
			var cg float64
			events := 0
			for i := 0; i < rounds; i++ {
				o := m.o
				o.Command = []string{"sh", "-c", w.script}
				o.Network = run.NetworkNone
				o.Duration = 5 * time.Minute
				c0 := cpu()
				res, err := run.Run(context.Background(), img, o)
				if err != nil {
					t.Fatal(err)
				}
				self += cpu() - c0
				if res.TimedOut || res.Exit.Code != 0 {
					t.Fatalf("%s, %s: exit %+v, timed out %v", w.name, m.name, res.Exit, res.TimedOut)
				}
				ran += res.Ran
				cg += res.Counters.CPUSeconds
				events += len(res.Events)
			}
			n := time.Duration(rounds)
			t.Logf("%-52s %-24s ran %8v  cgroup cpu %8v  drydock cpu %8v  events %d (means of %d)", w.name, m.name,
				(ran / n).Round(time.Millisecond), (time.Duration(cg*float64(time.Second)) / n).Round(time.Millisecond),
				(self / n).Round(time.Millisecond), events/rounds, rounds)
		}
	}
}
