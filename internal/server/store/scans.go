package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Scan states.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// Scan kinds.
const (
	// KindImage pulls an image reference with the server's credentials.
	KindImage = "image"
	// KindUpload reads an uploaded image archive.
	KindUpload = "upload"
	// KindInventory matches an inventory a client made.
	KindInventory = "inventory"
	// KindRematch is the re-match of a stored inventory after a
	// database update (it appears in an image's history).
	KindRematch = "rematch"
)

// Scan is one scan request and its outcome.
type Scan struct {
	ID     string
	Kind   string
	Ref    string
	Status string
	// Error says why a failed scan failed.
	Error    string
	Digest   string
	Created  time.Time
	Started  time.Time
	Finished time.Time
	Attempts int
	// DBBuilt and DBUpdated identify the vulnerability database the
	// result was matched against.
	DBBuilt, DBUpdated string
	// UploadPath is the uploaded archive a KindUpload scan reads.
	UploadPath string
}

// NewID returns a fresh random identifier.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreateScan records a queued scan; a missing ID is filled in.
func (s *Store) CreateScan(ctx context.Context, sc *Scan) error {
	if sc.ID == "" {
		sc.ID = NewID()
	}
	if sc.Created.IsZero() {
		sc.Created = time.Now()
	}
	if sc.Status == "" {
		sc.Status = StatusQueued
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO scans (id, kind, ref, status, created_at, upload_path) VALUES (?, ?, ?, ?, ?, ?)`,
		sc.ID, sc.Kind, sc.Ref, sc.Status, Stamp(sc.Created), sc.UploadPath)
	if err != nil {
		return fmt.Errorf("store %s: creating scan: %w", s.where, err)
	}
	return nil
}

const scanColumns = `id, kind, ref, status, error, digest, created_at, started_at, finished_at, attempts, db_built, db_updated, upload_path`

func scanScan(row interface{ Scan(...any) error }) (Scan, error) {
	var sc Scan
	var created, started, finished string
	err := row.Scan(&sc.ID, &sc.Kind, &sc.Ref, &sc.Status, &sc.Error, &sc.Digest, &created, &started, &finished,
		&sc.Attempts, &sc.DBBuilt, &sc.DBUpdated, &sc.UploadPath)
	sc.Created, sc.Started, sc.Finished = parseStamp(created), parseStamp(started), parseStamp(finished)
	return sc, err
}

// GetScan returns a scan.
func (s *Store) GetScan(ctx context.Context, id string) (Scan, error) {
	sc, err := scanScan(s.db.QueryRowContext(ctx, s.q(`SELECT `+scanColumns+` FROM scans WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return sc, fmt.Errorf("scan %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return sc, fmt.Errorf("store %s: scan %s: %w", s.where, id, err)
	}
	return sc, nil
}

// ScanReport returns a done scan's report (the drydock JSON report, as
// matched, before any client's policy).
func (s *Store) ScanReport(ctx context.Context, id string) ([]byte, error) {
	var rep string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT report FROM scans WHERE id = ? AND status = ?`), id, StatusDone).Scan(&rep)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("report of scan %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: scan %s: %w", s.where, id, err)
	}
	return []byte(rep), nil
}

// StartScan marks a scan running (attempt counts from 1). A scan that is
// already done is left alone and reported by done.
func (s *Store) StartScan(ctx context.Context, id string, attempt int) (done bool, err error) {
	res, err := s.exec(ctx, s.db, `UPDATE scans SET status = ?, started_at = ?, attempts = ?, error = '' WHERE id = ? AND status <> ?`,
		StatusRunning, Stamp(time.Now()), attempt, id, StatusDone)
	if err != nil {
		return false, fmt.Errorf("store %s: starting scan %s: %w", s.where, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		sc, err := s.GetScan(ctx, id)
		if err != nil {
			return false, err
		}
		return sc.Status == StatusDone, nil
	}
	return false, nil
}

// FailScan records why a scan failed. final says whether it will be tried
// again (queued) or not (failed).
func (s *Store) FailScan(ctx context.Context, id, msg string, final bool) error {
	status := StatusQueued
	if final {
		status = StatusFailed
	}
	now := Stamp(time.Now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE scans SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status <> ? AND status <> ?`,
			status, msg, now, id, StatusDone, StatusFailed)
		if err != nil {
			return fmt.Errorf("store %s: failing scan %s: %w", s.where, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 || !final {
			return nil
		}
		var ref, kind string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT ref, kind FROM scans WHERE id = ?`), id).Scan(&ref, &kind); err != nil {
			return fmt.Errorf("store %s: scan %s: %w", s.where, id, err)
		}
		data, _ := json.Marshal(map[string]any{"scan_id": id, "ref": ref, "kind": kind, "error": msg})
		return s.addEvents(ctx, tx, now, []Event{{Type: EventScanFailed, Data: data}})
	})
}

// CountScans counts scans by status.
func (s *Store) CountScans(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM scans GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}
