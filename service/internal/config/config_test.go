package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/doctable"
	"github.com/bookstore-aws/bookstore/service/internal/dbconn"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	// With the embedded engine nothing persists: no default SHARED_DIR, the
	// caller makes a temporary one.
	if c.Port != 5000 || c.SharedDir != "" || c.DrainTimeout != 25*time.Second || c.LogLevel != slog.LevelInfo ||
		len(c.AdminEmails) != 0 || c.DB.Mode != dbconn.ModeEmbedded || c.Currency.String() != "EUR" {
		t.Fatalf("defaults: %+v", c)
	}
	// With a database, the image's volume.
	for _, e := range []map[string]string{
		{"DATABASE_URL": "mysql://u:p@db:3306/bookstore"},
		{"DB_HOST": "db", "DB_NAME": "bookstore", "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"},
	} {
		if c, err := FromEnv(env(e)); err != nil || c.SharedDir != "/app/shared" {
			t.Errorf("%v: SharedDir %q, %v; want /app/shared", e, c.SharedDir, err)
		}
	}
	// Set, it is used whatever the database.
	if c, err := FromEnv(env(map[string]string{"SHARED_DIR": "/srv/covers"})); err != nil || c.SharedDir != "/srv/covers" {
		t.Errorf("embedded with SHARED_DIR: %q, %v", c.SharedDir, err)
	}
}

// The bounds of DRAIN_TIMEOUT themselves are accepted.
func TestDrainTimeoutBounds(t *testing.T) {
	for _, v := range []string{"1s", "29.999s"} {
		c, err := FromEnv(env(map[string]string{"DRAIN_TIMEOUT": v}))
		if err != nil || c.DrainTimeout.String() != v {
			t.Errorf("DRAIN_TIMEOUT=%s: %v, %v", v, c.DrainTimeout, err)
		}
	}
}

func TestValues(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"PORT": "8080", "SHARED_DIR": "/mnt/x", "ADMIN_EMAILS": " A@Example.com, b@example.com ,", "LOG_LEVEL": "debug",
		"DRAIN_TIMEOUT": "10s", "DATABASE_URL": "mysql://u:p@db:3306/bookstore", "CURRENCY": " usd ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.SharedDir != "/mnt/x" || strings.Join(c.AdminEmails, ",") != "a@example.com,b@example.com" ||
		c.LogLevel != slog.LevelDebug || c.DrainTimeout != 10*time.Second || c.DB.Mode != dbconn.ModeURL || c.Currency.String() != "USD" {
		t.Fatalf("%+v", c)
	}
}

// Each bad value is reported, by variable name, all at once.
func TestErrorsNameTheVariable(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"PORT": "http", "SHARED_DIR": "relative/dir", "ADMIN_EMAILS": "root", "LOG_LEVEL": "loud",
		"DRAIN_TIMEOUT": "45s", "DATABASE_URL": "postgres://x", "CURRENCY": "euro",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"PORT", "SHARED_DIR", "ADMIN_EMAILS", "LOG_LEVEL", "DRAIN_TIMEOUT", "DATABASE_URL", "CURRENCY"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	for _, bad := range []map[string]string{
		{"PORT": "0"}, {"PORT": "70000"}, {"DRAIN_TIMEOUT": "0s"}, {"DRAIN_TIMEOUT": "30s"}, {"DRAIN_TIMEOUT": "1ns"}, {"DRAIN_TIMEOUT": "999ms"},
		{"DRAIN_TIMEOUT": "-5s"}, {"DRAIN_TIMEOUT": "25"},
		{"ADMIN_EMAILS": "Admin <a@example.com>"},
		{"CURRENCY": "€"}, {"CURRENCY": "XXX"}, {"CURRENCY": "JPY"}, {"CURRENCY": "BHD"}, {"CURRENCY": "EU"},
	} {
		if _, err := FromEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// DB_TLS_CA_FILE is checked at start, with the rest, by name.
func TestCAFileIsCheckedAtStart(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"PORT": "http", "DATABASE_URL": "mysql://u:p@db:3306/bookstore", "DB_TLS_CA_FILE": "/nonexistent/rds-ca.pem",
	}))
	if err == nil || !strings.Contains(err.Error(), "PORT:") || !strings.Contains(err.Error(), "DB_TLS_CA_FILE: open /nonexistent/rds-ca.pem") {
		t.Fatalf("error %v: want both PORT and DB_TLS_CA_FILE named", err)
	}
}

// FromEnv reads exactly the variables Vars documents: a new variable without a
// row in docs/service.md fails here.
func TestVarsAreWhatFromEnvReads(t *testing.T) {
	read := map[string]bool{}
	FromEnv(func(k string) string { read[k] = true; return "" })
	documented := map[string]bool{}
	for _, v := range Vars {
		documented[v.Name] = true
		if !read[v.Name] {
			t.Errorf("Vars documents %s, which FromEnv does not read", v.Name)
		}
		if strings.TrimSpace(v.Meaning) == "" {
			t.Errorf("%s: no meaning in Vars", v.Name)
		}
	}
	for k := range read {
		if !documented[k] {
			t.Errorf("FromEnv reads %s, which Vars does not document: add it to Vars in service/internal/config/vars.go, then run `%s`", k, doctable.Command)
		}
	}
}
