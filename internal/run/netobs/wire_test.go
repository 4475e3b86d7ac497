package netobs_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/drydockscan/drydock/internal/run/netobs"
)

var (
	sandboxIP6  = netobs.SandboxAddr6.Addr().AsSlice()
	resolverIP6 = net.ParseIP("fd89:d7d0::1")
)

// ipLayer is the IP header of a packet from the sandbox to dst (IPv4 or
// IPv6 by dst's form) carrying proto.
func ipLayer(dst string, proto layers.IPProtocol) gopacket.NetworkLayer {
	ip := net.ParseIP(dst)
	if ip4 := ip.To4(); ip4 != nil {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: sandboxIP, DstIP: ip4}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: sandboxIP6, DstIP: ip}
}

func tcpPacket(t testing.TB, dst string, tcp *layers.TCP, payload []byte) []byte {
	ip := ipLayer(dst, layers.IPProtocolTCP)
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return build(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

func udpPacket(t testing.TB, dst string, sport, dport int, payload gopacket.SerializableLayer) []byte {
	ip := ipLayer(dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return build(t, ip.(gopacket.SerializableLayer), udp, payload)
}

func dnsPacket(t testing.TB, dst string, q *layers.DNS) []byte {
	return udpPacket(t, dst, 40000, 53, q)
}

func echoPacket(t testing.TB, dst string) []byte {
	if ip4 := net.ParseIP(dst).To4(); ip4 != nil {
		ip := ipLayer(dst, layers.IPProtocolICMPv4)
		return build(t, ip.(gopacket.SerializableLayer), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
	}
	ip := ipLayer(dst, layers.IPProtocolICMPv6).(*layers.IPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	_ = icmp.SetNetworkLayerForChecksum(ip)
	return build(t, ip, icmp, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, gopacket.Payload("ping"))
}

func question(name string, qt layers.DNSType) layers.DNSQuestion {
	return layers.DNSQuestion{Name: []byte(name), Type: qt, Class: layers.DNSClassIN}
}

// wirePackets are packets of every kind the handler answers or records,
// over IPv4 and IPv6.
func wirePackets(t testing.TB) []struct {
	name string
	pkt  []byte
} {
	var out []struct {
		name string
		pkt  []byte
	}
	add := func(name string, pkt []byte) {
		out = append(out, struct {
			name string
			pkt  []byte
		}{name, pkt})
	}
	for _, fam := range []struct{ name, remote, resolver string }{
		{"ipv4", "192.0.2.1", netobs.ResolverAddr.String()},
		{"ipv6", "2001:db8::1", resolverIP6.String()},
	} {
		add(fam.name+"/syn", tcpPacket(t, fam.remote, &layers.TCP{SrcPort: 50000, DstPort: 4444, SYN: true, Seq: 1000, Window: 64240}, nil))
		add(fam.name+"/syn with data", tcpPacket(t, fam.remote, &layers.TCP{SrcPort: 50000, DstPort: 443, SYN: true, Seq: 0xfffffff0, Window: 64240}, []byte("fast open data")))
		add(fam.name+"/ack with data", tcpPacket(t, fam.remote, &layers.TCP{SrcPort: 50001, DstPort: 80, ACK: true, PSH: true, Seq: 5, Ack: 77, Window: 100}, []byte("GET / HTTP/1.0\r\n\r\n")))
		add(fam.name+"/fin", tcpPacket(t, fam.remote, &layers.TCP{SrcPort: 50002, DstPort: 80, FIN: true, Seq: 9}, []byte("x")))
		add(fam.name+"/udp", udpPacket(t, fam.remote, 41000, 123, gopacket.Payload("ntp?")))
		add(fam.name+"/udp odd length", udpPacket(t, fam.remote, 41000, 9999, gopacket.Payload("abc")))
		add(fam.name+"/dns A", dnsPacket(t, fam.resolver, &layers.DNS{ID: 1, RD: true, Questions: []layers.DNSQuestion{question("pool.minexmr.com", layers.DNSTypeA)}}))
		add(fam.name+"/dns AAAA", dnsPacket(t, fam.resolver, &layers.DNS{ID: 2, RD: true, Questions: []layers.DNSQuestion{question("example.org", layers.DNSTypeAAAA)}}))
		add(fam.name+"/dns two questions", dnsPacket(t, fam.resolver, &layers.DNS{ID: 3, Questions: []layers.DNSQuestion{
			question("a.example", layers.DNSTypeA), question("B.Example", layers.DNSTypeTXT), question("c.example", layers.DNSTypeHTTPS)}}))
		add(fam.name+"/dns type without a mnemonic", dnsPacket(t, fam.resolver, &layers.DNS{ID: 8, RD: true, Questions: []layers.DNSQuestion{question("odd.example", layers.DNSType(999))}}))
		add(fam.name+"/dns status opcode", dnsPacket(t, fam.resolver, &layers.DNS{ID: 4, OpCode: layers.DNSOpCodeStatus, Questions: []layers.DNSQuestion{question("x.example", layers.DNSTypeA)}}))
		add(fam.name+"/dns to another server", dnsPacket(t, fam.remote, &layers.DNS{ID: 5, RD: true, Questions: []layers.DNSQuestion{question("dns.example", layers.DNSTypeA)}}))
		add(fam.name+"/dns with EDNS", dnsPacket(t, fam.resolver, &layers.DNS{ID: 6, RD: true, Questions: []layers.DNSQuestion{question("edns.example", layers.DNSTypeA)},
			Additionals: []layers.DNSResourceRecord{{Type: layers.DNSTypeOPT, Class: 1232}}}))
		add(fam.name+"/dns response", dnsPacket(t, fam.resolver, &layers.DNS{ID: 7, QR: true, Questions: []layers.DNSQuestion{question("resp.example", layers.DNSTypeA)}}))
		add(fam.name+"/echo", echoPacket(t, fam.remote))
	}
	return out
}

// TestRepliesDecode: every reply the handler builds, over IPv4 and IPv6,
// decodes with gopacket with every checksum right, says what RFC 793, 792,
// 4443 and 1035 say it should (checked against gopacket's reading of the
// packet that was answered), and is byte for byte what gopacket builds
// from the same layers. Every test packet but the echo requests (recorded,
// never answered) gets one reply: a reset, a DNS answer, or port
// unreachable.
func TestRepliesDecode(t *testing.T) {
	for _, c := range wirePackets(t) {
		t.Run(c.name, func(t *testing.T) {
			if v := oracle(c.pkt); v.kind == "" || v.skip {
				t.Fatalf("gopacket does not read the test packet as one to answer: %+v", v)
			}
			checkAgainstOracle(t, c.pkt)

			h, err := netobs.NewHandler(nil)
			if err != nil {
				t.Fatal(err)
			}
			replies := h.Handle(time.Now(), c.pkt)
			want := 1
			if strings.HasSuffix(c.name, "/echo") {
				want = 0
			}
			if len(replies) != want {
				t.Errorf("%d replies, want %d", len(replies), want)
			}
			for _, r := range replies {
				if got, want := r, reserialize(t, r); !bytes.Equal(got, want) {
					t.Errorf("reply differs from gopacket's serialization of its layers:\n got %x\nwant %x", got, want)
				}
			}
		})
	}
}

// reserialize decodes a reply and serializes its layers again with
// gopacket computing every length and checksum.
func reserialize(t *testing.T, b []byte) []byte {
	t.Helper()
	p := decodeReply(t, b)
	var ls []gopacket.SerializableLayer
	nl := p.NetworkLayer()
	switch ip := nl.(type) {
	case *layers.IPv4:
		c := *ip
		c.Checksum = 0
		ls = append(ls, &c)
		nl = &c
	case *layers.IPv6:
		c := *ip
		ls = append(ls, &c)
		nl = &c
	}
	switch l := p.Layers()[1].(type) {
	case *layers.TCP:
		c := *l
		c.Checksum = 0
		_ = c.SetNetworkLayerForChecksum(nl)
		ls = append(ls, &c, gopacket.Payload(l.Payload))
	case *layers.UDP:
		c := *l
		c.Checksum = 0
		_ = c.SetNetworkLayerForChecksum(nl)
		ls = append(ls, &c, gopacket.Payload(l.Payload))
	case *layers.ICMPv4:
		c := *l
		c.Checksum = 0
		ls = append(ls, &c, gopacket.Payload(l.Payload))
	case *layers.ICMPv6:
		c := *l
		c.Checksum = 0
		_ = c.SetNetworkLayerForChecksum(nl)
		ls = append(ls, &c, gopacket.Payload(l.Payload))
	default:
		t.Fatalf("unexpected reply layer %v", l.LayerType())
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type captured struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// readCapture reads a capture with gopacket's pcapng reader (see
// eachCaptured).
func readCapture(t testing.TB, b []byte) []captured {
	t.Helper()
	var out []captured
	eachCaptured(t, bytes.NewReader(b), func(data []byte, ci gopacket.CaptureInfo) {
		out = append(out, captured{bytes.Clone(data), ci})
	})
	return out
}

// eachCaptured reads a capture with gopacket's pcapng reader, checks its
// section and interface, and calls f for each packet.
func eachCaptured(t testing.TB, rd io.Reader, f func(data []byte, ci gopacket.CaptureInfo)) {
	t.Helper()
	r, err := pcapgo.NewNgReader(rd, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("pcapng: %v", err)
	}
	if r.LinkType() != layers.LinkTypeRaw || r.NInterfaces() != 1 {
		t.Errorf("link type %v, %d interfaces", r.LinkType(), r.NInterfaces())
	}
	intf, _ := r.Interface(0)
	if intf.Name != "drydock-sandbox" || intf.Description != "drydock run sandbox network (nothing forwarded)" || intf.SnapLength != 65535 ||
		intf.Resolution() != gopacket.TimestampResolutionMicrosecond {
		t.Errorf("interface %+v", intf)
	}
	if a := r.SectionInfo().Application; a != "drydock run" {
		t.Errorf("application %q", a)
	}
	for n := 0; ; n++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("pcapng packet %d: %v", n, err)
		}
		if ci.CaptureLength != len(data) || ci.InterfaceIndex != 0 {
			t.Errorf("packet %d: %+v", n, ci)
		}
		f(data, ci)
	}
}

// TestCapture: the capture holds every packet both ways, in order, with
// its time to the microsecond, and reads back with gopacket's pcapng
// reader and with tshark. A packet longer than the snap length is cut to
// it and keeps its length.
func TestCapture(t *testing.T) {
	var buf bytes.Buffer
	h, err := netobs.NewHandler(&buf)
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		at  time.Time
		pkt []byte
	}
	var want []sent
	at := time.Date(2025, 3, 1, 12, 0, 0, 999, time.UTC)
	for i, c := range wirePackets(t) {
		at = at.Add(time.Duration(i)*time.Second + 1234567*time.Nanosecond)
		want = append(want, sent{at, c.pkt})
		for _, r := range h.Handle(at, c.pkt) {
			want = append(want, sent{at, r})
		}
	}
	// Longer than the snap length: not IP, captured and not answered.
	big := bytes.Repeat([]byte{0xff}, 65536)
	at = at.Add(time.Second)
	if r := h.Handle(at, big); len(r) != 0 {
		t.Errorf("%d replies to garbage", len(r))
	}
	want = append(want, sent{at, big})
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if h.Result().Truncated {
		t.Error("result truncated")
	}
	got := readCapture(t, buf.Bytes())
	if len(got) != len(want) {
		t.Fatalf("capture holds %d packets, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		n := min(len(w.pkt), 65535)
		if !bytes.Equal(g.data, w.pkt[:n]) || g.ci.Length != len(w.pkt) || !g.ci.Timestamp.Equal(w.at.Truncate(time.Microsecond)) {
			t.Errorf("packet %d: %d/%d bytes at %v, want %d/%d at %v", i, g.ci.CaptureLength, g.ci.Length, g.ci.Timestamp, n, len(w.pkt), w.at)
		}
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("DRYDOCK_REQUIRE_ENGINES") == "1" {
			t.Fatal("tshark missing")
		}
		t.Skip("tshark is not installed")
	}
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Checksum status 1 is "good" (0 bad, 2 unverified: the datagram an
	// ICMP error quotes is cut).
	cmd := exec.Command("tshark", "-r", path, "-n", "-T", "fields", "-E", "separator=|",
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "dns.qry.name", "-e", "dns.a",
		"-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "icmp.checksum.status", "-e", "icmpv6.checksum.status")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tshark reads %d packets, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		f := strings.Split(l, "|")
		w := want[i]
		if len(f) != 12 {
			t.Fatalf("tshark line %q", l)
		}
		if at := tsharkTime(t, f[0]); !at.Equal(w.at.Truncate(time.Microsecond)) {
			t.Errorf("tshark packet %d at %v (%s), want %v", i, at, f[0], w.at.Truncate(time.Microsecond))
		}
		if f[1] != strconv.Itoa(len(w.pkt)) || f[2] != strconv.Itoa(min(len(w.pkt), 65535)) {
			t.Errorf("tshark packet %d lengths %s/%s, want %d", i, f[1], f[2], len(w.pkt))
		}
		// An ICMP error (two IP destinations) quotes a datagram it cuts,
		// whose transport checksum cannot be checked.
		quotes := strings.Contains(f[3], ",")
		checked := 0
		for _, st := range f[7:] {
			for _, v := range strings.Split(st, ",") {
				if v == "" {
					continue
				}
				checked++
				if v != "1" && !(quotes && v == "2") {
					t.Errorf("tshark packet %d: checksum status %s: %s", i, st, l)
				}
			}
		}
		if checked == 0 && w.pkt[0]>>4 == 4 {
			t.Errorf("tshark packet %d: no checksum checked: %s", i, l)
		}
	}
	text := string(out)
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "pool.minexmr.com", "198.18.0."} {
		if !strings.Contains(text, s) {
			t.Errorf("tshark output lacks %s:\n%s", s, text)
		}
	}
}

// tsharkTime reads tshark's frame.time_epoch (seconds.fraction).
func tsharkTime(t *testing.T, s string) time.Time {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	n, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("tshark time %q", s)
	}
	return time.Unix(n, ns)
}

// TestCaptureCap: the capture stops at MaxPcapBytes and the result says
// so; what was written still reads back.
func TestCaptureCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	h, err := netobs.NewHandler(file)
	if err != nil {
		t.Fatal(err)
	}
	pkt := udpPacket(t, "192.0.2.7", 40000, 9, gopacket.Payload(make([]byte, 60000)))
	now := time.Now()
	sent := 0
	for !h.Result().Truncated {
		if sent > 2*netobs.MaxPcapBytes/len(pkt) {
			t.Fatal("the capture was never cut")
		}
		h.Handle(now, pkt)
		sent++
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if fi, err := file.Stat(); err != nil || fi.Size() > netobs.MaxPcapBytes+1024 {
		t.Errorf("capture file: %v, %v; cap %d", fi.Size(), err, netobs.MaxPcapBytes)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	// Each datagram is captured with its ICMP reply until the next
	// packet would pass the cap.
	n, total := 0, 0
	eachCaptured(t, bufio.NewReader(file), func(data []byte, _ gopacket.CaptureInfo) {
		n++
		total += len(data) + 32 // the block around each packet
	})
	if n >= 2*sent || total > netobs.MaxPcapBytes || total < netobs.MaxPcapBytes-len(pkt) {
		t.Errorf("%d packets (%d bytes with their blocks) captured of %d sent and answered; cap %d", n, total, 2*sent, netobs.MaxPcapBytes)
	}
	if a := h.Result().Attempts; len(a) != 1 || a[0].Packets != sent {
		t.Errorf("attempts %+v after %d datagrams", a, sent)
	}
}

// TestUDPChecksumAllOnes: a UDP checksum that computes to 0 is sent as
// 0xffff (RFC 768; 0 would mean "no checksum", which IPv6 forbids). The
// query ID that makes the reply's sum come out so is the checksum of the
// reply to the same query with ID 0: the ID is summed once, and a sum plus
// its complement is all ones.
func TestUDPChecksumAllOnes(t *testing.T) {
	for _, resolver := range []string{netobs.ResolverAddr.String(), resolverIP6.String()} {
		reply := func(id uint16) *layers.UDP {
			h, err := netobs.NewHandler(nil)
			if err != nil {
				t.Fatal(err)
			}
			q := &layers.DNS{ID: id, RD: true, Questions: []layers.DNSQuestion{question("zero.example", layers.DNSTypeA)}}
			r := h.Handle(time.Now(), dnsPacket(t, resolver, q))
			if len(r) != 1 {
				t.Fatalf("%d replies", len(r))
			}
			return decodeReply(t, r[0]).Layer(layers.LayerTypeUDP).(*layers.UDP)
		}
		id := reply(0).Checksum
		if u := reply(id); u.Checksum != 0xffff {
			t.Errorf("%s: reply to ID %#04x has checksum %#04x, want 0xffff", resolver, id, u.Checksum)
		}
	}
}

// ext is an extension header to splice into an IPv6 packet: its protocol
// number and bytes (the next-header byte is filled in).
type ext struct {
	proto byte
	b     []byte
}

// withExtensions inserts extension headers after the IPv6 header of pkt.
func withExtensions(pkt []byte, exts ...ext) []byte {
	out := bytes.Clone(pkt[:40])
	next := pkt[6]
	out[6] = exts[0].proto
	for i, e := range exts {
		b := bytes.Clone(e.b)
		if i+1 < len(exts) {
			b[0] = exts[i+1].proto
		} else {
			b[0] = next
		}
		out = append(out, b...)
	}
	out = append(out, pkt[40:]...)
	binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-40))
	return out
}

type edgeCase struct {
	name     string
	pkt      []byte
	kind     string // what gopacket reads; "skip" for the RFC 6946 case
	attempts int
	replies  int
}

// edgeCases are packets with extension headers, fragments, options,
// encapsulation and malformed headers.
func edgeCases(t testing.TB) []edgeCase {
	syn6 := tcpPacket(t, "2001:db8::7", &layers.TCP{SrcPort: 50000, DstPort: 8443, SYN: true, Seq: 1}, nil)
	udp6 := udpPacket(t, "2001:db8::7", 40000, 4500, gopacket.Payload("payload"))
	syn4 := tcpPacket(t, "192.0.2.9", &layers.TCP{SrcPort: 50000, DstPort: 8443, SYN: true, Seq: 1}, nil)
	udp4 := udpPacket(t, "192.0.2.9", 40000, 4500, gopacket.Payload("payload"))
	hopByHop := ext{0, []byte{0, 0, 1, 4, 0, 0, 0, 0}}   // PadN
	routing := ext{43, []byte{0, 0, 4, 0, 0, 0, 0, 0}}   // segment routing, no segments left
	dstOpts := ext{60, []byte{0, 0, 0, 0, 0, 0, 0, 0}}   // six Pad1
	atomic := ext{44, []byte{0, 0, 0, 0, 0, 0, 0, 1}}    // offset 0, no more fragments
	firstFrag := ext{44, []byte{0, 0, 0, 1, 0, 0, 0, 1}} // offset 0, more fragments
	ah := ext{51, []byte{0, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}
	badOpt := ext{60, []byte{0, 0, 1, 9, 0, 0, 0, 0}}  // PadN longer than the header
	jumbo := ext{0, []byte{0, 0, 0xc2, 4, 0, 1, 0, 0}} // jumbo payload length 65536
	set := func(pkt []byte, f func(b []byte)) []byte {
		b := bytes.Clone(pkt)
		f(b)
		return b
	}
	mf := set(udp4, func(b []byte) { b[6] |= 0x20 })
	ipip := build(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolIPv4, SrcIP: sandboxIP, DstIP: net.ParseIP("192.0.2.10").To4()}, gopacket.Payload(syn4))
	withOpts := build(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: sandboxIP, DstIP: net.ParseIP("192.0.2.11").To4(),
		Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}}}, gopacket.Payload(syn4[20:]))
	// The record route option claims 40 bytes in an 8-byte option area.
	badV4Opt := set(withOpts, func(b []byte) { b[22] = 40 })
	ahV4 := func() []byte {
		b := append(bytes.Clone(udp4[:20]), ah.b...)
		b[20] = byte(layers.IPProtocolUDP)
		b = append(b, udp4[20:]...)
		b[9] = byte(layers.IPProtocolAH)
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		return b
	}()
	cutUDP := set(udp4, func(b []byte) { binary.BigEndian.PutUint16(b[2:4], 20+8+3) })
	offset4 := set(syn4, func(b []byte) { b[32] = 4 << 4 })
	udpLen5 := set(udp4, func(b []byte) { binary.BigEndian.PutUint16(b[24:26], 5) })
	zeroLen6 := set(syn6, func(b []byte) { binary.BigEndian.PutUint16(b[4:6], 0) })
	sctp6 := set(syn6, func(b []byte) { b[6] = 132 })
	echoReply := set(echoPacket(t, "192.0.2.12"), func(b []byte) { b[20] = 0 })
	shortHeader := set(syn4, func(b []byte) { b[0] = 0x4f })
	// A label with a dot in it ("x.example" as one label): not a name the
	// handler's DNS parser accepts, so a datagram like any other.
	dotted := dnsPacket(t, netobs.ResolverAddr.String(), &layers.DNS{ID: 9, Questions: []layers.DNSQuestion{question("x.example", layers.DNSTypeA)}})
	dotted[20+8+12+1] = '.'

	return []edgeCase{
		{"ipv6 hop-by-hop, routing, destination options, SYN", withExtensions(syn6, hopByHop, routing, dstOpts), "tcp", 1, 1},
		{"ipv6 authentication header, SYN", withExtensions(syn6, ah), "tcp", 1, 1},
		{"ipv6 destination options, UDP", withExtensions(udp6, dstOpts), "udp", 1, 1},
		{"ipv6 first fragment of UDP", withExtensions(udp6, firstFrag), "", 0, 0},
		{"ipv6 atomic fragment, SYN", withExtensions(syn6, atomic), "skip", 1, 1},
		{"ipv6 malformed destination option", withExtensions(syn6, badOpt), "", 0, 0},
		{"ipv6 jumbo option with a payload length", withExtensions(syn6, jumbo), "", 0, 0},
		{"ipv6 payload length 0", zeroLen6, "", 0, 0},
		{"ipv6 SCTP", sctp6, "", 0, 0},
		{"ipv4 first fragment of UDP", mf, "", 0, 0},
		{"ipv4 options, SYN", withOpts, "tcp", 1, 1},
		{"ipv4 option past the header", badV4Opt, "", 0, 0},
		{"ipv4 authentication header, UDP", ahV4, "udp", 1, 1},
		{"ipv4 length cuts the datagram", cutUDP, "udp", 1, 1},
		{"ipv4 header longer than the packet", shortHeader, "", 0, 0},
		{"ipv4 in ipv4", ipip, "", 0, 0},
		{"tcp data offset 4", offset4, "", 0, 0},
		{"udp length 5", udpLen5, "", 0, 0},
		{"icmp echo reply", echoReply, "", 0, 0},
		{"dns label with a dot", dotted, "udp", 1, 1},
		// ICMP errors: none about a datagram to a group or the broadcast
		// address, or from no single host; an IPv6 one quotes no more
		// than fits in 1,280 bytes.
		{"udp to an ipv4 multicast group", udpPacket(t, "224.0.0.251", 5353, 5353, gopacket.Payload("mdns")), "udp", 1, 0},
		{"udp to an ipv6 multicast group", udpPacket(t, "ff02::fb", 5353, 5353, gopacket.Payload("mdns")), "udp", 1, 0},
		{"udp to the ipv4 broadcast address", udpPacket(t, "255.255.255.255", 68, 67, gopacket.Payload("dhcp")), "udp", 1, 0},
		{"udp from the unspecified ipv4 address", set(udp4, func(b []byte) { copy(b[12:16], []byte{0, 0, 0, 0}) }), "udp", 1, 0},
		{"udp from the unspecified ipv6 address", set(udp6, func(b []byte) { clear(b[8:24]) }), "udp", 1, 0},
		{"syn to an ipv4 multicast group", tcpPacket(t, "224.0.0.1", &layers.TCP{SrcPort: 50000, DstPort: 80, SYN: true, Seq: 1}, nil), "tcp", 1, 0},
		{"syn to an ipv6 multicast group", tcpPacket(t, "ff02::1", &layers.TCP{SrcPort: 50000, DstPort: 80, SYN: true, Seq: 1}, nil), "tcp", 1, 0},
		{"ipv6 udp larger than an error may quote", udpPacket(t, "2001:db8::7", 40000, 4500, gopacket.Payload(bytes.Repeat([]byte("x"), 1400))), "udp", 1, 1},
	}
}

// TestPacketEdges: extension headers, fragments, options, encapsulation and
// malformed headers. What the handler does is checked against gopacket's
// reading of each packet (checkAgainstOracle); kind is what gopacket must
// read, so the case tests what it says; attempts and replies are what the
// handler must record and send.
func TestPacketEdges(t *testing.T) {
	for _, c := range edgeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			v := oracle(c.pkt)
			kind := v.kind
			if v.skip {
				kind = "skip"
			}
			if kind != c.kind {
				t.Fatalf("gopacket reads %q, the case says %q", kind, c.kind)
			}
			if strings.HasPrefix(c.name, "dns") && v.dns == nil {
				t.Fatal("gopacket does not read the case as a DNS query")
			}
			checkAgainstOracle(t, c.pkt)
			h, err := netobs.NewHandler(nil)
			if err != nil {
				t.Fatal(err)
			}
			r := h.Handle(time.Now(), c.pkt)
			res := h.Result()
			if len(res.Attempts) != c.attempts || len(r) != c.replies || len(res.DNS) != 0 {
				t.Errorf("%d attempts %+v, %d replies, DNS %+v; want %d attempts, %d replies", len(res.Attempts), res.Attempts, len(r), res.DNS, c.attempts, c.replies)
			}
			for _, b := range r {
				decodeReply(t, b)
			}
		})
	}
}
