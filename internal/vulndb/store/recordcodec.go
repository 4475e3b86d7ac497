package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/drydockscan/drydock/internal/binenc"
	"github.com/drydockscan/drydock/internal/vulndb"
)

// The record encoding: the candidate encoding's primitives for a whole
// record, because a scan decodes every record that matched and JSON was
// most of a warm rescan's matching (encoding/json reads ~50 MB/s; this
// reads at memory speed and allocates a few times per record).
//
//	format byte (recordFormat)
//	flags byte (recPublished, recModified, recWithdrawn)
//	per flag set, in that order: time
//	str id, strs aliases, strs upstream, strs related, str summary, str details
//	uvarint n severities: str type, str score, str source
//	uvarint n affected: the candidate's affected encoding, str ecosystem_specific, str database_specific
//	uvarint n references: str type, str url
//	str database_specific, str feed
//
// str, strs and time are as in the candidate encoding; times decode in
// UTC, and the extension objects are kept as encoding/json writes them.
const recordFormat = 1

const (
	recPublished = 1 << iota
	recModified
	recWithdrawn
)

// appendRaw appends a JSON extension object as encoding/json writes a
// RawMessage (compact, HTML-escaped), which is what JSON storage kept;
// what is not valid JSON is refused, as encoding/json refuses it.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return binenc.AppendStr(b, ""), nil
	}
	c, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return binenc.AppendStr(b, string(c)), nil
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
	b = binenc.AppendStr(b, r.ID)
	b = binenc.AppendStrs(b, r.Aliases)
	b = binenc.AppendStrs(b, r.Upstream)
	b = binenc.AppendStrs(b, r.Related)
	b = binenc.AppendStr(b, r.Summary)
	b = binenc.AppendStr(b, r.Details)
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
		b = binenc.AppendStr(b, ref.Type)
		b = binenc.AppendStr(b, ref.URL)
	}
	if b, err = appendRaw(b, r.DatabaseSpecific); err != nil {
		return nil, err
	}
	return binenc.AppendStr(b, r.Feed), nil
}

// decodeRecordBinary decodes what encodeRecordBinary encodes. The
// record's strings share v's memory.
func decodeRecordBinary(v string, r *vulndb.Record) error {
	d := decoder{Reader: binenc.NewReader(v), arena: &arena{}}
	if d.Byte() != recordFormat {
		return errCorrupt
	}
	flags := d.Byte()
	if flags&^(recPublished|recModified|recWithdrawn) != 0 {
		return errCorrupt
	}
	*r = vulndb.Record{}
	for i, t := range [...]*time.Time{&r.Published, &r.Modified, &r.Withdrawn} {
		if flags&(1<<i) != 0 {
			*t = d.time()
		}
	}
	r.ID = d.Str()
	r.Aliases = d.strs()
	r.Upstream = d.strs()
	r.Related = d.strs()
	r.Summary = d.Str()
	r.Details = d.Str()
	r.Severity = d.severities()
	if n := d.Count(1); n > 0 {
		r.Affected = make([]vulndb.Affected, n)
		for i := range r.Affected {
			a := &r.Affected[i]
			d.affected(a)
			a.EcosystemSpecific = d.raw()
			a.DatabaseSpecific = d.raw()
		}
	}
	if n := d.Count(1); n > 0 {
		r.References = make([]vulndb.Reference, n)
		for i := range r.References {
			r.References[i] = vulndb.Reference{Type: d.Str(), URL: d.Str()}
		}
	}
	r.DatabaseSpecific = d.raw()
	r.Feed = d.Str()
	if !d.Done() {
		return errCorrupt
	}
	return nil
}

// raw reads an extension object; nil when empty.
func (d *decoder) raw() json.RawMessage {
	s := d.Str()
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
