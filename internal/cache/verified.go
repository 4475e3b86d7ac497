package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileID identifies the bytes of a local blob without reading them: the
// file that holds it (device, inode), where in that file (a member of a
// tar archive has an offset), and the file's size and change times. The
// kernel updates the change time (ctime) on every write and no program
// can set it, so while all of these are equal the bytes have not been
// rewritten. Boot is the kernel's boot id: inode numbers are only
// meaningful on the machine, and the mount, that gave them.
type FileID struct {
	Boot    string `json:"boot"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns"`
	Offset  int64  `json:"offset"`
	Length  int64  `json:"length"`
}

// racyWindow is how long after a blob was hashed its change time must lie
// in the past before the memo of that hash is trusted: file systems keep
// times at a granularity, and a rewrite within the same tick as the hash
// would keep the change time (git's "racy clean" problem).
const racyWindow = 2 * time.Second

// BlobMemo remembers which local blobs were hashed and what digest they
// had, so that a warm scan verifies an unchanged blob by its FileID
// instead of hashing it again. Only stores on the machine's own file
// system keep such memos; a shared store (Redis) does not, since inode
// numbers mean nothing on another machine.
type BlobMemo interface {
	// Verified returns the digest remembered for id, if any.
	Verified(ctx context.Context, id FileID) (digest string, verifiedAt time.Time, ok bool)
	// Remember records that the blob id was hashed to digest at at.
	Remember(ctx context.Context, id FileID, digest string, at time.Time) error
}

// VerifiedBlob returns the digest a local blob was hashed to before, when
// the store keeps memos, the blob is unchanged since (same FileID) and the
// hash was taken safely after the blob's last change.
func (c *Cache) VerifiedBlob(ctx context.Context, id FileID) (string, bool) {
	m, ok := c.store.(BlobMemo)
	if !ok || id.Boot == "" {
		return "", false
	}
	window := racyWindow
	if c.racyWindow != nil {
		window = *c.racyWindow
	}
	digest, at, ok := m.Verified(ctx, id)
	if !ok || time.Unix(0, id.CtimeNS).After(at.Add(-window)) {
		return "", false
	}
	return digest, true
}

// SetRacyWindow changes how long ago a blob's last change must lie
// before its hash was taken for the memo to be trusted (tests).
func (c *Cache) SetRacyWindow(d time.Duration) { c.racyWindow = &d }

// RememberBlob records that the local blob id has digest (just computed).
// Failures are logged: the memo only saves work.
func (c *Cache) RememberBlob(ctx context.Context, id FileID, digest string) {
	m, ok := c.store.(BlobMemo)
	if !ok || id.Boot == "" {
		return
	}
	if err := m.Remember(ctx, id, digest, time.Now()); err != nil {
		c.log.Warn("layer cache blob memo not written", "store", c.store.String(), "error", err)
	}
}

// memoDir holds the FS store's blob memos, one small JSON file each.
const memoDir = "verified"

type memo struct {
	ID       FileID    `json:"id"`
	Digest   string    `json:"digest"`
	Verified time.Time `json:"verified"`
}

func (s *FS) memoPath(id FileID) string {
	b, _ := json.Marshal(id)
	sum := sha256.Sum256(b)
	return filepath.Join(s.dir, memoDir, hex.EncodeToString(sum[:])+".json")
}

// Verified implements BlobMemo.
func (s *FS) Verified(_ context.Context, id FileID) (string, time.Time, bool) {
	b, err := os.ReadFile(s.memoPath(id))
	if err != nil || len(b) > 4096 {
		return "", time.Time{}, false
	}
	var m memo
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil || m.ID != id || !validDigest(m.Digest) {
		return "", time.Time{}, false
	}
	return m.Digest, m.Verified, true
}

// Remember implements BlobMemo.
func (s *FS) Remember(_ context.Context, id FileID, digest string, at time.Time) error {
	b, err := json.Marshal(memo{ID: id, Digest: digest, Verified: at.UTC()})
	if err != nil {
		return err
	}
	p := s.memoPath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("%s: %w", p, werr)
	}
	return nil
}

// removeMemos deletes every blob memo (clean).
func (s *FS) removeMemos() error {
	err := os.RemoveAll(filepath.Join(s.dir, memoDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	return ok && len(h) == 64 && strings.Trim(h, "0123456789abcdef") == ""
}

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// BootID is the running kernel's boot id ("" where there is none, which
// turns blob memos off).
func BootID() string { return bootID() }
