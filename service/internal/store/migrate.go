package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Migrations are applied by golang-migrate, whose MySQL driver holds
// GET_LOCK while it works: of several instances booting at once, one applies
// them and the others wait for the lock, then find nothing to do. Each file
// holds one statement, because MySQL DDL is not transactional: a failure
// then leaves the schema at a known version instead of half a file applied.
//
//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the version the embedded migrations bring a database to.
var SchemaVersion = func() uint {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	var v uint
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		if x, err := strconv.ParseUint(n, 10, 32); err == nil && uint(x) > v {
			v = uint(x)
		}
	}
	return v
}()

// MigrateTimeout bounds how long Migrate keeps waiting for another instance
// that holds the migration lock.
const MigrateTimeout = 2 * time.Minute

// Migrate brings db to SchemaVersion. It is safe to call from many instances
// at once: it retries while another holds the lock (the driver gives up on
// GET_LOCK after 10 s) until ctx ends or MigrateTimeout passes. It returns an
// error if a migration fails or the database is marked dirty by an earlier
// failure (fix by hand, then `migrate force`).
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, MigrateTimeout)
	defer cancel()
	for {
		err := migrateOnce(ctx, db, logger, migrations)
		if !errors.Is(err, database.ErrLocked) && !errors.Is(err, migrate.ErrLocked) && !errors.Is(err, migrate.ErrLockTimeout) {
			return err
		}
		logger.Info("another instance is migrating; waiting")
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: waiting for the lock: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// migrateOnce applies the migrations under fsys's "migrations" folder.
func migrateOnce(ctx context.Context, db *sql.DB, logger *slog.Logger, fsys fs.FS) error {
	src, err := iofs.New(fsys, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: source: %w", err)
	}
	noFullText, err := embeddedEngine(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w: %w", ErrUnavailable, err)
	}
	if noFullText {
		src = withoutFullText{src}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w: %w", ErrUnavailable, err)
	}
	drv, err := migratemysql.WithConnection(ctx, conn, &migratemysql.Config{})
	if err != nil {
		conn.Close()
		return fmt.Errorf("migrate: driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", drv)
	if err != nil {
		drv.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	defer m.Close()
	before, _, _ := m.Version()
	switch err := m.Up(); {
	case errors.Is(err, migrate.ErrNoChange):
		return nil
	case err != nil:
		return fmt.Errorf("migrate: up from version %d: %w", before, err)
	}
	logger.Info("schema migrated", "from", before, "to", SchemaVersion)
	return nil
}

// withoutFullText replaces each migration named *_fulltext with a no-op on
// the embedded engine: go-mysql-server accepts a FULLTEXT index but then
// fails every "=" filter on its columns, and can't search it in BOOLEAN
// MODE anyway (the store searches with LIKE there; see Store.Catalog).
type withoutFullText struct{ source.Driver }

func (w withoutFullText) ReadUp(version uint) (io.ReadCloser, string, error) {
	return skipFullText(w.Driver.ReadUp(version))
}

func (w withoutFullText) ReadDown(version uint) (io.ReadCloser, string, error) {
	return skipFullText(w.Driver.ReadDown(version))
}

func skipFullText(r io.ReadCloser, id string, err error) (io.ReadCloser, string, error) {
	if err == nil && strings.HasSuffix(id, "_fulltext") {
		r.Close()
		return io.NopCloser(strings.NewReader("SELECT 1")), id, nil
	}
	return r, id, err
}

// embeddedEngine reports whether db is the embedded go-mysql-server engine
// (its version_comment is "Dolt"), which has no usable FULLTEXT search.
func embeddedEngine(ctx context.Context, db *sql.DB) (bool, error) {
	var comment string
	if err := db.QueryRowContext(ctx, "SELECT @@version_comment").Scan(&comment); err != nil {
		return false, err
	}
	return comment == "Dolt", nil
}

// SchemaCurrent reports whether the database's schema is at SchemaVersion
// and not dirty; /readyz uses it.
func (s *Store) SchemaCurrent(ctx context.Context) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var v uint
	var dirty bool
	err := s.DB.QueryRowContext(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&v, &dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("schema version", err)
	}
	return v == SchemaVersion && !dirty, nil
}
