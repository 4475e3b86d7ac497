package netobs_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
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
	sandboxIP  = netobs.SandboxAddr.Addr().AsSlice()
	resolverIP = netobs.ResolverAddr.AsSlice()
)

func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func dnsQuery(t testing.TB, name string, qt layers.DNSType) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: sandboxIP, DstIP: resolverIP}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	q := &layers.DNS{ID: 0x1234, RD: true, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qt, Class: layers.DNSClassIN}}}
	return build(t, ip, udp, q)
}

func syn(t testing.TB, dst string, port int) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: sandboxIP, DstIP: net.ParseIP(dst).To4()}
	tcp := &layers.TCP{SrcPort: 50000, DstPort: layers.TCPPort(port), SYN: true, Seq: 1000, Window: 64240}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return build(t, ip, tcp)
}

func decode(b []byte) gopacket.Packet {
	return gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
}

// TestHandler: DNS is answered from the sinkhole range and recorded; a
// SYN is recorded and reset; UDP is recorded and answered "port
// unreachable"; every packet both ways lands in a pcapng capture.
func TestHandler(t *testing.T) {
	var pcap bytes.Buffer
	h, err := netobs.NewHandler(&pcap)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// DNS A: a sinkhole answer, the same for the same name.
	var answers []netip.Addr
	for _, name := range []string{"pool.minexmr.com", "Pool.Minexmr.com", "example.org"} {
		r := h.Handle(now, dnsQuery(t, name, layers.DNSTypeA))
		if len(r) != 1 {
			t.Fatalf("%s: %d replies", name, len(r))
		}
		d, ok := decode(r[0]).Layer(layers.LayerTypeDNS).(*layers.DNS)
		if !ok || !d.QR || d.ID != 0x1234 || len(d.Answers) != 1 {
			t.Fatalf("%s: reply %+v", name, d)
		}
		a, _ := netip.AddrFromSlice(d.Answers[0].IP.To4())
		if !netobs.SinkholeNet.Contains(a) {
			t.Errorf("%s answered %s, outside %s", name, a, netobs.SinkholeNet)
		}
		answers = append(answers, a)
	}
	if answers[0] != answers[1] || answers[0] == answers[2] {
		t.Errorf("sinkhole addresses %v: same name must get the same address, another name another", answers)
	}
	if h.NameOf(answers[2].String()) != "example.org" {
		t.Errorf("NameOf(%s) = %q", answers[2], h.NameOf(answers[2].String()))
	}
	// AAAA: answered empty.
	r := h.Handle(now, dnsQuery(t, "example.org", layers.DNSTypeAAAA))
	if d, ok := decode(r[0]).Layer(layers.LayerTypeDNS).(*layers.DNS); !ok || len(d.Answers) != 0 || d.ResponseCode != layers.DNSResponseCodeNoErr {
		t.Errorf("AAAA reply %+v", d)
	}

	// A SYN to the name's sinkhole address: recorded with the name, reset.
	r = h.Handle(now, syn(t, answers[2].String(), 443))
	tcp, ok := decode(r[0]).Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok || !tcp.RST || !tcp.ACK || tcp.Ack != 1001 || tcp.SrcPort != 443 || tcp.DstPort != 50000 {
		t.Fatalf("reset %+v", tcp)
	}
	// Retransmission: the same attempt.
	h.Handle(now, syn(t, answers[2].String(), 443))
	h.Handle(now, syn(t, "192.0.2.1", 4444))

	// UDP elsewhere: ICMP port unreachable.
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: sandboxIP, DstIP: net.ParseIP("198.51.100.3").To4()}
	udp := &layers.UDP{SrcPort: 41000, DstPort: 123}
	_ = udp.SetNetworkLayerForChecksum(ip)
	r = h.Handle(now, build(t, ip, udp, gopacket.Payload([]byte("ntp?"))))
	if icmp, ok := decode(r[0]).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || icmp.TypeCode.Type() != layers.ICMPv4TypeDestinationUnreachable {
		t.Errorf("UDP reply %v", decode(r[0]))
	}

	res := h.Result()
	if len(res.DNS) != 4 || res.DNS[0].Name != "pool.minexmr.com" || res.DNS[3].Type != "AAAA" {
		t.Errorf("DNS %+v", res.DNS)
	}
	want := []string{"tcp example.org 443 2", "tcp  4444 1", "udp  123 1"}
	var got []string
	for _, a := range res.Attempts {
		got = append(got, strings.Join([]string{a.Proto, a.Name, strconv.Itoa(a.Port), strconv.Itoa(a.Packets)}, " "))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("attempts %q, want %q", got, want)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	// The capture holds every packet in and out.
	rd, err := pcapgo.NewNgReader(&pcap, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, _, err := rd.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	// Every packet here was answered: the capture holds both ways.
	if res.Packets != 8 || n != 2*res.Packets {
		t.Errorf("capture holds %d packets, %d came in", n, res.Packets)
	}
}

// TestParseSockets reads the kernel's socket tables.
func TestParseSockets(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0259FEA9:C350 010200C0:115C 02 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	got := netobs.ParseSockets(strings.NewReader(tcp), "tcp")
	if len(got) != 2 || got[0].Port != 8080 || got[0].Address != "0.0.0.0" || got[1].Port != 22 || got[1].Address != "127.0.0.1" {
		t.Errorf("tcp: %+v", got)
	}
	tcp6 := `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1
`
	got = netobs.ParseSockets(strings.NewReader(tcp6), "tcp6")
	if len(got) != 1 || got[0].Port != 8080 || got[0].Address != "::" {
		t.Errorf("tcp6: %+v", got)
	}
}

// FuzzHandle: packets come from the sandbox, which is hostile.
func FuzzHandle(f *testing.F) {
	f.Add(dnsQuery(f, "pool.minexmr.com", layers.DNSTypeA))
	f.Add(syn(f, "192.0.2.1", 4444))
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 17, 64})
	for _, c := range wirePackets(f) {
		f.Add(c.pkt)
	}
	for _, c := range edgeCases(f) {
		f.Add(c.pkt)
	}
	// What the handler records and answers is what gopacket reads in the
	// packet; every reply decodes with its checksums right; the capture
	// holds the packet and the replies.
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstOracle(t, b)
	})
}

// BenchmarkHandle measures the observer's cost per packet.
func BenchmarkHandle(b *testing.B) {
	for _, c := range []struct {
		name string
		pkt  []byte
	}{{"dns", dnsQuery(b, "pool.minexmr.com", layers.DNSTypeA)}, {"syn", syn(b, "192.0.2.1", 4444)}} {
		b.Run(c.name, func(b *testing.B) {
			h, err := netobs.NewHandler(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for b.Loop() {
				h.Handle(now, c.pkt)
			}
		})
	}
}
