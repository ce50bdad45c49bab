//go:build !noembedded

package embedded

import (
	"database/sql"
	"sync"
	"testing"

	_ "github.com/go-sql-driver/mysql"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	s, err := Start("probe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("mysql", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(50)
	return db
}

// The engine alone loses concurrent updates (see serialize.go); with the
// serializing handler the check-and-take pattern the store uses is exact.
func TestSerializedTransactionsDoNotOversell(t *testing.T) {
	db := open(t)
	for _, q := range []string{
		"CREATE TABLE books (id BIGINT PRIMARY KEY, stock INT NOT NULL)",
		"CREATE TABLE purchases (id BIGINT AUTO_INCREMENT PRIMARY KEY, book_id BIGINT NOT NULL)",
		"INSERT INTO books VALUES (1, 50)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sold := 0
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	for range 200 {
		wg.Go(func() {
			tx, err := db.Begin()
			if err != nil {
				fail(err)
				return
			}
			defer tx.Rollback()
			res, err := tx.Exec("UPDATE books SET stock = stock - 1 WHERE id = 1 AND stock >= 1")
			if err != nil {
				fail(err)
				return
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return
			}
			if _, err := tx.Exec("INSERT INTO purchases (book_id) VALUES (?)", 1); err != nil {
				fail(err)
				return
			}
			if err := tx.Commit(); err != nil {
				fail(err)
				return
			}
			mu.Lock()
			sold++
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	var stock, rows int
	if err := db.QueryRow("SELECT stock FROM books WHERE id = 1").Scan(&stock); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM purchases").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if sold != 50 || stock != 0 || rows != 50 {
		t.Fatalf("sold %d, stock %d, purchase rows %d; want 50, 0, 50", sold, stock, rows)
	}
}

// A rolled-back transaction must leave nothing behind, and a connection that
// dies inside a transaction must not keep the turn.
func TestRollbackAndDisconnectReleaseTheTurn(t *testing.T) {
	db := open(t)
	if _, err := db.Exec("CREATE TABLE t (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	conn.Raw(func(dc any) error { return dc.(interface{ Close() error }).Close() })
	conn.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("rolled-back row is visible: count %d", n)
	}
}

func TestAuthenticationRequired(t *testing.T) {
	s, err := Start("probe")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("mysql", "root@tcp("+s.Addr+")/probe")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Fatal("passwordless root was accepted")
	}
}
