package store

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
)

// SessionStore is scs's MySQL store (table `sessions`, migration 0008) with
// the context-aware methods scs prefers: mysqlstore's own Find and Commit
// take no context, so a dead database would hang session loading forever.
//
// One change to mysqlstore's SQL: a deleted session leaves a tombstone (a
// row with empty data, which scs never writes) for TombstoneTTL, and a
// commit to a tombstoned token is dropped. Without it, a request still
// running when its session is deleted (logout, or the token renewed at
// login) commits the old data at its end and brings the old token back to
// life: the user is signed in again after "You have been logged out".
type SessionStore struct {
	*mysqlstore.MySQLStore
	db      *sql.DB
	timeout time.Duration
}

// TombstoneTTL is how long a deleted token stays dead before its row goes.
// It outlasts any request that could still commit it: the server cuts a
// request after its 60 s read and 60 s write timeouts.
const TombstoneTTL = time.Hour

// NewSessionStore returns a store on db whose calls give up after timeout.
// cleanup is how often expired sessions are deleted (0: never; tests).
// Call StopCleanup when done.
func NewSessionStore(db *sql.DB, timeout, cleanup time.Duration) *SessionStore {
	return &SessionStore{MySQLStore: mysqlstore.NewWithCleanupInterval(db, cleanup), db: db, timeout: timeout}
}

// tokenFormat is every token scs makes: 32 random bytes in unpadded
// base64url, 43 characters.
var tokenFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// FindCtx returns the session data for token, and whether it exists. A
// token not in scs's format is no session, and is not looked up: the
// column's utf8mb4_bin is PAD SPACE on MariaDB and MySQL, so "<live token>   "
// would find the live session there (the embedded engine refuses it); a
// format check treats both engines the same, and spares the query.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if !tokenFormat.MatchString(token) {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = ? AND UTC_TIMESTAMP(6) < expiry AND LENGTH(data) > 0", token).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("find session", err)
	}
	return b, true, nil
}

// CommitCtx stores the session data for token until expiry, unless token
// was deleted (see SessionStore); then it does nothing. Empty data is an
// error: it would read as a tombstone.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if len(b) == 0 {
		return errors.New("store: commit session: empty data")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// expiry is assigned first: MySQL evaluates these in order, and the
	// second sees the first's result.
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE"+
			" expiry = IF(LENGTH(data) = 0, expiry, ?), data = IF(LENGTH(data) = 0, data, ?)",
		token, b, expiry.UTC(), expiry.UTC(), b)
	return wrap("commit session", err)
}

// DeleteCtx ends the session for token and keeps the token dead for
// TombstoneTTL (see SessionStore).
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	until := time.Now().Add(TombstoneTTL).UTC()
	_, err := s.db.ExecContext(ctx,
		"INSERT INTO sessions (token, data, expiry) VALUES (?, '', ?) ON DUPLICATE KEY UPDATE data = '', expiry = ?",
		token, until, until)
	return wrap("delete session", err)
}

// Find, Commit and Delete are the context-free scs.Store methods, routed
// through the ones above so no caller bypasses the tombstones.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *SessionStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }
