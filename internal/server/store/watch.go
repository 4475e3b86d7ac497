package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WatchTag is what the watcher last saw of a tag.
type WatchTag struct {
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Removed    time.Time `json:"removed,omitzero"`
}

// WatchTags returns the watcher's tags of a repository (removed ones
// too).
func (s *Store) WatchTags(ctx context.Context, repository string) ([]WatchTag, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT repository, tag, digest, first_seen, last_seen, removed_at FROM watch_tags WHERE repository = ? ORDER BY tag`), repository)
	if err != nil {
		return nil, fmt.Errorf("store %s: watched tags: %w", s.where, err)
	}
	defer rows.Close()
	var out []WatchTag
	for rows.Next() {
		var w WatchTag
		var first, last, removed string
		if err := rows.Scan(&w.Repository, &w.Tag, &w.Digest, &first, &last, &removed); err != nil {
			return nil, err
		}
		w.FirstSeen, w.LastSeen, w.Removed = parseStamp(first), parseStamp(last), parseStamp(removed)
		out = append(out, w)
	}
	return out, rows.Err()
}

// PutWatchTag records that a tag names a digest now.
func (s *Store) PutWatchTag(ctx context.Context, repository, tag, digest string, at time.Time) error {
	now := Stamp(at)
	_, err := s.exec(ctx, s.db, `INSERT INTO watch_tags (repository, tag, digest, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, last_seen = excluded.last_seen, removed_at = ''`,
		repository, tag, digest, now, now)
	if err != nil {
		return fmt.Errorf("store %s: watched tag %s:%s: %w", s.where, repository, tag, err)
	}
	return nil
}

// RemoveWatchTag records that a tag is gone from its registry: the
// watcher's tag and the image's tag are marked removed and a tag.removed
// event names the image it named. It returns that digest ("" when the
// tag was not known or already removed).
func (s *Store) RemoveWatchTag(ctx context.Context, repository, tag string, at time.Time) (string, error) {
	now := Stamp(at)
	digest := ""
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`SELECT digest FROM watch_tags WHERE repository = ? AND tag = ? AND removed_at = ''`), repository, tag).Scan(&digest)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store %s: watched tag %s:%s: %w", s.where, repository, tag, err)
		}
		res, err := s.exec(ctx, tx, `UPDATE watch_tags SET removed_at = ? WHERE repository = ? AND tag = ? AND removed_at = ''`, now, repository, tag)
		if err != nil {
			return fmt.Errorf("store %s: watched tag %s:%s: %w", s.where, repository, tag, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			digest = ""
			return nil
		}
		if _, err := s.exec(ctx, tx, `UPDATE image_tags SET removed_at = ? WHERE repository = ? AND tag = ? AND removed_at = ''`, now, repository, tag); err != nil {
			return fmt.Errorf("store %s: tag %s:%s: %w", s.where, repository, tag, err)
		}
		data, _ := json.Marshal(map[string]any{"repository": repository, "tag": tag})
		return s.addEvents(ctx, tx, now, []Event{{Type: EventTagRemoved, Digest: digest, Data: data}})
	})
	return digest, err
}

// LiveWatchTags counts the watched tags that still name a digest.
func (s *Store) LiveWatchTags(ctx context.Context, digest string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM watch_tags WHERE digest = ? AND removed_at = ''`), digest).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", s.where, err)
	}
	return n, nil
}

// MarkGone records that an image is gone from its registry: its tags are
// marked removed and an image.gone event is recorded (once).
func (s *Store) MarkGone(ctx context.Context, digest string, at time.Time) (bool, error) {
	now := Stamp(at)
	gone := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE images SET gone_at = ? WHERE digest = ? AND gone_at = ''`, now, digest)
		if err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		gone = true
		if _, err := s.exec(ctx, tx, `UPDATE image_tags SET removed_at = ? WHERE digest = ? AND removed_at = ''`, now, digest); err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		if _, err := s.exec(ctx, tx, `UPDATE watch_tags SET removed_at = ? WHERE digest = ? AND removed_at = ''`, now, digest); err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		return s.addEvents(ctx, tx, now, []Event{{Type: EventImageGone, Digest: digest, Data: json.RawMessage(`{}`)}})
	})
	return gone, err
}

// HasImage reports whether an image is stored.
func (s *Store) HasImage(ctx context.Context, digest string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM images WHERE digest = ?`), digest).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store %s: %w", s.where, err)
	}
	return true, nil
}

// ActiveScan reports whether a scan of ref is queued or running.
func (s *Store) ActiveScan(ctx context.Context, ref string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM scans WHERE ref = ? AND status IN (?, ?)`), ref, StatusQueued, StatusRunning).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store %s: %w", s.where, err)
	}
	return n > 0, nil
}

// TagImage records a tag of an image already stored (the watcher saw a
// known digest under a new tag: no scan is needed). A tag that named
// another image moves, as in Record.
func (s *Store) TagImage(ctx context.Context, digest, repository, tag string, at time.Time) error {
	now := Stamp(at)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		moved, err := s.putTags(ctx, tx, digest, Result{Repository: repository, Tags: []string{tag}}, now)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `UPDATE images SET last_seen = ?, gone_at = '', repository = CASE WHEN repository = '' THEN ? ELSE repository END WHERE digest = ?`, now, repository, digest); err != nil {
			return fmt.Errorf("store %s: image %s: %w", s.where, digest, err)
		}
		return s.addEvents(ctx, tx, now, moved)
	})
}
