package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/bookstore-aws/bookstore/service/internal/store"
	"github.com/bookstore-aws/bookstore/service/internal/testdb"
)

// Without a delivery there is nothing to pay: the amount due includes its
// fee. Nothing is recorded and the purchase stays pending.
func TestPayNeedsADelivery(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1999, Stock: 5})
	p, _ := s.Buy(t.Context(), buyer, book, 2)
	if err := s.Pay(t.Context(), p, buyer, "PayPal"); !errors.Is(err, store.ErrNoDelivery) {
		t.Fatalf("pay without a delivery: %v, want ErrNoDelivery", err)
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM payments WHERE purchase_id = ?", p); n != 0 {
		t.Fatalf("%d payments recorded", n)
	}
	if got, _ := s.Purchase(t.Context(), p, buyer); got.Status != store.StatusPendingPayment {
		t.Fatalf("status %q after a refused payment, want pending", got.Status)
	}
}

// The delivery may change until the purchase is paid; the payment charges
// the items plus the fee of the delivery chosen last, and records the fee.
func TestDeliveryChangesUntilPaidAndItsFeeIsCharged(t *testing.T) {
	s, _ := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1999, Stock: 5})
	p, _ := s.Buy(t.Context(), buyer, book, 2)
	for _, provider := range []int64{1, 4} {
		if err := s.ChooseDelivery(t.Context(), p, buyer, provider); err != nil {
			t.Fatalf("choose %d: %v", provider, err)
		}
	}
	// An unknown provider leaves the earlier choice in place.
	if err := s.ChooseDelivery(t.Context(), p, buyer, 99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("choose 99: %v, want ErrNotFound", err)
	}
	got, err := s.Purchase(t.Context(), p, buyer)
	if err != nil || got.ProviderID != 4 || got.Provider != "Servientrega" || got.Coverage != "Domestic" ||
		got.DeliveryCost != 1500 || got.Due() != 5498 {
		t.Fatalf("purchase %+v, %v: want Servientrega, 15.00, due 54.98", got, err)
	}
	if err := s.Pay(t.Context(), p, buyer, "PayPal"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.DB, "SELECT amount_cents FROM payments WHERE purchase_id = ? AND delivery_cents = 1500", p); n != 5498 {
		t.Fatalf("paid %d cents, want 5498 (2 x 19.99 + 15.00)", n)
	}
	if err := s.ChooseDelivery(t.Context(), p, buyer, 1); !errors.Is(err, store.ErrDeliveryChosen) {
		t.Fatalf("change after paying: %v, want ErrDeliveryChosen", err)
	}
	orders, err := s.Orders(t.Context(), buyer)
	if err != nil || len(orders) != 1 || !orders[0].DeliveryCharged || orders[0].PaidAmount != 5498 || orders[0].Provider != "Servientrega" {
		t.Fatalf("orders %+v, %v", orders, err)
	}
}

// A payment racing changes of delivery on two pools charges exactly the
// fee of the delivery the purchase ends up with: the fee is read inside
// the payment's transaction, after the purchase row is locked.
func TestPayChargesTheDeliveryItEndsWith(t *testing.T) {
	s, d := newStore(t)
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1000, Stock: 50})
	pools := []*store.Store{store.New(d.Open(t)), store.New(d.Open(t))}
	for _, p := range pools {
		p.Timeout = d.Timeout
	}
	for round := range 10 {
		p, err := s.Buy(t.Context(), buyer, book, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ChooseDelivery(t.Context(), p, buyer, 4); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for _, provider := range []int64{1, 2, 3, 1} {
				err := pools[0].ChooseDelivery(context.Background(), p, buyer, provider)
				if err != nil && !errors.Is(err, store.ErrDeliveryChosen) {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			if err := pools[1].Pay(context.Background(), p, buyer, "PayPal"); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		charged := count(t, s.DB, "SELECT amount_cents - 1000 FROM payments WHERE purchase_id = ?", p)
		fee := count(t, s.DB, "SELECT cost_cents FROM deliveries WHERE purchase_id = ?", p)
		if charged != fee {
			t.Fatalf("round %d: charged a %d-cent fee, the delivery recorded costs %d", round, charged, fee)
		}
	}
}

// A purchase paid before migration 0030 (the old flow: pay the items, then
// choose a delivery nobody charged for) still shows what was paid, with its
// delivery marked as not charged; one paid without a delivery may still
// choose one, as the old flow let it.
func TestPurchasesPaidBeforeDeliveryWasCharged(t *testing.T) {
	d := testdb.New(t)
	db := d.Open(t)
	if err := store.MigrateTo(t.Context(), db, 12); err != nil {
		t.Fatal(err)
	}
	s := store.New(db)
	s.Timeout = d.Timeout
	seller := user(t, s, "seller@example.com")
	buyer := user(t, s, "buyer@example.com")
	book, err := s.CreateBook(t.Context(), seller, store.BookInput{Title: "Old", Author: "A", Price: 3999, Stock: 10})
	if err != nil {
		t.Fatal(err)
	}
	// What the release before this one wrote, statement for statement.
	for _, q := range []string{
		"INSERT INTO purchases (id, buyer_id, book_id, quantity, unit_price_cents, total_cents, status, created_at) VALUES (501, ?, ?, 2, 3999, 7998, 'paid', NOW())",
		"INSERT INTO payments (purchase_id, amount_cents, method, created_at) VALUES (501, 7998, 'PayPal', NOW())",
		"INSERT INTO deliveries (purchase_id, provider_id, cost_cents, created_at) VALUES (501, 1, 5000, NOW())",
		"INSERT INTO purchases (id, buyer_id, book_id, quantity, unit_price_cents, total_cents, status, created_at) VALUES (502, ?, ?, 1, 3999, 3999, 'paid', NOW())",
		"INSERT INTO payments (purchase_id, amount_cents, method, created_at) VALUES (502, 3999, 'Credit Card', NOW())",
	} {
		var args []any
		if q[12:21] == "purchases" {
			args = []any{buyer, book}
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := store.Migrate(t.Context(), db, quiet); err != nil {
		t.Fatal(err)
	}
	orders, err := s.Orders(t.Context(), buyer)
	if err != nil || len(orders) != 2 {
		t.Fatalf("orders %+v, %v", orders, err)
	}
	old := orders[1]
	if old.ID != 501 || old.PaidAmount != 7998 || old.DeliveryCharged || old.Provider != "DHL" || old.Coverage != "International" || old.DeliveryCost != 5000 {
		t.Fatalf("old order %+v: want 79.98 paid, DHL's 50.00 not charged", old)
	}
	if err := s.ChooseDelivery(t.Context(), 502, buyer, 3); err != nil {
		t.Fatalf("choosing a delivery for an old paid purchase: %v", err)
	}
	if err := s.ChooseDelivery(t.Context(), 502, buyer, 4); !errors.Is(err, store.ErrDeliveryChosen) {
		t.Fatalf("changing it: %v, want ErrDeliveryChosen", err)
	}
	orders, _ = s.Orders(t.Context(), buyer)
	if o := orders[0]; o.ID != 502 || o.PaidAmount != 3999 || o.DeliveryCharged || o.Provider != "Envia" {
		t.Fatalf("old order after choosing: %+v", o)
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM payments WHERE delivery_cents IS NOT NULL"); n != 0 {
		t.Fatalf("%d old payments now claim a delivery fee", n)
	}
}

// Shoppers choosing deliveries for their own purchases at the same moment
// never meet: a choice locks only its purchase and its delivery row. Deleting
// a delivery that doesn't exist yet took a gap lock on the unique key, so two
// first choices for neighbouring purchases deadlocked (MySQL error 1213, a
// 500 for the shopper), as the fleet rehearsal saw under load.
func TestConcurrentFirstDeliveriesNeverDeadlock(t *testing.T) {
	s, d := newStore(t)
	seller := user(t, s, "seller@example.com")
	book, _ := s.CreateBook(t.Context(), seller, store.BookInput{Title: "T", Author: "A", Price: 1000, Stock: 1000})
	const shoppers, rounds = 8, 15
	var buyers []int64
	for i := range shoppers {
		buyers = append(buyers, user(t, s, string(rune('a'+i))+"@example.com"))
	}
	pools := make([]*store.Store, shoppers)
	for i := range pools {
		pools[i] = store.New(d.Open(t))
		pools[i].Timeout = d.Timeout
	}
	for round := range rounds {
		var wg sync.WaitGroup
		for i, buyer := range buyers {
			wg.Go(func() {
				p, err := pools[i].Buy(context.Background(), buyer, book, 1)
				if err != nil {
					t.Errorf("round %d: buy: %v", round, err)
					return
				}
				for _, provider := range []int64{1 + int64(i%4), 1 + int64((i+1)%4)} {
					if err := pools[i].ChooseDelivery(context.Background(), p, buyer, provider); err != nil {
						t.Errorf("round %d: choose delivery %d for purchase %d: %v", round, provider, p, err)
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	if n := count(t, s.DB, "SELECT COUNT(*) FROM deliveries"); n != shoppers*rounds {
		t.Fatalf("%d deliveries, want %d", n, shoppers*rounds)
	}
}
