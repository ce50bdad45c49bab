package store

import (
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
)

// Migrations is the embedded migrations folder, for tests.
var Migrations fs.FS = migrations

// MigrateFS applies the migrations under fsys's "migrations" folder, as
// Migrate does with the embedded ones: a test brings a database to an
// earlier release's schema with it.
func MigrateFS(ctx context.Context, db *sql.DB, logger *slog.Logger, fsys fs.FS) error {
	return migrateOnce(ctx, db, logger, fsys)
}
