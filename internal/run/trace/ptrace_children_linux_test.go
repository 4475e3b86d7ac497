//go:build linux && (amd64 || arm64)

package trace

import (
	"context"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestPtraceLeavesOtherChildren: the tracer's thread may be the parent of
// processes it does not trace (Go ran other goroutines, and their
// os/exec children, on that thread before the tracer locked it). Their
// exit statuses belong to their own Wait: the tracer must not reap them.
// The thread here starts two children; one is traced while the other
// exits; both Waits must then get their status.
func TestPtraceLeavesOtherChildren(t *testing.T) {
	needRoot(t)
	if _, ok := tracerNamed(t, "ptrace").(ptraceTracer); !ok {
		t.Fatal("the ptrace tracer is not ptraceTracer")
	}
	type result struct {
		otherErr, tracedErr, traceErr error
		events                        []Event
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, as the
		// tracer's own does.
		runtime.LockOSThread()
		var r result
		other := exec.Command("sh", "-c", "exit 3")
		// The first sleep may start before the tracer seizes the shell;
		// the second starts after.
		traced := exec.Command("sh", "-c", "sleep 0.3; sleep 0.5; exit 5")
		if r.otherErr = other.Start(); r.otherErr != nil {
			done <- r
			return
		}
		if r.tracedErr = traced.Start(); r.tracedErr != nil {
			done <- r
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s := newPtraceSession(ctx, Target{PID: traced.Process.Pid})
		ready := make(chan error, 1)
		collected := make(chan []Event)
		go func() {
			var evs []Event
			for ev := range s.out {
				evs = append(evs, ev)
			}
			collected <- evs
		}()
		s.run(traced.Process.Pid, ready) // on this thread, until the traced process is gone
		r.traceErr = <-ready
		r.events = <-collected
		r.otherErr = other.Wait()
		r.tracedErr = traced.Wait()
		done <- r
	}()
	r := <-done
	if r.traceErr != nil {
		t.Fatalf("attach: %v", r.traceErr)
	}
	if ee, ok := r.otherErr.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("the untraced child's Wait: %v, want exit status 3", r.otherErr)
	}
	if ee, ok := r.tracedErr.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Errorf("the traced child's Wait: %v, want exit status 5", r.tracedErr)
	}
	var execs, exits int
	for _, ev := range r.events {
		switch ev.Kind {
		case KindExec:
			execs++
		case KindExit:
			exits++
		}
	}
	if execs == 0 || exits == 0 {
		t.Errorf("the traced process's execs (%d) and exits (%d) are not all recorded: %+v", execs, exits, r.events)
	}
}
