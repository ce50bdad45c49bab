package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// ErrOutcomeUnknown wraps ErrUnavailable when a write was sent but its
// answer never came: the connection broke or the caller's deadline passed
// during the COMMIT (or during an autocommitted statement). The database may
// have applied the change or not; only reading it back tells.
var ErrOutcomeUnknown = fmt.Errorf("%w: outcome of the change unknown", ErrUnavailable)

type commitsKey struct{}

// TrackCommits returns a context in which the store records that a change
// it made has committed; Committed reads the record. The web layer wraps
// each request's context with it, so that a failure after the commit (the
// session save) is never reported as if the change had failed.
func TrackCommits(ctx context.Context) context.Context {
	return context.WithValue(ctx, commitsKey{}, new(atomic.Bool))
}

// Committed reports whether a store call made with ctx (or a context
// derived from it, see TrackCommits) has committed a change.
func Committed(ctx context.Context) bool {
	b, _ := ctx.Value(commitsKey{}).(*atomic.Bool)
	return b != nil && b.Load()
}

func noteCommit(ctx context.Context) {
	if b, _ := ctx.Value(commitsKey{}).(*atomic.Bool); b != nil {
		b.Store(true)
	}
}

// inTx runs fn in a transaction and commits it, or rolls it back if fn
// returns an error. The commit is bounded by ctx: go-sql-driver's
// Tx.Commit watches no context (it waits up to the DSN's readTimeout), so
// it runs aside and inTx stops waiting when ctx ends. The transaction then
// finishes or fails on its own, within readTimeout, and its connection
// goes back to the pool or is discarded. A commit whose answer did not come
// back returns an error wrapping ErrOutcomeUnknown; one the server refused
// (a MySQL error packet) wraps what it said: nothing was changed.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- tx.Commit() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("commit: %w: %w", ErrOutcomeUnknown, context.Cause(ctx))
	}
	var me *mysql.MySQLError
	switch {
	case err == nil:
		noteCommit(ctx)
		return nil
	case errors.As(err, &me), errors.Is(err, sql.ErrTxDone),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Refused by the server, or never sent: database/sql checks the
		// context before it sends COMMIT, and the driver doesn't after.
		return fmt.Errorf("commit: %w", err)
	}
	return fmt.Errorf("commit: %w: %w", ErrOutcomeUnknown, err)
}

// execWrite runs one autocommitted write statement on db and classifies its
// failure as inTx does its COMMIT's: the server's refusal (a MySQL error
// packet) and a connection that was never got or that the driver reports as
// unused (driver.ErrBadConn: nothing was sent) come back as they are, so
// wrap calls them what they are; any other failure (the deadline passed or
// the connection broke while the statement was out) wraps
// ErrOutcomeUnknown, since the server may have applied it. Reads need none
// of this: a lost answer to a read changed nothing. The session store's
// writes don't use it either: repeating a sign-in or a logout is safe, so
// "try again" (ErrUnavailable) is the true answer there.
func execWrite(ctx context.Context, db *sql.DB, query string, args ...any) (sql.Result, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := conn.ExecContext(ctx, query, args...)
	var me *mysql.MySQLError
	if err == nil || errors.As(err, &me) || errors.Is(err, driver.ErrBadConn) {
		return res, err
	}
	return nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}
