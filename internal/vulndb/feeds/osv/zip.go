package osv

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/drydockscan/drydock/internal/vulndb"
)

// Limits caps what ReadZip accepts from an archive. Zero fields take the
// defaults.
type Limits struct {
	// MaxEntries caps the number of entries in the archive (default
	// 4,000,000; the npm archive, the largest, holds a few hundred
	// thousand).
	MaxEntries int
	// MaxEntrySize caps one entry's uncompressed size (default
	// MaxRecordSize).
	MaxEntrySize int64
	// MaxTotalSize caps the sum of the entries' uncompressed sizes
	// (default 16 GiB).
	MaxTotalSize int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 4_000_000
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = MaxRecordSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = 16 << 30
	}
	return l
}

// ReadZip reads an OSV all.zip archive and calls fn with each record, in
// archive order. Every entry must be a plain file name ending in ".json"
// (no directories, no path components); other entries are an error, as are
// an entry or a total larger than the limits (sizes are counted as
// decompressed, not taken from the headers), a duplicate record id, and a
// checksum mismatch. The error names the offending entry.
func ReadZip(ctx context.Context, r io.ReaderAt, size int64, lim Limits, fn func(vulndb.Record) error) error {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%w: zip: %w", ErrInvalid, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return fmt.Errorf("%w: zip has %d entries, more than the limit %d", ErrInvalid, len(zr.File), lim.MaxEntries)
	}
	var total int64
	seen := make(map[string]struct{}, len(zr.File))
	buf := make([]byte, 0, 64<<10)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := f.Name
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." || !strings.HasSuffix(name, ".json") {
			return fmt.Errorf("%w: zip entry %q: not a plain .json file name", ErrInvalid, name)
		}
		if !f.Mode().IsRegular() {
			return fmt.Errorf("%w: zip entry %q: not a regular file", ErrInvalid, name)
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntrySize) {
			return fmt.Errorf("%w: zip entry %q: %d bytes, more than the limit %d", ErrInvalid, name, f.UncompressedSize64, lim.MaxEntrySize)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%w: zip entry %q: %w", ErrInvalid, name, err)
		}
		buf, err = readLimited(buf[:0], rc, lim.MaxEntrySize)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%w: zip entry %q: %w", ErrInvalid, name, err)
		}
		total += int64(len(buf))
		if total > lim.MaxTotalSize {
			return fmt.Errorf("%w: zip entries exceed %d bytes in total (at %q)", ErrInvalid, lim.MaxTotalSize, name)
		}
		rec, err := Parse(buf)
		if err != nil {
			return fmt.Errorf("zip entry %q: %w", name, err)
		}
		if _, dup := seen[rec.ID]; dup {
			return fmt.Errorf("%w: zip entry %q: duplicate record id %s", ErrInvalid, name, rec.ID)
		}
		seen[rec.ID] = struct{}{}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// readLimited appends r's content to buf, failing if it exceeds limit
// bytes. Reading to the end lets archive/zip verify the entry's CRC-32.
func readLimited(buf []byte, r io.Reader, limit int64) ([]byte, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, fmt.Errorf("larger than the limit %d bytes", limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ModifiedID is one line of an OSV modified_id.csv index.
type ModifiedID struct {
	// Modified is the record's modification time as the index writes it;
	// compare it as a string (some databases publish placeholder times).
	Modified string
	ID       string
}

// MaxIndexLines is the default cap on the lines of a modified_id.csv.
const MaxIndexLines = 10_000_000

// ParseModifiedIDs reads a modified_id.csv index: one "<modified>,<id>" line
// per record, newest first. Blank lines are skipped; a malformed line, an
// invalid id or more than maxLines lines (MaxIndexLines when maxLines <= 0)
// is an error naming the line. A repeated id keeps its first (newest) line.
func ParseModifiedIDs(r io.Reader, maxLines int) ([]ModifiedID, error) {
	if maxLines <= 0 {
		maxLines = MaxIndexLines
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	var out []ModifiedID
	seen := make(map[string]struct{})
	n := 0
	for sc.Scan() {
		n++
		if n > maxLines {
			return nil, fmt.Errorf("%w: modified_id.csv: more than %d lines", ErrInvalid, maxLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		mod, id, ok := strings.Cut(line, ",")
		if !ok || mod == "" || !ValidID(id) {
			return nil, fmt.Errorf("%w: modified_id.csv line %d: %q", ErrInvalid, n, line)
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, ModifiedID{Modified: mod, ID: id})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: modified_id.csv line %d: %w", ErrInvalid, n+1, err)
	}
	return out, nil
}
