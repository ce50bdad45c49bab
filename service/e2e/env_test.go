package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
	"github.com/go-sql-driver/mysql"
)

// needDatabase checks for the server the container is pointed at.
func needDatabase(t testing.TB) {
	t.Helper()
	if os.Getenv("BOOKSTORE_TEST_DATABASE_URL") == "" {
		containertest.Missing(t, "BOOKSTORE_TEST_DATABASE_URL is not set: the image has no embedded engine, so its container needs a "+
			"MariaDB/MySQL (run .ci/run, which starts one)")
	}
}

// testDB is the server named by BOOKSTORE_TEST_DATABASE_URL.
type testDB struct {
	cfg *mysql.Config // the URL's user, password and address
}

// parseTestDB reads BOOKSTORE_TEST_DATABASE_URL, in either form the service takes:
// mysql://user:pass@host:port/db (also mysql+pymysql://) or a go-sql-driver DSN.
func parseTestDB(raw string) (*testDB, error) {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("BOOKSTORE_TEST_DATABASE_URL: %w", err)
		}
		if u.Scheme != "mysql" && u.Scheme != "mysql+pymysql" {
			return nil, fmt.Errorf("BOOKSTORE_TEST_DATABASE_URL: scheme %q, want mysql:// or a DSN", u.Scheme)
		}
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net = "tcp"
		cfg.Addr = u.Host
		if u.Port() == "" {
			cfg.Addr = u.Host + ":3306"
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		return &testDB{cfg: cfg}, nil
	}
	cfg, err := mysql.ParseDSN(raw)
	if err != nil {
		return nil, fmt.Errorf("BOOKSTORE_TEST_DATABASE_URL: %w", err)
	}
	return &testDB{cfg: cfg}, nil
}

// createDatabase makes an empty database for one run of the container (the test
// user may create any bookstore_test% database) and returns its mysql:// URL for
// the container's DATABASE_URL, with a func that drops it.
func (d *testDB) createDatabase(ctx context.Context, name string) (dbURL string, drop func() error, err error) {
	if d.cfg.Net != "tcp" {
		return "", nil, fmt.Errorf("BOOKSTORE_TEST_DATABASE_URL uses %q; the container needs a TCP address", d.cfg.Net)
	}
	admin := d.cfg.Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() error {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		return err
	}
	u := url.URL{Scheme: "mysql", User: url.UserPassword(d.cfg.User, d.cfg.Passwd), Host: d.cfg.Addr, Path: "/" + name}
	return u.String(), drop, nil
}
