package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"testing"

	"github.com/drydockscan/drydock/internal/analyze"
	"github.com/drydockscan/drydock/internal/inventory"
)

// FuzzDecode feeds arbitrary envelopes to the entry decoder, framed with a
// valid header and checksum so that the fuzzer reaches the decoding: a
// damaged entry must be an error, never a panic or an entry without its
// parts.
func FuzzDecode(f *testing.F) {
	key := Key("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	var seed bytes.Buffer
	gob.NewEncoder(&seed).Encode(envelope{Key: key, Entry: Entry{
		Blob: "sha256:aa", DiffID: "sha256:bb",
		Result: &analyze.LayerResult{Files: []analyze.FileResult{{Path: "var/lib/dpkg/status", Analyzer: "dpkg",
			Result: analyze.Result{Packages: []inventory.Package{{Type: "deb", Name: "hello", Version: "1"}}}}}},
	}})
	f.Add(seed.Bytes())
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload := encoder().EncodeAll(data, nil)
		sum := sha256.Sum256(payload)
		raw := append(append(append([]byte{}, magic...), sum[:]...), payload...)
		e, err := decode(raw, key)
		if err == nil && (e == nil || e.Result == nil || e.Blob == "" || e.DiffID == "") {
			t.Fatalf("decoded an incomplete entry without an error: %+v", e)
		}
	})
}

// FuzzDecodeImage: an image entry's payload is as untrusted as a layer
// entry's; any bytes under the checksum decode to an error or to a whole
// entry, never a panic.
func FuzzDecodeImage(f *testing.F) {
	key := Inputs{Mode: "image"}.ImageKey([]string{"sha256:aa"}, "dev", "")
	var seed bytes.Buffer
	gob.NewEncoder(&seed).Encode(imageEnvelope{Key: key, Entry: ImageEntry{
		Layers: []LayerID{{Blob: "sha256:aa", DiffID: "sha256:bb"}}, Result: []byte(`{"Inventory":{}}`),
	}})
	f.Add(seed.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		payload := encoder().EncodeAll(data, nil)
		sum := sha256.Sum256(payload)
		raw := append(append(append([]byte{}, imageMagic...), sum[:]...), payload...)
		var env imageEnvelope
		_ = decodeEnvelope(raw, imageMagic, &env)
		if err := decodeEnvelope(raw, magic, &env); err == nil {
			t.Fatal("an image entry decoded as a layer entry")
		}
	})
}
