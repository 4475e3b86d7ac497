package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// The record encoding: the candidate encoding's primitives for a whole
// record, because a scan decodes every record that matched and JSON was
// most of a warm rescan's matching (encoding/json reads ~50 MB/s; this
// reads at memory speed and allocates a few times per record).
//
//	format byte (recordFormat)
//	flags byte (recPublished, recModified, recWithdrawn)
//	per flag set, in that order: varint unix seconds, uvarint nanoseconds
//	str id, strs aliases, strs upstream, strs related, str summary, str details
//	uvarint n severities: str type, str score, str source
//	uvarint n affected: the candidate's affected encoding, str ecosystem_specific, str database_specific
//	uvarint n references: str type, str url
//	str database_specific, str feed
//
// strs is a uvarint count and that many str. Times decode in UTC, and
// the extension objects are kept as encoding/json writes them.
const recordFormat = 1

const (
	recPublished = 1 << iota
	recModified
	recWithdrawn
)

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendStrs(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

// appendRaw appends a JSON extension object as encoding/json writes a
// RawMessage (compact, HTML-escaped), which is what JSON storage kept;
// what is not valid JSON is refused, as encoding/json refuses it.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return appendStr(b, ""), nil
	}
	c, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(c)))
	return append(b, c...), nil
}

// encodeRecordBinary appends r's encoding to b.
func encodeRecordBinary(b []byte, r *vulndb.Record) ([]byte, error) {
	b = append(b, recordFormat)
	var flags byte
	for i, t := range [...]time.Time{r.Published, r.Modified, r.Withdrawn} {
		if !t.IsZero() {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	for _, t := range [...]time.Time{r.Published, r.Modified, r.Withdrawn} {
		if !t.IsZero() {
			b = appendTime(b, t)
		}
	}
	b = appendStr(b, r.ID)
	b = appendStrs(b, r.Aliases)
	b = appendStrs(b, r.Upstream)
	b = appendStrs(b, r.Related)
	b = appendStr(b, r.Summary)
	b = appendStr(b, r.Details)
	b = appendSeverities(b, r.Severity)
	b = binary.AppendUvarint(b, uint64(len(r.Affected)))
	var err error
	for i := range r.Affected {
		a := &r.Affected[i]
		b = appendAffected(b, a)
		if b, err = appendRaw(b, a.EcosystemSpecific); err != nil {
			return nil, err
		}
		if b, err = appendRaw(b, a.DatabaseSpecific); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.References)))
	for _, ref := range r.References {
		b = appendStr(b, ref.Type)
		b = appendStr(b, ref.URL)
	}
	if b, err = appendRaw(b, r.DatabaseSpecific); err != nil {
		return nil, err
	}
	return appendStr(b, r.Feed), nil
}

// decodeRecordBinary decodes what encodeRecordBinary encodes. The
// record's strings share v's memory.
func decodeRecordBinary(v string, r *vulndb.Record) error {
	d := decoder{s: v, arena: &arena{}}
	if d.byte() != recordFormat {
		return errCorrupt
	}
	flags := d.byte()
	if flags&^(recPublished|recModified|recWithdrawn) != 0 {
		return errCorrupt
	}
	*r = vulndb.Record{}
	for i, t := range [...]*time.Time{&r.Published, &r.Modified, &r.Withdrawn} {
		if flags&(1<<i) != 0 {
			*t = d.time()
		}
	}
	r.ID = d.str()
	r.Aliases = d.strs()
	r.Upstream = d.strs()
	r.Related = d.strs()
	r.Summary = d.str()
	r.Details = d.str()
	r.Severity = d.severities()
	if n := d.count(); n > 0 {
		r.Affected = make([]vulndb.Affected, n)
		for i := range r.Affected {
			a := &r.Affected[i]
			d.affected(a)
			a.EcosystemSpecific = d.raw()
			a.DatabaseSpecific = d.raw()
		}
	}
	if n := d.count(); n > 0 {
		r.References = make([]vulndb.Reference, n)
		for i := range r.References {
			r.References[i] = vulndb.Reference{Type: d.str(), URL: d.str()}
		}
	}
	r.DatabaseSpecific = d.raw()
	r.Feed = d.str()
	if d.err == nil && d.pos != len(d.s) {
		return errCorrupt
	}
	return d.err
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// raw reads an extension object; nil when empty.
func (d *decoder) raw() json.RawMessage {
	s := d.str()
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
