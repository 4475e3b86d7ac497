// Package netobs is the sandbox's only way out: a TUN device in the
// container's private network namespace whose other end is this package,
// not a network. It answers DNS (recording every name asked, answering
// address queries with a sinkhole address so the program goes on to
// connect), records every outbound TCP and UDP attempt (address, port)
// and answers it with a reset or "port unreachable", and writes every
// packet both ways to a pcapng capture.
//
// Nothing is forwarded, by construction: the package reads packets from
// the device and writes only the replies it builds back into the same
// device; it opens no socket. The namespace holds the loopback interface
// and this device, nothing else.
package netobs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Addresses of the sandbox network.
var (
	// SandboxAddr is the container's address; ResolverAddr the DNS server
	// it is given (this package).
	SandboxAddr  = netip.MustParsePrefix("169.254.89.2/24")
	ResolverAddr = netip.MustParseAddr("169.254.89.1")
	SandboxAddr6 = netip.MustParsePrefix("fd89:d7d0::2/64")
	// SinkholeNet is where DNS answers point: 198.18.0.0/15, reserved for
	// benchmarking and routed nowhere.
	SinkholeNet = netip.MustParsePrefix("198.18.0.0/15")
)

// Caps.
const (
	MaxPcapBytes = 64 << 20
	MaxRecords   = 10000
	snapLen      = 65535
)

// DNSQuery is one name the sandbox asked for.
type DNSQuery struct {
	Time time.Time `json:"time"`
	Name string    `json:"name"`
	Type string    `json:"type"`
	// Answer is the sinkhole address given, if any.
	Answer string `json:"answer,omitempty"`
}

// Attempt is one outbound connection attempt (TCP SYN, UDP datagram
// flow, ICMP echo), never forwarded.
type Attempt struct {
	Time    time.Time `json:"time"`
	Proto   string    `json:"proto"`
	Address string    `json:"address"`
	Port    int       `json:"port"`
	// Name is the DNS name the sandbox was given this address for.
	Name string `json:"name,omitempty"`
	// Packets counts the packets of this attempt (retransmissions).
	Packets int `json:"packets"`
	// Bytes is the payload the sandbox tried to send (UDP).
	Bytes int `json:"bytes,omitempty"`
}

// Result is what the observer saw.
type Result struct {
	DNS      []DNSQuery `json:"dns"`
	Attempts []Attempt  `json:"attempts"`
	Packets  int        `json:"packets"`
	// Truncated says a cap was reached (records or capture size).
	Truncated bool `json:"truncated,omitempty"`
}

// Handler holds the observer's state; it is independent of the device so
// it can be driven by tests and fuzzing.
type Handler struct {
	mu        sync.Mutex
	res       Result
	sinkholes map[string]netip.Addr // name -> address
	names     map[netip.Addr]string
	attempts  map[string]int // flow key -> index in res.Attempts
	pcap      *pcapngWriter
	pcapBytes int64
	pcapFull  bool
}

// NewHandler returns a handler writing a capture to pcap (nil for none).
func NewHandler(pcap io.Writer) (*Handler, error) {
	h := &Handler{
		sinkholes: map[string]netip.Addr{},
		names:     map[netip.Addr]string{},
		attempts:  map[string]int{},
	}
	if pcap != nil {
		intf := pcapngInterface{name: "drydock-sandbox", description: "drydock run sandbox network (nothing forwarded)", snapLen: snapLen}
		w, err := newPcapngWriter(bufio.NewWriter(pcap), "drydock run", intf)
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", err)
		}
		h.pcap = w
	}
	return h, nil
}

// Flush writes out the capture.
func (h *Handler) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pcap == nil {
		return nil
	}
	return h.pcap.flush()
}

// Result returns a copy of what was seen.
func (h *Handler) Result() Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.res
	r.DNS = slices.Clone(r.DNS)
	r.Attempts = slices.Clone(r.Attempts)
	if r.DNS == nil {
		r.DNS = []DNSQuery{}
	}
	if r.Attempts == nil {
		r.Attempts = []Attempt{}
	}
	return r
}

// NameOf returns the DNS name a sinkhole address was given for.
func (h *Handler) NameOf(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.names[a]
}

func (h *Handler) capture(t time.Time, pkt []byte) {
	if h.pcap == nil || h.pcapFull {
		return
	}
	n := len(pkt)
	if n > snapLen {
		n = snapLen
	}
	if h.pcapBytes+int64(n) > MaxPcapBytes {
		h.pcapFull, h.res.Truncated = true, true
		return
	}
	h.pcapBytes += int64(n) + pcapngPacketOverhead
	// A write error sticks in the buffer; Flush returns it.
	_ = h.pcap.writePacket(t, pkt[:n], len(pkt))
}

// Handle takes one packet the sandbox sent and returns the replies to
// write back to it (never anything else: there is nowhere else).
func (h *Handler) Handle(t time.Time, pkt []byte) [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.Packets++
	h.capture(t, pkt)
	replies := h.handle(t, pkt)
	for _, r := range replies {
		h.capture(t, r)
	}
	return replies
}

// handle reads the IP header, the extension headers after it and the
// first transport header, as a receiving host does. A packet with no
// transport header to read (a fragment other than the first-and-only, an
// encapsulated packet, an unknown protocol, a malformed header) is only
// captured: nothing is recorded or answered.
func (h *Handler) handle(t time.Time, pkt []byte) [][]byte {
	p, ok := parseIP(pkt)
	if !ok || !p.hasL4 {
		return nil
	}
	switch p.proto {
	case protoTCP:
		tcp, ok := parseTCP(p.l4)
		if !ok || tcp.flags&tcpRST != 0 {
			return nil
		}
		proto := "tcp"
		if p.v6 {
			proto = "tcp6"
		}
		if tcp.flags&(tcpSYN|tcpACK) == tcpSYN {
			h.attempt(t, proto, p.src, int(tcp.sport), p.dst, int(tcp.dport), 0)
		}
		if !errorAllowed(&p) {
			// TCP is between two hosts: a segment to a group or the
			// broadcast address is dropped (RFC 1122 4.2.3.10).
			return nil
		}
		return [][]byte{tcpReset(&p, tcp)}
	case protoUDP:
		udp, ok := parseUDP(p.l4)
		if !ok {
			return nil
		}
		if udp.dport == 53 {
			if msg, ok := h.dnsAnswer(t, udp.payload); ok {
				if r := udpReply(&p, udp.dport, udp.sport, msg); r != nil {
					return [][]byte{r}
				}
				return nil
			}
		}
		proto := "udp"
		if p.v6 {
			proto = "udp6"
		}
		h.attempt(t, proto, p.src, int(udp.sport), p.dst, int(udp.dport), len(udp.payload))
		if r := portUnreachable(&p); r != nil {
			return [][]byte{r}
		}
		return nil
	case protoICMPv4, protoICMPv6:
		id, echo := icmpEcho(p.proto, p.l4)
		if !echo {
			return nil
		}
		if p.proto == protoICMPv4 {
			h.attempt(t, "icmp", p.src, int(id), p.dst, 0, 0)
		} else {
			h.attempt(t, "icmp6", p.src, 0, p.dst, 0, 0)
		}
	}
	return nil
}

func (h *Handler) attempt(t time.Time, proto string, src netip.Addr, sport int, dst netip.Addr, dport, n int) {
	key := fmt.Sprintf("%s|%s|%d|%s|%d", proto, src, sport, dst, dport)
	if i, ok := h.attempts[key]; ok {
		h.res.Attempts[i].Packets++
		h.res.Attempts[i].Bytes += n
		return
	}
	if len(h.res.Attempts) >= MaxRecords {
		h.res.Truncated = true
		return
	}
	h.attempts[key] = len(h.res.Attempts)
	h.res.Attempts = append(h.res.Attempts, Attempt{Time: t, Proto: proto, Address: dst.String(), Port: dport, Name: h.names[dst], Packets: 1, Bytes: n})
}

func validName(n string) bool {
	return n != "" && len(n) <= 253
}

// sinkhole returns the address given for name, allocating one.
func (h *Handler) sinkhole(name string) (netip.Addr, bool) {
	if a, ok := h.sinkholes[name]; ok {
		return a, true
	}
	base := SinkholeNet.Addr().As4()
	n := binary.BigEndian.Uint32(base[:]) + uint32(len(h.sinkholes)) + 1
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	a := netip.AddrFrom4(b)
	if !SinkholeNet.Contains(a) || len(h.sinkholes) >= MaxRecords {
		return netip.Addr{}, false
	}
	h.sinkholes[name] = a
	h.names[a] = name
	return a, true
}

// ErrClosed is returned by Serve once the device is closed.
var ErrClosed = errors.New("observer closed")

// Serve reads packets from dev until it fails (it is closed), answering
// each through dev.
func (h *Handler) Serve(dev io.ReadWriter) error {
	buf := make([]byte, 65536)
	for {
		n, err := dev.Read(buf)
		if err != nil {
			return err
		}
		for _, r := range h.Handle(time.Now(), buf[:n]) {
			if _, err := dev.Write(r); err != nil {
				return err
			}
		}
	}
}
