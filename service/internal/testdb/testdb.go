// Package testdb gives each test its own empty database: a fresh database on
// the MariaDB/MySQL server named by BOOKSTORE_TEST_DATABASE_URL, or, when it
// is unset, a fresh embedded engine. The same suites thus run on both.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/embedded"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// EnvURL names the server to test against: "mysql://user:pass@host:port/db"
// (the database part is ignored) or a go-sql-driver DSN.
const EnvURL = "BOOKSTORE_TEST_DATABASE_URL"

// DB is a fresh, empty database for one test.
type DB struct {
	// DSN is a go-sql-driver DSN for it.
	DSN string
	// Engine is "mariadb" (a server from EnvURL) or "embedded".
	Engine string
	// Timeout is what a query may take under a test's load: the store's
	// default on MariaDB, ten times it on the embedded engine, which runs
	// one statement at a time and scans where MySQL would use an index
	// (a session lookup among 300 rows takes ~5 ms).
	Timeout time.Duration
}

// New returns a fresh database, dropped (or stopped) when t ends. Without
// EnvURL in a binary built with -tags noembedded it skips t, or fails it
// under BOOKSTORE_TEST_STRICT=1.
func New(t testing.TB) DB {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		srv, err := embedded.Start("bookstore")
		if err != nil {
			if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
				t.Fatalf("testdb: %v", err)
			}
			t.Skipf("testdb: %v", err)
		}
		t.Cleanup(func() { srv.Close() })
		return DB{DSN: srv.DSN, Engine: "embedded", Timeout: 10 * store.DefaultTimeout}
	}
	cfg, err := parse(raw)
	if err != nil {
		t.Fatalf("testdb: %s: %v", EnvURL, err)
	}
	name := "bookstore_test_" + strings.ToLower(rand.Text()[:12])
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		admin.Close()
	})
	cfg.DBName = name
	return DB{DSN: cfg.FormatDSN(), Engine: "mariadb", Timeout: store.DefaultTimeout}
}

// Open returns a pool on d, closed when t ends.
func (d DB) Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func parse(raw string) (*mysql.Config, error) {
	if !strings.Contains(raw, "://") {
		return mysql.ParseDSN(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "mysql" && u.Scheme != "mysql+pymysql" {
		return nil, fmt.Errorf("scheme %q: want mysql://", u.Scheme)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr = u.Hostname() + ":3306"
	}
	return cfg, nil
}
