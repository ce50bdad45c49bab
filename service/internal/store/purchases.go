package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/money"
)

// Purchase statuses. A purchase is pending payment until paid, or until
// ReservationTTL passes and ExpirePending gives its units back (expired).
const (
	StatusPendingPayment = "pending_payment"
	StatusPaid           = "paid"
	StatusExpired        = "expired"
)

// ReservationTTL is how long a purchase pending payment holds its units.
// Without a limit, one account could buy every unit and never pay, and the
// whole catalog would show "Out of stock" for good.
const ReservationTTL = 30 * time.Minute

// PaymentMethods are the methods the original offered, in its spelling.
var PaymentMethods = []string{"Credit Card", "PayPal", "Bank Transfer"}

// Purchase is one buy of some units of a book, with the delivery chosen
// for it. Amounts come from the database, never from the form (fault 1):
// the unit price as it was at the buy, the delivery fee as it was when the
// provider was chosen.
type Purchase struct {
	ID        int64
	BuyerID   int64
	BookID    int64
	BookTitle string
	Quantity  int
	UnitPrice money.Cents
	Total     money.Cents // Quantity x UnitPrice: the items, without delivery
	Status    string
	Created   time.Time
	// The delivery chosen; ProviderID 0 (and the rest empty) until one is.
	ProviderID   int64
	Provider     string
	Coverage     string
	DeliveryCost money.Cents
}

// ReservedUntil is when a purchase pending payment expires (ReservationTTL
// after it was made).
func (p Purchase) ReservedUntil() time.Time { return p.Created.Add(ReservationTTL) }

// Due is what paying the purchase charges: the items plus the delivery fee.
func (p Purchase) Due() money.Cents { return p.Total + p.DeliveryCost }

// Order is a purchase with its payment, for /orders.
type Order struct {
	Purchase
	PaymentMethod string      // "" until paid
	PaidAmount    money.Cents // 0 until paid; items + delivery fee since migration 0030
	// DeliveryCharged is false for a payment made before the delivery fee
	// was part of the amount due (payments.delivery_cents NULL, migration
	// 0030): its delivery, chosen after paying, was never charged.
	DeliveryCharged bool
}

// Provider is a delivery provider (seeded by migration 0006, coverage in
// English since 0031). Cost is its fee per purchase.
type Provider struct {
	ID       int64
	Name     string
	Coverage string
	Cost     money.Cents
}

// OutOfStockError says how many units were left when a buy asked for more.
type OutOfStockError struct{ Available int }

func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("only %d in stock", e.Available)
}

func (e *OutOfStockError) Unwrap() error { return ErrOutOfStock }

// Buy takes quantity units of book bookID for buyerID and records a purchase
// pending payment, in one transaction, and returns the purchase id. The
// stock is taken with one conditional UPDATE (stock >= quantity), so
// concurrent buyers can't take more than there is (fault 2); the purchase
// row copies the price from the book row that UPDATE has just locked, in
// the same INSERT ... SELECT. That is four round trips to the database
// (begin, update, insert, commit), and no row but the book's is written:
// buyers of different books never wait for each other. Errors: ErrNotFound
// (no such book or archived), *OutOfStockError (wraps ErrOutOfStock).
func (s *Store) Buy(ctx context.Context, buyerID, bookID int64, quantity int) (int64, error) {
	if quantity <= 0 {
		return 0, fmt.Errorf("store: quantity %d: must be positive", quantity)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE books SET stock = stock - ? WHERE id = ? AND archived = FALSE AND stock >= ?",
			quantity, bookID, quantity)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var stock int
			err := tx.QueryRowContext(ctx, "SELECT stock FROM books WHERE id = ? AND archived = FALSE", bookID).Scan(&stock)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			return &OutOfStockError{Available: stock}
		}
		// A total past BIGINT fails the INSERT (error 1690, out of
		// range); it never wraps. Forms cap price and quantity far below.
		res, err = tx.ExecContext(ctx,
			"INSERT INTO purchases (buyer_id, book_id, quantity, unit_price_cents, total_cents, status, created_at)"+
				" SELECT ?, id, ?, price_cents, price_cents * ?, ?, ? FROM books WHERE id = ?",
			buyerID, quantity, quantity, StatusPendingPayment, s.clock(), bookID)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, wrap("buy", err)
}

// purchaseCols and purchaseJoins read a Purchase with purchaseFields; the
// delivery columns are empty until one is chosen.
const (
	purchaseCols = `p.id, p.buyer_id, p.book_id, b.title, p.quantity, p.unit_price_cents, p.total_cents, p.status, p.created_at,
		COALESCE(d.provider_id, 0), COALESCE(dp.name, ''), COALESCE(dp.coverage, ''), COALESCE(d.cost_cents, 0)`
	purchaseJoins = `purchases p
		JOIN books b ON b.id = p.book_id
		LEFT JOIN deliveries d ON d.purchase_id = p.id
		LEFT JOIN delivery_providers dp ON dp.id = d.provider_id`
)

// purchaseFields are the scan destinations for purchaseCols, with
// created to be copied into p.Created after the scan.
func purchaseFields(p *Purchase, created *Time) []any {
	return []any{&p.ID, &p.BuyerID, &p.BookID, &p.BookTitle, &p.Quantity, &p.UnitPrice, &p.Total, &p.Status, created,
		&p.ProviderID, &p.Provider, &p.Coverage, &p.DeliveryCost}
}

// Purchase returns purchase id if buyerID made it; otherwise ErrNotFound, so
// nobody learns whether another user's purchase exists (fault 3).
func (s *Store) Purchase(ctx context.Context, id, buyerID int64) (Purchase, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var p Purchase
	var created Time
	err := s.DB.QueryRowContext(ctx,
		"SELECT "+purchaseCols+" FROM "+purchaseJoins+" WHERE p.id = ? AND p.buyer_id = ?", id, buyerID).
		Scan(purchaseFields(&p, &created)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Purchase{}, ErrNotFound
	}
	p.Created = created.Time
	return p, wrap("purchase", err)
}

// Pay records a payment by method for buyerID's purchase id. The amount is
// computed in the payment's transaction from the database alone: the
// purchase's total (units x unit price, fixed at the buy) plus the fee of
// the delivery chosen for it (fixed when it was chosen); nothing comes from
// a form (fault 1). Paying is idempotent (fault 11): only the transition
// from pending to paid inserts a payment, and payments has one row per
// purchase at most (UNIQUE key). A purchase older than ReservationTTL can't
// be paid even before the sweep (ExpirePending) has marked it. Errors:
// ErrNotFound, ErrAlreadyPaid, ErrExpired or ErrNoDelivery (no delivery
// chosen yet); nothing changed then.
func (s *Store) Pay(ctx context.Context, id, buyerID int64, method string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	cutoff := s.clock().Add(-ReservationTTL)
	return wrap("pay", s.inTx(ctx, func(tx *sql.Tx) error {
		// The purchase row is locked from here to the commit, so the
		// delivery read below is the one ChooseDelivery (which locks it
		// too) left, not one it is changing.
		res, err := tx.ExecContext(ctx,
			"UPDATE purchases SET status = ? WHERE id = ? AND buyer_id = ? AND status = ? AND created_at >= ?",
			StatusPaid, id, buyerID, StatusPendingPayment, cutoff)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var status string
			err := tx.QueryRowContext(ctx, "SELECT status FROM purchases WHERE id = ? AND buyer_id = ?", id, buyerID).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			if status == StatusExpired || status == StatusPendingPayment {
				return ErrExpired // marked, or due for the next sweep
			}
			return ErrAlreadyPaid
		}
		res, err = tx.ExecContext(ctx,
			`INSERT INTO payments (purchase_id, amount_cents, delivery_cents, method, created_at)
			SELECT p.id, p.total_cents + d.cost_cents, d.cost_cents, ?, ? FROM purchases p JOIN deliveries d ON d.purchase_id = p.id
			WHERE p.id = ?`,
			method, s.clock(), id)
		if isDuplicate(err) {
			return ErrAlreadyPaid
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNoDelivery // rolls the status back to pending
		}
		return nil
	}))
}

// ExpirePending ends every purchase still pending payment that was made
// before cutoff: its status becomes expired and its units go back to the
// book's stock, each purchase in its own transaction. The status change is
// conditional, so a payment racing it, or another instance sweeping at the
// same time, wins or loses whole: units are never returned twice, nor for a
// paid purchase. It returns how many purchases it expired.
func (s *Store) ExpirePending(ctx context.Context, cutoff time.Time) (int, error) {
	type held struct {
		id, book int64
		qty      int
	}
	var due []held
	err := func() error {
		ctx, cancel := s.ctx(ctx)
		defer cancel()
		rows, err := s.DB.QueryContext(ctx,
			"SELECT id, book_id, quantity FROM purchases WHERE status = ? AND created_at < ? ORDER BY id LIMIT 1000",
			StatusPendingPayment, cutoff.UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h held
			if err := rows.Scan(&h.id, &h.book, &h.qty); err != nil {
				return err
			}
			due = append(due, h)
		}
		return rows.Err()
	}()
	if err != nil {
		return 0, wrap("expire pending", err)
	}
	n := 0
	for _, h := range due {
		ctx, cancel := s.ctx(ctx)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, "UPDATE purchases SET status = ? WHERE id = ? AND status = ?",
				StatusExpired, h.id, StatusPendingPayment)
			if err != nil {
				return err
			}
			if changed, err := res.RowsAffected(); err != nil || changed == 0 {
				return err // paid, or expired by another instance, meanwhile
			}
			if _, err := tx.ExecContext(ctx, "UPDATE books SET stock = stock + ? WHERE id = ?", h.qty, h.book); err != nil {
				return err
			}
			n++
			return nil
		})
		cancel()
		if err != nil {
			return n, wrap("expire pending", err)
		}
	}
	return n, nil
}

// Providers lists the delivery providers by id.
func (s *Store) Providers(ctx context.Context) ([]Provider, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.DB.QueryContext(ctx, "SELECT id, name, coverage, cost_cents FROM delivery_providers ORDER BY id")
	if err != nil {
		return nil, wrap("providers", err)
	}
	defer rows.Close()
	var ps []Provider
	for rows.Next() {
		var p Provider
		if err := rows.Scan(&p.ID, &p.Name, &p.Coverage, &p.Cost); err != nil {
			return nil, wrap("providers", err)
		}
		ps = append(ps, p)
	}
	return ps, wrap("providers", rows.Err())
}

// ChooseDelivery sets provider providerID as the delivery of buyerID's
// purchase id, at the provider's current fee, which Pay then charges with
// the items. While the purchase is pending payment (and not overdue) the
// choice may be changed; once paid it is final. A purchase paid before
// delivery was charged (migration 0030) without a delivery yet may still
// choose one, as the original let it after paying; its fee is recorded
// but was never part of the payment. Errors: ErrNotFound (purchase not the
// buyer's, or no such provider), ErrExpired, ErrDeliveryChosen (paid, with
// a delivery).
func (s *Store) ChooseDelivery(ctx context.Context, id, buyerID, providerID int64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	cutoff := s.clock().Add(-ReservationTTL)
	return wrap("choose delivery", s.inTx(ctx, func(tx *sql.Tx) error {
		// FOR UPDATE: a payment racing this choice waits for it, or
		// this waits for the payment and then sees the purchase paid.
		var status string
		var created Time
		err := tx.QueryRowContext(ctx, "SELECT status, created_at FROM purchases WHERE id = ? AND buyer_id = ? FOR UPDATE", id, buyerID).
			Scan(&status, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status == StatusExpired || status == StatusPendingPayment && created.Time.Before(cutoff) {
			return ErrExpired
		}
		// A plain read, then one row written by key: deleting a delivery that
		// doesn't exist yet, or INSERT … SELECT, takes gap or AUTO-INC locks
		// that deadlock neighbouring purchases' first choices (MySQL 1213,
		// MariaDB 1467). The purchase's lock above already orders writers of
		// this purchase's delivery.
		var cost int64
		var chosen bool
		err = tx.QueryRowContext(ctx,
			"SELECT cost_cents, EXISTS (SELECT 1 FROM deliveries WHERE purchase_id = ?) FROM delivery_providers WHERE id = ?",
			id, providerID).Scan(&cost, &chosen)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound // the earlier choice stays
		}
		if err != nil {
			return err
		}
		switch {
		case chosen && status != StatusPendingPayment:
			return ErrDeliveryChosen
		case chosen:
			_, err = tx.ExecContext(ctx, "UPDATE deliveries SET provider_id = ?, cost_cents = ?, created_at = ? WHERE purchase_id = ?",
				providerID, cost, s.clock(), id)
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO deliveries (purchase_id, provider_id, cost_cents, created_at) VALUES (?, ?, ?, ?)",
			id, providerID, cost, s.clock())
		if isDuplicate(err) {
			return ErrDeliveryChosen
		}
		return err
	}))
}

// Orders returns buyerID's purchases, newest first, with payment and delivery.
func (s *Store) Orders(ctx context.Context, buyerID int64) ([]Order, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.DB.QueryContext(ctx, "SELECT "+purchaseCols+`,
		COALESCE(pay.method, ''), COALESCE(pay.amount_cents, 0), pay.delivery_cents IS NOT NULL
		FROM `+purchaseJoins+`
		LEFT JOIN payments pay ON pay.purchase_id = p.id
		WHERE p.buyer_id = ?
		ORDER BY p.id DESC`, buyerID)
	if err != nil {
		return nil, wrap("orders", err)
	}
	defer rows.Close()
	var os []Order
	for rows.Next() {
		var o Order
		var created Time
		if err := rows.Scan(append(purchaseFields(&o.Purchase, &created), &o.PaymentMethod, &o.PaidAmount, &o.DeliveryCharged)...); err != nil {
			return nil, wrap("orders", err)
		}
		o.Created = created.Time
		os = append(os, o)
	}
	return os, wrap("orders", rows.Err())
}
