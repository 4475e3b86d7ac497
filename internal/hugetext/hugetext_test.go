//go:build linux

package hugetext

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestParseRegion(t *testing.T) {
	for _, tc := range []struct {
		line string
		want region
		bad  bool
	}{
		{
			line: "00400000-01b63000 r-xp 00000000 fe:00 10330992                           /tmp/drydock",
			want: region{start: 0x400000, end: 0x1b63000, dev: unix.Mkdev(0xfe, 0), ino: 10330992},
		},
		{
			line: "01b63000-03665000 r--p 01763000 fe:01 10330992 /tmp/drydock (deleted)",
			want: region{start: 0x1b63000, end: 0x3665000, offset: 0x1763000, dev: unix.Mkdev(0xfe, 1), ino: 10330992},
		},
		{
			line: "03665000-037b6000 rw-p 03265000 103:02 77 /usr/bin/drydock",
			want: region{start: 0x3665000, end: 0x37b6000, offset: 0x3265000, writable: true, dev: unix.Mkdev(0x103, 2), ino: 77},
		},
		{
			line: "c0000000-c4000000 rw-p 00000000 00:00 0",
			want: region{start: 0xc0000000, end: 0xc4000000, writable: true},
		},
		{line: "", bad: true},
		{line: "00400000-01b63000 r-xp 00000000 fe:00", bad: true},
		{line: "00400000 r-xp 00000000 fe:00 1 /x", bad: true},
		{line: "01b63000-00400000 r-xp 00000000 fe:00 1 /x", bad: true},
		{line: "0040000g-01b63000 r-xp 00000000 fe:00 1 /x", bad: true},
		{line: "00400000-01b63000 r-xp 00000000 fe00 1 /x", bad: true},
		{line: "00400000-01b63000 r-xp 00000000 fe:00 -1 /x", bad: true},
		{line: "00400000-01b63000 r 00000000 fe:00 1 /x", bad: true},
	} {
		got, err := parseRegion(tc.line)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", tc.line, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

func TestReadRegions(t *testing.T) {
	const (
		text   = "00400000-01b63000 r-xp 00000000 fe:00 42 /usr/bin/drydock\n"
		rodata = "01b63000-03665000 r--p 01763000 fe:00 42 /usr/bin/drydock\n"
		data   = "03665000-037b6000 rw-p 03265000 fe:00 42 /usr/bin/drydock\n"
		bss    = "037b6000-05800000 rw-p 00000000 00:00 0\n"
		heap   = "c000000000-c004000000 rw-p 00000000 00:00 0\n"
		other  = "7f0000000000-7f0000001000 r--p 00000000 fe:00 43 /usr/lib/x.so\n"
		again  = "7f0000001000-7f0000002000 r--p 00000000 fe:00 42 /usr/bin/drydock\n"
	)
	for _, tc := range []struct {
		name  string
		maps  string
		want  int
		isErr bool
	}{
		{"the executable's three", text + rodata + data + bss + heap, 3, false},
		{"stops at another file", text + rodata + other + again, 2, false},
		{"stops at a gap", text + again, 1, false},
		{"anonymous memory first", heap + text, 0, false},
		{"empty", "", 0, false},
		{"malformed", text + "garbage\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "maps")
			if err := os.WriteFile(path, []byte(tc.maps), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readRegions(path)
			if tc.isErr {
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Errorf("error %v, want one that names %s", err, path)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("%d regions (%+v), %v; want %d", len(got), got, err, tc.want)
			}
			for _, r := range got {
				if r.ino != 42 {
					t.Errorf("region %+v is not the executable's", r)
				}
			}
		})
	}
}

func TestMapped(t *testing.T) {
	// text makes a clean region of 2 MiB ranges: H huge, s small, . not
	// touched.
	text := func(ranges string) region {
		r := region{}
		for _, c := range ranges {
			r.chunks = append(r.chunks, chunk{present: c != '.', huge: c == 'H'})
		}
		return r
	}
	written := text("HHHHHHHHHH")
	written.writable = true
	relocated := text("HHHHHHHHHH")
	relocated.anon = pageSize
	for _, tc := range []struct {
		name    string
		regions []region
		want    bool
	}{
		{"all huge", []region{text("HHHHHHHHHHH"), text("HHHHHHHHHHHHH")}, true},
		{"one kept small by another process", []region{text("HHHHHHHHHHs"), text("HHHHHHHHHHHHH")}, true},
		{"untouched ranges do not count", []region{text("HH........."), text("..H")}, true},
		{"a part left huge by a build", []region{text("HsHsHHHHsHs"), text("sHHHsHHHHsHHH")}, false},
		{"all small", []region{text("sssssssssss"), text("sssssssssssss")}, false},
		{"nothing touched", []region{text("....")}, false},
		{"no regions", nil, false},
		{"written regions do not count", []region{text("ss"), written}, false},
		{"relocated regions do not count", []region{text("ss"), relocated}, false},
	} {
		if got := mapped(tc.regions); got != tc.want {
			t.Errorf("%s: mapped = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestMarker(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "cache", "drydock", "hugetext")
	s := settler{marker: marker}
	if noted(marker, "1 2 3 4.5\n") {
		t.Fatal("noted before anything was written")
	}
	if o, err := s.note("1 2 3 4.5\n", nil); o != Unsupported || err != nil {
		t.Fatalf("note: %v, %v", o, err)
	}
	if !noted(marker, "1 2 3 4.5\n") {
		t.Error("the executable noted is not found")
	}
	if noted(marker, "1 2 3 4.6\n") {
		t.Error("a rebuilt executable counts as noted")
	}
	if noted("", "1 2 3 4.5\n") {
		t.Error("no marker file, yet noted")
	}
	// A day later it is tried again.
	old := time.Now().Add(-noteLife - time.Minute)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	if noted(marker, "1 2 3 4.5\n") {
		t.Error("a note older than a day still counts")
	}
	// A marker that cannot be written says so, with the kernel's verdict.
	bad := settler{marker: filepath.Join(marker, "below-a-file")}
	if o, err := bad.note("x\n", nil); o != Unsupported || err == nil {
		t.Errorf("note under a file: %v, %v; want an error", o, err)
	}
}

// scan counts what the page tables map: file pages read, anonymous pages
// written, nothing for pages never touched.
func TestScan(t *testing.T) {
	pm := openPagemap(t)
	anon, err := unix.Mmap(-1, 0, 8*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(anon)
	anon[0], anon[3*pageSize] = 1, 1
	r := regionOf(anon)
	if err := scan(pm, &r); err != nil {
		t.Fatal(err)
	}
	if r.present != 2*pageSize || r.anon != 2*pageSize || len(r.chunks) != 0 {
		t.Errorf("anonymous memory: %+v, want 2 pages present and written", r)
	}

	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, make([]byte, 16*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := unix.Mmap(int(f.Fd()), 0, 16*pageSize, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(file)
	if err := unix.Madvise(file[:5*pageSize], unix.MADV_POPULATE_READ); err != nil {
		t.Fatal(err)
	}
	r = regionOf(file)
	if err := scan(pm, &r); err != nil {
		t.Fatal(err)
	}
	if r.present < 5*pageSize || r.anon != 0 {
		t.Errorf("a file read: %+v, want at least 5 pages present and none written", r)
	}

	// Two 2 MiB ranges of anonymous memory, the first in a huge page, the
	// second in small ones, and a third never touched.
	if mode, _ := os.ReadFile(modeFile); !strings.Contains(string(mode), "[madvise]") && !strings.Contains(string(mode), "[always]") {
		t.Skipf("%s: no huge pages to scan", modeFile)
	}
	area, err := unix.Mmap(-1, 0, 4*hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(area)
	at := (uintptr(unsafe.Pointer(unsafe.SliceData(area))) + hugePage - 1) &^ (hugePage - 1)
	if err := madvise(at, hugePage, unix.MADV_HUGEPAGE); err != nil {
		t.Fatal(err)
	}
	if err := madvise(at+hugePage, 2*hugePage, unix.MADV_NOHUGEPAGE); err != nil {
		t.Fatal(err)
	}
	start := int(at - uintptr(unsafe.Pointer(unsafe.SliceData(area))))
	area[start], area[start+hugePage+5*pageSize] = 1, 1
	r = region{start: at - pageSize, end: at + 3*hugePage + pageSize}
	if err := scan(pm, &r); err != nil {
		t.Fatal(err)
	}
	want := []chunk{{present: true, huge: true}, {present: true}, {}}
	if !reflect.DeepEqual(r.chunks, want) {
		t.Errorf("ranges %+v, want %+v", r.chunks, want)
	}
}

// The real thing: a drydock executable as a build leaves it is, after
// one command, in the page cache in huge pages, so that the next command
// maps it 2 MiB at a time; where the kernel and the file system can.
func TestSettleExecutable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds drydock")
	}
	dir := t.TempDir()
	if !hugeFoliosHere(t, dir) {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s=1, but the page cache here keeps files in small pages, or the kernel cannot say (Linux 6.7)", requireEnv)
		}
		t.Skip("the page cache here keeps files in small pages (kernel or file system)")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build drydock")
	}
	bin := filepath.Join(dir, "drydock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, gocmd, "build", "-o", bin, "./cmd/drydock")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	spans := readOnlySegments(t, bin)
	// Every other range in huge pages already, as a build or an earlier
	// reading can leave some: the rest must be read again too.
	alternate(t, bin, spans)

	before := hugeRanges(t, bin, spans)
	cache := filepath.Join(dir, "cache")
	for i := range 2 {
		cmd := exec.CommandContext(ctx, bin, "version")
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "GODEBUG=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		after := hugeRanges(t, bin, spans)
		t.Logf("run %d: %d of %d ranges in huge pages (%d before)", i+1, after.huge, after.total, before.huge)
		if after.total < 8 {
			t.Fatalf("only %d ranges of 2 MiB in the code and read-only data of %s", after.total, bin)
		}
		if after.huge*10 < after.total*9 {
			t.Errorf("run %d: %d of %d ranges in huge pages, want nine in ten", i+1, after.huge, after.total)
		}
	}
	if before.huge*10 >= before.total*9 {
		t.Errorf("%d of %d ranges in huge pages before drydock ran: the test shows nothing", before.huge, before.total)
	}
	if _, err := os.Stat(filepath.Join(cache, "drydock", "hugetext")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the executable was noted as unsupported (%v)", err)
	}
}

// requireEnv, set to 1 (as .ci/run does on its Linux 6.18 machines with
// ext4), makes a kernel or file system without huge folios in the page
// cache a failure of TestSettleExecutable instead of a skip.
const requireEnv = "DRYDOCK_REQUIRE_HUGETEXT"

type rangeCount struct{ huge, total int }

// alternate reads every other 2 MiB range of the spans of the file into
// a huge page.
func alternate(t *testing.T, path string, spans [][2]int64) {
	t.Helper()
	f := openSynced(t, path)
	n := 0
	for _, s := range spans {
		for off := (s[0] + hugePage - 1) &^ (hugePage - 1); off+hugePage <= s[1]; off += hugePage {
			if n++; n%2 == 1 {
				continue
			}
			_, unmap, err := readHuge(t, f, off)
			if err != nil {
				t.Fatal(err)
			}
			unmap()
		}
	}
}

// openSynced opens the file at path, its writes on disk (the kernel
// keeps pages not written back in the cache).
func openSynced(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	return f
}

// readHuge evicts the 2 MiB of f at off from the page cache and reads
// them again through a mapping marked MADV_HUGEPAGE, which it returns.
func readHuge(t *testing.T, f *os.File, off int64) (uintptr, func(), error) {
	t.Helper()
	if err := unix.Fadvise(int(f.Fd()), off, hugePage, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	at, unmap, err := mapAligned(f, off)
	if err != nil {
		t.Fatal(err)
	}
	if err := madvise(at, hugePage, unix.MADV_HUGEPAGE); err != nil {
		return at, unmap, err
	}
	return at, unmap, madvise(at, hugePage, unix.MADV_POPULATE_READ)
}

// hugeRanges maps each 2 MiB range of the spans of the file at a 2 MiB
// boundary, as a new process would, and counts those mapped whole.
func hugeRanges(t *testing.T, path string, spans [][2]int64) rangeCount {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pm := openPagemap(t)
	var c rangeCount
	for _, s := range spans {
		for off := (s[0] + hugePage - 1) &^ (hugePage - 1); off+hugePage <= s[1]; off += hugePage {
			huge, err := mapsHuge(f, pm, off)
			if err != nil {
				t.Fatal(err)
			}
			c.total++
			if huge {
				c.huge++
			}
		}
	}
	return c
}

// readOnlySegments are the file spans of the executable's loadable
// segments that are not writable.
func readOnlySegments(t *testing.T, path string) [][2]int64 {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	var spans [][2]int64
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			spans = append(spans, [2]int64{int64(p.Off), int64(p.Off + p.Filesz)})
		}
	}
	return spans
}

// hugeFoliosHere reports whether a file in dir, read through a mapping
// marked MADV_HUGEPAGE, is cached in 2 MiB folios and whether the kernel
// can say so (PAGEMAP_SCAN), independently of Settle.
func hugeFoliosHere(t *testing.T, dir string) bool {
	t.Helper()
	data := make([]byte, 3*hugePage)
	rand.Read(data)
	path := filepath.Join(dir, "probe")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	at, unmap, err := readHuge(t, openSynced(t, path), hugePage)
	defer unmap()
	if err != nil {
		return false
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return false
	}
	defer pm.Close()
	r := region{start: at, end: at + hugePage}
	if err := scan(pm, &r); err != nil {
		return false
	}
	return r.chunks[0].huge
}

func openPagemap(t *testing.T) *os.File {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	t.Cleanup(func() { pm.Close() })
	probe := region{start: 0, end: pageSize}
	if err := scan(pm, &probe); err != nil {
		t.Skipf("no PAGEMAP_SCAN (Linux 6.7): %v", err)
	}
	return pm
}

func regionOf(b []byte) region {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return region{start: start, end: start + uintptr(len(b))}
}
