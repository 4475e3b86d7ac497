//go:build linux && (amd64 || arm64)

package trace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds both tracers apply alike, so that they report the same events.
const (
	maxPath    = 511  // bytes of a path (the eBPF record holds 512 with the NUL)
	maxArgs    = 32   // argv entries recorded at exec
	maxArgLen  = 1023 // bytes of one argv entry
	maxArgvBuf = 4096 // argv bytes (entries and their NULs) after which no entry is added
	maxSockLen = 128  // bytes of a sockaddr
)

// call is one finished system call as either tracer saw it: the raw
// arguments and result plus what was read from the process at the time.
// Both tracers fill it; event turns it into an Event, so the two decode
// alike.
type call struct {
	op       op
	time     time.Time
	pid, tid int
	ppid     int
	uid      int // in the sandbox's user namespace
	comm     string
	args     [6]uint64
	ret      int64
	path     string   // the path argument, resolved against the cwd or dirfd
	argv     []string // exec only
	aux      uint64   // openat2: how.flags; capset: effective set
	sa       []byte   // connect/bind: the sockaddr; listen: the socket's own
	sock     sockInfo // connect/bind/listen
	stdin    string   // exec only
}

// sockInfo is a socket's family and type (0 when unknown).
type sockInfo struct {
	family, typ int
}

// events turns a finished call into its events: one, or for a successful
// exec an exec event and an open of the program for exec.
func (c *call) events() []Event {
	ev := Event{
		Time:    c.time,
		PID:     c.pid,
		TID:     c.tid,
		PPID:    c.ppid,
		UID:     c.uid,
		Comm:    c.comm,
		Syscall: c.op.name(),
		Result:  int(c.ret),
	}
	switch c.op {
	case opOpen, opOpenat, opOpenat2, opCreat:
		ev.Kind = KindOpen
		ev.Path = c.path
		flags := c.openFlags()
		ev.Access = accessOf(flags)
	case opExecve, opExecveat:
		ev.Kind = KindExec
		ev.Path = c.path
		ev.Argv = c.argv
		ev.Stdin = c.stdin
		if c.ret == 0 {
			open := ev
			open.Kind = KindOpen
			open.Access = AccessExec
			open.Argv = nil
			open.Stdin = ""
			return []Event{open, ev}
		}
	case opConnect, opBind, opListen:
		ev.Kind = map[op]string{opConnect: KindConnect, opBind: KindBind, opListen: KindListen}[c.op]
		ev.FD = int(int32(c.args[0]))
		fam := c.sock.family
		var addr sockAddr
		if len(c.sa) >= 2 {
			addr = parseSockaddr(c.sa)
			if fam == 0 {
				fam = addr.family
			}
		}
		ev.Proto = protoOf(fam, c.sock.typ)
		ev.Addr, ev.Port = addr.addr, addr.port
		if addr.family == unix.AF_UNIX {
			ev.Path = addr.path
		}
	case opSetuid, opSetgid, opSetfsuid, opSetfsgid:
		ev.Kind = KindSetUID
		ev.UID = int(int32(c.args[0]))
	case opSetreuid, opSetregid:
		ev.Kind = KindSetUID
		ev.UID = requestedID(c.args[1], c.args[0])
	case opSetresuid, opSetresgid:
		ev.Kind = KindSetUID
		ev.UID = requestedID(c.args[1], c.args[0], c.args[2])
	case opCapset:
		ev.Kind = KindCapset
		ev.CapEffective = c.aux
	case opMount, opUmount2:
		ev.Kind = KindMount
		ev.Path = c.path
	case opPtrace:
		ev.Kind = KindPtrace
		ev.TargetPID = int(int32(c.args[1]))
	case opInitModule, opFinitModule:
		ev.Kind = KindModule
		ev.Path = c.path
	default:
		return nil
	}
	return []Event{ev}
}

// openFlags is the open flags the call passed.
func (c *call) openFlags() uint64 {
	switch c.op {
	case opOpen:
		return c.args[1]
	case opOpenat:
		return c.args[2]
	case opOpenat2:
		return c.aux
	case opCreat:
		return unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC
	}
	return 0
}

// accessOf maps open flags to the access modes of an Event.
func accessOf(flags uint64) string {
	if flags&unix.O_PATH != 0 {
		return ""
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_WRONLY:
		return AccessWrite
	case unix.O_RDWR:
		return AccessRead + "|" + AccessWrite
	default:
		if flags&unix.O_TRUNC != 0 {
			// O_RDONLY|O_TRUNC truncates files on Linux.
			return AccessRead + "|" + AccessWrite
		}
		return AccessRead
	}
}

// requestedID is the first id of a setre*id/setres*id call that is not -1
// (effective first), the id the process asks to act as.
func requestedID(ids ...uint64) int {
	for _, id := range ids {
		if uint32(id) != 0xffffffff {
			return int(uint32(id))
		}
	}
	return -1
}

// pathArg is the index of the path argument of an operation, and of its
// directory fd (-1: the working directory).
func (o op) pathArg() (path, dirfd int) {
	switch o {
	case opOpen, opCreat, opExecve, opUmount2:
		return 0, -1
	case opOpenat, opOpenat2, opExecveat:
		return 1, 0
	case opMount:
		return 1, -1
	}
	return -1, -1
}

type sockAddr struct {
	family int
	addr   string
	port   int
	path   string // AF_UNIX: the socket path, "@name" for the abstract namespace
}

// parseSockaddr decodes a struct sockaddr as the process passed it.
func parseSockaddr(b []byte) sockAddr {
	if len(b) < 2 {
		return sockAddr{}
	}
	s := sockAddr{family: int(binary.NativeEndian.Uint16(b))}
	switch s.family {
	case unix.AF_INET:
		if len(b) >= 8 {
			s.port = int(binary.BigEndian.Uint16(b[2:]))
			s.addr = netip.AddrFrom4([4]byte(b[4:8])).String()
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			s.port = int(binary.BigEndian.Uint16(b[2:]))
			s.addr = netip.AddrFrom16([16]byte(b[8:24])).String()
		}
	case unix.AF_UNIX:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			s.path = "@" + strings.TrimRight(string(p[1:]), "\x00")
		} else {
			if i := strings.IndexByte(string(p), 0); i >= 0 {
				p = p[:i]
			}
			s.path = string(p)
		}
	}
	return s
}

// protoOf names a socket by family and type.
func protoOf(family, typ int) string {
	six := ""
	switch family {
	case unix.AF_INET:
	case unix.AF_INET6:
		six = "6"
	case unix.AF_UNIX:
		return "unix"
	case unix.AF_NETLINK:
		return "netlink"
	case unix.AF_PACKET:
		return "packet"
	case 0:
		return ""
	default:
		return fmt.Sprintf("af%d", family)
	}
	switch typ & 0xf {
	case unix.SOCK_STREAM:
		return "tcp" + six
	case unix.SOCK_DGRAM:
		return "udp" + six
	case unix.SOCK_RAW:
		return "raw" + six
	case 0:
		return "ip" + six
	}
	return fmt.Sprintf("ip%s/type%d", six, typ&0xf)
}

// stdinKind classifies fd 0 by its file mode and device number.
func stdinKind(mode uint32, major, minor uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFIFO:
		return "pipe"
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFCHR:
		switch {
		case major == 1 && minor == 3:
			return "null"
		case major == 4, major == 5, major >= 136 && major <= 143:
			return "tty" // virtual consoles, serial lines, /dev/tty, /dev/console, ptmx, pts
		}
		return "device"
	case unix.S_IFBLK:
		return "device"
	case 0:
		return "closed"
	}
	return "other"
}

// exitResult is the Result of a KindExit event for a wait status: the
// exit code, or 128+N for death by signal N (as shells report it).
func exitResult(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// splitArgv splits NUL-terminated strings, the argv as both tracers
// record it.
func splitArgv(b []byte, argc int) []string {
	var out []string
	for len(b) > 0 && len(out) < argc {
		i := strings.IndexByte(string(b), 0)
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out
}
