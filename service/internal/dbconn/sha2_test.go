package dbconn

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	gmssql "github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/sirupsen/logrus"
)

// MySQL 8.4 (RDS, the local mysql:8.4 image) creates accounts with
// caching_sha2_password only; mysql_native_password is off. A client's first
// login after a server start takes the plugin's full authentication: over
// TLS it sends the password, without TLS it needs the server's RSA key.
// MariaDB, the test database here, does not speak the plugin, so these tests
// run go-mysql-server's server (Dolt's, also the service's embedded engine),
// whose caching_sha2_password has no cache: every login is a full one, and
// it refuses one without TLS. The RSA path (a MySQL 8.4 server without TLS)
// cannot be run here.

const sha2User, sha2Password = "bookstore", "s3cret-sha2"

// startSHA2Server serves TLS with certPEM and keyPEM on 127.0.0.1 and has one
// database, bookstore, and one account, bookstore@%, IDENTIFIED WITH
// caching_sha2_password. It returns the host:port.
func startSHA2Server(t *testing.T, certPEM, keyPEM []byte) string {
	t.Helper()
	// The engine logs each connection, and the refused login below as an error.
	level := logrus.GetLevel()
	logrus.SetLevel(logrus.FatalLevel)
	t.Cleanup(func() { logrus.SetLevel(level) })
	pro := memory.NewDBProvider(memory.NewDatabase("bookstore"))
	engine := sqle.NewDefault(pro)
	mdb := engine.Analyzer.Catalog.MySQLDb
	mdb.SetPersister(&mysql_db.NoopPersister{}) // accounts live in memory
	ed := mdb.Editor()
	mdb.AddSuperUser(ed, "root", "127.0.0.1", "root-pw") // mysql_native_password, to create the account below
	ed.Close()

	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(server.Config{
		Protocol: "tcp", Address: ln.Addr().String(), Listener: ln,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}, engine, gmssql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(func() { srv.Close() })

	root, err := sql.Open("mysql", fmt.Sprintf("root:root-pw@tcp(%s)/bookstore", ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED WITH caching_sha2_password BY '%s'", sha2User, sha2Password),
		fmt.Sprintf("GRANT ALL ON bookstore.* TO '%s'@'%%'", sha2User),
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var plugin string
	if err := root.QueryRow("SELECT plugin FROM mysql.user WHERE user = ?", sha2User).Scan(&plugin); err != nil || plugin != "caching_sha2_password" {
		t.Fatalf("account plugin %q, %v; want caching_sha2_password", plugin, err)
	}
	return ln.Addr().String()
}

// login opens the settings' pool and runs one query as the account.
func login(t *testing.T, env map[string]string) error {
	t.Helper()
	s, err := SettingsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	db, err := Open(context.Background(), s, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var user string
	if err := db.QueryRow("SELECT CURRENT_USER()").Scan(&user); err != nil {
		return err
	}
	if !strings.HasPrefix(user, sha2User+"@") {
		t.Errorf("logged in as %q", user)
	}
	return nil
}

// The stack's way in (DB_TLS_CA_FILE, as on RDS with
// require_secure_transport) and the local one (tls=preferred, as the root
// docker-compose.yml and the monolith's DATABASE_URL say) both log in to a
// caching_sha2_password account through the full authentication.
func TestCachingSHA2PasswordOverTLS(t *testing.T) {
	ca := newTestCA(t, "Bookstore Test Root CA", time.Now().Add(24*time.Hour))
	certPEM, keyPEM := ca.issue(t, "127.0.0.1")
	addr := startSHA2Server(t, certPEM, keyPEM)
	caFile := writeFile(t, t.TempDir(), "rds-ca.pem", ca.pem)
	url := fmt.Sprintf("mysql://%s:%s@%s/bookstore", sha2User, sha2Password, addr)

	if err := login(t, map[string]string{"DATABASE_URL": url, "DB_TLS_CA_FILE": caFile}); err != nil {
		t.Errorf("DATABASE_URL with DB_TLS_CA_FILE: %v", err)
	}
	if err := login(t, map[string]string{"DATABASE_URL": url + "?tls=preferred"}); err != nil {
		t.Errorf("DATABASE_URL with tls=preferred: %v", err)
	}
	// The server is strict: without TLS the full authentication is refused,
	// so the logins above did go through it.
	if err := login(t, map[string]string{"DATABASE_URL": url}); err == nil {
		t.Error("a login without TLS was accepted: the test server did not ask for the full authentication")
	}
}
