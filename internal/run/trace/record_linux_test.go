//go:build linux && (amd64 || arm64)

package trace

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drydockscan/drydock/internal/run/trace/bpf"
)

// sockaddrBytes builds a sockaddr with the kernel's own types, so the
// expected values come from x/sys, not from parseSockaddr's layout.
func sockaddrBytes(t *testing.T, sa any) []byte {
	t.Helper()
	switch v := sa.(type) {
	case *unix.RawSockaddrInet4:
		return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	case *unix.RawSockaddrInet6:
		return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	case *unix.RawSockaddrUnix:
		return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	}
	t.Fatalf("unknown sockaddr %T", sa)
	return nil
}

func TestParseSockaddr(t *testing.T) {
	port := func(p uint16) uint16 { // network order as the kernel stores it
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], p)
		return binary.NativeEndian.Uint16(b[:])
	}
	in4 := &unix.RawSockaddrInet4{Family: unix.AF_INET, Port: port(4444), Addr: netip.MustParseAddr("192.0.2.1").As4()}
	in6 := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: port(443), Addr: netip.MustParseAddr("2001:db8::7").As16()}
	un := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	copy(un.Path[:], []int8{'/', 'd', 'e', 'v', '/', 'l', 'o', 'g'})
	abstract := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	copy(abstract.Path[1:], []int8{'x', '1'})
	tests := []struct {
		name string
		b    []byte
		want sockAddr
	}{
		{"inet", sockaddrBytes(t, in4), sockAddr{family: unix.AF_INET, addr: "192.0.2.1", port: 4444}},
		{"inet6", sockaddrBytes(t, in6), sockAddr{family: unix.AF_INET6, addr: "2001:db8::7", port: 443}},
		{"unix", sockaddrBytes(t, un)[:2+len("/dev/log")], sockAddr{family: unix.AF_UNIX, path: "/dev/log"}},
		{"unix NUL-padded", sockaddrBytes(t, un), sockAddr{family: unix.AF_UNIX, path: "/dev/log"}},
		{"abstract", sockaddrBytes(t, abstract)[:2+3], sockAddr{family: unix.AF_UNIX, path: "@x1"}},
		{"inet truncated", sockaddrBytes(t, in4)[:6], sockAddr{family: unix.AF_INET}},
		{"inet6 truncated", sockaddrBytes(t, in6)[:20], sockAddr{family: unix.AF_INET6}},
		{"short", []byte{2}, sockAddr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseSockaddr(tt.b); got != tt.want {
				t.Errorf("parseSockaddr = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAccessOf(t *testing.T) {
	tests := []struct {
		flags uint64
		want  string
	}{
		{unix.O_RDONLY, AccessRead},
		{unix.O_RDONLY | unix.O_CLOEXEC, AccessRead},
		{unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, AccessWrite},
		{unix.O_RDWR, AccessRead + "|" + AccessWrite},
		{unix.O_RDONLY | unix.O_TRUNC, AccessRead + "|" + AccessWrite},
		{unix.O_PATH, ""},
	}
	for _, tt := range tests {
		if got := accessOf(tt.flags); got != tt.want {
			t.Errorf("accessOf(%#x) = %q, want %q", tt.flags, got, tt.want)
		}
	}
	// creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC).
	c := call{op: opCreat}
	if got := accessOf(c.openFlags()); got != AccessWrite {
		t.Errorf("creat: %q", got)
	}
}

func TestProtoOf(t *testing.T) {
	tests := []struct {
		family, typ int
		want        string
	}{
		{unix.AF_INET, unix.SOCK_STREAM, "tcp"},
		{unix.AF_INET, unix.SOCK_DGRAM, "udp"},
		{unix.AF_INET6, unix.SOCK_STREAM, "tcp6"},
		{unix.AF_INET6, unix.SOCK_DGRAM, "udp6"},
		{unix.AF_INET, unix.SOCK_RAW, "raw"},
		{unix.AF_UNIX, unix.SOCK_STREAM, "unix"},
		{unix.AF_NETLINK, unix.SOCK_RAW, "netlink"},
		{unix.AF_PACKET, unix.SOCK_RAW, "packet"},
		{unix.AF_BLUETOOTH, unix.SOCK_STREAM, "af31"},
		{0, 0, ""},
	}
	for _, tt := range tests {
		if got := protoOf(tt.family, tt.typ); got != tt.want {
			t.Errorf("protoOf(%d, %d) = %q, want %q", tt.family, tt.typ, got, tt.want)
		}
	}
}

func TestStdinKind(t *testing.T) {
	// Compare with what stat says of real files on this machine.
	tests := []struct {
		path string
		want string
	}{
		{"/dev/null", "null"},
		{"/dev/zero", "device"},
		{"/etc/passwd", "file"},
		{"/", "dir"},
	}
	for _, tt := range tests {
		var st unix.Stat_t
		if err := unix.Stat(tt.path, &st); err != nil {
			t.Fatal(err)
		}
		if got := stdinKind(st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.path, got, tt.want)
		}
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	for fd, want := range map[int]string{p[0]: "pipe", s: "socket"} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		if got := stdinKind(st.Mode, 0, 0); got != want {
			t.Errorf("fd %d: %q, want %q", fd, got, want)
		}
	}
	if got := stdinKind(0, 0, 0); got != "closed" {
		t.Errorf("no fd 0: %q", got)
	}
	// pts devices are majors 136-143; /dev/tty is 5:0.
	if got := stdinKind(unix.S_IFCHR, 136, 4); got != "tty" {
		t.Errorf("pts: %q", got)
	}
	if got := stdinKind(unix.S_IFCHR, 5, 0); got != "tty" {
		t.Errorf("/dev/tty: %q", got)
	}
}

func TestRequestedID(t *testing.T) {
	const keep = 0xffffffff // -1: leave unchanged
	tests := []struct {
		ids  []uint64
		want int
	}{
		{[]uint64{1000, keep}, 1000},
		{[]uint64{keep, 0}, 0},
		{[]uint64{keep, keep, 7}, 7},
		{[]uint64{keep, keep, keep}, -1},
	}
	for _, tt := range tests {
		if got := requestedID(tt.ids...); got != tt.want {
			t.Errorf("requestedID(%v) = %d, want %d", tt.ids, got, tt.want)
		}
	}
}

func TestKernelAtLeast(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{"6.1.0-13-amd64", true},
		{"5.3.0", true},
		{"5.2.21", false},
		{"4.19.0-25-amd64", false},
		{"5.10.0+", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		if got := kernelAtLeast(tt.release, 5, 3); got != tt.want {
			t.Errorf("kernelAtLeast(%q, 5, 3) = %v", tt.release, got)
		}
	}
}

func TestIDMap(t *testing.T) {
	m := idMap{{inside: 0, outside: 100000, count: 65536}}
	tests := []struct{ host, want int }{
		{100000, 0},
		{101000, 1000},
		{165535, 65535},
		{0, 65534}, // host root is unmapped inside
		{165536, 65534},
	}
	for _, tt := range tests {
		if got := m.toNS(tt.host); got != tt.want {
			t.Errorf("toNS(%d) = %d, want %d", tt.host, got, tt.want)
		}
	}
	if got := idMap(nil).toNS(42); got != 42 {
		t.Errorf("nil map: %d", got)
	}
	// This process's own map (the initial namespace: identity).
	if got := readIDMap(unix.Getpid()).toNS(unix.Getuid()); got != unix.Getuid() {
		t.Errorf("own uid map: %d, want %d", got, unix.Getuid())
	}
}

func TestSplitArgv(t *testing.T) {
	b := []byte("cat\x00/etc/passwd\x00\x00trailing")
	if got := splitArgv(b, 3); !equalStrings(got, []string{"cat", "/etc/passwd", ""}) {
		t.Errorf("splitArgv = %q", got)
	}
	if got := splitArgv(b, 9); !equalStrings(got, []string{"cat", "/etc/passwd", "", "trailing"}) {
		t.Errorf("splitArgv all = %q", got)
	}
}

// TestExitResult derives statuses from real processes' wait statuses.
func TestExitResult(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want int
	}{
		{unix.WaitStatus(3 << 8), 3},
		{unix.WaitStatus(unix.SIGKILL), 128 + 9},
		{unix.WaitStatus(0), 0},
	}
	for _, tt := range tests {
		if got := exitResult(tt.ws); got != tt.want {
			t.Errorf("exitResult(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the ring buffer decoder: a
// record's strings and addresses come from the traced (hostile) process.
func FuzzDecodeRecord(f *testing.F) {
	var ev bpf.TraceEvent
	ev.Type, ev.Op, ev.SaLen = recCall, uint32(opConnect), 16
	f.Add(unsafe.Slice((*byte)(unsafe.Pointer(&ev)), unsafe.Sizeof(ev)))
	var ea bpf.TraceExecArgs
	ea.Type, ea.Argc, ea.Len = recExecArgs, 3, 9000
	f.Add(unsafe.Slice((*byte)(unsafe.Pointer(&ea)), unsafe.Sizeof(ea)))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := &ebpfSession{live: map[int]bool{}, execArgs: map[uint32]execArgs{}}
		s.decode(raw)
		// a call that follows exec args of any shape
		ev := bpf.TraceEvent{Type: recCall, Op: uint32(opExecve), Ret: -2}
		s.decode(unsafe.Slice((*byte)(unsafe.Pointer(&ev)), unsafe.Sizeof(ev)))
	})
}

// FuzzParseSockaddr: a sockaddr is whatever the traced process passed.
func FuzzParseSockaddr(f *testing.F) {
	f.Add([]byte{2, 0, 0x11, 0x5c, 192, 0, 2, 1})
	f.Add([]byte{10, 0})
	f.Add([]byte{1, 0, 0, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSockaddr(b)
	})
}
