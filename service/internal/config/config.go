// Package config reads and checks the service's environment in one place.
// Every error names the variable it is about. Nothing secret has a default:
// the Flask original kept its secret key and database password in the
// source (fault 7).
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/bookstore-aws/bookstore/service/internal/dbconn"
	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// Defaults, from docs/architecture.md, "The contract between the parts".
const (
	DefaultPort         = 5000
	DefaultSharedDir    = "/app/shared"
	DefaultDrainTimeout = 25 * time.Second
	// MaxDrainTimeout keeps the drain inside the ALB's 30 s deregistration
	// delay, so the load balancer never cuts a request we are finishing.
	MaxDrainTimeout = 30 * time.Second
	// MinDrainTimeout leaves time to finish a request: below a second the
	// drain would cut every request in flight, even a fast page.
	MinDrainTimeout = time.Second
)

// Config is the service's whole configuration.
//
// SharedDir is SHARED_DIR. Unset, it is DefaultSharedDir with a database,
// and "" with the embedded engine: nothing persists then, so the caller
// uses a temporary directory.
type Config struct {
	Port         int           // PORT: TCP port for plain HTTP, 1-65535
	SharedDir    string        // SHARED_DIR: covers are written under it; see above
	AdminEmails  []string      // ADMIN_EMAILS: lower-cased addresses
	LogLevel     slog.Level    // LOG_LEVEL: debug, info, warn or error
	DrainTimeout time.Duration // DRAIN_TIMEOUT: Go duration, >= 1 s and < 30 s
	// Currency is CURRENCY: the ISO 4217 code every amount is in and shown
	// with, default money.DefaultCurrency (EUR); see money.ParseCurrency
	// for what is accepted. It names the unit of the stored cents, so it is
	// set once per database, not changed on a store that has prices.
	Currency currency.Unit
	DB       dbconn.Settings
}

// FromEnv reads the configuration through getenv (os.Getenv in production).
// It returns every problem at once, joined, each naming its variable.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{DrainTimeout: DefaultDrainTimeout, LogLevel: slog.LevelInfo}
	var errs []error
	var err error
	if c.Port, err = Port(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := strings.TrimSpace(getenv("SHARED_DIR")); v != "" {
		if !strings.HasPrefix(v, "/") {
			errs = append(errs, fmt.Errorf("SHARED_DIR: %q is not an absolute path", v))
		}
		c.SharedDir = v
	}
	for _, e := range strings.Split(getenv("ADMIN_EMAILS"), ",") {
		e = store.NormalizeEmail(e)
		if e == "" {
			continue
		}
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			errs = append(errs, fmt.Errorf("ADMIN_EMAILS: %q is not an email address (want a comma-separated list like a@example.com,b@example.com)", e))
			continue
		}
		c.AdminEmails = append(c.AdminEmails, e)
	}
	if v := strings.TrimSpace(getenv("LOG_LEVEL")); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", v))
		}
	}
	code := strings.TrimSpace(getenv("CURRENCY"))
	if code == "" {
		code = money.DefaultCurrency
	}
	if c.Currency, err = money.ParseCurrency(code); err != nil {
		errs = append(errs, fmt.Errorf("CURRENCY: %w", err))
	}
	if v := strings.TrimSpace(getenv("DRAIN_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("DRAIN_TIMEOUT: %q is not a Go duration like 25s", v))
		case d < MinDrainTimeout || d >= MaxDrainTimeout:
			errs = append(errs, fmt.Errorf("DRAIN_TIMEOUT: %s must be at least 1s (time to finish a request) and less than the ALB's 30s deregistration delay", d))
		default:
			c.DrainTimeout = d
		}
	}
	if c.DB, err = dbconn.SettingsFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.SharedDir == "" && c.DB.Mode != dbconn.ModeEmbedded {
		c.SharedDir = DefaultSharedDir
	}
	return c, errors.Join(errs...)
}

// Port reads PORT (default 5000); the healthcheck mode needs only this.
func Port(getenv func(string) string) (int, error) {
	v := strings.TrimSpace(getenv("PORT"))
	if v == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("PORT: %q is not a TCP port (1-65535)", v)
	}
	return p, nil
}
