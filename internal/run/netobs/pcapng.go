package netobs

import (
	"bufio"
	"encoding/binary"
	"time"
)

// pcapng block types and option codes (the PCAP Next Generation format,
// draft-ietf-opsawg-pcapng).
const (
	blockSectionHeader   = 0x0a0d0d0a
	blockInterface       = 0x00000001
	blockEnhancedPacket  = 0x00000006
	byteOrderMagic       = 0x1a2b3c4d
	optEnd               = 0
	optSHBUserAppl       = 4
	optIfName            = 2
	optIfDescription     = 3
	linkTypeRaw          = 101 // LINKTYPE_RAW: the packet starts with its IPv4 or IPv6 header
	epbFixedLen          = 28  // block type, length, interface, timestamp, lengths
	blockTrailerLen      = 4
	pcapngPacketOverhead = epbFixedLen + blockTrailerLen
)

// pcapngWriter writes a pcapng capture of one section with one raw-IP
// interface; timestamps are in microseconds (the format's default
// resolution). Blocks are little-endian.
type pcapngWriter struct {
	w *bufio.Writer
}

// pcapngInterface describes the capture's one interface.
type pcapngInterface struct {
	name, description string
	snapLen           uint32
}

func newPcapngWriter(w *bufio.Writer, application string, intf pcapngInterface) (*pcapngWriter, error) {
	p := &pcapngWriter{w: w}
	shb := binary.LittleEndian.AppendUint32(nil, byteOrderMagic)
	shb = binary.LittleEndian.AppendUint16(shb, 1) // version 1.0
	shb = binary.LittleEndian.AppendUint16(shb, 0)
	shb = binary.LittleEndian.AppendUint64(shb, ^uint64(0)) // section length: not given
	shb = appendOptions(shb, option{optSHBUserAppl, application})
	if err := p.block(blockSectionHeader, shb); err != nil {
		return nil, err
	}
	idb := binary.LittleEndian.AppendUint16(nil, linkTypeRaw)
	idb = binary.LittleEndian.AppendUint16(idb, 0) // reserved
	idb = binary.LittleEndian.AppendUint32(idb, intf.snapLen)
	idb = appendOptions(idb, option{optIfName, intf.name}, option{optIfDescription, intf.description})
	if err := p.block(blockInterface, idb); err != nil {
		return nil, err
	}
	return p, nil
}

type option struct {
	code  uint16
	value string
}

// appendOptions appends options (empty ones left out) and the end of
// options, each padded to 32 bits.
func appendOptions(b []byte, opts ...option) []byte {
	n := 0
	for _, o := range opts {
		if o.value == "" || len(o.value) > 0xffff {
			continue
		}
		b = binary.LittleEndian.AppendUint16(b, o.code)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(o.value)))
		b = append(b, o.value...)
		b = append(b, make([]byte, pad4(len(o.value)))...)
		n++
	}
	if n == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint32(b, optEnd)
}

func pad4(n int) int { return (4 - n&3) & 3 }

// block writes a block whose body (after type and length, before the
// trailing length) is body, a multiple of 4 bytes.
func (p *pcapngWriter) block(typ uint32, body []byte) error {
	n := uint32(8 + len(body) + blockTrailerLen)
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:4], typ)
	binary.LittleEndian.PutUint32(hdr[4:8], n)
	p.w.Write(hdr[:])
	p.w.Write(body)
	_, err := p.w.Write(hdr[4:8])
	return err
}

// writePacket writes an Enhanced Packet Block: data is the captured part
// of a packet of origLen bytes seen at t. Write errors stick in the
// buffered writer and are returned by flush.
func (p *pcapngWriter) writePacket(t time.Time, data []byte, origLen int) error {
	padding := pad4(len(data))
	n := uint32(pcapngPacketOverhead + len(data) + padding)
	ts := uint64(t.UnixMicro())
	var hdr [epbFixedLen]byte
	binary.LittleEndian.PutUint32(hdr[0:4], blockEnhancedPacket)
	binary.LittleEndian.PutUint32(hdr[4:8], n)
	binary.LittleEndian.PutUint32(hdr[8:12], 0) // interface 0
	binary.LittleEndian.PutUint32(hdr[12:16], uint32(ts>>32))
	binary.LittleEndian.PutUint32(hdr[16:20], uint32(ts))
	binary.LittleEndian.PutUint32(hdr[20:24], uint32(len(data)))
	binary.LittleEndian.PutUint32(hdr[24:28], uint32(origLen))
	p.w.Write(hdr[:])
	p.w.Write(data)
	var zero [4]byte
	p.w.Write(zero[:padding])
	_, err := p.w.Write(hdr[4:8])
	return err
}

func (p *pcapngWriter) flush() error { return p.w.Flush() }
