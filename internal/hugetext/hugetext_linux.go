//go:build linux

package hugetext

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// hugePage is the size of a PMD-mapped folio on x86-64 and arm64
	// with 4 KiB pages.
	hugePage = 2 << 20
	pageSize = 4 << 10
	// modeFile says whether the kernel gives transparent huge pages.
	modeFile = "/sys/kernel/mm/transparent_hugepage/enabled"
	// probes is how many 2 MiB ranges are tried before the verdict: a
	// range another process maps cannot be evicted, and tells nothing.
	probes = 4
	// noteLife is how long an executable noted as kept in small pages is
	// left alone: the kernel may have found no free 2 MiB of memory that
	// time (it does not compact memory for the page cache), and a retry
	// costs the reading of one range.
	noteLife = 24 * time.Hour
)

// Outcome says what Settle found or did.
type Outcome int

const (
	// Skipped: the kernel gives no huge pages or cannot say how the
	// executable is mapped (before Linux 6.7), or its pages could not be
	// evicted now (another drydock maps them, or is settling the same
	// executable).
	Skipped Outcome = iota
	// Mapped: the executable is mapped in huge pages already.
	Mapped
	// Converted: it was read again into huge pages.
	Converted
	// Unsupported: the kernel or the file system keeps it in small
	// pages; this executable is noted and not tried again for a day.
	Unsupported
)

func (o Outcome) String() string {
	switch o {
	case Mapped:
		return "mapped"
	case Converted:
		return "converted"
	case Unsupported:
		return "unsupported"
	}
	return "skipped"
}

// Settle makes sure the running executable is cached and mapped in huge
// pages (see the package documentation). marker is the file where an
// executable that cannot be is noted ("" for none). Nothing the program
// does depends on it, so a caller may ignore its result; a command calls
// it after its output is written. When the executable is mapped in huge
// pages already, it costs two small reads and a walk of the executable's
// page tables, about a tenth of a millisecond.
func Settle(marker string) (Outcome, error) {
	s := settler{maps: "/proc/self/maps", pagemap: "/proc/self/pagemap", exe: "/proc/self/exe", marker: marker}
	return s.settle()
}

// settler holds where a process's mappings are read.
type settler struct {
	maps, pagemap, exe, marker string
}

// region is one mapping of the executable.
type region struct {
	start, end uintptr
	offset     int64
	writable   bool
	dev, ino   uint64
	// What its page tables map: bytes of pages present, and of pages
	// written to (copies made by relocations or writes: no longer the
	// file's); and for each 2 MiB range wholly inside it (span), whether
	// a page of it is mapped, and whether 2 MiB at once.
	present, anon uint64
	chunks        []chunk
}

type chunk struct{ present, huge bool }

// clean reports whether all the region's pages come from the file, so
// that dropping them loses nothing.
func (r region) clean() bool { return !r.writable && r.anon == 0 }

// span is the span of the 2 MiB-aligned ranges wholly inside the
// region.
func (r region) span() (lo, hi uintptr) {
	lo = (r.start + hugePage - 1) &^ (hugePage - 1)
	hi = r.end &^ (hugePage - 1)
	return lo, max(lo, hi)
}

// fileOffset is the offset in the file of address a of the region.
func (r region) fileOffset(a uintptr) int64 { return r.offset + int64(a-r.start) }

func (s settler) settle() (Outcome, error) {
	regions, err := readRegions(s.maps)
	if err != nil || len(regions) == 0 {
		return Skipped, err
	}
	pm, err := os.Open(s.pagemap)
	if err != nil {
		return Skipped, fmt.Errorf("hugetext: %w", err)
	}
	defer pm.Close()
	for i := range regions {
		if regions[i].writable {
			continue // never dropped, and never read again
		}
		if err := scan(pm, &regions[i]); err != nil {
			if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
				return Skipped, nil // before Linux 6.7
			}
			return Skipped, err
		}
	}
	if mapped(regions) {
		return Mapped, nil
	}
	if !wanted() {
		return Skipped, nil
	}

	f, err := os.Open(s.exe)
	if err != nil {
		return Skipped, fmt.Errorf("hugetext: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Skipped, fmt.Errorf("hugetext: %s: %w", s.exe, err)
	}
	if regions[0].dev != st.Dev || regions[0].ino != st.Ino {
		return Skipped, nil // the first mappings are not the executable's
	}
	var clean []region
	for _, r := range regions {
		if lo, hi := r.span(); r.clean() && hi > lo {
			clean = append(clean, r)
		}
	}
	id := identity(&st)
	if len(clean) == 0 || noted(s.marker, id) {
		return Skipped, nil
	}
	// One process at a time: several drydock commands ending together
	// would each read the file again.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return Skipped, nil
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	// Pages not yet written back cannot be evicted.
	_ = unix.Fdatasync(int(f.Fd()))
	for _, r := range clean {
		if err := madvise(r.start, r.end-r.start, unix.MADV_HUGEPAGE); err != nil {
			return s.note(id, fmt.Errorf("hugetext: MADV_HUGEPAGE: %w", err))
		}
	}

	off, ok, err := probe(f, clean)
	switch {
	case err != nil:
		return Skipped, err
	case !ok:
		return Skipped, nil
	}
	// This process keeps 4 KiB page tables for the range; a new mapping
	// shows what the next command gets.
	if huge, err := mapsHuge(f, pm, off); err != nil {
		return Skipped, err
	} else if !huge {
		return s.note(id, nil)
	}

	// The other ranges not mapped 2 MiB at a time, one by one, each read
	// again right after it is evicted: the program's other threads go on
	// running, and a page one of them faults back in meanwhile would keep
	// its range in small pages.
	for _, r := range clean {
		lo, _ := r.span()
		for i, c := range r.chunks {
			a := lo + uintptr(i)*hugePage
			if c.huge || r.fileOffset(a) == off {
				continue
			}
			// An error leaves a range in small pages, which is how it was.
			_ = evict(f, r, a)
			_ = madvise(a, hugePage, unix.MADV_POPULATE_READ)
		}
	}
	return Converted, nil
}

// wanted reports whether the kernel gives huge pages and the runtime's
// switch against them (GODEBUG=disablethp=1) is off.
func wanted() bool {
	mode, err := os.ReadFile(modeFile)
	if err != nil || strings.Contains(string(mode), "[never]") {
		return false
	}
	for kv := range strings.SplitSeq(os.Getenv("GODEBUG"), ",") {
		if kv == "disablethp=1" {
			return false
		}
	}
	return true
}

// mapped reports whether nine in ten of the 2 MiB ranges the process
// touched of the executable's clean regions are mapped in huge pages.
// Another process can keep a range or two in small pages while the rest
// is read again, which is not worth reading them all again at every
// command; a build or an installer can leave a random part in huge
// pages, which is.
func mapped(regions []region) bool {
	touched, small := 0, 0
	for _, r := range regions {
		if !r.clean() {
			continue
		}
		for _, c := range r.chunks {
			if c.present {
				touched++
				if !c.huge {
					small++
				}
			}
		}
	}
	return touched > 0 && small*10 <= touched
}

// probe evicts one 2 MiB range of the executable that nothing else maps
// and reads it again through the marked mapping; false when every range
// tried was kept in memory by another process. It returns the range's
// offset in the file.
func probe(f *os.File, clean []region) (offset int64, ok bool, err error) {
	tried := 0
	// From the top: the ends of the read-only data and of the function
	// tables are the least used.
	for i := len(clean) - 1; i >= 0 && tried < probes; i-- {
		r := clean[i]
		lo, _ := r.span()
		for j := len(r.chunks) - 1; j >= 0 && tried < probes; j-- {
			if r.chunks[j].huge {
				continue
			}
			tried++
			a := lo + uintptr(j)*hugePage
			off := r.fileOffset(a)
			if err := evict(f, r, a); err != nil {
				return 0, false, err
			}
			if in, err := resident(a, hugePage); err != nil {
				return 0, false, err
			} else if in {
				continue
			}
			if err := madvise(a, hugePage, unix.MADV_POPULATE_READ); err != nil {
				return 0, false, fmt.Errorf("hugetext: MADV_POPULATE_READ: %w", err)
			}
			return off, true, nil
		}
	}
	return 0, false, nil
}

// evict drops the 2 MiB at a from the page cache: the pages no process
// maps, then those this one maps, then any of the first that the
// program's threads faulted in meanwhile (another page of the range still
// cached keeps the kernel from reading it in one folio).
func evict(f *os.File, r region, a uintptr) error {
	off := r.fileOffset(a)
	if err := unix.Fadvise(int(f.Fd()), off, hugePage, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("hugetext: %s: %w", f.Name(), err)
	}
	if err := madvise(a, hugePage, unix.MADV_PAGEOUT); err != nil {
		return fmt.Errorf("hugetext: MADV_PAGEOUT: %w", err)
	}
	if err := unix.Fadvise(int(f.Fd()), off, hugePage, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("hugetext: %s: %w", f.Name(), err)
	}
	return nil
}

// resident reports whether any page of [addr, addr+n) is in the page
// cache.
func resident(addr, n uintptr) (bool, error) {
	vec := make([]byte, n/pageSize)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, addr, n, uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); e != 0 {
		return false, fmt.Errorf("hugetext: mincore: %w", e)
	}
	for _, v := range vec {
		if v&1 != 0 {
			return true, nil
		}
	}
	return false, nil
}

// mapsHuge maps the 2 MiB of f at off (a multiple of 2 MiB) at a 2 MiB
// boundary, and reports whether the kernel maps them at once, as it
// would for any new process.
func mapsHuge(f, pagemap *os.File, off int64) (bool, error) {
	at, unmap, err := mapAligned(f, off)
	if err != nil {
		return false, err
	}
	defer unmap()
	if err := madvise(at, hugePage, unix.MADV_POPULATE_READ); err != nil {
		return false, fmt.Errorf("hugetext: MADV_POPULATE_READ: %w", err)
	}
	r := region{start: at, end: at + hugePage}
	if err := scan(pagemap, &r); err != nil {
		return false, err
	}
	return r.chunks[0].huge, nil
}

// mapAligned maps the 2 MiB of f at off (a multiple of 2 MiB) read-only
// at a 2 MiB boundary; unmap removes the mapping.
func mapAligned(f *os.File, off int64) (at uintptr, unmap func(), err error) {
	area, err := unix.Mmap(-1, 0, 2*hugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, nil, fmt.Errorf("hugetext: %w", err)
	}
	at = (uintptr(unsafe.Pointer(unsafe.SliceData(area))) + hugePage - 1) &^ (hugePage - 1)
	p, _, e := syscall.Syscall6(syscall.SYS_MMAP, at, hugePage, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_FIXED, f.Fd(), uintptr(off))
	if e != 0 || p != at {
		unix.Munmap(area)
		return 0, nil, fmt.Errorf("hugetext: mapping %s at %d: %v", f.Name(), off, e)
	}
	return at, func() { unix.Munmap(area) }, nil
}

// The kernel's PAGEMAP_SCAN interface (Linux 6.7, linux/fs.h).
const (
	pagemapScan   = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsFile    = 1 << 2
	pageIsPresent = 1 << 3
	pageIsHuge    = 1 << 6
)

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages,
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

type pageRegion struct{ start, end, categories uint64 }

// scan fills in what the process's page tables map of r.
func scan(pagemap *os.File, r *region) error {
	var vec [32]pageRegion
	arg := pmScanArg{
		start: uint64(r.start), end: uint64(r.end),
		vec: uint64(uintptr(unsafe.Pointer(&vec[0]))), vecLen: uint64(len(vec)),
		categoryMask: pageIsPresent,
		returnMask:   pageIsPresent | pageIsHuge | pageIsFile,
	}
	arg.size = uint64(unsafe.Sizeof(arg))
	lo, hi := r.span()
	r.present, r.anon = 0, 0
	r.chunks = make([]chunk, (hi-lo)/hugePage)
	for {
		n, _, e := syscall.Syscall(syscall.SYS_IOCTL, pagemap.Fd(), pagemapScan, uintptr(unsafe.Pointer(&arg)))
		if e != 0 {
			return fmt.Errorf("hugetext: PAGEMAP_SCAN of %#x-%#x: %w", r.start, r.end, e)
		}
		for _, p := range vec[:min(int(n), len(vec))] {
			size := p.end - p.start
			r.present += size
			if p.categories&pageIsFile == 0 {
				r.anon += size
			}
			start, end := max(uintptr(p.start), lo), min(uintptr(p.end), hi)
			for a := start &^ (hugePage - 1); a < end; a += hugePage {
				c := &r.chunks[(a-lo)/hugePage]
				c.present = true
				c.huge = c.huge || p.categories&pageIsHuge != 0
			}
		}
		if arg.walkEnd >= arg.end || arg.walkEnd <= arg.start {
			return nil
		}
		arg.start = arg.walkEnd
	}
}

// readRegions reads the mappings of the first file in the process's
// address space, the executable's (checked before anything is done with
// them). The reading stops after them.
func readRegions(maps string) ([]region, error) {
	f, err := os.Open(maps)
	if err != nil {
		return nil, fmt.Errorf("hugetext: %w", err)
	}
	defer f.Close()
	var out []region
	sc := bufio.NewScanner(f)
	// Small reads: the kernel formats only the lines asked for.
	sc.Buffer(make([]byte, 0, 512), 64<<10)
	for sc.Scan() {
		r, err := parseRegion(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("hugetext: %s: %w", maps, err)
		}
		if len(out) > 0 && (r.dev != out[0].dev || r.ino != out[0].ino || r.start != out[len(out)-1].end) {
			break
		}
		if r.ino == 0 {
			return nil, nil // anonymous memory first: not a layout this package knows
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hugetext: %s: %w", maps, err)
	}
	return out, nil
}

// parseRegion parses one line of /proc/PID/maps:
// "start-end perms offset major:minor inode [path]".
func parseRegion(line string) (region, error) {
	fields := strings.Fields(line)
	if len(fields) < 5 || len(fields[1]) < 2 {
		return region{}, fmt.Errorf("malformed line %q", line)
	}
	lo, hi, ok1 := strings.Cut(fields[0], "-")
	major, minor, ok2 := strings.Cut(fields[3], ":")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	off, err3 := strconv.ParseInt(fields[2], 16, 64)
	ma, err4 := strconv.ParseUint(major, 16, 32)
	mi, err5 := strconv.ParseUint(minor, 16, 32)
	ino, err6 := strconv.ParseUint(fields[4], 10, 64)
	if !ok1 || !ok2 || end < start || errors.Join(err1, err2, err3, err4, err5, err6) != nil {
		return region{}, fmt.Errorf("malformed line %q", line)
	}
	return region{
		start: uintptr(start), end: uintptr(end), offset: off,
		writable: fields[1][1] == 'w',
		dev:      unix.Mkdev(uint32(ma), uint32(mi)), ino: ino,
	}, nil
}

// identity names one version of an executable: replaced or rebuilt, it
// is tried again.
func identity(st *unix.Stat_t) string {
	return fmt.Sprintf("%d %d %d %d.%09d\n", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
}

// noted reports whether the marker notes this executable, less than
// noteLife ago.
func noted(marker, id string) bool {
	if marker == "" {
		return false
	}
	st, err := os.Stat(marker)
	if err != nil || time.Since(st.ModTime()) >= noteLife {
		return false
	}
	b, err := os.ReadFile(marker)
	return err == nil && string(b) == id
}

// note records that the executable stays in small pages.
func (s settler) note(id string, err error) (Outcome, error) {
	if s.marker == "" {
		return Unsupported, err
	}
	return Unsupported, errors.Join(err, writeMarker(s.marker, id))
}

func writeMarker(marker, id string) error {
	dir := filepath.Dir(marker)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hugetext: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".hugetext-*")
	if err != nil {
		return fmt.Errorf("hugetext: %w", err)
	}
	_, err = io.WriteString(tmp, id)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), marker)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("hugetext: %s: %w", marker, err)
	}
	return nil
}

func madvise(addr, n uintptr, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}
