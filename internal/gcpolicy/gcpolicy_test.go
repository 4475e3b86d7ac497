package gcpolicy

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// The policy holds while the live heap is small and switches once a
// collection finds it big.
func TestSwitchesWhenTheLiveHeapGrows(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	p := &Policy{Start: 16 << 20, Limit: 64 << 20}
	p.Apply()
	if old := debug.SetGCPercent(-1); old != -1 {
		t.Fatalf("GOGC after Apply = %d, want off", old)
	}
	collect := func() {
		for range 3 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
		}
	}
	collect()
	if p.Switched() {
		t.Fatalf("switched with %d bytes live, under %d", liveHeap(), p.Start/2)
	}
	live := make([][]byte, 0, 16)
	for range 16 {
		live = append(live, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.Switched() && time.Now().Before(deadline) {
		collect()
	}
	runtime.KeepAlive(live)
	if !p.Switched() {
		t.Fatalf("not switched with %d bytes live, over %d", liveHeap(), p.Start/2)
	}
	if old := debug.SetGCPercent(100); old != 100 {
		t.Errorf("GOGC after the switch = %d, want 100", old)
	}
	if old := debug.SetMemoryLimit(-1); old != p.Limit {
		t.Errorf("memory limit after the switch = %d, want %d", old, p.Limit)
	}
}
