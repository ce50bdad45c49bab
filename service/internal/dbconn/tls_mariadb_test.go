package dbconn

import (
	"crypto/x509"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB's TLS settings are server-wide and need a restart, so these tests
// do not touch the shared test server: each starts its own throw-away
// mariadbd on 127.0.0.1 (about 0.3 s), on an empty data directory with
// --skip-grant-tables, so any user name and password log in.

const tlsTestDB = "tlstest"

// mariadbdPath finds the server binary; without it the test skips, or fails
// under BOOKSTORE_TEST_STRICT=1.
func mariadbdPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mariadbd"); err == nil {
		return "/usr/sbin/mariadbd"
	}
	const why = "mariadbd not found (Debian/Ubuntu: apt-get install mariadb-server-core); it runs a throw-away server with TLS"
	if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
		t.Fatal(why + " (required: BOOKSTORE_TEST_STRICT=1)")
	}
	t.Skip(why + "; skipping")
	return ""
}

// startMariaDB runs mariadbd until the test ends and returns its TCP port.
// With certPEM and keyPEM it serves TLS with them and, as the stack's RDS
// parameter group does, sets require_secure_transport; without, it has no
// TLS at all. The database tlsTestDB exists.
func startMariaDB(t *testing.T, certPEM, keyPEM []byte) int {
	t.Helper()
	bin := mariadbdPath(t)
	// A short path: the unix socket's name is limited to 107 bytes.
	dir, err := os.MkdirTemp("", "dbtls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, tlsTestDB), 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"--skip-grant-tables"}
	if certPEM != nil {
		cert := writeFile(t, dir, "server.pem", certPEM)
		key := writeFile(t, dir, "server-key.pem", keyPEM)
		args = append(args, "--ssl-cert="+cert, "--ssl-key="+key, "--require-secure-transport=ON")
	} else {
		args = append(args, "--skip-ssl")
	}
	return runMariaDB(t, bin, dir, args...)
}

// runMariaDB runs the mariadbd at bin on the data directory dir/data until the
// test ends, with its socket, logs and pid file in dir and extra options, and
// returns its TCP port on 127.0.0.1.
func runMariaDB(t *testing.T, bin, dir string, extra ...string) int {
	t.Helper()
	data := filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	args := []string{
		"--no-defaults",
		"--datadir=" + data,
		"--socket=" + filepath.Join(dir, "sock"),
		"--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + filepath.Join(dir, "error.log"),
		"--bind-address=127.0.0.1",
		"--port=" + strconv.Itoa(port),
		"--innodb-buffer-pool-size=16M",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root") // mariadbd refuses root otherwise
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("mariadbd exited at start: %v\n%s", err, errorLog())
		default:
		}
		if strings.Contains(errorLog(), "ready for connections") {
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd not ready after 15 s:\n%s", errorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessionStatus reads one of the connection's status variables.
func sessionStatus(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var n, v string
	if err := db.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&n, &v); err != nil {
		t.Fatalf("SHOW SESSION STATUS LIKE '%s': %v", name, err)
	}
	return v
}

// openEnv runs the configuration path the service runs: SettingsFromEnv,
// then Open.
func openEnv(t *testing.T, getenv func(string) string, logger *slog.Logger) *sql.DB {
	t.Helper()
	s, err := SettingsFromEnv(getenv)
	if err != nil {
		t.Fatalf("SettingsFromEnv: %v", err)
	}
	db, err := Open(t.Context(), s, logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// modeEnvs builds the environment of each server mode for a host, port and
// DB_TLS_CA_FILE ("" for unset).
var modeEnvs = map[string]func(host string, port int, caFile string) func(string) string{
	"DATABASE_URL": func(host string, port int, caFile string) func(string) string {
		return env("DATABASE_URL", "mysql://root:"+tlsTestPW+"@"+net.JoinHostPort(host, strconv.Itoa(port))+"/"+tlsTestDB,
			"DB_TLS_CA_FILE", caFile)
	},
	"DB_SECRET_ARN": func(host string, port int, caFile string) func(string) string {
		return env("DB_HOST", host, "DB_PORT", strconv.Itoa(port), "DB_NAME", tlsTestDB, "DB_SECRET_ARN", testARN,
			"DB_TLS_CA_FILE", caFile)
	},
}

// With DB_TLS_CA_FILE, in both modes, the service connects over TLS to a
// server whose certificate chains to the bundle and names the host, and
// refuses one signed by another CA or issued for another name.
func TestCAFileVerifiesMariaDB(t *testing.T) {
	ca := newTestCA(t, "Bookstore Test Root CA", time.Now().Add(24*time.Hour))
	other := newTestCA(t, "Some Other Root CA", time.Now().Add(24*time.Hour))
	certPEM, keyPEM := ca.issue(t, "localhost") // no IP address in it
	port := startMariaDB(t, certPEM, keyPEM)
	dir := t.TempDir()
	right := writeFile(t, dir, "right-ca.pem", ca.pem)
	wrong := writeFile(t, dir, "other-ca.pem", other.pem)
	f := newFakeSecretsManager(t, testRegion)
	f.putCredentials(testARN, "root", tlsTestPW)

	for mode, mkenv := range modeEnvs {
		t.Run(mode+"/right CA", func(t *testing.T) {
			db := openEnv(t, mkenv("localhost", port, right), nil)
			if err := db.PingContext(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			cipher, version := sessionStatus(t, db, "Ssl_cipher"), sessionStatus(t, db, "Ssl_version")
			if cipher == "" || (version != "TLSv1.2" && version != "TLSv1.3") {
				t.Errorf("Ssl_cipher %q, Ssl_version %q: want an encrypted TLS 1.2+ session", cipher, version)
			}
			t.Logf("%s, %s", version, cipher)
		})
		t.Run(mode+"/another CA is refused", func(t *testing.T) {
			err := openEnv(t, mkenv("localhost", port, wrong), nil).PingContext(t.Context())
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) {
				t.Fatalf("Ping: %v, want x509.UnknownAuthorityError", err)
			}
		})
		t.Run(mode+"/a host not in the certificate is refused", func(t *testing.T) {
			err := openEnv(t, mkenv("127.0.0.1", port, right), nil).PingContext(t.Context())
			var he x509.HostnameError
			if !errors.As(err, &he) || he.Host != "127.0.0.1" {
				t.Fatalf("Ping: %v, want x509.HostnameError for 127.0.0.1", err)
			}
		})
	}
}

// DB_TLS_CA_FILE requires TLS: a server without it is refused, never used
// in plain text. Without the bundle, the Secrets Manager mode falls back to
// what the start-up warning says: a connection without TLS.
func TestCAFileRequiresTLS(t *testing.T) {
	ca := newTestCA(t, "Bookstore Test Root CA", time.Now().Add(24*time.Hour))
	port := startMariaDB(t, nil, nil)
	right := writeFile(t, t.TempDir(), "ca.pem", ca.pem)
	f := newFakeSecretsManager(t, testRegion)
	f.putCredentials(testARN, "root", tlsTestPW)

	for mode, mkenv := range modeEnvs {
		t.Run(mode, func(t *testing.T) {
			err := openEnv(t, mkenv("localhost", port, right), nil).PingContext(t.Context())
			if !errors.Is(err, mysql.ErrNoTLS) {
				t.Fatalf("Ping a server without TLS: %v, want mysql.ErrNoTLS", err)
			}
		})
	}

	var logs syncBuffer
	db := openEnv(t, modeEnvs["DB_SECRET_ARN"]("localhost", port, ""), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("Ping without DB_TLS_CA_FILE: %v", err)
	}
	if c := sessionStatus(t, db, "Ssl_cipher"); c != "" {
		t.Errorf("Ssl_cipher %q on a server without TLS", c)
	}
	if !strings.Contains(logs.String(), noCAWarning) {
		t.Errorf("no warning about the unverified connection:\n%s", logs.String())
	}
}
