package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the dialect's migrations in order. Their versions run
// 1, 2, 3, … without gaps; the same versions exist for every dialect.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: want NNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations/%s: version %d where %d was expected", d, m.Version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the store's current schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM drydock_migrations").Scan(&v)
	return int(v.Int64), err
}

// migrate applies the migrations the store lacks, in one transaction. On
// PostgreSQL an advisory lock serialises processes starting together.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations(s.dialect)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			// 0x647279646f636b = "drydock"
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(28404789015750507)"); err != nil {
				return fmt.Errorf("store %s: migration lock: %w", s.where, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS drydock_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		var have sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM drydock_migrations").Scan(&have); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		if int(have.Int64) > len(ms) {
			return fmt.Errorf("store %s has schema version %d, this drydock knows up to %d: upgrade drydock", s.where, have.Int64, len(ms))
		}
		for _, m := range ms[have.Int64:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store %s: migration %d (%s): %w", s.where, m.Version, m.Name, err)
			}
			if _, err := s.exec(ctx, tx, "INSERT INTO drydock_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, Stamp(time.Now())); err != nil {
				return fmt.Errorf("store %s: %w", s.where, err)
			}
			s.log.Info("store migrated", "store", s.where, "version", m.Version, "name", m.Name)
		}
		return nil
	})
}
