package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Delivery states.
const (
	DeliveryQueued    = "queued"
	DeliveryRetrying  = "retrying"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one message of one event to one channel.
type Delivery struct {
	ID        string    `json:"id"`
	EventID   int64     `json:"event_id"`
	Channel   string    `json:"channel"`
	Rule      string    `json:"rule"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastCode  int       `json:"last_code,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Delivered time.Time `json:"delivered,omitzero"`
	// Log lists the attempts, oldest first (GetDelivery only).
	Log []DeliveryAttempt `json:"log,omitempty"`
}

// DeliveryAttempt is one try of a delivery.
type DeliveryAttempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	Code       int       `json:"code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// DeliveryID is the id of the delivery of an event to a channel: the
// same on every process, so a message is made once.
func DeliveryID(eventID int64, channel string) string {
	return strconv.FormatInt(eventID, 10) + ":" + channel
}

// ClaimDelivery records that an event is to be delivered to a channel;
// it returns false when that delivery exists already (another process,
// or an earlier run, made it).
func (s *Store) ClaimDelivery(ctx context.Context, eventID int64, channel, rule string) (bool, error) {
	now := Stamp(time.Now())
	res, err := s.exec(ctx, s.db, `INSERT INTO deliveries (id, event_id, channel, rule, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id, channel) DO NOTHING`, DeliveryID(eventID, channel), eventID, channel, rule, DeliveryQueued, now, now)
	if err != nil {
		return false, fmt.Errorf("store %s: delivery: %w", s.where, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

const deliveryColumns = `id, event_id, channel, rule, status, attempts, last_code, last_error, created_at, updated_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var created, updated, delivered string
	err := row.Scan(&d.ID, &d.EventID, &d.Channel, &d.Rule, &d.Status, &d.Attempts, &d.LastCode, &d.LastError, &created, &updated, &delivered)
	d.Created, d.Updated, d.Delivered = parseStamp(created), parseStamp(updated), parseStamp(delivered)
	return d, err
}

// GetDelivery returns a delivery with its log of attempts.
func (s *Store) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, s.q(`SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("store %s: delivery %s: %w", s.where, id, err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT attempt, at, code, error, duration_ms FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt, at`), id)
	if err != nil {
		return d, fmt.Errorf("store %s: delivery %s: %w", s.where, id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a DeliveryAttempt
		var at string
		if err := rows.Scan(&a.Attempt, &at, &a.Code, &a.Error, &a.DurationMS); err != nil {
			return d, err
		}
		a.At = parseStamp(at)
		d.Log = append(d.Log, a)
	}
	return d, rows.Err()
}

// RecordAttempt logs one try of a delivery and its outcome: delivered,
// retrying, or failed for good.
func (s *Store) RecordAttempt(ctx context.Context, id string, a DeliveryAttempt, status string) error {
	now := Stamp(a.At)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO delivery_attempts (delivery_id, attempt, at, code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)`,
			id, a.Attempt, now, a.Code, a.Error, a.DurationMS); err != nil {
			return fmt.Errorf("store %s: delivery %s: %w", s.where, id, err)
		}
		delivered := ""
		if status == DeliveryDelivered {
			delivered = now
		}
		if _, err := s.exec(ctx, tx, `UPDATE deliveries SET status = ?, attempts = attempts + 1, last_code = ?, last_error = ?, updated_at = ?, delivered_at = ? WHERE id = ?`,
			status, a.Code, a.Error, now, delivered, id); err != nil {
			return fmt.Errorf("store %s: delivery %s: %w", s.where, id, err)
		}
		return nil
	})
}

// DeliveryQuery selects deliveries.
type DeliveryQuery struct {
	EventID int64
	Channel string
	Status  string
	// Before pages backwards: deliveries created before this one's id
	// order (newest first).
	Offset int
	Limit  int
}

// Deliveries lists deliveries, newest first.
func (s *Store) Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries WHERE 1 = 1`
	var args []any
	if q.EventID > 0 {
		query += ` AND event_id = ?`
		args = append(args, q.EventID)
	}
	if q.Channel != "" {
		query += ` AND channel = ?`
		args = append(args, q.Channel)
	}
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, q.Status)
	}
	query += ` ORDER BY event_id DESC, channel LIMIT ? OFFSET ?`
	args = append(args, q.Limit, q.Offset)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: deliveries: %w", s.where, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// GetEvent returns one event.
func (s *Store) GetEvent(ctx context.Context, id int64) (Event, error) {
	evs, err := s.Events(ctx, EventQuery{AfterID: id - 1, Limit: 1})
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 || evs[0].ID != id {
		return Event{}, fmt.Errorf("event %d: %w", id, ErrNotFound)
	}
	return evs[0], nil
}

// Get returns a value of the shared key-value table ("" when unset).
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM kv WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store %s: %w", s.where, err)
	}
	return v, nil
}

// Set sets a value of the shared key-value table.
func (s *Store) Set(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, s.db, `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	return nil
}

// AdvanceCursor moves a numeric cursor in the key-value table forward to
// to (never back), and reports whether it moved.
func (s *Store) AdvanceCursor(ctx context.Context, key string, to int64) (bool, error) {
	moved := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var v string
		lock := ""
		if s.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM kv WHERE key = ?`+lock), key).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		cur, _ := strconv.ParseInt(v, 10, 64)
		if to <= cur {
			return nil
		}
		moved = true
		_, err = s.exec(ctx, tx, `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, strconv.FormatInt(to, 10))
		return err
	})
	return moved, err
}

// fleetCountsSQL sums the open findings of the images still present, from
// the index images_trend alone (the day is its parameter).
const fleetCountsSQL = `SELECT ?, COUNT(*), COALESCE(SUM(critical), 0), COALESCE(SUM(high), 0), COALESCE(SUM(medium), 0), COALESCE(SUM(low), 0), COALESCE(SUM(negligible), 0), COALESCE(SUM(unknown), 0)
		FROM images WHERE gone_at = ''`

// UpdateTrend records the fleet's open findings by severity for the day
// of at (the day's row is replaced until the day ends).
func (s *Store) UpdateTrend(ctx context.Context, at time.Time) error {
	day := at.UTC().Format("2006-01-02")
	_, err := s.exec(ctx, s.db, `INSERT INTO trend (day, images, critical, high, medium, low, negligible, unknown)
		`+fleetCountsSQL+`
		ON CONFLICT (day) DO UPDATE SET images = excluded.images, critical = excluded.critical, high = excluded.high, medium = excluded.medium,
		low = excluded.low, negligible = excluded.negligible, unknown = excluded.unknown`, day)
	if err != nil {
		return fmt.Errorf("store %s: trend: %w", s.where, err)
	}
	return nil
}

// TrendPoint is the fleet's open findings on one day.
type TrendPoint struct {
	Day    string `json:"day"`
	Images int    `json:"images"`
	Counts Counts `json:"counts"`
}

// Trend returns the last days of the fleet's trend, oldest first.
func (s *Store) Trend(ctx context.Context, days int) ([]TrendPoint, error) {
	if days <= 0 || days > 3660 {
		days = 90
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT day, images, critical, high, medium, low, negligible, unknown FROM trend ORDER BY day DESC LIMIT ?`), days)
	if err != nil {
		return nil, fmt.Errorf("store %s: trend: %w", s.where, err)
	}
	defer rows.Close()
	out := []TrendPoint{}
	for rows.Next() {
		var p TrendPoint
		c := &p.Counts
		if err := rows.Scan(&p.Day, &p.Images, &c.Critical, &c.High, &c.Medium, &c.Low, &c.Negligible, &c.Unknown); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}
