package netobs_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/drydockscan/drydock/internal/run/netobs"
)

// The handler's own parsers are checked against gopacket's decoders: for
// any packet, gopacket says what the packet is, and the handler must have
// recorded and answered exactly that. The transport header is the first
// one after the IP header and its extension headers; the handler reads
// nothing deeper (an encapsulated packet is not a connection attempt of
// the sandbox's own).

// oracleView is what gopacket makes of a packet.
type oracleView struct {
	// skip: a packet the handler reads differently by design (see
	// oracle).
	skip bool
	// kind is "" (nothing to record or answer), "tcp", "udp" or "icmp".
	kind     string
	v6       bool
	src, dst netip.Addr
	ip4      *layers.IPv4
	tcp      *layers.TCP
	udp      *layers.UDP
	// dns is the query gopacket decoded from a UDP datagram to port 53.
	dns *layers.DNS
	// icmpProto is "icmp" or "icmp6" for an echo request.
	icmpProto string
	icmpID    uint16
}

// oracle decodes pkt with gopacket. Two kinds of packet are left out
// (skip), where the handler follows the RFCs and gopacket does not: an
// IPv6 atomic fragment (offset 0, no more fragments), which RFC 6946 has
// processed as an unfragmented packet and gopacket does not look into, and
// an IPv6 jumbogram, which gopacket reads and the handler drops (no device
// it reads from can carry one).
func oracle(pkt []byte) oracleView {
	if len(pkt) == 0 {
		return oracleView{}
	}
	var v oracleView
	var first gopacket.LayerType
	switch pkt[0] >> 4 {
	case 4:
		first = layers.LayerTypeIPv4
		var ip layers.IPv4
		if ip.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback) != nil {
			return oracleView{}
		}
		v.ip4 = &ip
		v.src, _ = netip.AddrFromSlice(ip.SrcIP)
		v.dst, _ = netip.AddrFromSlice(ip.DstIP)
	case 6:
		first = layers.LayerTypeIPv6
		var ip layers.IPv6
		if ip.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback) != nil {
			return oracleView{}
		}
		if ip.Length == 0 {
			return oracleView{skip: true}
		}
		v.v6 = true
		v.src, _ = netip.AddrFromSlice(ip.SrcIP)
		v.dst, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return oracleView{}
	}
	ls := gopacket.NewPacket(pkt, first, gopacket.Default).Layers()
	i := 1
	for i < len(ls) {
		switch l := ls[i].(type) {
		case *layers.IPv6HopByHop, *layers.IPv6Routing, *layers.IPv6Destination, *layers.IPSecAH:
			i++
			continue
		case *layers.IPv6Fragment:
			if l.FragmentOffset == 0 && !l.MoreFragments {
				return oracleView{skip: true}
			}
		}
		break
	}
	if i >= len(ls) {
		return oracleView{}
	}
	// The bytes of the transport header, decoded afresh: gopacket keeps a
	// TCP or UDP layer that failed to decode, a receiving host drops it.
	data := ls[i-1].LayerPayload()
	switch ls[i].(type) {
	case *layers.TCP:
		var tcp layers.TCP
		if tcp.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return oracleView{}
		}
		v.kind, v.tcp = "tcp", &tcp
	case *layers.UDP:
		var udp layers.UDP
		if udp.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return oracleView{}
		}
		v.kind, v.udp = "udp", &udp
		if udp.DstPort == 53 && i+1 < len(ls) {
			if d, ok := ls[i+1].(*layers.DNS); ok && !d.QR {
				v.dns = d
			}
		}
	case *layers.ICMPv4:
		l := ls[i].(*layers.ICMPv4)
		if l.TypeCode.Type() == layers.ICMPv4TypeEchoRequest {
			v.kind, v.icmpProto, v.icmpID = "icmp", "icmp", l.Id
		}
	case *layers.ICMPv6:
		l := ls[i].(*layers.ICMPv6)
		if l.TypeCode.Type() == layers.ICMPv6TypeEchoRequest {
			v.kind, v.icmpProto = "icmp", "icmp6"
		}
	}
	return v
}

// decodeReply decodes a reply with gopacket and fails unless every layer
// decodes and every checksum is right.
func decodeReply(t *testing.T, b []byte) gopacket.Packet {
	t.Helper()
	first := layers.LayerTypeIPv4
	if len(b) > 0 && b[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(b, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil && !headersDecode(p) {
		t.Fatalf("reply does not decode: %v\n%x", el.Error(), b)
	}
	// The checksums of the reply's own headers: layers gopacket decodes
	// further on (a UDP payload read by port) are not the reply's.
	ls := p.Layers()
	if len(ls) < 2 {
		t.Fatalf("reply has %d layers", len(ls))
	}
	for _, l := range ls[:2] {
		switch l := l.(type) {
		case *layers.TCP:
			_ = l.SetNetworkLayerForChecksum(p.NetworkLayer())
		case *layers.UDP:
			_ = l.SetNetworkLayerForChecksum(p.NetworkLayer())
		case *layers.ICMPv6:
			_ = l.SetNetworkLayerForChecksum(p.NetworkLayer())
		}
		c, ok := l.(gopacket.LayerWithChecksum)
		if !ok {
			continue
		}
		err, res := c.VerifyChecksum()
		if err != nil {
			t.Fatalf("reply %s checksum: %v", l.LayerType(), err)
		}
		if !res.Valid {
			t.Errorf("reply %s checksum %#04x, want %#04x", l.LayerType(), res.Actual, res.Correct)
		}
	}
	if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.Checksum == 0 {
		t.Errorf("reply UDP checksum is 0 (none)")
	}
	return p
}

// headersDecode says the IP and transport headers of p decode: gopacket
// chooses the decoder of a UDP payload by port, the destination's first,
// so a DNS reply to a client port it knows another protocol on fails
// there; that is no fault of the reply.
func headersDecode(p gopacket.Packet) bool {
	var ip gopacket.DecodingLayer
	switch p.NetworkLayer().(type) {
	case *layers.IPv4:
		ip = &layers.IPv4{}
	case *layers.IPv6:
		ip = &layers.IPv6{}
	default:
		return false
	}
	if ip.DecodeFromBytes(p.Data(), gopacket.NilDecodeFeedback) != nil {
		return false
	}
	var l4 gopacket.DecodingLayer
	switch p.TransportLayer().(type) {
	case *layers.TCP:
		l4 = &layers.TCP{}
	case *layers.UDP:
		l4 = &layers.UDP{}
	default:
		return false
	}
	return l4.DecodeFromBytes(p.NetworkLayer().LayerPayload(), gopacket.NilDecodeFeedback) == nil
}

// replyDNS decodes the DNS message a UDP reply carries.
func replyDNS(t *testing.T, p gopacket.Packet) *layers.DNS {
	t.Helper()
	u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		t.Fatalf("reply is not UDP: %v", p)
	}
	var d layers.DNS
	if err := d.DecodeFromBytes(u.Payload, gopacket.NilDecodeFeedback); err != nil {
		t.Fatalf("reply is not DNS: %v\n%x", err, u.Payload)
	}
	return &d
}

// checkAgainstOracle handles pkt and checks what the handler recorded,
// answered and captured against gopacket's reading of it.
func checkAgainstOracle(t *testing.T, pkt []byte) {
	v := oracle(pkt)
	var capture bytes.Buffer
	h, err := netobs.NewHandler(&capture)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 123456000)
	replies := h.Handle(now, bytes.Clone(pkt))
	res := h.Result()
	for _, r := range replies {
		if len(r) == 0 {
			t.Fatal("empty reply")
		}
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	got := readCapture(t, capture.Bytes())
	want := append([][]byte{pkt}, replies...)
	if len(got) != len(want) {
		t.Fatalf("capture holds %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if n := min(len(want[i]), 65535); !bytes.Equal(got[i].data, want[i][:n]) || got[i].ci.Length != len(want[i]) || !got[i].ci.Timestamp.Equal(now) {
			t.Errorf("captured packet %d: %d of %d bytes at %v, want %d at %v", i, got[i].ci.CaptureLength, got[i].ci.Length, got[i].ci.Timestamp, len(want[i]), now)
		}
	}
	if res.Packets != 1 {
		t.Errorf("packets %d, want 1", res.Packets)
	}
	if v.skip {
		return
	}
	proto := func(p string) string {
		if v.v6 && p != "icmp" && p != "icmp6" {
			return p + "6"
		}
		return p
	}
	wantAttempt := func(p string, port, n int) {
		t.Helper()
		if len(res.Attempts) != 1 {
			t.Fatalf("attempts %+v, want one %s to %s port %d", res.Attempts, p, v.dst, port)
		}
		a := res.Attempts[0]
		if a.Proto != p || a.Address != v.dst.String() || a.Port != port || a.Packets != 1 || a.Bytes != n || !a.Time.Equal(now) {
			t.Errorf("attempt %+v, want %s to %s port %d, %d bytes", a, p, v.dst, port, n)
		}
	}
	switch v.kind {
	case "":
		if len(replies) != 0 || len(res.Attempts) != 0 || len(res.DNS) != 0 {
			t.Errorf("gopacket finds nothing to answer, handler answered %d, recorded %+v %+v", len(replies), res.Attempts, res.DNS)
		}
	case "tcp":
		in := v.tcp
		if in.RST {
			if len(replies) != 0 || len(res.Attempts) != 0 {
				t.Errorf("a reset was answered or recorded: %d replies, %+v", len(replies), res.Attempts)
			}
			return
		}
		if in.SYN && !in.ACK {
			wantAttempt(proto("tcp"), int(in.DstPort), 0)
		} else if len(res.Attempts) != 0 {
			t.Errorf("attempts %+v for a segment that is not a SYN", res.Attempts)
		}
		if !oneHost(v.src) || !oneHost(v.dst) {
			// RFC 1122 4.2.3.10: dropped, not reset.
			if len(replies) != 0 {
				t.Errorf("%d replies to a segment from %s to %s", len(replies), v.src, v.dst)
			}
			return
		}
		if len(replies) != 1 {
			t.Fatalf("%d replies to a TCP segment", len(replies))
		}
		checkReset(t, decodeReply(t, replies[0]), v)
	case "udp":
		if v.udp.DstPort == 53 && len(res.Attempts) == 0 {
			// Answered as DNS.
			checkDNS(t, pkt, v, replies, res)
			return
		}
		// Not DNS, or a query the handler's DNS parser refused (a label
		// with a dot in it, a name of 254 bytes or more): a datagram like
		// any other.
		if len(res.DNS) != 0 {
			t.Errorf("DNS %+v recorded for a datagram recorded as an attempt", res.DNS)
		}
		wantAttempt(proto("udp"), int(v.udp.DstPort), len(v.udp.Payload))
		if !oneHost(v.src) || !oneHost(v.dst) {
			// RFC 1122 3.2.2, RFC 4443 2.4 (e): no error about a
			// datagram for a group or from no single host.
			if len(replies) != 0 {
				t.Errorf("%d replies to a datagram from %s to %s", len(replies), v.src, v.dst)
			}
			return
		}
		if len(replies) != 1 {
			t.Fatalf("%d replies to a UDP datagram", len(replies))
		}
		if v.v6 {
			checkUnreachable6(t, decodeReply(t, replies[0]), pkt, v)
			return
		}
		checkUnreachable(t, decodeReply(t, replies[0]), v)
	case "icmp":
		port := 0
		wantAttempt(v.icmpProto, port, 0)
		if len(replies) != 0 {
			t.Errorf("%d replies to an echo request", len(replies))
		}
	}
}

// checkReset: the reply is a reset from the address and port the segment
// was sent to, per RFC 793's reset generation.
func checkReset(t *testing.T, p gopacket.Packet, v oracleView) {
	t.Helper()
	checkAddrs(t, p, v)
	out, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("reply is not TCP: %v", p)
	}
	in := v.tcp
	if !out.RST || out.SYN || out.FIN || out.SrcPort != in.DstPort || out.DstPort != in.SrcPort || len(out.Payload) != 0 || out.Window != 0 {
		t.Errorf("reset %+v to %+v", out, in)
	}
	if in.ACK {
		if out.ACK || out.Seq != in.Ack {
			t.Errorf("reset to an ACK: ack flag %v seq %d, want seq %d", out.ACK, out.Seq, in.Ack)
		}
		return
	}
	n := uint32(len(in.Payload))
	if in.SYN {
		n++
	}
	if in.FIN {
		n++
	}
	if !out.ACK || out.Ack != in.Seq+n || out.Seq != 0 {
		t.Errorf("reset: ack flag %v ack %d seq %d, want ack %d seq 0", out.ACK, out.Ack, out.Seq, in.Seq+n)
	}
}

// checkUnreachable: ICMP port unreachable quoting the IP header and the
// first 8 bytes after it.
func checkUnreachable(t *testing.T, p gopacket.Packet, v oracleView) {
	t.Helper()
	checkAddrs(t, p, v)
	icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok {
		t.Fatalf("reply is not ICMP: %v", p)
	}
	if icmp.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort) || icmp.Id != 0 || icmp.Seq != 0 {
		t.Errorf("ICMP %v id %d seq %d", icmp.TypeCode, icmp.Id, icmp.Seq)
	}
	quote := append(bytes.Clone(v.ip4.Contents), v.ip4.Payload[:min(8, len(v.ip4.Payload))]...)
	if !bytes.Equal(icmp.Payload, quote) {
		t.Errorf("ICMP quotes %x, want %x", icmp.Payload, quote)
	}
}

// checkUnreachable6: ICMPv6 port unreachable quoting as much of the
// packet as fits in 1,280 bytes (RFC 4443 3.1).
func checkUnreachable6(t *testing.T, p gopacket.Packet, pkt []byte, v oracleView) {
	t.Helper()
	checkAddrs(t, p, v)
	icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok {
		t.Fatalf("reply is not ICMPv6: %v", p)
	}
	if icmp.TypeCode != layers.CreateICMPv6TypeCode(layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6CodePortUnreachable) {
		t.Errorf("ICMPv6 %v", icmp.TypeCode)
	}
	if len(p.Data()) > 1280 {
		t.Errorf("ICMPv6 error of %d bytes, more than the minimum MTU", len(p.Data()))
	}
	// The packet as its length field bounds it, then cut to fit.
	whole := pkt[:min(len(pkt), 40+int(binary.BigEndian.Uint16(pkt[4:6])))]
	quote := whole[:min(len(whole), 1280-40-8)]
	// ICMPv6's payload starts after the 4 unused bytes of this type.
	if got := icmp.Payload; len(got) < 4 || !bytes.Equal(got[:4], []byte{0, 0, 0, 0}) || !bytes.Equal(got[4:], quote) {
		t.Errorf("ICMPv6 payload %x, want 4 zero bytes and %x", got, quote)
	}
}

// oneHost says whether an address names a single host, as the ICMP
// error rules read it: not unspecified, multicast, IPv4 class E or the
// IPv4 broadcast.
func oneHost(a netip.Addr) bool {
	if a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	return !a.Is4() || a.As4()[0] < 240
}

func checkAddrs(t *testing.T, p gopacket.Packet, v oracleView) {
	t.Helper()
	var src, dst []byte
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		if v.v6 || ip.TTL != 64 || ip.IHL != 5 || ip.Flags != 0 || ip.FragOffset != 0 {
			t.Errorf("reply IPv4 header %+v", ip)
		}
		src, dst = ip.SrcIP, ip.DstIP
	case *layers.IPv6:
		if !v.v6 || ip.HopLimit != 64 || ip.HopByHop != nil {
			t.Errorf("reply IPv6 header %+v", ip)
		}
		src, dst = ip.SrcIP, ip.DstIP
	}
	s, _ := netip.AddrFromSlice(src)
	d, _ := netip.AddrFromSlice(dst)
	if s != v.dst || d != v.src {
		t.Errorf("reply from %s to %s, want from %s to %s", s, d, v.dst, v.src)
	}
}

// checkDNS: every question recorded, with its lower-case name and type; the
// reply answers each A question in class IN for a valid name with one
// sinkhole address.
//
// The handler's DNS parser may read as a query what gopacket's refuses (it
// does not look into the records of the other sections): then the reply
// must still be a DNS response to it, with as many questions as were
// recorded.
func checkDNS(t *testing.T, pkt []byte, v oracleView, replies [][]byte, res netobs.Result) {
	t.Helper()
	q := v.dns
	if q == nil {
		if len(replies) == 1 {
			p := decodeReply(t, replies[0])
			checkAddrs(t, p, v)
			d := replyDNS(t, p)
			if !d.QR || d.ID != binary.BigEndian.Uint16(v.udp.Payload) || (len(d.Questions) != len(res.DNS) && !res.Truncated) {
				t.Errorf("reply %+v to a query gopacket does not read, %d questions recorded", d, len(res.DNS))
			}
		}
		return
	}
	if len(res.DNS) != len(q.Questions) && !(res.Truncated && len(res.DNS) == netobs.MaxRecords) {
		t.Fatalf("%d questions recorded, gopacket reads %d", len(res.DNS), len(q.Questions))
	}
	answered := 0
	for i, rec := range res.DNS {
		qu := q.Questions[i]
		name := strings.TrimSuffix(strings.ToLower(string(qu.Name)), ".")
		// gopacket calls a type it has no mnemonic for "Unknown"; the
		// record uses RFC 3597's form.
		wantType := qu.Type.String()
		if wantType == "Unknown" {
			wantType = fmt.Sprintf("TYPE%d", uint16(qu.Type))
		}
		if rec.Name != name || rec.Type != wantType {
			t.Errorf("question %d recorded as %q %s, gopacket reads %q %s", i, rec.Name, rec.Type, name, wantType)
		}
		wantAnswer := qu.Type == layers.DNSTypeA && qu.Class == layers.DNSClassIN && name != "" && len(name) <= 253
		if (rec.Answer != "") != wantAnswer {
			t.Errorf("question %d (%q %s %s): answer %q", i, name, qu.Type, qu.Class, rec.Answer)
		}
		if rec.Answer != "" {
			answered++
		}
	}
	if len(replies) == 0 {
		// Only a reply larger than an IP packet is not sent.
		if len(pkt)+16*answered <= 65535 {
			t.Fatalf("no reply to a DNS query of %d bytes with %d answers", len(pkt), answered)
		}
		return
	}
	if len(replies) != 1 {
		t.Fatalf("%d replies to a DNS query", len(replies))
	}
	p := decodeReply(t, replies[0])
	checkAddrs(t, p, v)
	u := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u.SrcPort != v.udp.DstPort || u.DstPort != v.udp.SrcPort {
		t.Errorf("DNS reply from port %d to %d, query from %d to %d", u.SrcPort, u.DstPort, v.udp.SrcPort, v.udp.DstPort)
	}
	d := replyDNS(t, p)
	rcode := layers.DNSResponseCodeNoErr
	if q.OpCode != layers.DNSOpCodeQuery {
		rcode = layers.DNSResponseCodeNotImp
	}
	if !d.QR || d.ID != q.ID || d.OpCode != q.OpCode || d.RD != q.RD || !d.RA || d.AA || d.TC || d.ResponseCode != rcode ||
		len(d.Authorities) != 0 || len(d.Additionals) != 0 {
		t.Errorf("DNS reply header %+v to %+v", d, q)
	}
	if len(d.Questions) != len(q.Questions) {
		t.Fatalf("reply has %d questions, query %d", len(d.Questions), len(q.Questions))
	}
	for i := range d.Questions {
		if !bytes.Equal(d.Questions[i].Name, q.Questions[i].Name) || d.Questions[i].Type != q.Questions[i].Type || d.Questions[i].Class != q.Questions[i].Class {
			t.Errorf("reply question %d %+v, query %+v", i, d.Questions[i], q.Questions[i])
		}
	}
	if len(d.Answers) != answered {
		t.Fatalf("%d answers, %d recorded", len(d.Answers), answered)
	}
	j := 0
	for i, rec := range res.DNS {
		if rec.Answer == "" {
			continue
		}
		a := d.Answers[j]
		j++
		addr, _ := netip.AddrFromSlice(a.IP)
		if a.Type != layers.DNSTypeA || a.Class != layers.DNSClassIN || a.TTL != 60 || !bytes.Equal(a.Name, q.Questions[i].Name) ||
			addr.String() != rec.Answer || !netobs.SinkholeNet.Contains(addr) {
			t.Errorf("answer %d %+v, recorded %q", j, a, rec.Answer)
		}
	}
}
