package hugeheap

import (
	"runtime"
	"syscall"
	"unsafe"
)

const (
	// span is how much heap is mapped at once and marked.
	span = 128 << 20
	// hugePage is the size of an x86-64 and arm64 transparent huge page.
	hugePage = 2 << 20
	// madvHugepage is MADV_HUGEPAGE and madvCollapse MADV_COLLAPSE (the
	// syscall package lacks them).
	madvHugepage = 14
	madvCollapse = 25
	// startHeap is how far under the first object the heap the runtime
	// started with may reach (its first mappings are 4 MiB).
	startHeap = 4 << 20
	// modeFile says which mappings the kernel backs with huge pages.
	modeFile = "/sys/kernel/mm/transparent_hugepage/enabled"
	// helperPath is where drydock run --runtime docker places drydock in
	// a container (holdinit.Path; a test holds them equal).
	helperPath = "/.drydock-init"
)

// Enabled reports whether this process asked for huge pages at start.
//
// The package imports only runtime, syscall and unsafe, so it is ready to
// initialise as soon as syscall is, before most of the program: the
// arguments come from /proc/self/cmdline, not from os.
var Enabled = wanted(readFile("/proc/self/cmdline"), readFile(modeFile), godebug()) && mark()

// wanted reports whether a process with this command line (its
// arguments, each ended by a NUL byte), under this huge page mode and
// GODEBUG, should ask.
func wanted(cmdline, mode, godebug string) bool {
	if !contains(mode, "[madvise]") {
		return false
	}
	for kv := range splitSeq(godebug, ',') {
		if kv == "disablethp=1" {
			return false
		}
	}
	first := true
	for a := range splitSeq(cmdline, 0) {
		switch {
		case first && a == helperPath:
			return false
		case !first && a == "server":
			return false
		}
		first = false
	}
	return true
}

// mark maps span bytes of heap, marks them and the heap below them, and
// gives the block back.
func mark() bool {
	ok, _ := markAndCollapse()
	return ok
}

// markAndCollapse is mark; it also says how many 2 MiB stretches of the
// heap in use before it were made huge pages at once.
func markAndCollapse() (ok bool, collapsed int) {
	first := new([64]byte)
	// With the collector on, allocating the block starts a collection of
	// its own (it is far past the heap's first goal), which finds the
	// block still in use; freeing it then takes a second, forced one. One
	// collection instead of two takes ~5 ms and ~100 page faults off every
	// command here, as GOGC=off at start would.
	old := setGCPercent(-1)
	block := make([]byte, span)
	lo := uintptr(unsafe.Pointer(first)) &^ (hugePage - 1)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	hi := (p + span) &^ (hugePage - 1)
	// The heap the runtime started with may begin under the first
	// object's stretch, as far down as start. Nothing else of the process
	// lies there (the heap's arenas are apart from the other mappings);
	// where nothing is mapped, madvise marks what is and says ENOMEM.
	start := lo - min(lo, startHeap)
	below := false
	if lo < p && madvise(lo, hi-lo, madvHugepage) == nil {
		ok, below = true, true
		madvise(start, lo-start, madvHugepage)
	} else if lo = (p + hugePage - 1) &^ (hugePage - 1); hi > lo && madvise(lo, hi-lo, madvHugepage) == nil {
		// The block is not next to the first objects: mark the block only.
		ok = true
	}
	runtime.KeepAlive(first)
	runtime.KeepAlive(block) // and no use after: the collection below frees it
	// Free the block now, so the objects of what follows go into it
	// rather than into new, unmarked heap above it.
	runtime.GC() // runs whatever the setting
	setGCPercent(old)
	if below {
		// The stretches the first objects live in were faulted in 4 KiB
		// pages before they were marked, and the kernel keeps faulting
		// them that way: the runtime fills their free pages first, one
		// fault each (several hundred, the bulk of a short command's heap
		// faults). Collapse them into huge pages now. A stretch with no
		// page yet (it takes huge pages on its own) or none mapped is
		// refused, as is everything by kernels before Linux 6.1.
		for a := start; a < (p+hugePage-1)&^(hugePage-1); a += hugePage {
			if madvise(a, hugePage, madvCollapse) == nil {
				collapsed++
			}
		}
	}
	return ok, collapsed
}

// setGCPercent is the runtime's implementation of
// runtime/debug.SetGCPercent, which the runtime provides under that name
// (a linkname on its definition, which is what the linker allows others
// to use too). Importing runtime/debug instead would initialise this
// package after os, time and fmt, whose objects fill the first heap pages
// before they are marked.
//
//go:linkname setGCPercent runtime/debug.setGCPercent
func setGCPercent(in int32) (out int32)

func madvise(addr, n, advice uintptr) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice); e != 0 {
		return e
	}
	return nil
}

func godebug() string {
	v, _ := syscall.Getenv("GODEBUG")
	return v
}

// readFile reads a small file whole; "" when it cannot.
func readFile(path string) string {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer syscall.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for len(out) < 1<<20 {
		n, err := syscall.Read(fd, buf)
		if n <= 0 || err != nil {
			break
		}
		out = append(out, buf[:n]...)
	}
	return string(out)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// splitSeq yields the parts of s between the separators; a separator at
// the end ends the last part rather than starting an empty one.
func splitSeq(s string, sep byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			i := 0
			for i < len(s) && s[i] != sep {
				i++
			}
			if !yield(s[:i]) {
				return
			}
			s = s[min(i+1, len(s)):]
		}
	}
}
