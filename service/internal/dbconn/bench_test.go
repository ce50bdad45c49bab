package dbconn

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// Results on the 2-core development machine, MariaDB 10.11 on the same
// cores, medians of 5 runs of 2 s (ns per query, 64 goroutines):
//
//	                 interpolate=false  interpolate=true
//	point,   pool 10      232,615           124,617
//	catalog, pool 10      422,040           381,811
//
// A pool of 32 gave no more throughput than 10 (within run-to-run noise).

// BenchmarkQueryArgs measures what interpolateParams and the pool size do to
// queries with arguments, 64 goroutines at once, on the server of
// BOOKSTORE_TEST_DATABASE_URL:
//
//	go test ./service/internal/dbconn -run '^$' -bench QueryArgs -benchtime 3s
//
// "point" reads one row by id; "catalog" reads 100 rows, as the catalog page
// does. Without interpolateParams the driver prepares, executes and closes a
// statement per query (two round trips); with it, one text query.
func BenchmarkQueryArgs(b *testing.B) {
	admin, cfg := testAdmin(b)
	const table = "dbconn_bench"
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + table,
		"CREATE TABLE " + table + " (id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, price_cents INT NOT NULL, stock INT NOT NULL)",
	} {
		if _, err := admin.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { admin.Exec("DROP TABLE IF EXISTS " + table) })
	for i := 1; i <= 100; i++ {
		if _, err := admin.Exec("INSERT INTO "+table+" VALUES (?, ?, ?, ?)", i, fmt.Sprintf("Book %d", i), 1000+i, i%7); err != nil {
			b.Fatal(err)
		}
	}

	queries := map[string]struct {
		sql  string
		arg  any
		rows int
	}{
		"point":   {"SELECT id, title, price_cents, stock FROM " + table + " WHERE id = ?", 42, 1},
		"catalog": {"SELECT id, title, price_cents, stock FROM " + table + " WHERE price_cents > ? ORDER BY id", 0, 100},
	}
	for _, interpolate := range []bool{false, true} {
		for _, maxOpen := range []int{DefaultMaxOpenConns, 32} {
			for _, qname := range []string{"point", "catalog"} {
				q := queries[qname]
				name := fmt.Sprintf("%s/interpolate=%v/maxOpen=%d", qname, interpolate, maxOpen)
				b.Run(name, func(b *testing.B) {
					c := cfg.Clone()
					c.InterpolateParams = false // FormatDSN then leaves it out; say it once below
					dsn := c.FormatDSN() + fmt.Sprintf("&interpolateParams=%v", interpolate)
					s, err := SettingsFromEnv(env("DATABASE_URL", dsn))
					if err != nil {
						b.Fatal(err)
					}
					if got, _ := mysql.ParseDSN(s.DSN); got.InterpolateParams != interpolate {
						b.Fatalf("interpolateParams=%v lost in normalisation", interpolate)
					}
					s.MaxOpenConns = maxOpen
					db, err := Open(b.Context(), s, nil)
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					b.SetParallelism(64 / max(1, testingProcs()))
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						var id, price, stock int
						var title string
						for pb.Next() {
							rows, err := db.Query(q.sql, q.arg)
							if err != nil {
								b.Error(err)
								return
							}
							n := 0
							for rows.Next() {
								if err := rows.Scan(&id, &title, &price, &stock); err != nil {
									b.Error(err)
								}
								n++
							}
							if err := rows.Close(); err != nil || n != q.rows {
								b.Errorf("%d rows, %v; want %d", n, err, q.rows)
								return
							}
						}
					})
				})
			}
		}
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
