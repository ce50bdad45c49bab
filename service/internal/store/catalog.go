package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CatalogSort is an order of the catalog. Every order ends with the book id,
// so books with equal prices or titles still come in one total, stable order
// and a keyset cursor never skips or repeats one.
type CatalogSort string

// The catalog's orders (the ?sort= values).
const (
	SortNewest    CatalogSort = "newest"     // id descending: the newest book first
	SortTitle     CatalogSort = "title"      // title (the column's collation: case-insensitive), then id
	SortPriceAsc  CatalogSort = "price"      // price ascending, then id ascending
	SortPriceDesc CatalogSort = "price_desc" // price descending, then id descending
)

// CatalogSorts lists the orders, the default first.
var CatalogSorts = []CatalogSort{SortNewest, SortTitle, SortPriceAsc, SortPriceDesc}

// sortSpec is the column an order sorts on before the id ("" for the id
// alone) and whether it descends. Each has an index (archived, col, id):
// migrations 0020-0022.
func (s CatalogSort) spec() (col string, desc bool, ok bool) {
	switch s {
	case SortNewest:
		return "", true, true
	case SortTitle:
		return "title", false, true
	case SortPriceAsc:
		return "price_cents", false, true
	case SortPriceDesc:
		return "price_cents", true, true
	}
	return "", false, false
}

// sortIndex is the index that holds col's order (migrations 0020-0022).
// Catalog names it with FORCE INDEX: given "archived = FALSE AND id < ?",
// MariaDB 10.11 chooses a ref access on archived alone and filters the
// rows it walks, so a deep page cost 100-750 ms at 100,000 books instead
// of under 1 ms.
func sortIndex(col string) string {
	switch col {
	case "title":
		return "books_catalog_title"
	case "price_cents":
		return "books_catalog_price"
	}
	return "books_catalog_newest"
}

// Search limits. InnoDB's FULLTEXT index skips words shorter than
// innodb_ft_min_token_size (3 on MySQL and MariaDB) and the words of its
// default stopword list, so a search for them could never match; the store
// drops them from the query instead (SearchTerms).
const (
	MinSearchTerm  = 3  // characters (innodb_ft_min_token_size)
	MaxSearchTerm  = 84 // characters (innodb_ft_max_token_size): longer words aren't indexed
	MaxSearchTerms = 8  // words used from one query; more are ignored
)

// wordRune reports whether r is part of a word as InnoDB's FULLTEXT parser
// reads text: letters, digits, combining marks (Mn, Mc: a virama or a vowel
// sign inside a Hindi or Tamil word, Arabic vowel marks, an accent typed
// decomposed) and the underscore. Every other character separates words.
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc) || r == '_'
}

// innodbStopwords is InnoDB's default FULLTEXT stopword list
// (INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD), the same on MySQL 8 and
// MariaDB 10.11.
var innodbStopwords = map[string]bool{
	"a": true, "about": true, "an": true, "are": true, "as": true, "at": true, "be": true, "by": true,
	"com": true, "de": true, "en": true, "for": true, "from": true, "how": true, "i": true, "in": true,
	"is": true, "it": true, "la": true, "of": true, "on": true, "or": true, "that": true, "the": true,
	"this": true, "to": true, "was": true, "what": true, "when": true, "where": true, "who": true,
	"will": true, "with": true, "und": true, "www": true,
}

// SearchTerms splits a search query, put in NFC first, into the words the
// catalog searches for: runs of word characters (see wordRune), lower-cased,
// without duplicates. Every other character separates words, so FULLTEXT
// operators (+-*"~<>()@) and the SQL wildcard % never reach the database as
// such (an underscore is part of a word, as InnoDB reads it, and is escaped
// in a LIKE). Words shorter than MinSearchTerm or longer than MaxSearchTerm
// and InnoDB stopwords are dropped (the index has no entry for them); at
// most MaxSearchTerms words are kept. An empty result means the query has
// nothing to search for.
func SearchTerms(q string) []string { return words(q, MaxSearchTerms) }

// words is SearchTerms keeping up to max words (0: all).
func words(q string, max int) []string {
	var terms []string
	for _, w := range strings.FieldsFunc(norm.NFC.String(q), func(r rune) bool { return !wordRune(r) }) {
		w = strings.ToLower(w)
		if n := utf8.RuneCountInString(w); n < MinSearchTerm || n > MaxSearchTerm || innodbStopwords[w] || slices.Contains(terms, w) {
			continue
		}
		if terms = append(terms, w); len(terms) == max {
			break
		}
	}
	return terms
}

// CatalogQuery asks for one page of the catalog.
type CatalogQuery struct {
	Sort CatalogSort
	// Terms, from SearchTerms, must all appear in a book's title or author
	// (whole words with FULLTEXT; anywhere in the text on the embedded
	// engine). None: every book on sale.
	Terms []string
	// After is the id of the last book of the previous page (the next page
	// starts after it, in Sort's order); Before is the id of the first book
	// of the next page (the page ends before it). At most one is set; both
	// 0 is the first page. The position is that book's place in the order
	// now, archived or not.
	After, Before int64
	// Limit is the page size in books (1 to 100).
	Limit int
	// IDsOnly reads only the books' ids (and titles and authors): the
	// page's order and members, for a cache that keeps them while
	// CatalogVersion stays the same and reads the rest with BooksByID.
	IDsOnly bool
}

// CatalogPage is one page of the catalog and whether there are books before
// or after it in the same order.
type CatalogPage struct {
	Books            []Book
	HasPrev, HasNext bool
}

// ErrBadCursor is Catalog's answer when After or Before names no book.
var ErrBadCursor = errors.New("store: the page position names no book")

// Catalog returns one page of books on sale, in q.Sort's order. Its cost is
// that of q.Limit+1 rows read from an index, whatever the position (a
// keyset seek, never an OFFSET), plus one primary-key read for the
// position; a search also reads the FULLTEXT index's matches. Errors:
// ErrBadCursor, ErrUnavailable, or a description of a bad query.
func (s *Store) Catalog(ctx context.Context, q CatalogQuery) (CatalogPage, error) {
	col, desc, ok := q.Sort.spec()
	switch {
	case !ok:
		return CatalogPage{}, fmt.Errorf("store: catalog: unknown sort %q", q.Sort)
	case q.Limit < 1 || q.Limit > 100:
		return CatalogPage{}, fmt.Errorf("store: catalog: limit %d: want 1 to 100", q.Limit)
	case q.After != 0 && q.Before != 0:
		return CatalogPage{}, errors.New("store: catalog: both After and Before")
	}
	for _, t := range q.Terms {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return !wordRune(r) }) {
			return CatalogPage{}, fmt.Errorf("store: catalog: search term %q is not from SearchTerms", t)
		}
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()

	where, args := []string{"archived = FALSE"}, []any{}
	wordFilter := false // the embedded engine: whole words checked here
	if len(q.Terms) > 0 {
		w, a, embedded, err := s.searchFilter(ctx, q.Terms)
		if err != nil {
			return CatalogPage{}, wrap("catalog", err)
		}
		where, args, wordFilter = append(where, w), append(args, a...), embedded
	}
	// Going back (Before) reads the order backwards from the position,
	// then turns the rows around.
	backwards := q.Before != 0
	cursor := max(q.After, q.Before)
	desc = desc != backwards
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	if cursor != 0 {
		var title string
		var price int64
		err := s.DB.QueryRowContext(ctx, "SELECT title, price_cents FROM books WHERE id = ?", cursor).Scan(&title, &price)
		if errors.Is(err, sql.ErrNoRows) {
			return CatalogPage{}, ErrBadCursor
		}
		if err != nil {
			return CatalogPage{}, wrap("catalog position", err)
		}
		switch col {
		case "":
			where, args = append(where, "id "+cmp+" ?"), append(args, cursor)
		case "title":
			where, args = append(where, "(title "+cmp+" ? OR (title = ? AND id "+cmp+" ?))"), append(args, title, title, cursor)
		default:
			where, args = append(where, "("+col+" "+cmp+" ? OR ("+col+" = ? AND id "+cmp+" ?))"), append(args, price, price, cursor)
		}
	}
	order := "id " + dir
	if col != "" {
		order = col + " " + dir + ", " + order
	}
	limit := " LIMIT " + fmt.Sprint(q.Limit+1)
	if wordFilter {
		limit = "" // rows are filtered below, then cut
	}
	from := "books"
	if len(q.Terms) == 0 {
		from = "books FORCE INDEX (" + sortIndex(col) + ")"
	}
	cols := bookCols
	if q.IDsOnly {
		cols = "id, 0, title, author, '', 0, 0, '', FALSE"
	}
	books, err := s.books(ctx, "SELECT "+cols+" FROM "+from+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY "+order+limit, args...)
	if err != nil {
		return CatalogPage{}, err
	}
	if wordFilter {
		books = slices.DeleteFunc(books, func(b Book) bool {
			ws := words(b.Title+" "+b.Author, 0)
			return slices.ContainsFunc(q.Terms, func(t string) bool { return !slices.Contains(ws, t) })
		})
		books = books[:min(len(books), q.Limit+1)]
	}
	more := len(books) > q.Limit
	if more {
		books = books[:q.Limit]
	}
	p := CatalogPage{Books: books, HasPrev: q.After != 0, HasNext: more}
	if backwards {
		slices.Reverse(p.Books)
		p.HasPrev, p.HasNext = more, true
	}
	return p, nil
}

// searchFilter is the WHERE condition that requires every term in the
// title or author. On MySQL and MariaDB it is a FULLTEXT search in BOOLEAN
// MODE, each term a required, quoted word (terms hold only letters and
// digits, marks and _, so nothing in them acts as an operator). The
// embedded engine has no usable FULLTEXT: there it is a LIKE per term (its
// _ escaped; a term has no %), and embedded is true: the caller keeps the rows in which each
// term is a whole word, as FULLTEXT would.
func (s *Store) searchFilter(ctx context.Context, terms []string) (cond string, args []any, embedded bool, err error) {
	if embedded, err = s.isEmbedded(ctx); err != nil {
		return "", nil, false, err
	}
	if !embedded {
		var b strings.Builder
		for i, t := range terms {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(`+"` + t + `"`)
		}
		return "MATCH (title, author) AGAINST (? IN BOOLEAN MODE)", []any{b.String()}, false, nil
	}
	var conds []string
	for _, t := range terms {
		like := "%" + strings.ReplaceAll(t, "_", `\_`) + "%" // _ is a word character here, not a wildcard
		conds = append(conds, "(LOWER(title) LIKE ? OR LOWER(author) LIKE ?)")
		args = append(args, like, like)
	}
	return strings.Join(conds, " AND "), args, true, nil
}

// isEmbedded reports whether the store runs on the embedded engine,
// asking the server once.
func (s *Store) isEmbedded(ctx context.Context) (bool, error) {
	switch s.engine.Load() {
	case 1:
		return false, nil
	case 2:
		return true, nil
	}
	e, err := embeddedEngine(ctx, s.DB)
	if err != nil {
		return false, err
	}
	if e {
		s.engine.Store(2)
	} else {
		s.engine.Store(1)
	}
	return e, nil
}

// BooksByID returns the books on sale among ids, in the order of ids (an
// archived or unknown id is left out): 1 to 100 primary-key reads.
func (s *Store) BooksByID(ctx context.Context, ids []int64) ([]Book, error) {
	if len(ids) == 0 || len(ids) > 100 {
		return nil, fmt.Errorf("store: books by id: %d ids, want 1 to 100", len(ids))
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	bs, err := s.books(ctx, "SELECT "+bookCols+" FROM books WHERE archived = FALSE AND id IN (?"+strings.Repeat(", ?", len(ids)-1)+")", args...)
	if err != nil {
		return nil, err
	}
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	slices.SortFunc(bs, func(a, b Book) int { return pos[a.ID] - pos[b.ID] })
	return bs, nil
}
