// Package store is the drydock server's memory: every image it has seen,
// by manifest digest, with its repository and tags, its inventory, its
// current findings and its scan history; the scans themselves; the events
// that record how an image's findings changed; and the API tokens.
//
// One implementation serves both back ends through database/sql: an
// embedded SQLite file (modernc.org/sqlite, pure Go) for one machine, and
// PostgreSQL (pgx) for many. The schema is versioned (migrations/<dialect>/
// NNN_name.sql) and migrated at Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/drydockscan/drydock/internal/finding"
	"github.com/jackc/pgx/v5/stdlib"
	// The pure-Go SQLite driver ("sqlite").
	_ "modernc.org/sqlite"
)

// Dialect names a back end.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Errors.
var (
	// ErrNotFound is returned for an unknown scan, image or token.
	ErrNotFound = errors.New("not found")
	// ErrBadURL is returned for a store URL Open cannot read.
	ErrBadURL = errors.New("bad store URL")
)

// Store is an open store. Its methods are safe for concurrent use.
type Store struct {
	db      *sql.DB
	pool    *pgxpool.Pool
	dialect Dialect
	// where names the store in errors and logs, without credentials.
	where string
	log   *slog.Logger
	// failOn is the server's gate: an image with an open finding at or
	// above it fails ("" computes no verdict).
	failOn finding.Severity
}

// Options adjust Open.
type Options struct {
	Logger *slog.Logger
	// MaxConns bounds the PostgreSQL pool (default 8).
	MaxConns int32
	// FailOn is the gate images are judged by (their verdict and its
	// changes); "" judges none.
	FailOn finding.Severity
}

// Open opens the store at url ("sqlite:PATH" or "postgres://…") and runs
// its migrations.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, failOn: o.FailOn}
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("%w: sqlite: needs a file path", ErrBadURL)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		// SQLite allows one writer; one connection keeps the queue and
		// the store from locking each other out.
		db.SetMaxOpenConns(1)
		s.db, s.dialect, s.where = db, SQLite, "sqlite:"+path
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			// pgx's error may quote the URL, password included.
			return nil, fmt.Errorf("%w: postgres URL does not parse", ErrBadURL)
		}
		cfg.MaxConns = max(o.MaxConns, 8)
		s.where = fmt.Sprintf("postgres://%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", s.where, err)
		}
		s.pool, s.db, s.dialect = pool, stdlib.OpenDBFromPool(pool), Postgres
	default:
		return nil, fmt.Errorf("%w: want sqlite:PATH or postgres://…", ErrBadURL)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Dialect is the back end's kind.
func (s *Store) Dialect() Dialect { return s.dialect }

// SQL is the database/sql handle (the SQLite queue shares it).
func (s *Store) SQL() *sql.DB { return s.db }

// Pool is the PostgreSQL pool (the PostgreSQL queue shares it); nil for
// SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// String names the store without credentials.
func (s *Store) String() string { return s.where }

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q rewrites ?-placeholders for the dialect.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, x execer, query string, args ...any) (sql.Result, error) {
	return x.ExecContext(ctx, s.q(query), args...)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store %s: commit: %w", s.where, err)
	}
	return nil
}

// timeFormat is how times are stored: fixed width, so text order is time
// order.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// Stamp formats t as the store keeps times ("" for the zero time).
func Stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseStamp(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}
