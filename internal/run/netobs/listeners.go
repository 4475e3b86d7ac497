package netobs

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Listener is a socket the sandbox listened on (TCP) or bound (UDP).
type Listener struct {
	Time    time.Time `json:"time"`
	Proto   string    `json:"proto"`
	Address string    `json:"address"`
	Port    int       `json:"port"`
}

// Listeners polls the socket tables of pid's network namespace and keeps
// every listening TCP socket and bound UDP socket it sees. It works with
// any tracer, or none.
type Listeners struct {
	mu   sync.Mutex
	seen map[string]bool
	list []Listener
}

// Poll reads the tables every interval until ctx is done.
func (l *Listeners) Poll(ctx context.Context, pid int, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		l.Read(pid)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Read reads the tables once.
func (l *Listeners) Read(pid int) {
	now := time.Now()
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/" + proto)
		if err != nil {
			continue
		}
		socks := ParseSockets(f, proto)
		f.Close()
		l.mu.Lock()
		if l.seen == nil {
			l.seen = map[string]bool{}
		}
		for _, s := range socks {
			k := fmt.Sprintf("%s|%s|%d", s.Proto, s.Address, s.Port)
			if l.seen[k] || len(l.list) >= MaxRecords {
				continue
			}
			l.seen[k] = true
			s.Time = now
			l.list = append(l.list, s)
		}
		l.mu.Unlock()
	}
}

// List returns the sockets seen.
func (l *Listeners) List() []Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.list)
	if out == nil {
		out = []Listener{}
	}
	return out
}

// ParseSockets reads a /proc/net/{tcp,udp}[6] table and returns its
// listening TCP sockets or bound UDP sockets.
func ParseSockets(r io.Reader, proto string) []Listener {
	var out []Listener
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		state := f[3]
		tcp := strings.HasPrefix(proto, "tcp")
		// TCP LISTEN is 0A; a bound UDP socket is 07 (unconnected).
		if (tcp && state != "0A") || (!tcp && state != "07") {
			continue
		}
		addr, port, ok := parseHexAddr(f[1])
		if !ok {
			continue
		}
		out = append(out, Listener{Proto: proto, Address: addr.String(), Port: port})
	}
	return out
}

// parseHexAddr reads the kernel's "0100007F:1F90" form: the address as
// host-order 32-bit words, the port in hex.
func parseHexAddr(s string) (netip.Addr, int, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, 0, false
	}
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr.Unmap(), int(port), true
}
