package dbconn

import (
	"context"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// errUnavailable stands for the store's wrapper around connection errors.
var errUnavailable = errors.New("store: database unavailable")

func asAtStart(err error) error { return fmt.Errorf("migrate: %w: %w", errUnavailable, err) }

// Which errors at start are permanent, and the variable each names; the
// rest (refused, timed out, starting, overloaded, DNS) are waited for.
func TestPermanentClassifies(t *testing.T) {
	url := Settings{Mode: ModeURL}
	urlCA := Settings{Mode: ModeURL, TLSCAFile: "/ca.pem"}
	sec := Settings{Mode: ModeSecret}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name    string
		s       Settings
		err     error
		wantVar string // "" for transient
	}{
		{"1045 url", url, &mysql.MySQLError{Number: 1045, Message: "Access denied"}, "DATABASE_URL"},
		{"1045 secret", sec, &mysql.MySQLError{Number: 1045}, "DB_SECRET_ARN"},
		{"1044 url", url, &mysql.MySQLError{Number: 1044}, "DATABASE_URL"},
		{"1044 secret", sec, &mysql.MySQLError{Number: 1044}, "DB_NAME"},
		{"1049 url", url, &mysql.MySQLError{Number: 1049}, "DATABASE_URL"},
		{"1049 secret", sec, &mysql.MySQLError{Number: 1049}, "DB_NAME"},
		{"1130 secret", sec, &mysql.MySQLError{Number: 1130}, "DB_HOST"},
		{"1251 auth plugin", sec, &mysql.MySQLError{Number: 1251}, "DB_HOST"},
		{"ErrAccessDenied", sec, fmt.Errorf("dbconn: %w for user %q: %w", ErrAccessDenied, "app", &mysql.MySQLError{Number: 1045}), "DB_SECRET_ARN"},
		{"ErrSecretNotFound", sec, fmt.Errorf("dbconn: secret x: %w: %w", ErrSecretNotFound, errors.New("ResourceNotFoundException")), "DB_SECRET_ARN"},
		{"ErrSecretFormat", sec, fmt.Errorf("dbconn: secret x: %w: invalid JSON", ErrSecretFormat), "DB_SECRET_ARN"},
		{"unknown CA with bundle", urlCA, x509.UnknownAuthorityError{}, "DB_TLS_CA_FILE"},
		{"wrong host name", urlCA, x509.HostnameError{Certificate: &x509.Certificate{}, Host: "db"}, "DB_TLS_CA_FILE"},
		{"unknown CA, tls=true", url, x509.UnknownAuthorityError{}, "DATABASE_URL"},
		{"no TLS", urlCA, mysql.ErrNoTLS, "DB_TLS_CA_FILE"},

		{"refused", url, refused, ""},
		{"timeout", url, context.DeadlineExceeded, ""},
		{"DNS not found", sec, &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, ""},
		{"bad conn", url, driver.ErrBadConn, ""},
		{"invalid conn", url, mysql.ErrInvalidConn, ""},
		{"EOF in handshake", url, io.ErrUnexpectedEOF, ""},
		{"too many connections", url, &mysql.MySQLError{Number: 1040}, ""},
		{"shutting down", url, &mysql.MySQLError{Number: 1053}, ""},
		{"2003 via a proxy", url, &mysql.MySQLError{Number: 2003}, ""},
		{"2013 via a proxy", url, &mysql.MySQLError{Number: 2013}, ""},
		{"offline mode", url, &mysql.MySQLError{Number: 3032}, ""},
		{"IAM not yet applied", sec, fmt.Errorf("dbconn: read secret x: %w", errors.New("AccessDeniedException")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Permanent(tt.s, asAtStart(tt.err))
			switch {
			case tt.wantVar == "" && p != nil:
				t.Fatalf("transient error called permanent: %v", p)
			case tt.wantVar == "":
				return
			case p == nil:
				t.Fatalf("permanent error %v called transient", tt.err)
			case p.Var != tt.wantVar || !strings.HasPrefix(p.Error(), tt.wantVar+": "):
				t.Fatalf("Var %q (%v), want %s", p.Var, p, tt.wantVar)
			case strings.Contains(p.Error(), "database unavailable"):
				t.Errorf("message %q keeps the callers' wrapping", p)
			}
		})
	}
}

// Errors a real server gives: wrong password, no rights on the database, no
// such database. Each is permanent, names DATABASE_URL or the DB_* variable
// to fix, and does not quote the password; a closed port is transient.
func TestPermanentFromARealServer(t *testing.T) {
	admin, cfg := testAdmin(t)
	pw := "pw-" + randomHex(t, 8)
	user := createUser(t, admin, cfg.DBName, pw)
	noRights := createUser(t, admin, "", pw)
	host, port := tcpAddr(t, cfg)
	dsn := func(user, pass, db string) Settings {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, pass, "tcp", net.JoinHostPort(host, fmt.Sprint(port)), db
		return Settings{Mode: ModeURL, DSN: c.FormatDSN()}
	}
	for _, tt := range []struct {
		name    string
		s       Settings
		wantVar string
		want    string
	}{
		{"wrong password", dsn(user, "wrong-"+pw, cfg.DBName), "DATABASE_URL", "rejects the user name or password"},
		{"no rights", dsn(noRights, pw, cfg.DBName), "DATABASE_URL", "may not use this database"},
		{"no such database", dsn(user, pw, "bookstore_test_nonexistent"), "DATABASE_URL", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.s, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.PingContext(t.Context())
			p := Permanent(tt.s, asAtStart(err))
			if p == nil || p.Var != tt.wantVar || !strings.Contains(p.Error(), tt.want) {
				t.Fatalf("Permanent(%v) = %v, want %s: ...%s", err, p, tt.wantVar, tt.want)
			}
			if strings.Contains(p.Error(), pw) {
				t.Errorf("%q quotes the password", p)
			}
		})
	}
	// MariaDB answers 1044 for a database the user may not see, whether it
	// exists or not; a user with global rights gets 1049.
	s := dsn(cfg.User, cfg.Passwd, "bookstore_test_nonexistent")
	db, _ := Open(t.Context(), s, nil)
	defer db.Close()
	err := db.PingContext(t.Context())
	var me *mysql.MySQLError
	if p := Permanent(s, asAtStart(err)); p == nil || !errors.As(err, &me) || (me.Number != 1049 && me.Number != 1044) {
		t.Errorf("unknown database: %v -> %v", err, p)
	}

	closed := dsn(user, pw, cfg.DBName)
	c, _ := mysql.ParseDSN(closed.DSN)
	c.Addr = "127.0.0.1:1"
	closed.DSN = c.FormatDSN()
	db2, _ := Open(t.Context(), closed, nil)
	defer db2.Close()
	if err := db2.PingContext(t.Context()); err == nil || Permanent(closed, asAtStart(err)) != nil {
		t.Errorf("closed port: %v is not transient", err)
	}
}

// Through the Secrets Manager connector: a missing or malformed secret, or
// credentials the database rejects, are permanent and name DB_SECRET_ARN;
// a user without rights on DB_NAME names DB_NAME.
func TestPermanentFromTheSecretConnector(t *testing.T) {
	admin, cfg := testAdmin(t)
	pw := "pw-" + randomHex(t, 8)
	user := createUser(t, admin, cfg.DBName, pw)
	noRights := createUser(t, admin, "", pw)
	for _, tt := range []struct {
		name    string
		setup   func(f *fakeSecretsManager)
		wantVar string
		want    string
	}{
		{"not found", func(f *fakeSecretsManager) {}, "DB_SECRET_ARN", "no such secret"},
		{"malformed", func(f *fakeSecretsManager) { f.put(testARN, `{"username":"x"}`) }, "DB_SECRET_ARN", "not an RDS-managed secret"},
		{"rejected", func(f *fakeSecretsManager) { f.putCredentials(testARN, user, "wrong-"+pw) }, "DB_SECRET_ARN", "even after reading it again"},
		{"no rights", func(f *fakeSecretsManager) { f.putCredentials(testARN, noRights, pw) }, "DB_NAME", "may not use this database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSecretsManager(t, testRegion)
			tt.setup(f)
			s := secretSettings(t, cfg)
			db, err := Open(t.Context(), s, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.PingContext(t.Context())
			p := Permanent(s, asAtStart(err))
			if p == nil || p.Var != tt.wantVar || !strings.Contains(p.Error(), tt.want) || !strings.Contains(p.Error(), testARN) && tt.wantVar == "DB_SECRET_ARN" {
				t.Fatalf("Permanent(%v) = %v, want %s: ...%s", err, p, tt.wantVar, tt.want)
			}
			if strings.Contains(p.Error(), pw) {
				t.Errorf("%q quotes the password", p)
			}
		})
	}
}
