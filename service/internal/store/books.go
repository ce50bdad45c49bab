package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/bookstore-aws/bookstore/service/internal/money"
)

// Book is a book on sale (or archived: off the catalog, kept for the
// purchases that point at it).
type Book struct {
	ID          int64
	SellerID    int64
	Title       string
	Author      string
	Description string
	Price       money.Cents
	Stock       int
	Cover       string // file name under SHARED_DIR/covers, "" for none
	Archived    bool
}

// BookInput is what a seller sets; the web layer has validated it.
type BookInput struct {
	Title       string
	Author      string
	Description string
	Price       money.Cents
	Stock       int
	Cover       string // "" keeps the current cover on update
}

const bookCols = "id, seller_id, title, author, description, price_cents, stock, COALESCE(cover, ''), archived"

func scanBook(sc interface{ Scan(...any) error }) (Book, error) {
	var b Book
	err := sc.Scan(&b.ID, &b.SellerID, &b.Title, &b.Author, &b.Description, &b.Price, &b.Stock, &b.Cover, &b.Archived)
	return b, err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateBook adds a book for sellerID and returns its id.
func (s *Store) CreateBook(ctx context.Context, sellerID int64, in BookInput) (int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"INSERT INTO books (seller_id, title, author, description, price_cents, stock, cover, archived, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, FALSE, ?)",
			sellerID, in.Title, in.Author, in.Description, int64(in.Price), in.Stock, nullable(in.Cover), s.clock())
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return bumpCatalog(ctx, tx)
	})
	return id, wrap("create book", err)
}

// SellerBook returns book id if sellerID sells it and it is not archived;
// otherwise ErrNotFound (another seller's book looks absent, not forbidden).
func (s *Store) SellerBook(ctx context.Context, id, sellerID int64) (Book, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	b, err := scanBook(s.DB.QueryRowContext(ctx,
		"SELECT "+bookCols+" FROM books WHERE id = ? AND seller_id = ? AND archived = FALSE", id, sellerID))
	if errors.Is(err, sql.ErrNoRows) {
		return Book{}, ErrNotFound
	}
	return b, wrap("seller book", err)
}

// StockChangedError is UpdateBook's answer when units sold (or returned)
// since the form was shown would make the new stock negative or larger than
// the form allows; Now is the stock at that moment.
type StockChangedError struct{ Now int }

func (e *StockChangedError) Error() string {
	return fmt.Sprintf("store: stock changed to %d since the form was shown", e.Now)
}

// UpdateBook sets a seller's book to in, except that stock is not
// overwritten: it moves by in.Stock - shown, where shown is the stock the
// seller's form displayed. Units sold between the form and the save stay
// sold; writing the form's figure back would put them on sale again and
// oversell (fault 2, through the edit form). The new stock must not be
// negative, and a rise must not pass maxStock; stock already above it (units
// of expired reservations came back) may stay or fall. It returns the stock
// now, and ErrNotFound unless sellerID sells book id and it is not
// archived, or a *StockChangedError.
func (s *Store) UpdateBook(ctx context.Context, id, sellerID int64, in BookInput, shown, maxStock int) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	delta := in.Stock - shown
	var now int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE books SET title = ?, author = ?, description = ?, price_cents = ?, stock = stock + ?, cover = COALESCE(?, cover)"+
				" WHERE id = ? AND seller_id = ? AND archived = FALSE AND stock + ? >= 0 AND (stock + ? <= ? OR ? <= 0)",
			in.Title, in.Author, in.Description, int64(in.Price), delta, nullable(in.Cover), id, sellerID, delta, delta, maxStock, delta)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		// MySQL counts a row updated to its current values as unaffected,
		// so the stock read decides.
		err = tx.QueryRowContext(ctx, "SELECT stock FROM books WHERE id = ? AND seller_id = ? AND archived = FALSE", id, sellerID).Scan(&now)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if n == 0 && (now+delta < 0 || now+delta > maxStock && delta > 0) {
			return &StockChangedError{Now: now}
		}
		return bumpCatalog(ctx, tx)
	})
	return now, wrap("update book", err)
}

// ArchiveBook takes a seller's book off the catalog. Purchases keep pointing
// at it, so order history stays whole (the original deleted the row and
// broke it: fault 8). ErrNotFound unless sellerID sells it.
func (s *Store) ArchiveBook(ctx context.Context, id, sellerID int64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return wrap("archive book", s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE books SET archived = TRUE WHERE id = ? AND seller_id = ? AND archived = FALSE", id, sellerID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return bumpCatalog(ctx, tx)
	}))
}

// Catalog returns every book on sale, by id.
func (s *Store) Catalog(ctx context.Context) ([]Book, error) {
	return s.books(ctx, "SELECT "+bookCols+" FROM books WHERE archived = FALSE ORDER BY id")
}

// NewestBooks returns up to n books on sale, newest first (by id: ids
// grow with each book added), for the home page.
func (s *Store) NewestBooks(ctx context.Context, n int) ([]Book, error) {
	return s.books(ctx, "SELECT "+bookCols+" FROM books WHERE archived = FALSE ORDER BY id DESC LIMIT ?", n)
}

// SellerBooks returns sellerID's books on sale, by id.
func (s *Store) SellerBooks(ctx context.Context, sellerID int64) ([]Book, error) {
	return s.books(ctx, "SELECT "+bookCols+" FROM books WHERE seller_id = ? AND archived = FALSE ORDER BY id", sellerID)
}

// BookByID returns any book, archived or not, or ErrNotFound.
func (s *Store) BookByID(ctx context.Context, id int64) (Book, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	b, err := scanBook(s.DB.QueryRowContext(ctx, "SELECT "+bookCols+" FROM books WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Book{}, ErrNotFound
	}
	return b, wrap("book", err)
}

func (s *Store) books(ctx context.Context, q string, args ...any) ([]Book, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("books", err)
	}
	defer rows.Close()
	var bs []Book
	for rows.Next() {
		b, err := scanBook(rows)
		if err != nil {
			return nil, wrap("books", err)
		}
		bs = append(bs, b)
	}
	return bs, wrap("books", rows.Err())
}
