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
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
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
	pcap      *pcapgo.NgWriter
	pcapBuf   *bufio.Writer
	pcapBytes int64
	pcapFull  bool
	opts      gopacket.SerializeOptions
}

// NewHandler returns a handler writing a capture to pcap (nil for none).
func NewHandler(pcap io.Writer) (*Handler, error) {
	h := &Handler{
		sinkholes: map[string]netip.Addr{},
		names:     map[netip.Addr]string{},
		attempts:  map[string]int{},
		opts:      gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
	if pcap != nil {
		h.pcapBuf = bufio.NewWriter(pcap)
		intf := pcapgo.NgInterface{Name: "drydock-sandbox", Description: "drydock run sandbox network (nothing forwarded)", LinkType: layers.LinkTypeRaw, SnapLength: snapLen}
		w, err := pcapgo.NewNgWriterInterface(h.pcapBuf, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "drydock run"}})
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
	if err := h.pcap.Flush(); err != nil {
		return err
	}
	return h.pcapBuf.Flush()
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
	h.pcapBytes += int64(n) + 32
	_ = h.pcap.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: n, Length: len(pkt)}, pkt[:n])
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

func (h *Handler) handle(t time.Time, pkt []byte) [][]byte {
	if len(pkt) == 0 {
		return nil
	}
	var first gopacket.LayerType
	switch pkt[0] >> 4 {
	case 4:
		first = layers.LayerTypeIPv4
	case 6:
		first = layers.LayerTypeIPv6
	default:
		return nil
	}
	p := gopacket.NewPacket(pkt, first, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	var src, dst netip.Addr
	var ip4 *layers.IPv4
	var ip6 *layers.IPv6
	if l, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		ip4 = l
		src, _ = netip.AddrFromSlice(l.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(l.DstIP.To4())
	} else if l, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		ip6 = l
		src, _ = netip.AddrFromSlice(l.SrcIP.To16())
		dst, _ = netip.AddrFromSlice(l.DstIP.To16())
	} else {
		return nil
	}
	if !src.IsValid() || !dst.IsValid() {
		return nil
	}
	if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		if tcp.RST {
			return nil
		}
		proto := "tcp"
		if ip6 != nil {
			proto = "tcp6"
		}
		if tcp.SYN && !tcp.ACK {
			h.attempt(t, proto, src, int(tcp.SrcPort), dst, int(tcp.DstPort), 0)
		}
		return h.reset(ip4, ip6, tcp)
	}
	if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		if udp.DstPort == 53 {
			if dns, ok := p.Layer(layers.LayerTypeDNS).(*layers.DNS); ok && !dns.QR {
				return h.dns(t, ip4, ip6, udp, dns)
			}
		}
		proto := "udp"
		if ip6 != nil {
			proto = "udp6"
		}
		h.attempt(t, proto, src, int(udp.SrcPort), dst, int(udp.DstPort), len(udp.Payload))
		if ip4 != nil {
			return h.unreachable(ip4)
		}
		return nil
	}
	if icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoRequest {
		h.attempt(t, "icmp", src, int(icmp.Id), dst, 0, 0)
		return nil
	}
	if icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok && icmp.TypeCode.Type() == layers.ICMPv6TypeEchoRequest {
		h.attempt(t, "icmp6", src, 0, dst, 0, 0)
		return nil
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

func (h *Handler) serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, h.opts, ls...); err != nil {
		return nil
	}
	return slices.Clone(buf.Bytes())
}

// reset answers a TCP segment with a reset, as a closed port does.
func (h *Handler) reset(ip4 *layers.IPv4, ip6 *layers.IPv6, in *layers.TCP) [][]byte {
	out := &layers.TCP{SrcPort: in.DstPort, DstPort: in.SrcPort, RST: true, Window: 0}
	if in.ACK {
		out.Seq = in.Ack
	} else {
		out.ACK = true
		n := uint32(len(in.Payload))
		if in.SYN {
			n++
		}
		if in.FIN {
			n++
		}
		out.Ack = in.Seq + n
	}
	var b []byte
	if ip4 != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ip4.DstIP, DstIP: ip4.SrcIP}
		_ = out.SetNetworkLayerForChecksum(ip)
		b = h.serialize(ip, out)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: ip6.DstIP, DstIP: ip6.SrcIP}
		_ = out.SetNetworkLayerForChecksum(ip)
		b = h.serialize(ip, out)
	}
	if b == nil {
		return nil
	}
	return [][]byte{b}
}

// unreachable answers a UDP datagram with ICMP port unreachable.
func (h *Handler) unreachable(in *layers.IPv4) [][]byte {
	orig := append(slices.Clone(in.Contents), in.Payload...)
	if n := len(in.Contents) + 8; len(orig) > n {
		orig = orig[:n]
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: in.DstIP, DstIP: in.SrcIP}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}
	b := h.serialize(ip, icmp, gopacket.Payload(orig))
	if b == nil {
		return nil
	}
	return [][]byte{b}
}

func (h *Handler) dns(t time.Time, ip4 *layers.IPv4, ip6 *layers.IPv6, udp *layers.UDP, q *layers.DNS) [][]byte {
	resp := &layers.DNS{ID: q.ID, QR: true, OpCode: q.OpCode, RD: q.RD, RA: true, ResponseCode: layers.DNSResponseCodeNoErr}
	if q.OpCode != layers.DNSOpCodeQuery {
		resp.ResponseCode = layers.DNSResponseCodeNotImp
	}
	for _, qu := range q.Questions {
		name := strings.TrimSuffix(strings.ToLower(string(qu.Name)), ".")
		rec := DNSQuery{Time: t, Name: name, Type: qu.Type.String()}
		if qu.Type == layers.DNSTypeA && qu.Class == layers.DNSClassIN && validName(name) {
			if a, ok := h.sinkhole(name); ok {
				rec.Answer = a.String()
				resp.Answers = append(resp.Answers, layers.DNSResourceRecord{
					Name: qu.Name, Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: a.AsSlice(),
				})
			}
		}
		resp.Questions = append(resp.Questions, qu)
		if len(h.res.DNS) >= MaxRecords {
			h.res.Truncated = true
			continue
		}
		h.res.DNS = append(h.res.DNS, rec)
	}
	var b []byte
	u := &layers.UDP{SrcPort: udp.DstPort, DstPort: udp.SrcPort}
	if ip4 != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip4.DstIP, DstIP: ip4.SrcIP}
		_ = u.SetNetworkLayerForChecksum(ip)
		b = h.serialize(ip, u, resp)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: ip6.DstIP, DstIP: ip6.SrcIP}
		_ = u.SetNetworkLayerForChecksum(ip)
		b = h.serialize(ip, u, resp)
	}
	if b == nil {
		return nil
	}
	return [][]byte{b}
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
