//go:build linux

package hugeheap

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/drydockscan/drydock/internal/run/holdinit"
)

func TestWanted(t *testing.T) {
	const madvise = "always [madvise] never\n"
	for _, tc := range []struct {
		name    string
		args    []string
		mode    string
		godebug string
		want    bool
	}{
		{"scan", []string{"drydock", "image", "alpine"}, madvise, "", true},
		{"kernel gives them always", []string{"drydock", "image", "alpine"}, "[always] madvise never\n", "", false},
		{"kernel never gives them", []string{"drydock", "image", "alpine"}, "always madvise [never]\n", "", false},
		{"no such file", []string{"drydock", "image", "alpine"}, "", "", false},
		{"runtime switch", []string{"drydock", "image", "alpine"}, madvise, "gctrace=1,disablethp=1", false},
		{"other runtime settings", []string{"drydock", "image", "alpine"}, madvise, "gctrace=1,disablethp=0", true},
		{"server", []string{"drydock", "--log-level", "debug", "server"}, madvise, "", false},
		{"image named like the command", []string{"drydock", "image", "server:5000/app"}, madvise, "", true},
		{"image named server", []string{"drydock", "image", "server"}, madvise, "", false},
		{"program named server", []string{"server", "image", "alpine"}, madvise, "", true},
		{"container helper", []string{"/.drydock-init", "sh"}, madvise, "", false},
		{"no arguments", nil, madvise, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmdline := ""
			for _, a := range tc.args {
				cmdline += a + "\x00"
			}
			if got := wanted(cmdline, tc.mode, tc.godebug); got != tc.want {
				t.Errorf("wanted(%q, %q, %q) = %t, want %t", cmdline, tc.mode, tc.godebug, got, tc.want)
			}
		})
	}
}

// The helper's path is holdinit's (imported here only: the package itself
// must import nothing that would delay its initialisation).
func TestHelperPath(t *testing.T) {
	if helperPath != holdinit.Path {
		t.Errorf("helperPath %q, holdinit.Path %q", helperPath, holdinit.Path)
	}
}

// The command line read at start is this process's.
func TestReadsOwnCommandLine(t *testing.T) {
	got := readFile("/proc/self/cmdline")
	want := strings.Join(os.Args, "\x00") + "\x00"
	if got != want {
		t.Errorf("command line %q, want %q", got, want)
	}
	if readFile("/nonexistent") != "" {
		t.Error("a missing file should read as empty")
	}
}

// After mark, the heap objects made next live in mappings the kernel
// marks hg (MADV_HUGEPAGE) in /proc/self/smaps.
func TestMarkAdvisesTheHeap(t *testing.T) {
	if !strings.Contains(readFile(modeFile), "[madvise]") {
		t.Skipf("%s is not madvise: nothing to ask", modeFile)
	}
	if !mark() {
		t.Fatal("madvise failed")
	}
	// Objects allocated after mark: at least one must be in a marked
	// mapping (the heap in use before mark may hold some of them).
	marked := 0
	var keep [][]byte
	for i := 0; i < 64; i++ {
		b := make([]byte, 64<<10)
		keep = append(keep, b)
		flags, err := vmFlags(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(" "+flags+" ", " hg ") {
			marked++
		}
	}
	if marked == 0 {
		t.Errorf("none of %d new heap objects is in a mapping marked hg", len(keep))
	}
}

// mark frees its block with one collection, not two (the one allocating
// it would start, and the forced one), and leaves the collector's setting
// as it found it.
func TestMarkCollectsOnce(t *testing.T) {
	if !strings.Contains(readFile(modeFile), "[madvise]") {
		t.Skipf("%s is not madvise: nothing to ask", modeFile)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	runtime.GC() // no collection under way
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if !mark() {
		t.Fatal("madvise failed")
	}
	runtime.ReadMemStats(&after)
	if n := after.NumGC - before.NumGC; n != 1 {
		t.Errorf("mark ran %d collections, want 1", n)
	}
	if p := debug.SetGCPercent(100); p != 150 {
		t.Errorf("GC percent after mark %d, want 150 as before", p)
	}
}

// The stretches of heap in use before mark are collapsed into huge
// pages where the kernel can (MADV_COLLAPSE, Linux 6.1).
func TestMarkCollapsesTheHeapInUse(t *testing.T) {
	if !strings.Contains(readFile(modeFile), "[madvise]") {
		t.Skipf("%s is not madvise: nothing to ask", modeFile)
	}
	if !canCollapse(t) {
		t.Skip("the kernel cannot collapse memory into huge pages (MADV_COLLAPSE)")
	}
	ok, collapsed := markAndCollapse()
	if !ok {
		t.Fatal("madvise failed")
	}
	if collapsed == 0 {
		t.Error("no stretch of the heap in use was collapsed into a huge page")
	}
}

// canCollapse reports whether MADV_COLLAPSE works here, on a mapping of
// the test's own with one page touched.
func canCollapse(t *testing.T) bool {
	t.Helper()
	m, err := syscall.Mmap(-1, 0, 2*hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	a := (uintptr(unsafe.Pointer(&m[0])) + hugePage - 1) &^ (hugePage - 1)
	m[a-uintptr(unsafe.Pointer(&m[0]))] = 1
	const madvCollapseLinux = 25 // MADV_COLLAPSE in <linux/mman.h>, written out to check the package's
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, a, hugePage, madvCollapseLinux)
	return e == 0
}

// vmFlags returns the VmFlags of the mapping holding addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if r, _, ok := strings.Cut(l, " "); ok && strings.Contains(r, "-") && !strings.HasSuffix(r, ":") {
			lo, hi, _ := strings.Cut(r, "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= a && uint64(addr) < b
			continue
		}
		if in && strings.HasPrefix(l, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmFlags:")), nil
		}
	}
	return "", sc.Err()
}
