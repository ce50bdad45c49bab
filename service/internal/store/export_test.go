package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"

	"github.com/golang-migrate/migrate/v4"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Migrations is the embedded migrations folder, for tests.
var Migrations fs.FS = migrations

// MigrateFS applies the migrations under fsys's "migrations" folder, as
// Migrate does with the embedded ones: a test brings a database to an
// earlier release's schema with it.
func MigrateFS(ctx context.Context, db *sql.DB, logger *slog.Logger, fsys fs.FS) error {
	return migrateOnce(ctx, db, logger, fsys)
}

// MigrateTo brings db to version v exactly (up or down), for tests that
// need a database as an earlier release left it.
func MigrateTo(ctx context.Context, db *sql.DB, v uint) error {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	drv, err := migratemysql.WithConnection(ctx, conn, &migratemysql.Config{})
	if err != nil {
		conn.Close()
		return err
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", drv)
	if err != nil {
		drv.Close()
		return err
	}
	defer m.Close()
	if err := m.Migrate(v); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}
