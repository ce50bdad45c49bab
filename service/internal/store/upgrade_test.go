package store_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bookstore-aws/bookstore/service/internal/store"
	"github.com/bookstore-aws/bookstore/service/internal/testdb"
)

// releasedMigrations are the migrations of each earlier release, by
// version: a database one of them brought up to date is at its highest.
// golang-migrate applies only versions above a database's, so a migration
// numbered below a released one never reaches the databases that release
// migrated (svc15's session-token migrations, first numbered 0013-0015, merged after 0020-0023
// had shipped: they are 0024-0026).
var releasedMigrations = map[string][]uint{
	"main before svc15": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 22, 23},
}

// A database migrated by an earlier release, then by this one, has the
// schema a fresh database gets: every column's type and collation, every
// index.
func TestMigrateFromEachReleaseGivesTheFreshSchema(t *testing.T) {
	fresh := testdb.New(t).Open(t)
	if err := store.Migrate(t.Context(), fresh, quiet); err != nil {
		t.Fatal(err)
	}
	want := schema(t, fresh)
	for release, versions := range releasedMigrations {
		old := fstest.MapFS{}
		err := fs.WalkDir(store.Migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n, _, _ := strings.Cut(d.Name(), "_")
			v, err := strconv.ParseUint(n, 10, 32)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if slices.Contains(versions, uint(v)) {
				b, err := fs.ReadFile(store.Migrations, path)
				old[path] = &fstest.MapFile{Data: b}
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		db := testdb.New(t).Open(t)
		if err := store.MigrateFS(t.Context(), db, quiet, old); err != nil {
			t.Fatalf("%s: %v", release, err)
		}
		if err := store.Migrate(t.Context(), db, quiet); err != nil {
			t.Fatalf("%s, then this one: %v", release, err)
		}
		if got := schema(t, db); !slices.Equal(got, want) {
			for _, l := range want {
				if !slices.Contains(got, l) {
					t.Errorf("migrated from %s: missing %s", release, l)
				}
			}
			for _, l := range got {
				if !slices.Contains(want, l) {
					t.Errorf("migrated from %s: extra %s", release, l)
				}
			}
		}
	}
}

// schema lists db's columns (type, collation, nullability) and indexes, one
// line each, sorted.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var lines []string
	for _, q := range []string{
		"SELECT CONCAT_WS(' ', 'column', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IFNULL(COLLATION_NAME, '-'), IS_NULLABLE)" +
			" FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
		"SELECT CONCAT_WS(' ', 'index', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE)" +
			" FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()",
	} {
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	if len(lines) == 0 {
		t.Fatal("no schema read")
	}
	slices.Sort(lines)
	return lines
}
