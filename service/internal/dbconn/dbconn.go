// Package dbconn turns the service's database environment into a *sql.DB.
//
// Three modes, chosen by which variables are set (DESIGN.md, "database, one of"):
//   - DATABASE_URL: "mysql://", "mysql+pymysql://" (the Flask original's form) or a
//     go-sql-driver DSN;
//   - DB_HOST + DB_PORT + DB_NAME + DB_SECRET_ARN: credentials from the RDS-managed
//     secret in AWS Secrets Manager, re-read when MySQL rejects them (rotation);
//   - neither: ModeEmbedded; the caller starts the in-process engine.
package dbconn

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
)

// Mode says where the credentials come from.
type Mode int

const (
	ModeEmbedded Mode = iota // no database configured
	ModeURL                  // DATABASE_URL
	ModeSecret               // DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN
)

// Settings is the parsed database environment.
type Settings struct {
	Mode      Mode
	DSN       string // ModeURL: normalised go-sql-driver DSN
	Host      string // ModeSecret
	Port      int    // ModeSecret, default 3306
	Name      string // ModeSecret
	SecretARN string // ModeSecret
}

// SettingsFromEnv reads DATABASE_URL, DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ARN
// through getenv (os.Getenv in production). It returns an error naming the variable
// that is malformed or missing; setting both modes at once is an error.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	return Settings{}, errors.New("dbconn: not implemented")
}

// Open returns a pool for s (ModeURL or ModeSecret). It does not ping.
func Open(ctx context.Context, s Settings, logger *slog.Logger) (*sql.DB, error) {
	return nil, errors.New("dbconn: not implemented")
}
