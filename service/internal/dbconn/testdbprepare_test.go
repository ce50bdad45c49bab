package dbconn

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// prepareScript is the command docs/testing.md gives for preparing a test
// database, and .ci/run uses.
const prepareScript = "../../../.ci/testdb-prepare"

// The user .ci/testdb-prepare makes can do what the database tests do: make
// bookstore_test_* databases (store, web, e2e), and make users, grant them
// SELECT on the URL's database and drop them (this package's rotation tests,
// through createUser). On a throw-away server with real grant tables, as root
// through the socket, the way .ci/run calls it.
func TestTestDBPrepareGrantsWhatTheTestsNeed(t *testing.T) {
	bin := mariadbdPath(t)
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		missingTool(t, "mariadb-install-db not found (Debian: apt-get install mariadb-server); it makes the grant tables")
	}
	client, err := exec.LookPath("mariadb")
	if err != nil {
		missingTool(t, "mariadb (the client) not found (Debian: apt-get install mariadb-client)")
	}
	dir, err := os.MkdirTemp("", "dbprep-") // short: the socket path is limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := runMariaDB(t, bin, dir, "--skip-ssl")
	server := "127.0.0.1:" + strconv.Itoa(port)
	asRoot := []string{client, "--no-defaults", "--socket=" + filepath.Join(dir, "sock"), "-u", "root"}

	prepare := func() string {
		t.Helper()
		cmd := exec.Command("bash", append([]string{prepareScript, "--server", server}, asRoot...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("testdb-prepare: %v\n%s", err, stderr.Bytes())
		}
		m := regexp.MustCompile(`^export BOOKSTORE_TEST_DATABASE_URL='(mysql://[^']+)'\n$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("testdb-prepare printed %q, want one export line", out)
		}
		return string(m[1])
	}
	open := func(url string) *sql.DB {
		t.Helper()
		s, err := SettingsFromEnv(env("DATABASE_URL", url))
		if err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	first := prepare()
	url := prepare() // a second run is safe and replaces the password
	if url == first {
		t.Errorf("a second run kept the password: %s", url)
	}
	var me *mysql.MySQLError
	if err := open(first).PingContext(t.Context()); !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("the first run's password still works, or fails otherwise: %v", err)
	}

	db := open(url)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE DATABASE bookstore_test_prep CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		"CREATE TABLE bookstore_test_prep.t (id INT PRIMARY KEY)",
		"DROP DATABASE bookstore_test_prep",
		"CREATE TABLE t (id INT PRIMARY KEY)", // in the URL's own database
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	user := createUser(t, db, "bookstore_test", "pw-"+randomHex(t, 8))
	setPassword(t, db, user, "pw-"+randomHex(t, 8))
	// Nothing beyond: other databases stay closed to it.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE other_prep"); !errors.As(err, &me) || me.Number != 1044 {
		t.Errorf("CREATE DATABASE other_prep: %v, want error 1044", err)
	}
}

// missingTool skips t, or fails it under BOOKSTORE_TEST_STRICT=1.
func missingTool(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
		t.Fatal(why + " (required: BOOKSTORE_TEST_STRICT=1)")
	}
	t.Skip(why + "; skipping")
}
