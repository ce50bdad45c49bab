package dbconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// testAdmin opens BOOKSTORE_TEST_DATABASE_URL with this package's own
// parser. Its user must be allowed to CREATE USER, ALTER USER and DROP USER,
// and to GRANT SELECT on the URL's database. Without the variable the test
// is skipped, or fails under BOOKSTORE_TEST_STRICT=1 (CI).
func testAdmin(t testing.TB) (*sql.DB, *mysql.Config) {
	t.Helper()
	raw := os.Getenv("BOOKSTORE_TEST_DATABASE_URL")
	if raw == "" {
		const why = "BOOKSTORE_TEST_DATABASE_URL is not set; it names a MariaDB/MySQL database whose user may CREATE USER and GRANT on it"
		if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
			t.Fatal(why + " (required: BOOKSTORE_TEST_STRICT=1)")
		}
		t.Skip(why + "; skipping the tests against a real server")
	}
	s, err := SettingsFromEnv(env("DATABASE_URL", raw))
	if err != nil {
		t.Fatalf("BOOKSTORE_TEST_DATABASE_URL: %v", err)
	}
	db, err := Open(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("BOOKSTORE_TEST_DATABASE_URL (%s): %v", s, err)
	}
	cfg, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	return db, cfg
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// createUser makes a throw-away user that may SELECT on dbName and drops it
// when the test ends. password must not contain ' or \.
func createUser(t testing.TB, admin *sql.DB, dbName, password string) string {
	t.Helper()
	if strings.ContainsAny(password, `'\`) {
		t.Fatalf("test password %q would need SQL escaping", password)
	}
	name := "dbconn_" + randomHex(t, 6)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", name, password)); err != nil {
		t.Fatalf("create user: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", name)); err != nil {
			t.Errorf("drop user %s: %v", name, err)
		}
	})
	if dbName != "" {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", dbName, name)); err != nil {
			t.Fatalf("grant: %v", err)
		}
	}
	return name
}

func setPassword(t testing.TB, admin *sql.DB, user, password string) {
	t.Helper()
	if _, err := admin.ExecContext(context.Background(), fmt.Sprintf("ALTER USER '%s'@'%%' IDENTIFIED BY '%s'", user, password)); err != nil {
		t.Fatalf("alter user: %v", err)
	}
}

func currentUser(t testing.TB, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) string {
	t.Helper()
	var u string
	if err := q.QueryRowContext(context.Background(), "SELECT CURRENT_USER()").Scan(&u); err != nil {
		t.Fatalf("SELECT CURRENT_USER(): %v", err)
	}
	return u[:strings.LastIndexByte(u, '@')]
}

// tcpAddr returns the admin's host and port; the Secrets Manager mode
// connects over TCP only.
func tcpAddr(t testing.TB, cfg *mysql.Config) (string, int) {
	t.Helper()
	if cfg.Net != "tcp" {
		t.Fatalf("BOOKSTORE_TEST_DATABASE_URL must use TCP for the Secrets Manager tests, not %s", cfg.Net)
	}
	host, p, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// The normalised DSN gives what the store relies on, on a real server.
func TestOpenURLSession(t *testing.T) {
	db, _ := testAdmin(t)
	var charset, collation string
	var now time.Time
	if err := db.QueryRow("SELECT @@character_set_connection, @@collation_connection, NOW()").Scan(&charset, &collation, &now); err != nil {
		t.Fatal(err)
	}
	if charset != "utf8mb4" || collation != DefaultCollation {
		t.Errorf("connection charset %s, collation %s; want utf8mb4, %s", charset, collation, DefaultCollation)
	}
	if now.IsZero() {
		t.Error("NOW() scanned as the zero time")
	}
	const text = "Cien años de soledad 📚"
	var back string
	if err := db.QueryRow("SELECT CAST(? AS CHAR)", text).Scan(&back); err != nil || back != text {
		t.Errorf("utf8mb4 round trip: %q, %v; want %q", back, err, text)
	}
}

// A password full of URL-reserved characters works in all three forms.
func TestOpenURLFormsReservedPassword(t *testing.T) {
	admin, cfg := testAdmin(t)
	host, port := tcpAddr(t, cfg)
	const password = "p@ss:w/rd#?%&=+ x;"
	user := createUser(t, admin, cfg.DBName, password)
	hostport := net.JoinHostPort(host, strconv.Itoa(port))
	forms := map[string]string{
		"mysql":         (&url.URL{Scheme: "mysql", User: url.UserPassword(user, password), Host: hostport, Path: "/" + cfg.DBName}).String(),
		"mysql+pymysql": "mysql+pymysql://" + user + ":" + strings.NewReplacer("@", "%40", ":", "%3A", "/", "%2F", "#", "%23", "?", "%3F", "%", "%25", "&", "%26", "=", "%3D", " ", "%20", ";", "%3B").Replace(password) + "@" + hostport + "/" + cfg.DBName + "?charset=utf8mb4",
		"DSN":           user + ":" + password + "@tcp(" + hostport + ")/" + cfg.DBName,
	}
	for name, raw := range forms {
		t.Run(name, func(t *testing.T) {
			s, err := SettingsFromEnv(env("DATABASE_URL", raw))
			if err != nil {
				t.Fatalf("SettingsFromEnv(%q): %v", raw, err)
			}
			db, err := Open(t.Context(), s, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := currentUser(t, db); got != user {
				t.Errorf("connected as %q, want %q", got, user)
			}
		})
	}
}

// A server that accepts TCP but never answers fails Ping within the
// connect timeout, not the 30 s read timeout.
func TestConnectTimeoutBoundsHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c) // held open, silent
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	}()

	s, err := SettingsFromEnv(env("DATABASE_URL", "mysql://u:p@"+ln.Addr().String()+"/db?connect_timeout=0.3"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	err = db.PingContext(context.Background())
	if err == nil {
		t.Fatal("Ping succeeded against a silent server")
	}
	// database/sql retries a bad connection up to 3 times: 3 × 0.3 s plus slack.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ping took %v against a silent server; want about the 0.3 s connect timeout", d)
	}
}

// The read timeout ends a query that the server does not answer.
func TestReadTimeout(t *testing.T) {
	_, cfg := testAdmin(t)
	cfg = cfg.Clone()
	cfg.ReadTimeout = 300 * time.Millisecond
	s, err := SettingsFromEnv(env("DATABASE_URL", cfg.FormatDSN()))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	db, err := Open(t.Context(), s, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.Exec("DO SLEEP(5)")
	if err == nil {
		t.Fatal("DO SLEEP(5) succeeded with a 300 ms read timeout")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("query ran %v; the read timeout did not apply", d)
	}
	// The driver's own complaint goes to the JSON log, not to stderr.
	if !strings.Contains(logs.String(), `"component":"go-sql-driver/mysql"`) || !strings.Contains(logs.String(), "i/o timeout") {
		t.Errorf("driver log not in slog: %q", logs.String())
	}
}

// secretSettings connects to the test server's address with credentials
// from the fake Secrets Manager.
func secretSettings(t testing.TB, cfg *mysql.Config) Settings {
	host, port := tcpAddr(t, cfg)
	return Settings{Mode: ModeSecret, Host: host, Port: port, Name: cfg.DBName, SecretARN: testARN, MaxOpenConns: 40}
}

// Rotation with no restart: after ALTER USER and a new secret version, open
// connections keep working and new ones succeed after exactly one re-read,
// however many connect at once.
func TestSecretRotation(t *testing.T) {
	admin, cfg := testAdmin(t)
	f := newFakeSecretsManager(t, testRegion)
	pw1, pw2 := "one-"+randomHex(t, 8), "two-"+randomHex(t, 8)
	user := createUser(t, admin, cfg.DBName, pw1)
	f.putCredentials(testARN, user, pw1)

	var logs syncBuffer
	db, err := Open(t.Context(), secretSettings(t, cfg), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, err := db.Conn(t.Context())
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	defer held.Close()
	if got := currentUser(t, held); got != user {
		t.Fatalf("connected as %q, want %q", got, user)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("GetSecretValue called %d times before rotation, want 1", n)
	}

	setPassword(t, admin, user, pw2)
	f.putCredentials(testARN, user, pw2)

	if got := currentUser(t, held); got != user {
		t.Errorf("open connection after rotation: %q", got)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("an open connection re-read the secret (%d calls)", n)
	}

	f.delay = 50 * time.Millisecond // keep the re-read in flight while others fail
	const n = 24
	conns := make([]*sql.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = db.Conn(t.Context()) })
	}
	wg.Wait()
	for i, c := range conns {
		if errs[i] != nil {
			t.Fatalf("new connection %d after rotation: %v", i, errs[i])
		}
		if got := currentUser(t, c); got != user {
			t.Errorf("connection %d is %q", i, got)
		}
		c.Close()
	}
	if got := db.Stats().OpenConnections; got < n+1 {
		t.Errorf("%d open connections; the test meant to make %d new ones", got, n)
	}
	if calls := f.calls.Load(); calls != 2 {
		t.Errorf("GetSecretValue called %d times, want 2 (first read + one re-read)", calls)
	}
	if c := strings.Count(logs.String(), "reading the secret again"); c != 1 {
		t.Errorf("logged the re-read %d times, want 1:\n%s", c, logs.String())
	}
	if strings.Contains(logs.String(), pw1) || strings.Contains(logs.String(), pw2) {
		t.Errorf("logs hold a password:\n%s", logs.String())
	}
}

// A secret that is still wrong after the re-read gives ErrAccessDenied, the
// next attempts do not hammer Secrets Manager, and a corrected secret is
// picked up once minRefreshInterval has passed.
func TestSecretWrongEvenAfterRefresh(t *testing.T) {
	admin, cfg := testAdmin(t)
	f := newFakeSecretsManager(t, testRegion)
	good, bad := "good-"+randomHex(t, 8), "bad-"+randomHex(t, 8)
	user := createUser(t, admin, cfg.DBName, good)
	f.putCredentials(testARN, user, bad)

	c, err := newSecretConnector(t.Context(), secretSettings(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	clock := time.Now()
	c.now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	db := sql.OpenDB(c)
	defer db.Close()

	err = db.PingContext(t.Context())
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Ping: %v, want ErrAccessDenied", err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("error %v does not carry MySQL error 1045", err)
	}
	for _, want := range []string{user, testARN, "even after reading secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), good) {
		t.Errorf("error %q holds a password", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("GetSecretValue called %d times, want 2 (first read + one re-read)", n)
	}

	f.putCredentials(testARN, user, good) // the operator fixes the secret
	err = db.PingContext(t.Context())
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "ago") {
		t.Errorf("Ping within %v of the re-read: %v, want ErrAccessDenied without a new read", minRefreshInterval, err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("GetSecretValue called %d times within %v, want still 2", n, minRefreshInterval)
	}

	clockMu.Lock()
	clock = clock.Add(minRefreshInterval + time.Second)
	clockMu.Unlock()
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("Ping after the secret was fixed: %v", err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("GetSecretValue called %d times, want 3", n)
	}
}

// Only a rejected password (1045) triggers a re-read; a user without
// rights on the database (1044) is reported as it is.
func TestSecretOtherErrorsNoReread(t *testing.T) {
	admin, cfg := testAdmin(t)
	f := newFakeSecretsManager(t, testRegion)
	pw := "pw-" + randomHex(t, 8)
	user := createUser(t, admin, "", pw) // no GRANT on the database
	f.putCredentials(testARN, user, pw)
	db, err := Open(t.Context(), secretSettings(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(t.Context())
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1044 {
		t.Fatalf("Ping: %v, want MySQL error 1044", err)
	}
	if errors.Is(err, ErrAccessDenied) {
		t.Errorf("1044 reported as ErrAccessDenied: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("GetSecretValue called %d times, want 1", n)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
