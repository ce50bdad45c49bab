package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/store"
	"github.com/bookstore-aws/bookstore/service/internal/testdb"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newStore(t *testing.T) (*store.Store, testdb.DB) {
	t.Helper()
	d := testdb.New(t)
	db := d.Open(t)
	if err := store.Migrate(t.Context(), db, quiet); err != nil {
		t.Fatal(err)
	}
	s := store.New(db)
	s.Timeout = d.Timeout
	return s, d
}

func user(t *testing.T, s *store.Store, email string) int64 {
	t.Helper()
	id, err := s.CreateUser(t.Context(), "U "+email, email, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Fault 10: three instances booting at once against an empty database. One
// applies the migrations, the others wait on the lock; nobody fails and the
// seed rows exist once.
func TestMigrateThreeInstancesAtOnce(t *testing.T) {
	d := testdb.New(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		db := d.Open(t) // a pool per instance
		wg.Go(func() { errs[i] = store.Migrate(t.Context(), db, quiet) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	db := d.Open(t)
	ok, err := store.New(db).SchemaCurrent(t.Context())
	if err != nil || !ok {
		t.Fatalf("schema current = %v, %v", ok, err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM delivery_providers"); n != 4 {
		t.Fatalf("%d delivery providers, want the 4 seeded once", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM catalog_version"); n != 1 {
		t.Fatalf("%d catalog_version rows, want 1", n)
	}
}

func TestSchemaCurrentIsFalseOnEmptyDatabase(t *testing.T) {
	d := testdb.New(t)
	db := d.Open(t)
	if _, err := db.Exec("CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.New(db).SchemaCurrent(t.Context()); ok || err != nil {
		t.Fatalf("empty: current = %v, %v; want false, nil", ok, err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations VALUES (?, TRUE)", store.SchemaVersion); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.New(db).SchemaCurrent(t.Context()); ok || err != nil {
		t.Fatalf("dirty: current = %v, %v; want false, nil", ok, err)
	}
}

func TestProvidersSeeded(t *testing.T) {
	s, _ := newStore(t)
	ps, err := s.Providers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, p := range ps {
		got += strconv.FormatInt(p.ID, 10) + ":" + p.Name + "/" + p.Coverage + "/" + p.Cost.String() + " "
	}
	// The ids are what the delivery form's provider field takes (docs/service.md, /delivery).
	// The coverage is English since migration 0031; the names are the original's.
	want := "1:DHL/International/50.00 2:FedEx/International/45.00 3:Envia/Domestic/20.00 4:Servientrega/Domestic/15.00 "
	if got != want {
		t.Fatalf("providers %q, want %q", got, want)
	}
}

func TestDuplicateEmail(t *testing.T) {
	s, _ := newStore(t)
	user(t, s, "a@example.com")
	if _, err := s.CreateUser(t.Context(), "again", "a@example.com", []byte("x")); !errors.Is(err, store.ErrDuplicateEmail) {
		t.Fatalf("second registration: %v, want ErrDuplicateEmail", err)
	}
}

// Fault 2 at the data layer: with stock 50 and 200 concurrent buyers on two
// pools (two instances), exactly 50 units go, each to a recorded purchase.
func TestBuyNeverOversells(t *testing.T) {
	s, d := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, err := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1999, Stock: 50})
	if err != nil {
		t.Fatal(err)
	}
	pools := []*store.Store{store.New(d.Open(t)), store.New(d.Open(t))}
	for _, p := range pools {
		p.DB.SetMaxOpenConns(16)
		p.Timeout = d.Timeout
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sold, refused := 0, 0
	var other error
	for i := range 200 {
		wg.Go(func() {
			_, err := pools[i%2].Buy(context.Background(), buyer, book, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sold++
			case errors.Is(err, store.ErrOutOfStock):
				refused++
			default:
				other = err
			}
		})
	}
	wg.Wait()
	if other != nil {
		t.Fatal(other)
	}
	b, err := s.BookByID(t.Context(), book)
	if err != nil {
		t.Fatal(err)
	}
	rows := count(t, s.DB, "SELECT COUNT(*) FROM purchases WHERE book_id = ?", book)
	units := count(t, s.DB, "SELECT COALESCE(SUM(quantity), 0) FROM purchases WHERE book_id = ?", book)
	if sold != 50 || refused != 150 || b.Stock != 0 || rows != 50 || units != 50 {
		t.Fatalf("sold %d refused %d stock %d rows %d units %d; want 50 150 0 50 50", sold, refused, b.Stock, rows, units)
	}
}

func TestBuyOutOfStockSaysWhatIsLeft(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 3})
	_, err := s.Buy(t.Context(), seller, book, 4)
	var oos *store.OutOfStockError
	if !errors.As(err, &oos) || oos.Available != 3 {
		t.Fatalf("buy 4 of 3: %v", err)
	}
	if _, err := s.Buy(t.Context(), seller, 999, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("buy unknown book: %v", err)
	}
}

// Fault 11 at the data layer: ten concurrent payments, one payment row.
func TestPayIsIdempotent(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1999, Stock: 5})
	p, err := s.Buy(t.Context(), buyer, book, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChooseDelivery(t.Context(), p, buyer, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Go(func() { results[i] = s.Pay(context.Background(), p, buyer, "PayPal") })
	}
	wg.Wait()
	paid := 0
	for _, err := range results {
		switch {
		case err == nil:
			paid++
		case !errors.Is(err, store.ErrAlreadyPaid):
			t.Fatal(err)
		}
	}
	if paid != 1 {
		t.Fatalf("%d payments succeeded, want 1", paid)
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM payments WHERE purchase_id = ?", p); n != 1 {
		t.Fatalf("%d payment rows, want 1", n)
	}
	// 3 x 19.99 and DHL's 50.00, once.
	if n := count(t, s.DB, "SELECT amount_cents FROM payments WHERE purchase_id = ?", p); n != 10997 {
		t.Fatalf("paid %d cents, want 10997", n)
	}
}

// Fault 3 at the data layer: another user's purchase does not exist for you.
func TestPurchaseOwnership(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	other := user(t, s, "other@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 5})
	p, _ := s.Buy(t.Context(), buyer, book, 1)
	if _, err := s.Purchase(t.Context(), p, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read: %v", err)
	}
	if err := s.ChooseDelivery(t.Context(), p, other, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delivery: %v", err)
	}
	if err := s.ChooseDelivery(t.Context(), p, buyer, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(t.Context(), p, other, "PayPal"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pay: %v", err)
	}
	if err := s.Pay(t.Context(), p, buyer, "PayPal"); err != nil {
		t.Fatal(err)
	}
	if err := s.ChooseDelivery(t.Context(), p, buyer, 2); !errors.Is(err, store.ErrDeliveryChosen) {
		t.Errorf("delivery after paying: %v", err)
	}
}

func TestArchiveKeepsHistory(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "Kept", Author: "A", Price: 100, Stock: 5})
	if _, err := s.Buy(t.Context(), buyer, book, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ArchiveBook(t.Context(), book, buyer); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("archive by non-seller: %v", err)
	}
	if err := s.ArchiveBook(t.Context(), book, seller); err != nil {
		t.Fatal(err)
	}
	cat, err := s.Catalog(t.Context(), store.CatalogQuery{Sort: store.SortNewest, Limit: 24})
	if err != nil || len(cat.Books) != 0 {
		t.Fatalf("archived book still in catalog: %+v", cat)
	}
	orders, err := s.Orders(t.Context(), buyer)
	if err != nil || len(orders) != 1 || orders[0].BookTitle != "Kept" {
		t.Fatalf("orders after archive: %+v, %v", orders, err)
	}
	if _, err := s.Buy(t.Context(), buyer, book, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("buying an archived book: %v", err)
	}
}

func TestUpdateBook(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 5, Cover: "c.png"})
	in := store.BookInput{Title: "T2", Author: "A2", Description: "D", Price: 250, Stock: 7}
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 5, 100); err != nil || now != 7 {
		t.Fatalf("update: %d %v", now, err)
	}
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 7, 100); err != nil || now != 7 {
		t.Fatalf("unchanged update: %d %v", now, err)
	}
	if _, err := s.UpdateBook(t.Context(), book, seller+1, in, 7, 100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other seller's update: %v", err)
	}
	b, _ := s.SellerBook(t.Context(), book, seller)
	if b.Title != "T2" || b.Price != 250 || b.Stock != 7 || b.Cover != "c.png" {
		t.Fatalf("after update: %+v", b)
	}
}

// Fault 2 through the edit form: a seller who opened the form at stock 10
// and saves it unchanged, or with a new price, must not put the units sold
// meanwhile back on sale. Stock moves by what the seller changed.
func TestUpdateBookKeepsUnitsSoldMeanwhile(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 10})
	if _, err := s.Buy(t.Context(), buyer, book, 4); err != nil { // after the form showed 10
		t.Fatal(err)
	}
	in := store.BookInput{Title: "T", Author: "A", Price: 120, Stock: 10}
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 10, 100); err != nil || now != 6 {
		t.Fatalf("price-only edit: stock %d %v, want 6", now, err)
	}
	in.Stock = 12 // "add 2 more" on a form that showed 10
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 10, 100); err != nil || now != 8 {
		t.Fatalf("+2 edit: stock %d %v, want 8", now, err)
	}
	in.Stock = 1 // "down to 1" on a form that showed 10: -9 from 8 does not fit
	_, err := s.UpdateBook(t.Context(), book, seller, in, 10, 100)
	var changed *store.StockChangedError
	if !errors.As(err, &changed) || changed.Now != 8 {
		t.Fatalf("-9 from 8: %v, want StockChangedError{8}", err)
	}
	in.Stock = 200 // over the form's cap
	if _, err := s.UpdateBook(t.Context(), book, seller, in, 8, 100); !errors.As(err, &changed) {
		t.Fatalf("200 with cap 100: %v", err)
	}
	b, _ := s.SellerBook(t.Context(), book, seller)
	if b.Stock != 8 || b.Price != 120 {
		t.Fatalf("after refused edits: stock %d price %d, want 8 and 120", b.Stock, b.Price)
	}

	// Under load: 40 buys of 1 and 40 unchanged saves of a form that showed
	// 100, racing. Every unit sold stays sold.
	book2, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "U", Author: "A", Price: 100, Stock: 100})
	same := store.BookInput{Title: "U", Author: "A", Price: 100, Stock: 100}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for range 40 {
		wg.Go(func() {
			_, err := s.Buy(context.Background(), buyer, book2, 1)
			errs <- err
		})
		wg.Go(func() {
			_, err := s.UpdateBook(context.Background(), book2, seller, same, 100, 100_000)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b2, _ := s.SellerBook(t.Context(), book2, seller)
	if sold := count(t, s.DB, "SELECT SUM(quantity) FROM purchases WHERE book_id = ?", book2); b2.Stock+sold != 100 {
		t.Fatalf("stock %d + sold %d = %d units, want 100", b2.Stock, sold, b2.Stock+sold)
	}
}

// A deleted session stays deleted: a request that loaded it before the
// delete (logout in another tab) and commits after must not revive it.
func TestDeletedSessionIsNotRevivedByALateCommit(t *testing.T) {
	_, d := newStore(t)
	ss := store.NewSessionStore(d.Open(t), d.Timeout, 0)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	const tokA = "tokA_______________________________________" // scs's format: 43 base64url characters
	const tokB = "tokB_______________________________________"
	if err := ss.CommitCtx(ctx, tokA, []byte("signed in"), exp); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := ss.FindCtx(ctx, tokA); err != nil || !ok || string(b) != "signed in" {
		t.Fatalf("find: %q %v %v", b, ok, err)
	}
	if err := ss.CommitCtx(ctx, tokA, []byte("updated"), exp); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := ss.FindCtx(ctx, tokA); string(b) != "updated" {
		t.Fatalf("a live session's commit was dropped: %q", b)
	}
	if err := ss.DeleteCtx(ctx, tokA); err != nil {
		t.Fatal(err)
	}
	if err := ss.CommitCtx(ctx, tokA, []byte("late"), exp); err != nil { // the in-flight request ends
		t.Fatal(err)
	}
	if b, ok, err := ss.FindCtx(ctx, tokA); err != nil || ok {
		t.Fatalf("deleted token found after a late commit: %q %v %v", b, ok, err)
	}
	if err := ss.Commit(tokA, []byte("late again"), exp); err != nil { // scs's context-free path
		t.Fatal(err)
	}
	if _, ok, _ := ss.Find(tokA); ok {
		t.Fatal("the context-free Commit revived a deleted token")
	}
	// Deleting a token never committed (an anonymous one) also kills it.
	if err := ss.DeleteCtx(ctx, tokB); err != nil {
		t.Fatal(err)
	}
	ss.CommitCtx(ctx, tokB, []byte("late"), exp)
	if _, ok, _ := ss.FindCtx(ctx, tokB); ok {
		t.Fatal("an uncommitted, deleted token came to life")
	}
	if err := ss.CommitCtx(ctx, "tokC", nil, exp); err == nil {
		t.Fatal("empty data accepted: it would read as a tombstone")
	}
}

// Unpaid purchases give their units back after ReservationTTL, exactly once,
// even with a payment and two instances' sweeps racing; a paid purchase
// keeps its units; an expired one can't be paid.
func TestExpirePendingReturnsUnitsOnce(t *testing.T) {
	s, d := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 100})
	paid, _ := s.Buy(t.Context(), buyer, book, 5)
	if err := s.ChooseDelivery(t.Context(), paid, buyer, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(t.Context(), paid, buyer, "PayPal"); err != nil {
		t.Fatal(err)
	}
	var pending []int64
	for range 20 {
		id, err := s.Buy(t.Context(), buyer, book, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ChooseDelivery(t.Context(), id, buyer, 4); err != nil {
			t.Fatal(err)
		}
		pending = append(pending, id)
	}
	if n, err := s.ExpirePending(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("nothing is an hour old yet: expired %d %v", n, err)
	}

	// Two instances sweep while the buyer pays for the first 10.
	pools := []*store.Store{store.New(d.Open(t)), store.New(d.Open(t))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	expired, payErrs := 0, map[string]int{}
	for _, p := range pools {
		p.Timeout = d.Timeout
		wg.Go(func() {
			n, err := p.ExpirePending(context.Background(), time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			expired += n
			mu.Unlock()
		})
	}
	for _, id := range pending[:10] {
		wg.Go(func() {
			err := s.Pay(context.Background(), id, buyer, "PayPal")
			mu.Lock()
			payErrs[fmt.Sprint(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()

	paidNow := count(t, s.DB, "SELECT COUNT(*) FROM purchases WHERE book_id = ? AND status = 'paid'", book) - 1
	gone := count(t, s.DB, "SELECT COUNT(*) FROM purchases WHERE book_id = ? AND status = 'expired'", book)
	b, _ := s.BookByID(t.Context(), book)
	if paidNow+gone != 20 || expired != gone || paidNow != payErrs["<nil>"] || payErrs["<nil>"]+payErrs[store.ErrExpired.Error()] != 10 {
		t.Fatalf("paid %d, expired %d (sweeps said %d), payments %v: want every pending purchase paid or expired once", paidNow, gone, expired, payErrs)
	}
	if want := 100 - 5 - 2*paidNow; b.Stock != want {
		t.Fatalf("stock %d, want %d: 5 paid before, %d paid during the sweep, the rest back", b.Stock, want, paidNow)
	}
	if err := s.Pay(t.Context(), pending[19], buyer, "PayPal"); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("paying an expired purchase: %v, want ErrExpired", err)
	}
	if n, _ := s.ExpirePending(t.Context(), time.Now().Add(time.Minute)); n != 0 {
		t.Fatalf("a second sweep expired %d", n)
	}
}

// Stock above the form's cap (units of expired reservations came back after
// the seller set the maximum) may be kept or lowered, not raised.
func TestUpdateBookAboveTheCap(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 100})
	if _, err := s.DB.Exec("UPDATE books SET stock = 102 WHERE id = ?", book); err != nil {
		t.Fatal(err)
	}
	in := store.BookInput{Title: "T2", Author: "A", Price: 100, Stock: 102}
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 102, 100); err != nil || now != 102 {
		t.Fatalf("unchanged stock above the cap: %d %v", now, err)
	}
	in.Stock = 101
	if now, err := s.UpdateBook(t.Context(), book, seller, in, 102, 100); err != nil || now != 101 {
		t.Fatalf("lowered, still above the cap: %d %v", now, err)
	}
	in.Stock = 103
	var changed *store.StockChangedError
	if _, err := s.UpdateBook(t.Context(), book, seller, in, 101, 100); !errors.As(err, &changed) {
		t.Fatalf("raised above the cap: %v", err)
	}
}

// Past ReservationTTL a purchase can't be paid, even before a sweep has
// marked it expired.
func TestPayRefusesAnOverdueReservation(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 100, Stock: 5})
	id, _ := s.Buy(t.Context(), buyer, book, 1)
	if err := s.ChooseDelivery(t.Context(), id, buyer, 4); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-store.ReservationTTL - time.Minute).Truncate(time.Second)
	if _, err := s.DB.Exec("UPDATE purchases SET created_at = ? WHERE id = ?", old, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(t.Context(), id, buyer, "PayPal"); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("pay 31 minutes on: %v, want ErrExpired", err)
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM payments WHERE purchase_id = ?", id); n != 0 {
		t.Fatalf("%d payments recorded", n)
	}
	if err := s.ChooseDelivery(t.Context(), id, buyer, 3); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("choose a delivery 31 minutes on: %v, want ErrExpired", err)
	}
	fresh, _ := s.Buy(t.Context(), buyer, book, 1)
	if err := s.ChooseDelivery(t.Context(), fresh, buyer, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(t.Context(), fresh, buyer, "PayPal"); err != nil {
		t.Fatalf("pay a fresh reservation: %v", err)
	}
}

// A live token padded with spaces, tabs or NULs is no session on either
// engine (MariaDB's utf8mb4_bin is PAD SPACE: it found the live one).
func TestPaddedSessionTokenIsNotFound(t *testing.T) {
	_, d := newStore(t)
	ss := store.NewSessionStore(d.Open(t), d.Timeout, 0)
	ctx := t.Context()
	const token = "2Qv8b0gqkK1w4sWw3bTj7xV0m0mH9cR4oE6yA1pZ5uQ"
	if err := ss.CommitCtx(ctx, token, []byte("signed in"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ss.FindCtx(ctx, token); err != nil || !ok {
		t.Fatalf("the live token: %v %v", ok, err)
	}
	for _, pad := range []string{" ", "   ", "\t", "\x00", " \t\x00"} {
		if b, ok, err := ss.FindCtx(ctx, token+pad); err != nil || ok {
			t.Errorf("token padded with %q: %q %v %v", pad, b, ok, err)
		}
	}
}
