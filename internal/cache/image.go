package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// An image entry keeps the merge of a whole image's layer results (what a
// scan made of them), so that rescanning an image whose every layer is
// unchanged skips reading the layer entries and merging them again. It is
// keyed by the same inputs as the layer entries, every layer's claimed
// identity and description in order, and what the caller drew from the
// merge besides the inventory (see ImageKey); the layers' identities it
// was verified against travel in the entry and are checked again by the
// caller before it is used, exactly as for a layer entry.

// imageMagic starts every encoded image entry (layer entries start with
// magic): one is never decoded as the other.
var imageMagic = []byte("drydock-image\x00")

// LayerID is what one layer's bytes were verified to be when an image
// entry was written.
type LayerID struct {
	// Blob is the digest of the blob as stored (the claim the image
	// makes: the manifest's digest, or the diffID for formats without
	// one); DiffID the digest of the uncompressed layer.
	Blob   string `json:"blob"`
	DiffID string `json:"diff_id"`
}

// ImageEntry is one cached image merge.
type ImageEntry struct {
	Layers []LayerID `json:"layers"`
	// Result is the caller's encoding of what it made of the layers.
	Result []byte `json:"result"`
}

type imageEnvelope struct {
	Key   Key        `json:"key"`
	Entry ImageEntry `json:"entry"`
}

// ImageKey returns the key of an image entry: the inputs, every layer's
// claimed identity and description in order (layers is hashed as JSON,
// so it must encode canonically), the version of the program that made
// the entry and what else the caller drew from the merge (extra).
func (in Inputs) ImageKey(layers any, version, extra string) Key {
	b, err := json.Marshal(struct {
		Layers  any    `json:"layers"`
		Version string `json:"version"`
		Extra   string `json:"extra"`
	}{layers, version, extra})
	if err != nil {
		// Unencodable layers can be no image's key.
		return ""
	}
	sum := sha256.Sum256(b)
	return in.Key("image:sha256:" + hex.EncodeToString(sum[:]))
}

// GetImage returns the image entry under key. As for Get, anything but a
// sound entry written under this key is a miss; damage is logged.
func (c *Cache) GetImage(ctx context.Context, key Key) (*ImageEntry, bool) {
	if key == "" {
		return nil, false
	}
	raw, ok := c.read(ctx, key)
	if !ok {
		return nil, false
	}
	var env imageEnvelope
	err := decodeEnvelope(raw, imageMagic, &env)
	switch {
	case err != nil:
	case env.Key != key:
		err = fmt.Errorf("entry was written for key %s", env.Key)
	case len(env.Entry.Layers) == 0 || env.Entry.Result == nil:
		err = errors.New("incomplete image entry")
	}
	if err != nil {
		c.log.Warn("layer cache image entry corrupt, merging the layers again", "store", c.store.String(), "key", string(key), "error", err)
		return nil, false
	}
	return &env.Entry, true
}

// PutImage writes an image entry under key; failures are logged.
func (c *Cache) PutImage(ctx context.Context, key Key, e *ImageEntry) {
	if key == "" {
		return
	}
	raw, err := encodeEnvelope(imageMagic, imageEnvelope{Key: key, Entry: *e})
	c.write(ctx, key, raw, err)
}

// encodeEnvelope writes v as: prefix, SHA-256 of the payload, payload
// (zstd-compressed gob).
func encodeEnvelope(prefix []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encoding cache entry: %w", err)
	}
	payload := encoder().EncodeAll(buf.Bytes(), nil)
	sum := sha256.Sum256(payload)
	out := make([]byte, 0, len(prefix)+len(sum)+len(payload))
	out = append(out, prefix...)
	out = append(out, sum[:]...)
	return append(out, payload...), nil
}

// decodeEnvelope reverses encodeEnvelope into v (a pointer), checking the
// prefix, the checksum and that nothing trails the value. A hostile or
// damaged payload is an error, never a panic.
func decodeEnvelope(raw, prefix []byte, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoding: %v", p)
		}
	}()
	if !bytes.HasPrefix(raw, prefix) || len(raw) < len(prefix)+sha256.Size {
		return errors.New("not a drydock cache entry of this kind")
	}
	sum := raw[len(prefix) : len(prefix)+sha256.Size]
	payload := raw[len(prefix)+sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return errors.New("checksum mismatch (truncated or damaged)")
	}
	plain, err := decoder().DecodeAll(payload, nil)
	if err != nil {
		return fmt.Errorf("decompressing: %w", err)
	}
	r := bytes.NewReader(plain)
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if r.Len() != 0 {
		return errors.New("trailing data after the entry")
	}
	return nil
}
