package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
)

// SessionStore is scs's MySQL store (table `sessions`, migration 0008) with
// the context-aware methods scs prefers: mysqlstore's own Find and Commit
// take no context, so a dead database would hang session loading forever.
// The SQL is mysqlstore's.
type SessionStore struct {
	*mysqlstore.MySQLStore
	db      *sql.DB
	timeout time.Duration
}

// NewSessionStore returns a store on db whose calls give up after timeout.
// cleanup is how often expired sessions are deleted (0: never; tests).
// Call StopCleanup when done.
func NewSessionStore(db *sql.DB, timeout, cleanup time.Duration) *SessionStore {
	return &SessionStore{MySQLStore: mysqlstore.NewWithCleanupInterval(db, cleanup), db: db, timeout: timeout}
}

// FindCtx returns the session data for token, and whether it exists.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = ? AND UTC_TIMESTAMP(6) < expiry", token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("find session", err)
	}
	return b, true, nil
}

// CommitCtx stores the session data for token until expiry.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)",
		token, b, expiry.UTC())
	return wrap("commit session", err)
}

// DeleteCtx removes the session for token.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, "DELETE FROM sessions WHERE token = ?", token)
	return wrap("delete session", err)
}
