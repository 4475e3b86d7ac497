package cache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FS is a store of one file per entry under a directory:
// DIR/<first two hex digits>/<key>. Files are written to a temporary file
// in the same directory and renamed into place, so any number of processes
// can share the directory: a reader sees a whole entry or none. A file's
// modification time is its last use (a hit touches it), which is what
// pruning orders by.
type FS struct {
	dir string
}

// scanLog is the file of recent scans, one JSON object a line.
const scanLog = "scans.jsonl"

// scanLogMax bounds the scan log; past it the newest half is kept.
const scanLogMax = 256 << 10

// tmpPrefix starts temporary files; prune and clean remove stale ones.
const tmpPrefix = ".tmp-"

// maxFileSize caps an entry file read back.
const maxFileSize = maxEntrySize

// DefaultDir is <user cache dir>/drydock/layers.
func DefaultDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (give --cache-dir): %w", err)
	}
	return filepath.Join(d, "drydock", "layers"), nil
}

// OpenFS opens (creating it when missing) the store in dir.
func OpenFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return &FS{dir: dir}, nil
}

func (s *FS) path(key Key) (string, error) {
	k := string(key)
	if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
		return "", fmt.Errorf("invalid cache key %q", k)
	}
	return filepath.Join(s.dir, k[:2], k), nil
}

// Get implements Store.
func (s *FS) Get(_ context.Context, key Key) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", p, maxFileSize)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // last use, for pruning; best effort
	return b, nil
}

// Put implements Store.
func (s *FS) Put(_ context.Context, key Key, b []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if err := f.Chmod(0o644); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%s: %w", p, werr)
	}
	return nil
}

type fsEntry struct {
	path string
	size int64
	used time.Time
}

// entries lists the entry files, and removes temporary files older than an
// hour (left by a process that died while writing).
func (s *FS) entries(ctx context.Context) ([]fsEntry, error) {
	var out []fsEntry
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) {
			if time.Since(info.ModTime()) > time.Hour {
				_ = os.Remove(p)
			}
			return nil
		}
		if len(d.Name()) != 64 || filepath.Dir(p) == filepath.Clean(s.dir) {
			return nil // the scan log, or something not ours
		}
		out = append(out, fsEntry{path: p, size: info.Size(), used: info.ModTime()})
		return nil
	})
	return out, err
}

// Usage implements Store.
func (s *FS) Usage(ctx context.Context) (Usage, error) {
	es, err := s.entries(ctx)
	var u Usage
	for _, e := range es {
		u.Entries++
		u.Bytes += e.size
	}
	return u, err
}

// Prune implements Store.
func (s *FS) Prune(ctx context.Context, o PruneOptions) (Usage, error) {
	es, err := s.entries(ctx)
	if err != nil {
		return Usage{}, err
	}
	var removed Usage
	for _, e := range pruneOrder(es, func(e fsEntry) time.Time { return e.used }, func(e fsEntry) int64 { return e.size }, o) {
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed.Entries++
		removed.Bytes += e.size
	}
	return removed, nil
}

// Clean implements Store.
func (s *FS) Clean(ctx context.Context) (Usage, error) {
	es, err := s.entries(ctx)
	if err != nil {
		return Usage{}, err
	}
	var removed Usage
	for _, e := range es {
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed.Entries++
		removed.Bytes += e.size
	}
	if err := os.Remove(filepath.Join(s.dir, scanLog)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, err
	}
	return removed, s.removeMemos()
}

// AddScan implements Store. Lines are appended with O_APPEND, which keeps
// the short lines of concurrent processes whole.
func (s *FS) AddScan(_ context.Context, r ScanRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	p := filepath.Join(s.dir, scanLog)
	if st, err := os.Stat(p); err == nil && st.Size() > scanLogMax {
		s.trimLog(p)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// trimLog keeps the newest half of the scan log (a line a concurrent
// process appends meanwhile may be lost: the log is statistics only).
func (s *FS) trimLog(p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	b = b[len(b)-scanLogMax/2:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if err := f.Close(); werr == nil && err == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
	}
}

// Scans implements Store.
func (s *FS) Scans(_ context.Context, n int) ([]ScanRecord, error) {
	f, err := os.Open(filepath.Join(s.dir, scanLog))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []ScanRecord
	sc := bufio.NewScanner(io.LimitReader(f, 2*scanLogMax))
	for sc.Scan() {
		var r ScanRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			all = append(all, r)
		}
	}
	var out []ScanRecord
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

// String implements Store.
func (s *FS) String() string { return s.dir }

// Close implements Store.
func (s *FS) Close() error { return nil }
