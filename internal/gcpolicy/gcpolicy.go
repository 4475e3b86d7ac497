// Package gcpolicy sets how the garbage collector of a one-shot drydock
// command runs: not at all while the heap is small, as usual once it is not.
//
// With the runtime's defaults a command collects as soon as its heap
// reaches 4 MB, and again at every doubling: a warm rescan, done in tens of
// milliseconds, spends a fifth of its time collecting garbage it would free
// at exit anyway. Policy starts with the collector off and a soft memory
// limit of Start bytes, so a short command never collects; when a
// collection finds more than Start/2 bytes live, the command is a big one
// and the policy switches to the usual pacing (GOGC=100) under the soft
// Limit, where it stays.
package gcpolicy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Policy is the collector's policy of one process.
type Policy struct {
	// Start is the soft memory limit while the collector is off.
	Start int64
	// Limit is the soft memory limit after the switch.
	Limit int64

	switched atomic.Bool
}

// Apply turns the collector off under the Start limit and watches each
// collection until the switch.
func (p *Policy) Apply() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(p.Start)
	p.watch()
}

// Switched reports whether the policy has switched to the usual pacing.
func (p *Policy) Switched() bool { return p.switched.Load() }

// watch arms a check that runs after the next collection (the one that
// finds the sentinel unreachable) and re-arms itself until the switch.
func (p *Policy) watch() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(p *Policy) {
		if liveHeap() > uint64(p.Start/2) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(p.Limit)
			p.switched.Store(true)
			return
		}
		p.watch()
	}, p)
}

// sentinel is big enough not to share a tiny-allocator block, so it is
// freed by the first collection after it is made.
type sentinel struct{ _ [32]byte }

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
