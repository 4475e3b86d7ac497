package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// viaJSON is what the record read back when records were stored as JSON:
// the reference the binary form must match (with times in UTC).
func viaJSON(t testing.TB, r *vulndb.Record) vulndb.Record {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out vulndb.Record
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	for _, tm := range []*time.Time{&out.Published, &out.Modified, &out.Withdrawn} {
		if !tm.IsZero() {
			*tm = tm.UTC()
		}
	}
	return out
}

// TestRecordCodecRoundTrip stores every record of the mirror as the store
// does and reads it back: the same record JSON storage gave, and every
// truncation of the stored form is refused.
func TestRecordCodecRoundTrip(t *testing.T) {
	n := 0
	for _, eco := range []string{"Go", "PyPI", "crates.io", "Debian:12", "Debian:13"} {
		for _, r := range readMirror(t, eco) {
			r.Feed = "osv/" + eco
			stored, err := encodeRecord(&r)
			if err != nil {
				t.Fatalf("%s: %v", r.ID, err)
			}
			var got vulndb.Record
			if err := decodeRecord(stored, &got); err != nil {
				t.Fatalf("%s: %v", r.ID, err)
			}
			if diff := cmp.Diff(viaJSON(t, &r), got); diff != "" {
				t.Fatalf("%s (-json +binary):\n%s", r.ID, diff)
			}
			plain, err := encodeRecordBinary(nil, &r)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(plain); i += 1 + len(plain)/16 {
				if decodeRecordBinary(string(plain[:i]), &got) == nil {
					t.Fatalf("%s: truncated at %d of %d decoded", r.ID, i, len(plain))
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no records")
	}
}

func TestRecordCodecEdges(t *testing.T) {
	east := time.FixedZone("", 2*3600)
	r := vulndb.Record{
		ID:        "X-1",
		Published: time.Date(2024, 5, 1, 12, 0, 0, 5, east),
		Modified:  time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), // before the epoch
		Affected: []vulndb.Affected{{
			Package:           vulndb.Package{Ecosystem: "Go", Name: "m"},
			EcosystemSpecific: json.RawMessage("{ \"imports\" : [ ] }"),
		}},
		DatabaseSpecific: json.RawMessage(`{"a":1}`),
	}
	b, err := encodeRecordBinary(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	var got vulndb.Record
	if err := decodeRecordBinary(string(b), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(viaJSON(t, &r), got); diff != "" {
		t.Errorf("(-json +binary):\n%s", diff)
	}
	if got.Published.Location() != time.UTC || !got.Published.Equal(r.Published) {
		t.Errorf("published %v, want %v in UTC", got.Published, r.Published)
	}
	// An extension object that is not JSON is refused, as json.Marshal
	// refuses it.
	r.DatabaseSpecific = json.RawMessage("{not json")
	if _, err := encodeRecordBinary(nil, &r); err == nil {
		t.Error("invalid database_specific encoded")
	}
	// Another format, unknown flags, trailing bytes.
	for name, bad := range map[string]string{
		"format":   "\x02" + string(b[1:]),
		"flags":    string(b[:1]) + "\x80" + string(b[2:]),
		"trailing": string(b) + "x",
		"empty":    "",
	} {
		if decodeRecordBinary(bad, &got) == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// A stored record whose header claims more than maxRecord bytes is
// refused before anything is allocated.
func TestDecodeRecordCap(t *testing.T) {
	// S2's header is the decoded length as a uvarint.
	huge := []byte{0x80, 0x80, 0x80, 0x80, 0x7f}
	var r vulndb.Record
	if err := decodeRecord(huge, &r); err == nil {
		t.Error("a record claiming 32 GiB decoded")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := vulndb.Record{
		ID: "GHSA-1", Aliases: []string{"CVE-2024-1"}, Summary: "s", Details: "d",
		Modified: time.Unix(1700000000, 5).UTC(),
		Severity: []vulndb.Severity{{Type: vulndb.CVSSv3, Score: "CVSS:3.1/AV:N"}},
		Affected: []vulndb.Affected{{
			Package:           vulndb.Package{Ecosystem: "PyPI", Name: "x"},
			Ranges:            []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "1"}}}},
			EcosystemSpecific: json.RawMessage(`{"k":"v"}`),
		}},
		References: []vulndb.Reference{{Type: "WEB", URL: "https://example.org"}},
		Feed:       "osv/PyPI",
	}
	b, err := encodeRecordBinary(nil, &r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var got vulndb.Record
		if decodeRecordBinary(string(data), &got) != nil {
			return
		}
		// What decodes re-encodes; from there on encoding and decoding
		// agree (the first encoding may rewrite an extension object as
		// encoding/json writes it).
		once, err := encodeRecordBinary(nil, &got)
		if err != nil {
			// Extension objects are not checked on decoding.
			return
		}
		var got2 vulndb.Record
		if err := decodeRecordBinary(string(once), &got2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		twice, err := encodeRecordBinary(nil, &got2)
		if err != nil || string(twice) != string(once) {
			t.Fatalf("re-encoding differs: %+v / %+v, %v", got, got2, err)
		}
	})
}
