package netobs

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers the observer knows.
const (
	protoHopByHop = 0
	protoICMPv4   = 1
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoICMPv6   = 58
	protoDstOpts  = 60
)

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

const maxIPLen = 0xffff

// packet is what the observer reads of one IP packet the sandbox sent.
// Every slice points into the packet; nothing is copied.
type packet struct {
	v6       bool
	src, dst netip.Addr
	// header and payload are the IP header (IPv4 with its options, IPv6's
	// fixed 40 bytes) and what follows it, bounded by the packet's length:
	// ICMP errors quote them.
	header, payload []byte
	// proto is the transport protocol after any extension headers, l4 its
	// header and data (bounded by the IP length); hasL4 is false when there
	// is none to read (a fragment, an unknown or malformed header).
	proto uint8
	l4    []byte
	hasL4 bool
}

// parseIP reads an IPv4 or IPv6 packet. It returns false when the packet
// is not one: too short, lengths that contradict each other, malformed
// options. The checks are those of a receiving host; checksums are not
// verified (the kernel wrote them).
func parseIP(b []byte) (packet, bool) {
	if len(b) == 0 {
		return packet{}, false
	}
	switch b[0] >> 4 {
	case 4:
		return parseIPv4(b)
	case 6:
		return parseIPv6(b)
	}
	return packet{}, false
}

func parseIPv4(b []byte) (packet, bool) {
	if len(b) < 20 {
		return packet{}, false
	}
	hl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total == 0 {
		// Segmentation offload leaves the length 0: the packet is all
		// there is.
		total = len(b)
	}
	if total < 20 || hl < 20 || hl > total || hl > len(b) {
		return packet{}, false
	}
	if len(b) > total {
		b = b[:total]
	}
	if !ipv4OptionsOK(b[20:hl]) {
		return packet{}, false
	}
	p := packet{
		src:     netip.AddrFrom4([4]byte(b[12:16])),
		dst:     netip.AddrFrom4([4]byte(b[16:20])),
		header:  b[:hl],
		payload: b[hl:],
	}
	// A fragment (more to come, or not the first) holds no header to read.
	if ff := binary.BigEndian.Uint16(b[6:8]); ff&0x2000 != 0 || ff&0x1fff != 0 {
		return p, true
	}
	proto := b[9]
	// Extension headers are IPv6's; an IPv4 host drops them as it does any
	// unknown protocol.
	switch proto {
	case protoHopByHop, protoRouting, protoFragment, protoDstOpts:
		return p, true
	}
	p.proto, p.l4, p.hasL4 = skipExtensions(proto, p.payload)
	return p, true
}

// ipv4OptionsOK checks the option list's lengths (RFC 791 3.1).
func ipv4OptionsOK(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of options; the rest is padding
			return true
		case 1: // no-operation
			o = o[1:]
		default:
			if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
				return false
			}
			o = o[o[1]:]
		}
	}
	return true
}

func parseIPv6(b []byte) (packet, bool) {
	if len(b) < 40 {
		return packet{}, false
	}
	p := packet{
		v6:  true,
		src: netip.AddrFrom16([16]byte(b[8:24])),
		dst: netip.AddrFrom16([16]byte(b[24:40])),
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n == 0 {
		// A jumbogram (RFC 2675) is larger than any packet the device
		// can carry; a length of 0 is otherwise malformed.
		return p, true
	}
	payload := b[40:]
	if n < len(payload) {
		payload = payload[:n]
	}
	p.header, p.payload = b[:40], payload
	next := b[6]
	if next == protoHopByHop {
		// In first place the hop-by-hop header may carry the jumbo
		// length, which only a jumbogram may have.
		hl, ok := extLen(payload)
		if !ok {
			return p, true
		}
		jumbo, ok := tlvOptionsOK(payload[2:hl])
		if !ok || jumbo {
			return p, true
		}
		next, payload = payload[0], payload[hl:]
	}
	p.proto, p.l4, p.hasL4 = skipExtensions(next, payload)
	return p, true
}

// skipExtensions walks the IPv6 extension headers (and an IPsec
// authentication header, which may follow IPv4 too) from proto, and
// returns the transport protocol and its bytes. An extension header that
// is malformed or does not fit, and a fragment other than an atomic one
// (RFC 6946: offset 0, no more fragments), end the walk with false.
func skipExtensions(proto uint8, b []byte) (uint8, []byte, bool) {
	for {
		switch proto {
		case protoHopByHop, protoDstOpts:
			n, ok := extLen(b)
			if !ok {
				return 0, nil, false
			}
			if _, ok := tlvOptionsOK(b[2:n]); !ok {
				return 0, nil, false
			}
			proto, b = b[0], b[n:]
		case protoRouting:
			n, ok := extLen(b)
			if !ok {
				return 0, nil, false
			}
			proto, b = b[0], b[n:]
		case protoFragment:
			if len(b) < 8 || binary.BigEndian.Uint16(b[2:4])&0xfff9 != 0 {
				return 0, nil, false
			}
			proto, b = b[0], b[8:]
		case protoAH:
			// RFC 4302: the length is in 32-bit words, minus 2; the fixed
			// part is 12 bytes.
			if len(b) < 12 {
				return 0, nil, false
			}
			n := (int(b[1]) + 2) * 4
			if n < 12 || n > len(b) {
				return 0, nil, false
			}
			proto, b = b[0], b[n:]
		default:
			return proto, b, true
		}
	}
}

// extLen is the length of the extension header at the start of b: 8-byte
// units, not counting the first 8.
func extLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	n := int(b[1])*8 + 8
	return n, n <= len(b)
}

// tlvOptionsOK checks the options of a hop-by-hop or destination options
// header (RFC 8200 4.2), and says whether one is the jumbo payload length.
func tlvOptionsOK(o []byte) (jumbo, ok bool) {
	for len(o) > 0 {
		if o[0] == 0 { // Pad1
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1])+2 > len(o) {
			return false, false
		}
		if o[0] == 0xc2 {
			jumbo = true
		}
		o = o[int(o[1])+2:]
	}
	return jumbo, true
}

// tcpSegment is what the observer reads of a TCP header.
type tcpSegment struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	payload      int
}

func parseTCP(b []byte) (tcpSegment, bool) {
	if len(b) < 20 {
		return tcpSegment{}, false
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > len(b) {
		return tcpSegment{}, false
	}
	return tcpSegment{
		sport:   binary.BigEndian.Uint16(b[0:2]),
		dport:   binary.BigEndian.Uint16(b[2:4]),
		seq:     binary.BigEndian.Uint32(b[4:8]),
		ack:     binary.BigEndian.Uint32(b[8:12]),
		flags:   b[13],
		payload: len(b) - off,
	}, true
}

// udpDatagram is what the observer reads of a UDP datagram.
type udpDatagram struct {
	sport, dport uint16
	payload      []byte
}

func parseUDP(b []byte) (udpDatagram, bool) {
	if len(b) < 8 {
		return udpDatagram{}, false
	}
	u := udpDatagram{sport: binary.BigEndian.Uint16(b[0:2]), dport: binary.BigEndian.Uint16(b[2:4])}
	switch n := int(binary.BigEndian.Uint16(b[4:6])); {
	case n == 0:
		// Length 0 is a jumbogram's: the datagram is the rest.
		u.payload = b[8:]
	case n < 8:
		return udpDatagram{}, false
	default:
		// A length past the end is a truncated datagram: what is there
		// is what was sent.
		u.payload = b[8:min(n, len(b))]
	}
	return u, true
}

// icmpEcho reads an ICMP message and says whether it is an echo request
// (ICMPv4 type 8 or ICMPv6 type 128), with its identifier (ICMPv4).
func icmpEcho(proto uint8, b []byte) (id uint16, echo bool) {
	switch proto {
	case protoICMPv4:
		if len(b) < 8 {
			return 0, false
		}
		return binary.BigEndian.Uint16(b[4:6]), b[0] == 8
	case protoICMPv6:
		if len(b) < 4 {
			return 0, false
		}
		return 0, b[0] == 128
	}
	return 0, false
}

// reply builds a packet from src to dst carrying proto whose transport
// header and data are n bytes; fill writes them into the slice it is
// given. Transport checksums are computed by the caller with pseudo. It
// returns nil if the packet would exceed the largest IP packet.
func reply(src, dst netip.Addr, proto uint8, n int) (pkt, l4 []byte) {
	if src.Is4() {
		if 20+n > maxIPLen {
			return nil, nil
		}
		pkt = make([]byte, 20+n)
		pkt[0] = 0x45
		binary.BigEndian.PutUint16(pkt[2:4], uint16(20+n))
		pkt[8] = 64 // TTL
		pkt[9] = proto
		s, d := src.As4(), dst.As4()
		copy(pkt[12:16], s[:])
		copy(pkt[16:20], d[:])
		binary.BigEndian.PutUint16(pkt[10:12], ^fold(sum(0, pkt[:20])))
		return pkt, pkt[20:]
	}
	if n > maxIPLen {
		return nil, nil
	}
	pkt = make([]byte, 40+n)
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:6], uint16(n))
	pkt[6] = proto
	pkt[7] = 64 // hop limit
	s, d := src.As16(), dst.As16()
	copy(pkt[8:24], s[:])
	copy(pkt[24:40], d[:])
	return pkt, pkt[40:]
}

// transportChecksum is the TCP, UDP or ICMPv6 checksum of l4 (whose
// checksum field is zero) in the IP packet pkt: the sum over the
// pseudo-header (RFC 793, RFC 768, RFC 8200 8.1) and the segment.
func transportChecksum(pkt, l4 []byte) uint16 {
	var s uint64
	if pkt[0]>>4 == 4 {
		s = sum(s, pkt[12:20])
		s += uint64(pkt[9]) + uint64(len(l4))
	} else {
		s = sum(s, pkt[8:40])
		s += uint64(pkt[6]) + uint64(len(l4))
	}
	return ^fold(sum(s, l4))
}

// sum adds b to s as big-endian 16-bit words (RFC 1071), an odd last
// byte padded with zero.
func sum(s uint64, b []byte) uint64 {
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold folds a one's complement sum to 16 bits.
func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// tcpReset builds the reply of a closed port to the segment in (RFC 793
// 3.4, "Reset Generation"): a segment carrying ACK is answered with
// seq = its ack; any other with ack = its seq plus its length (SYN and FIN
// count one each) and the ACK flag.
func tcpReset(p *packet, in tcpSegment) []byte {
	pkt, l4 := reply(p.dst, p.src, protoTCP, 20)
	binary.BigEndian.PutUint16(l4[0:2], in.dport)
	binary.BigEndian.PutUint16(l4[2:4], in.sport)
	flags := uint8(tcpRST)
	if in.flags&tcpACK != 0 {
		binary.BigEndian.PutUint32(l4[4:8], in.ack)
	} else {
		flags |= tcpACK
		n := uint32(in.payload)
		if in.flags&tcpSYN != 0 {
			n++
		}
		if in.flags&tcpFIN != 0 {
			n++
		}
		binary.BigEndian.PutUint32(l4[8:12], in.seq+n)
	}
	l4[12] = 5 << 4 // data offset: no options
	l4[13] = flags
	// Window 0, urgent pointer 0.
	binary.BigEndian.PutUint16(l4[16:18], transportChecksum(pkt, l4))
	return pkt
}

// minIPv6MTU bounds an ICMPv6 error packet (RFC 4443 2.4 (c)).
const minIPv6MTU = 1280

// portUnreachable builds the ICMP destination unreachable (port) answer
// to a datagram: for IPv4 it quotes the packet's IP header and the first
// 8 bytes of what follows (RFC 792); for IPv6 as much of the packet as
// keeps the answer within the minimum MTU (RFC 4443 3.1). A host sends no
// error about a packet that was not for it alone, or whose source names
// no single host (RFC 1122 3.2.2, RFC 4443 2.4 (e)): nil then.
func portUnreachable(p *packet) []byte {
	if !errorAllowed(p) {
		return nil
	}
	if p.v6 {
		quote := append(p.header[:len(p.header):len(p.header)], p.payload...)
		quote = quote[:min(len(quote), minIPv6MTU-40-8)]
		pkt, l4 := reply(p.dst, p.src, protoICMPv6, 8+len(quote))
		if pkt == nil {
			return nil
		}
		l4[0], l4[1] = 1, 4 // destination unreachable, port unreachable
		copy(l4[8:], quote)
		binary.BigEndian.PutUint16(l4[2:4], transportChecksum(pkt, l4))
		return pkt
	}
	quote := p.payload[:min(8, len(p.payload))]
	pkt, l4 := reply(p.dst, p.src, protoICMPv4, 8+len(p.header)+len(quote))
	if pkt == nil {
		return nil
	}
	l4[0], l4[1] = 3, 3 // destination unreachable, port
	copy(l4[8:], p.header)
	copy(l4[8+len(p.header):], quote)
	binary.BigEndian.PutUint16(l4[2:4], ^fold(sum(0, l4)))
	return pkt
}

// errorAllowed says whether an ICMP error may answer p: its destination
// is one host's (not multicast, not the IPv4 broadcast) and so is its
// source (not unspecified, multicast, broadcast or IPv4 class E).
func errorAllowed(p *packet) bool {
	one := func(a netip.Addr) bool {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return false
		}
		if a.Is4() {
			return a.As4()[0] < 240 // class E and 255.255.255.255
		}
		return true
	}
	return one(p.src) && one(p.dst)
}

// udpReply builds a UDP datagram from sport to dport answering p.
func udpReply(p *packet, sport, dport uint16, data []byte) []byte {
	pkt, l4 := reply(p.dst, p.src, protoUDP, 8+len(data))
	if pkt == nil {
		return nil
	}
	binary.BigEndian.PutUint16(l4[0:2], sport)
	binary.BigEndian.PutUint16(l4[2:4], dport)
	binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
	copy(l4[8:], data)
	c := transportChecksum(pkt, l4)
	if c == 0 {
		// RFC 768: a computed 0 is sent as all ones (0 means "none").
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[6:8], c)
	return pkt
}
