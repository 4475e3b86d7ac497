package store

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/drydockscan/drydock/internal/binenc"
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
// str is a uvarint length and the bytes (binenc), a time a varint of
// unix seconds and a uvarint of nanoseconds, read back in UTC.
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

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func (d *decoder) time() time.Time {
	sec := d.Varint()
	nsec := d.Uvarint()
	if nsec >= 1e9 {
		d.Fail()
	}
	if d.Failed() {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
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
		b = appendTime(b, r.Modified)
	}
	b = binenc.AppendStr(b, r.ID)
	b = binenc.AppendStrs(b, r.Aliases)
	return appendAffected(b, a)
}

// appendAffected encodes an affected entry without its extension objects
// (EcosystemSpecific, DatabaseSpecific).
func appendAffected(b []byte, a *vulndb.Affected) []byte {
	b = binenc.AppendStr(b, a.Package.Ecosystem)
	b = binenc.AppendStr(b, a.Package.Name)
	b = binenc.AppendStr(b, a.Package.PURL)
	b = binenc.AppendStr(b, a.Status)
	b = binenc.AppendStr(b, a.Note)
	b = binary.AppendUvarint(b, uint64(len(a.Ranges)))
	for _, rg := range a.Ranges {
		b = binenc.AppendStr(b, rg.Type)
		b = binenc.AppendStr(b, rg.Repo)
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
					b = binenc.AppendStr(b, s)
				}
			}
		}
	}
	b = binenc.AppendStrs(b, a.Versions)
	return appendSeverities(b, a.Severity)
}

func appendSeverities(b []byte, sevs []vulndb.Severity) []byte {
	b = binary.AppendUvarint(b, uint64(len(sevs)))
	for _, s := range sevs {
		b = binenc.AppendStr(b, s.Type)
		b = binenc.AppendStr(b, s.Score)
		b = binenc.AppendStr(b, s.Source)
	}
	return b
}

// decoder reads the encoding from one string, so that every decoded string
// shares that one allocation; slices come from the arena, shared by all
// candidates of one lookup.
type decoder struct {
	binenc.Reader
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

// strs is Reader.Strs with the slice from the arena.
func (d *decoder) strs() []string {
	n := d.Count(1)
	if n == 0 {
		return nil
	}
	out := carve(&d.arena.strs, n)
	for i := range out {
		out[i] = d.Str()
	}
	return out
}

func decodeCandidate(feed string, v []byte, c *Candidate) error {
	return decodeCandidateString(feed, string(v), &arena{}, c)
}

// decodeCandidateString decodes from a string, taking slices from a.
func decodeCandidateString(feed, v string, a *arena, c *Candidate) error {
	d := decoder{Reader: binenc.NewReader(v), arena: a}
	if d.Byte() != candidateFormat {
		return errCorrupt
	}
	flags := d.Byte()
	*c = Candidate{Feed: feed, Withdrawn: flags&flagWithdrawn != 0}
	if flags&flagModified != 0 {
		c.Modified = d.time()
	}
	c.ID = d.Str()
	c.Aliases = d.strs()
	d.affected(&c.Affected)
	if !d.Done() {
		return errCorrupt
	}
	return nil
}

// affected decodes what appendAffected encodes into af.
func (d *decoder) affected(af *vulndb.Affected) {
	af.Package.Ecosystem = d.Str()
	af.Package.Name = d.Str()
	af.Package.PURL = d.Str()
	af.Status = d.Str()
	af.Note = d.Str()
	if n := d.Count(1); n > 0 {
		af.Ranges = carve(&d.arena.ranges, n)
		for i := range af.Ranges {
			rg := &af.Ranges[i]
			rg.Type = d.Str()
			rg.Repo = d.Str()
			if m := d.Count(1); m > 0 {
				rg.Events = carve(&d.arena.events, m)
				for j := range rg.Events {
					e := &rg.Events[j]
					f := d.Byte()
					if f&evIntroduced != 0 {
						e.Introduced = d.Str()
					}
					if f&evFixed != 0 {
						e.Fixed = d.Str()
					}
					if f&evLastAffected != 0 {
						e.LastAffected = d.Str()
					}
					if f&evLimit != 0 {
						e.Limit = d.Str()
					}
				}
			}
		}
	}
	af.Versions = d.strs()
	af.Severity = d.severities()
}

func (d *decoder) severities() []vulndb.Severity {
	n := d.Count(1)
	if n == 0 {
		return nil
	}
	out := carve(&d.arena.sevs, n)
	for i := range out {
		out[i] = vulndb.Severity{Type: d.Str(), Score: d.Str(), Source: d.Str()}
	}
	return out
}
