// Package store owns the bookstore's SQL: the schema (embedded, versioned
// migrations), the models, and every query. It speaks the dialect that
// MariaDB, MySQL 8.4 and the embedded go-mysql-server engine all accept, and
// works with any go-sql-driver DSN (it needs neither parseTime nor
// multiStatements).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Errors the store returns; handlers map them to pages and status codes.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrDuplicateEmail = errors.New("store: email already registered")
	ErrOutOfStock     = errors.New("store: not enough stock")
	ErrAlreadyPaid    = errors.New("store: purchase already paid")
	ErrDeliveryChosen = errors.New("store: delivery already chosen")
	ErrNoDelivery     = errors.New("store: no delivery chosen yet")
	ErrExpired        = errors.New("store: reservation expired")
	// ErrUnavailable wraps every failure to reach or use the database
	// (timeouts, refused or broken connections); the web layer answers 503.
	ErrUnavailable = errors.New("store: database unavailable")
)

// DefaultTimeout bounds each store call, so a dead database costs a request
// at most this long instead of hanging it.
const DefaultTimeout = 3 * time.Second

// Store runs the bookstore's queries against one pool.
type Store struct {
	DB *sql.DB
	// Timeout bounds each method call (DefaultTimeout when zero).
	Timeout time.Duration
	now     func() time.Time
	engine  atomic.Int32 // isEmbedded's answer: 0 unknown, 1 MySQL or MariaDB, 2 embedded
}

// New returns a Store using db with DefaultTimeout.
func New(db *sql.DB) *Store {
	return &Store{DB: db, Timeout: DefaultTimeout, now: time.Now}
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

func (s *Store) clock() time.Time {
	if s.now == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return s.now().UTC().Truncate(time.Second)
}

// wrap classifies err: MySQL's own answers (duplicate key, constraint) pass
// through as they are; anything else means the database could not be used.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var changed *StockChangedError
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDuplicateEmail) || errors.Is(err, ErrOutOfStock) ||
		errors.Is(err, ErrAlreadyPaid) || errors.Is(err, ErrDeliveryChosen) || errors.Is(err, ErrExpired) ||
		errors.Is(err, ErrNoDelivery) ||
		errors.As(err, &changed) {
		return err
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number != 1045 && me.Number != 1040 && me.Number != 1205 && me.Number != 1213 {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// Time is a DATETIME read with or without the DSN's parseTime option.
type Time struct{ time.Time }

// Scan implements sql.Scanner for time.Time and "2006-01-02 15:04:05[.999999]".
func (t *Time) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		t.Time = v.UTC()
		return nil
	case []byte:
		return t.parse(string(v))
	case string:
		return t.parse(v)
	case nil:
		t.Time = time.Time{}
		return nil
	}
	return fmt.Errorf("store: can't scan %T into a time", v)
}

func (t *Time) parse(s string) error {
	p, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil {
		return fmt.Errorf("store: bad DATETIME %q: %w", s, err)
	}
	t.Time = p
	return nil
}

// bumpCatalog marks a change to which books are on sale or to their order
// (a book added, edited or archived), inside the transaction that made it;
// see CatalogVersion. Purchases and expired reservations change only stock
// and don't bump it: no row is written by every purchase.
func bumpCatalog(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "UPDATE catalog_version SET version = version + 1 WHERE id = 1")
	return err
}

// CatalogVersion returns a number that grows with every committed change to
// which books are on sale or to their order: a book added, edited or
// archived, never a purchase. A cache of a search's page members compares
// it to know they are current, in every instance that shares the database;
// their stock and price it reads again (BooksByID).
func (s *Store) CatalogVersion(ctx context.Context) (int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var v int64
	err := s.DB.QueryRowContext(ctx, "SELECT version FROM catalog_version WHERE id = 1").Scan(&v)
	return v, wrap("catalog version", err)
}

// Ping checks that the database answers, within the store's timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return wrap("ping", s.DB.PingContext(ctx))
}
