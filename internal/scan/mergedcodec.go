package scan

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/binenc"
	"github.com/drydockscan/drydock/internal/inventory"
)

// The image entry's encoding of merged. The packages, most of an entry,
// are written field by field: a warm rescan decodes them in a fresh
// process, where encoding/json took 1.2–1.5 ms for debian12-app's 236
// packages (112 KB) and this takes a tenth. The rest — the OS, warnings
// and what the scanners examined, small and rarely present — stays JSON,
// whose pointers to zero values gob would drop.
//
//	format byte (mergedBinary)
//	uvarint n, n bytes: JSON of {OS, Warnings, Examined}
//	byte: 0 no package list (nil), 1 a list
//	uvarint n packages, each:
//	  str type, name, version, source_name, source_version, arch, purl,
//	      path, layer, owned_by
//	  varint layer_index
//	  byte flags, from bit 0: declared, needs_installed, dev, indirect, in_use
//	  strs licenses, strs files
//	  uvarint n locations: str path, str layer, varint layer_index
//	  uvarint n meta entries, by key: str key, str value
//
// str and strs are binenc's. A count of zero decodes as nil, as JSON's
// omitempty gave.
const mergedBinary = 1

var errMergedCorrupt = errors.New("corrupt image entry")

// mergedRest is the part of merged kept as JSON.
type mergedRest struct {
	OS       *inventory.OS
	Warnings []analyze.LayerFileError
	Examined Examined
}

// encodeMerged returns m's encoding.
func encodeMerged(m *merged) ([]byte, error) {
	rest, err := json.Marshal(mergedRest{OS: m.Inventory.OS, Warnings: m.Warnings, Examined: m.Examined})
	if err != nil {
		return nil, err
	}
	b := append([]byte{mergedBinary}, binary.AppendUvarint(nil, uint64(len(rest)))...)
	b = append(b, rest...)
	if m.Inventory.Packages == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(m.Inventory.Packages)))
	for i := range m.Inventory.Packages {
		p := &m.Inventory.Packages[i]
		for _, s := range [...]string{p.Type, p.Name, p.Version, p.SourceName, p.SourceVersion, p.Arch, p.PURL, p.Path, p.Layer, p.OwnedBy} {
			b = binenc.AppendStr(b, s)
		}
		b = binary.AppendVarint(b, int64(p.LayerIndex))
		var flags byte
		for bit, set := range [...]bool{p.Declared, p.NeedsInstalled, p.Dev, p.Indirect, p.InUse} {
			if set {
				flags |= 1 << bit
			}
		}
		b = append(b, flags)
		b = binenc.AppendStrs(b, p.Licenses)
		b = binenc.AppendStrs(b, p.Files)
		b = binary.AppendUvarint(b, uint64(len(p.Locations)))
		for _, l := range p.Locations {
			b = binenc.AppendStr(b, l.Path)
			b = binenc.AppendStr(b, l.Layer)
			b = binary.AppendVarint(b, int64(l.LayerIndex))
		}
		keys := make([]string, 0, len(p.Meta))
		for k := range p.Meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = binenc.AppendStr(b, k)
			b = binenc.AppendStr(b, p.Meta[k])
		}
	}
	return b, nil
}

// decodeMerged decodes what encodeMerged encodes; the strings share one
// copy of data.
func decodeMerged(data []byte, m *merged) error {
	if len(data) == 0 || data[0] != mergedBinary {
		return errMergedCorrupt
	}
	r := binenc.NewReader(string(data[1:]))
	rest := r.Str()
	if r.Failed() {
		return errMergedCorrupt
	}
	var mr mergedRest
	if err := json.Unmarshal([]byte(rest), &mr); err != nil {
		return err
	}
	*m = merged{Inventory: inventory.Inventory{OS: mr.OS}, Warnings: mr.Warnings, Examined: mr.Examined}
	switch r.Byte() {
	case 0:
	case 1:
		// A package takes at least 15 bytes (ten lengths, the index,
		// the flags and three counts).
		m.Inventory.Packages = make([]inventory.Package, r.Count(15))
	default:
		return errMergedCorrupt
	}
	for i := range m.Inventory.Packages {
		p := &m.Inventory.Packages[i]
		for _, s := range [...]*string{&p.Type, &p.Name, &p.Version, &p.SourceName, &p.SourceVersion, &p.Arch, &p.PURL, &p.Path, &p.Layer, &p.OwnedBy} {
			*s = r.Str()
		}
		p.LayerIndex = int(r.Varint())
		flags := r.Byte()
		for bit, set := range [...]*bool{&p.Declared, &p.NeedsInstalled, &p.Dev, &p.Indirect, &p.InUse} {
			*set = flags&(1<<bit) != 0
		}
		p.Licenses = r.Strs()
		p.Files = r.Strs()
		if n := r.Count(3); n > 0 {
			p.Locations = make([]inventory.Location, n)
			for j := range p.Locations {
				p.Locations[j] = inventory.Location{Path: r.Str(), Layer: r.Str(), LayerIndex: int(r.Varint())}
			}
		}
		if n := r.Count(2); n > 0 {
			p.Meta = make(map[string]string, n)
			for range n {
				k := r.Str()
				p.Meta[k] = r.Str()
			}
		}
		if r.Failed() {
			return errMergedCorrupt
		}
	}
	if !r.Done() {
		return errMergedCorrupt
	}
	return nil
}
