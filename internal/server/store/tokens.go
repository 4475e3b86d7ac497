package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token scopes, each including the ones before it.
const (
	// ScopeRead reads images, scans, findings and events.
	ScopeRead = "read"
	// ScopeScan also submits scans, uploads and inventories.
	ScopeScan = "scan"
	// ScopeAdmin may do everything.
	ScopeAdmin = "admin"
)

// ScopeRank orders scopes; 0 is no scope.
func ScopeRank(scope string) int {
	switch scope {
	case ScopeRead:
		return 1
	case ScopeScan:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// TokenPrefix starts every token, so secret scanners recognise them.
const TokenPrefix = "ddk_"

// Token is an API token as stored: its hash, never the token itself.
type Token struct {
	ID      string
	Name    string
	Scope   string
	Created time.Time
	Revoked bool
}

// ErrBadToken is returned for a token the store does not know.
var ErrBadToken = errors.New("unknown or revoked token")

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken makes a token and returns it; only its SHA-256 is stored
// (tokens are 256 random bits, so a fast hash is enough).
func (s *Store) CreateToken(ctx context.Context, name, scope string) (string, Token, error) {
	if ScopeRank(scope) == 0 {
		return "", Token{}, fmt.Errorf("token scope %q: want read, scan or admin", scope)
	}
	if strings.TrimSpace(name) == "" {
		return "", Token{}, errors.New("a token needs a name")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	t := Token{ID: NewID()[:12], Name: name, Scope: scope, Created: time.Now()}
	if _, err := s.exec(ctx, s.db, `INSERT INTO tokens (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Scope, hashToken(secret), Stamp(t.Created)); err != nil {
		return "", Token{}, fmt.Errorf("store %s: token: %w", s.where, err)
	}
	return secret, t, nil
}

// Authenticate returns the token whose secret this is.
func (s *Store) Authenticate(ctx context.Context, secret string) (Token, error) {
	var t Token
	var created string
	var revoked int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, name, scope, created_at, revoked FROM tokens WHERE hash = ?`), hashToken(secret)).
		Scan(&t.ID, &t.Name, &t.Scope, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrBadToken
	}
	if err != nil {
		return t, fmt.Errorf("store %s: token: %w", s.where, err)
	}
	t.Created, t.Revoked = parseStamp(created), revoked != 0
	if t.Revoked {
		return t, ErrBadToken
	}
	return t, nil
}

// RevokeToken revokes a token by id.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.exec(ctx, s.db, `UPDATE tokens SET revoked = 1 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store %s: token: %w", s.where, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	return nil
}

// Tokens lists the tokens.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, scope, created_at, revoked FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store %s: tokens: %w", s.where, err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created string
		var revoked int
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &created, &revoked); err != nil {
			return nil, err
		}
		t.Created, t.Revoked = parseStamp(created), revoked != 0
		out = append(out, t)
	}
	return out, rows.Err()
}
