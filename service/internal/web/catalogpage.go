package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// Catalog limits.
const (
	// catalogPageSize is how many books a catalog page shows.
	catalogPageSize = 24
	// maxSearchChars caps ?q= in characters: a title and an author's name
	// fit; a longer query is refused (400), not cut.
	maxSearchChars = 100
)

// catalogView is what a catalog page shows besides its books: the query it
// answers, for the search box and the links to the pages around it.
type catalogView struct {
	Q, Sort          string
	Sorts            []store.CatalogSort
	Searched         bool // q has words to search for
	NoTerms          bool // q was given but every word in it is too short or a stopword
	Empty            bool // no book on this page
	PrevURL, NextURL string
}

// catalogSnapshot is one page of the catalog as read from the database at
// one moment, rendered.
type catalogSnapshot struct {
	page store.CatalogPage
	html template.HTML // the book list
	// A search's members and order as of catalog version, kept while
	// the version stays (see catalogSnap).
	version int64
	ids     []int64
	// anonPage is the whole page as an anonymous visitor without a flash
	// message sees it, rendered on first use; anonGzip is it gzipped.
	anonPage, anonGzip atomic.Pointer[[]byte]
}

// catalogRequest is a parsed, valid catalog query.
type catalogRequest struct {
	q     store.CatalogQuery
	text  string // ?q= as sent
	sort  string // ?sort= as sent ("" for the default)
	given bool   // ?q= was given
}

// parseCatalog reads ?q, ?sort, ?after, ?before and ?page. Any bad value is
// an error whose text says what was wrong (the 400 page shows it).
func parseCatalog(v url.Values) (catalogRequest, error) {
	var c catalogRequest
	c.q.Limit = catalogPageSize
	for k, vs := range v {
		if len(vs) > 1 {
			return c, errors.New("The parameter " + strconv.Quote(k) + " is given more than once.")
		}
	}
	c.sort = v.Get("sort")
	c.q.Sort = store.SortNewest
	if c.sort != "" {
		c.q.Sort = store.CatalogSort(c.sort)
		if !slices.Contains(store.CatalogSorts, c.q.Sort) {
			return c, errors.New("Unknown sort order; use newest, title, price or price_desc.")
		}
	}
	c.text, c.given = v.Get("q"), v.Has("q")
	switch {
	case !utf8.ValidString(c.text):
		return c, errors.New("The search is not valid UTF-8 text.")
	case strings.ContainsRune(c.text, 0):
		return c, errors.New("The search contains a NUL character.")
	case utf8.RuneCountInString(c.text) > maxSearchChars:
		return c, errors.New("The search may be at most " + strconv.Itoa(maxSearchChars) + " characters long.")
	}
	c.q.Terms = store.SearchTerms(c.text)
	for name, dst := range map[string]*int64{"after": &c.q.After, "before": &c.q.Before} {
		if !v.Has(name) {
			continue
		}
		n, err := strconv.ParseInt(v.Get(name), 10, 64)
		if err != nil || n <= 0 {
			return c, errors.New("The page position (" + name + ") must be a book number.")
		}
		*dst = n
	}
	if c.q.After != 0 && c.q.Before != 0 {
		return c, errors.New("Give after or before, not both.")
	}
	// Pages are reached through their Next and Previous links (a keyset
	// position, ?after=ID), so that a deep page costs what the first does.
	// ?page=1 is the first page; other page numbers are refused rather
	// than answered with page 1.
	if v.Has("page") && v.Get("page") != "1" {
		return c, errors.New("Page numbers are not used here; follow the Next and Previous links.")
	}
	return c, nil
}

// key names what the request shows: requests with the same key share
// reads and, when anonymous, the rendered page (which shows q and sort as
// sent, so they are part of it, not only the terms).
func (c catalogRequest) key() string {
	return c.sort + "\x00" + strconv.FormatBool(c.given) + "\x00" + c.text + "\x00" +
		strconv.FormatInt(c.q.After, 10) + "\x00" + strconv.FormatInt(c.q.Before, 10)
}

// link is the catalog URL for the same search and sort at a position.
func (c catalogRequest) link(pos string, id int64) string {
	v := url.Values{}
	if c.given {
		v.Set("q", c.text)
	}
	if c.sort != "" {
		v.Set("sort", c.sort)
	}
	if pos != "" {
		v.Set(pos, strconv.FormatInt(id, 10))
	}
	if len(v) == 0 {
		return "/book/catalog"
	}
	return "/book/catalog?" + v.Encode()
}

// view is what the page shows around snap's books.
func (c catalogRequest) view(p store.CatalogPage) *catalogView {
	cv := &catalogView{Q: c.text, Sort: string(c.q.Sort), Sorts: store.CatalogSorts,
		Searched: len(c.q.Terms) > 0, NoTerms: c.given && strings.TrimSpace(c.text) != "" && len(c.q.Terms) == 0,
		Empty: len(p.Books) == 0}
	if n := len(p.Books); n > 0 {
		if p.HasPrev {
			cv.PrevURL = c.link("before", p.Books[0].ID)
		}
		if p.HasNext {
			cv.NextURL = c.link("after", p.Books[n-1].ID)
		}
	}
	return cv
}

// catalogSnap reads the page c asks for (see freshCache: never older than
// the request). A search with no usable words shows no books, without a
// query.
func (a *App) catalogSnap(ctx context.Context, c catalogRequest) (*catalogSnapshot, error) {
	if c.given && len(c.q.Terms) == 0 && strings.TrimSpace(c.text) != "" {
		return &catalogSnapshot{}, nil
	}
	return a.catalog.get(ctx, c.key(), func(ctx context.Context, prev *catalogSnapshot) (*catalogSnapshot, error) {
		var p store.CatalogPage
		var version int64
		var ids []int64
		var err error
		if len(c.q.Terms) == 0 {
			p, err = a.store.Catalog(ctx, c.q)
		} else {
			version, ids, p, err = a.searchPage(ctx, c.q, prev)
		}
		if err != nil {
			return nil, err
		}
		if prev != nil && slices.Equal(prev.page.Books, p.Books) && prev.page.HasPrev == p.HasPrev && prev.page.HasNext == p.HasNext {
			return prev, nil // unchanged: keep its rendering
		}
		html, err := a.renderCatalog(p.Books)
		if err != nil {
			return nil, err
		}
		return &catalogSnapshot{page: p, html: html, version: version, ids: ids}, nil
	})
}

// searchPage reads a page of search results in two parts. Which books match
// and their order change only when a seller adds, edits or archives a book,
// which bumps the catalog version; finding them costs a FULLTEXT search and
// a sort of every match (tens of ms for a common word among 100,000
// books), so they are kept while the version stays. Their stock and price
// change with every purchase, which doesn't bump it, so they are read again
// every time, by id. Both reads start after the request arrived (the
// version first), so the page is never older than the request.
func (a *App) searchPage(ctx context.Context, q store.CatalogQuery, prev *catalogSnapshot) (version int64, ids []int64, p store.CatalogPage, err error) {
	if version, err = a.store.CatalogVersion(ctx); err != nil {
		return 0, nil, p, err
	}
	if prev != nil && prev.version == version && prev.ids != nil {
		ids, p.HasPrev, p.HasNext = prev.ids, prev.page.HasPrev, prev.page.HasNext
	} else {
		q.IDsOnly = true
		m, err := a.store.Catalog(ctx, q)
		if err != nil {
			return 0, nil, p, err
		}
		ids, p.HasPrev, p.HasNext = make([]int64, 0, len(m.Books)), m.HasPrev, m.HasNext
		for _, b := range m.Books {
			ids = append(ids, b.ID)
		}
	}
	if len(ids) > 0 {
		if p.Books, err = a.store.BooksByID(ctx, ids); err != nil {
			return 0, nil, p, err
		}
	}
	return version, ids, p, nil
}

// catalogPage shows one page of the books on sale, searched and sorted as
// the query asks (see parseCatalog). Most visitors are anonymous and have
// no flash message: they all get the same bytes for the same query,
// rendered (and gzipped, for the browsers that accept it) once per change
// of that page's books.
func (a *App) catalogPage(w http.ResponseWriter, r *http.Request) {
	c, err := parseCatalog(r.URL.Query())
	if err != nil {
		a.errorPage(w, r, http.StatusBadRequest, err.Error())
		return
	}
	snap, err := a.catalogSnap(r.Context(), c)
	if errors.Is(err, store.ErrBadCursor) {
		a.errorPage(w, r, http.StatusNotFound, "That page position names no book. Start again from the first page.")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Catalog, d.CatalogView = snap.html, c.view(snap.page)
	if d.User != nil || d.Flash != "" {
		a.render(w, r, http.StatusOK, "catalog", d)
		return
	}
	page := snap.anonPage.Load()
	if page == nil {
		var buf bytes.Buffer
		if err := a.pages["catalog"].ExecuteTemplate(&buf, "base", d); err != nil {
			a.serverError(w, r, err)
			return
		}
		b := buf.Bytes()
		page = &b
		snap.anonPage.Store(page)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		gz := snap.anonGzip.Load()
		if gz == nil {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(*page)
			zw.Close()
			b := buf.Bytes()
			gz = &b
			snap.anonGzip.Store(gz)
		}
		page = gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(*page)))
	w.Write(*page)
}

func (a *App) renderCatalog(books []store.Book) (template.HTML, error) {
	var buf bytes.Buffer
	if err := a.fragments.ExecuteTemplate(&buf, "catalog-books", books); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}

// bookPage shows one book on sale: cover, title, author, description,
// price, stock and the buy form, with its canonical URL. An archived or
// unknown book, or an id that is not a positive number, is a 404. Stock and
// price are read after the request arrived (freshCache), like the catalog.
func (a *App) bookPage(w http.ResponseWriter, r *http.Request) {
	id, ok := idParam(r, "id")
	if !ok {
		a.notFound(w, r)
		return
	}
	b, err := a.books.get(r.Context(), strconv.FormatInt(id, 10), func(ctx context.Context, _ store.Book) (store.Book, error) {
		return a.store.BookByID(ctx, id)
	})
	if errors.Is(err, store.ErrNotFound) || err == nil && b.Archived {
		a.notFound(w, r)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Book = b
	a.render(w, r, http.StatusOK, "book", d)
}
