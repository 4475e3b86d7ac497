package store

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Candidate is the prefilter's view of one affected entry of one record:
// what the matcher needs to decide whether a package version is affected,
// without decoding the full record.
type Candidate struct {
	// Feed is the feed that holds the record.
	Feed string
	// ID and Aliases identify the record.
	ID      string
	Aliases []string
	// Modified is the record's modification time (zero when unknown).
	Modified time.Time
	// Withdrawn is set when the source retracted the record: it must not
	// produce a finding.
	Withdrawn bool
	// Affected is the record's entry for the package: the package as the
	// record names it, ranges, versions, distribution status, severity and
	// note. Its EcosystemSpecific and DatabaseSpecific fields are left
	// empty; Record returns them.
	Affected vulndb.Affected
}

// The candidate encoding: a compact binary form, because the prefilter
// decodes thousands of candidates per scan and JSON costs ten times more.
//
//	format byte (candidateFormat)
//	flags byte (flagWithdrawn, flagModified)
//	[varint modified unix seconds, uvarint nanoseconds] if flagModified
//	str id, uvarint n, n × str alias
//	str ecosystem, str name, str purl, str status, str note
//	uvarint n ranges: str type, str repo, uvarint n events: byte fields, str per field
//	uvarint n versions × str
//	uvarint n severities: str type, str score, str source
//
// str is a uvarint length and the bytes.
const candidateFormat = 1

const (
	flagWithdrawn = 1 << iota
	flagModified
)

const (
	evIntroduced = 1 << iota
	evFixed
	evLastAffected
	evLimit
)

var errCorrupt = errors.New("corrupt candidate entry")

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeCandidate(b []byte, r *vulndb.Record, a *vulndb.Affected) []byte {
	b = append(b, candidateFormat)
	var flags byte
	if !r.Withdrawn.IsZero() {
		flags |= flagWithdrawn
	}
	if !r.Modified.IsZero() {
		flags |= flagModified
	}
	b = append(b, flags)
	if !r.Modified.IsZero() {
		b = binary.AppendVarint(b, r.Modified.Unix())
		b = binary.AppendUvarint(b, uint64(r.Modified.Nanosecond()))
	}
	b = appendStr(b, r.ID)
	b = binary.AppendUvarint(b, uint64(len(r.Aliases)))
	for _, s := range r.Aliases {
		b = appendStr(b, s)
	}
	return appendAffected(b, a)
}

// appendAffected encodes an affected entry without its extension objects
// (EcosystemSpecific, DatabaseSpecific).
func appendAffected(b []byte, a *vulndb.Affected) []byte {
	b = appendStr(b, a.Package.Ecosystem)
	b = appendStr(b, a.Package.Name)
	b = appendStr(b, a.Package.PURL)
	b = appendStr(b, a.Status)
	b = appendStr(b, a.Note)
	b = binary.AppendUvarint(b, uint64(len(a.Ranges)))
	for _, rg := range a.Ranges {
		b = appendStr(b, rg.Type)
		b = appendStr(b, rg.Repo)
		b = binary.AppendUvarint(b, uint64(len(rg.Events)))
		for _, e := range rg.Events {
			var f byte
			if e.Introduced != "" {
				f |= evIntroduced
			}
			if e.Fixed != "" {
				f |= evFixed
			}
			if e.LastAffected != "" {
				f |= evLastAffected
			}
			if e.Limit != "" {
				f |= evLimit
			}
			b = append(b, f)
			for _, s := range [...]string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
				if s != "" {
					b = appendStr(b, s)
				}
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(a.Versions)))
	for _, s := range a.Versions {
		b = appendStr(b, s)
	}
	return appendSeverities(b, a.Severity)
}

func appendSeverities(b []byte, sevs []vulndb.Severity) []byte {
	b = binary.AppendUvarint(b, uint64(len(sevs)))
	for _, s := range sevs {
		b = appendStr(b, s.Type)
		b = appendStr(b, s.Score)
		b = appendStr(b, s.Source)
	}
	return b
}

// decoder reads the encoding from one string, so that every decoded string
// shares that one allocation; slices come from the arena, shared by all
// candidates of one lookup.
type decoder struct {
	s     string
	pos   int
	err   error
	arena *arena
}

// arena hands out slices carved from larger blocks, cutting allocations
// per candidate from about eight to a fraction of one. Each slice is capped
// (full slice expression), so appending to it never touches its neighbours.
type arena struct {
	strs   []string
	events []vulndb.Event
	ranges []vulndb.Range
	sevs   []vulndb.Severity
}

func carve[T any](pool *[]T, n int) []T {
	if n > cap(*pool)-len(*pool) {
		// Blocks double, so a lookup with few candidates allocates
		// little and one with thousands allocates a few times.
		*pool = make([]T, 0, max(n, 2*cap(*pool), 8))
	}
	l := len(*pool)
	*pool = (*pool)[:l+n]
	return (*pool)[l : l+n : l+n]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.pos >= len(d.s) {
			d.err = errCorrupt
			return 0
		}
		c := d.s[d.pos]
		d.pos++
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) byte() byte {
	if d.err != nil || d.pos >= len(d.s) {
		d.err = errCorrupt
		return 0
	}
	c := d.s[d.pos]
	d.pos++
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.pos) {
		d.err = errCorrupt
		return ""
	}
	s := d.s[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s
}

// count reads a slice length, bounded by the bytes left (every element
// takes at least one byte).
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.s)-d.pos) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := carve(&d.arena.strs, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func decodeCandidate(feed string, v []byte, c *Candidate) error {
	return decodeCandidateString(feed, string(v), &arena{}, c)
}

// decodeCandidateString decodes from a string, taking slices from a.
func decodeCandidateString(feed, v string, a *arena, c *Candidate) error {
	d := decoder{s: v, arena: a}
	if d.byte() != candidateFormat {
		return errCorrupt
	}
	flags := d.byte()
	*c = Candidate{Feed: feed, Withdrawn: flags&flagWithdrawn != 0}
	if flags&flagModified != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			return errCorrupt
		}
		c.Modified = time.Unix(sec, int64(nsec)).UTC()
	}
	c.ID = d.str()
	c.Aliases = d.strs()
	d.affected(&c.Affected)
	if d.err == nil && d.pos != len(d.s) {
		return errCorrupt
	}
	return d.err
}

// affected decodes what appendAffected encodes into af.
func (d *decoder) affected(af *vulndb.Affected) {
	af.Package.Ecosystem = d.str()
	af.Package.Name = d.str()
	af.Package.PURL = d.str()
	af.Status = d.str()
	af.Note = d.str()
	if n := d.count(); n > 0 {
		af.Ranges = carve(&d.arena.ranges, n)
		for i := range af.Ranges {
			rg := &af.Ranges[i]
			rg.Type = d.str()
			rg.Repo = d.str()
			if m := d.count(); m > 0 {
				rg.Events = carve(&d.arena.events, m)
				for j := range rg.Events {
					e := &rg.Events[j]
					f := d.byte()
					if f&evIntroduced != 0 {
						e.Introduced = d.str()
					}
					if f&evFixed != 0 {
						e.Fixed = d.str()
					}
					if f&evLastAffected != 0 {
						e.LastAffected = d.str()
					}
					if f&evLimit != 0 {
						e.Limit = d.str()
					}
				}
			}
		}
	}
	af.Versions = d.strs()
	af.Severity = d.severities()
}

func (d *decoder) severities() []vulndb.Severity {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := carve(&d.arena.sevs, n)
	for i := range out {
		out[i] = vulndb.Severity{Type: d.str(), Score: d.str(), Source: d.str()}
	}
	return out
}
