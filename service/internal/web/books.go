package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// idParam reads a positive integer URL parameter; false means "no such page".
func idParam(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	return id, err == nil && id > 0
}

// acceptsGzip reports whether the request's Accept-Encoding (all its
// lines, joined as RFC 9110 section 5.3 does for a repeated list field)
// gives gzip (or x-gzip, its alias) a qvalue above zero, or gives "*" one
// and does not name gzip (RFC 9110, section 12.5.3). qvalues are read as
// section 12.4.2 defines them: the parameter name "q" in any case, "0",
// "0.", "0.0" to "0.000" are all zero; an element whose weight is not a
// valid qvalue is ignored. No header: identity only.
func acceptsGzip(r *http.Request) bool {
	gzipQ, starQ := -1, -1 // thousandths; -1: not named
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept-Encoding"), ","), ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		q, ok := 1000, true
		for _, p := range strings.Split(params, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				q, ok = qvalue(strings.TrimSpace(value))
			}
		}
		switch {
		case !ok:
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			gzipQ = max(gzipQ, q)
		case coding == "*":
			starQ = max(starQ, q)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// qvalue parses an RFC 9110 qvalue (section 12.4.2: "0" [ "." 0*3DIGIT ]
// or "1" [ "." 0*3("0") ]) into thousandths.
func qvalue(s string) (int, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if len(frac) > 3 || (whole != "0" && whole != "1") || (!dot && frac != "") {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		d := byte('0')
		if i < len(frac) {
			d = frac[i]
		}
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}

func (a *App) myBooks(w http.ResponseWriter, r *http.Request) {
	books, err := a.store.SellerBooks(r.Context(), a.currentUser(r).ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Books = books
	a.render(w, r, http.StatusOK, "my_books", d)
}

func (a *App) addBookForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "book_form", a.data(r))
}

// bookForm reads and checks title, author, description, price, stock and
// cover. On failure it has rendered the form, with every value the user
// sent, and status (422, or 413 for a cover too large, or 400 for a body
// that can't be read) and returns ok false; nothing has been written.
//
// The edit form (edit) also carries stock_shown, the stock it showed, which
// bookForm returns as shown (see store.UpdateBook); without it the form is
// refused. Stock may then be as high as shown when that is above maxStock:
// units of expired reservations can take it there, and the seller must
// still be able to save the book unchanged.
func (a *App) bookForm(w http.ResponseWriter, r *http.Request, d *templateData, edit bool) (in store.BookInput, shown int, up *upload, ok bool) {
	body, err := a.readBookForm(w, r)
	if err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return in, 0, nil, false
	}
	f := newForm(body.values)
	d.Form = f
	if body.cut {
		// What came after the cut is unknown: say why, and don't report
		// fields that were sent but not read as missing.
		f.fail("cover", "The upload was larger than "+byteText(maxBookFormBytes)+" and was not read to the end; the cover may be at most "+a.maxCoverText()+".")
		a.render(w, r, http.StatusRequestEntityTooLarge, "book_form", d)
		return in, 0, nil, false
	}
	stockCap, shownOK := maxStock, !edit
	if edit {
		shown, err = strconv.Atoi(f.Get("stock_shown"))
		shownOK = err == nil && shown >= 0
		if shownOK && shown > stockCap {
			stockCap = shown
		}
	}
	in = store.BookInput{
		Title:       f.text("title", true, maxTitle),
		Author:      f.text("author", true, maxAuthor),
		Description: f.textArea("description", false, maxDescription),
		Price:       f.price("price"),
		Stock:       f.integer("stock", 0, stockCap),
	}
	status := http.StatusUnprocessableEntity
	switch {
	case body.coverTooBig:
		f.fail("cover", "The cover may be at most "+a.maxCoverText()+"; this one is larger.")
		status = http.StatusRequestEntityTooLarge
	case body.cover != nil:
		// The type is sniffed from the bytes (the WHATWG algorithm), never
		// taken from the file name or the browser's claim.
		ext, ok := coverTypes[http.DetectContentType(body.cover)]
		if !ok {
			f.fail("cover", "The cover must be a JPEG, PNG, GIF or WebP image.")
		} else {
			up = &upload{data: body.cover, ext: ext}
		}
	}
	if !f.Valid() {
		a.render(w, r, status, "book_form", d)
		return store.BookInput{}, 0, nil, false
	}
	if !shownOK {
		f.fail("stock", "This form does not say which stock it showed; reload the page, then save again.")
		a.render(w, r, http.StatusUnprocessableEntity, "book_form", d)
		return store.BookInput{}, 0, nil, false
	}
	return in, shown, up, true
}

func (a *App) addBook(w http.ResponseWriter, r *http.Request) {
	d := a.data(r)
	in, _, up, ok := a.bookForm(w, r, d, false)
	if !ok {
		return
	}
	if up != nil {
		name, err := a.saveCover(up)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		in.Cover = name
	}
	if _, err := a.store.CreateBook(r.Context(), a.currentUser(r).ID, in); err != nil {
		a.undoCover(in.Cover, err)
		a.serverError(w, r, err)
		return
	}
	a.redirect(w, r, "/book/my_books", "“"+in.Title+"” is on sale.")
}

// sellerBook loads the seller's own book named by the URL, or answers 404.
func (a *App) sellerBook(w http.ResponseWriter, r *http.Request) (store.Book, bool) {
	id, ok := idParam(r, "id")
	if !ok {
		a.notFound(w, r)
		return store.Book{}, false
	}
	b, err := a.store.SellerBook(r.Context(), id, a.currentUser(r).ID)
	if errors.Is(err, store.ErrNotFound) {
		a.notFound(w, r)
		return store.Book{}, false
	}
	if err != nil {
		a.serverError(w, r, err)
		return store.Book{}, false
	}
	return b, true
}

func (a *App) editBookForm(w http.ResponseWriter, r *http.Request) {
	b, ok := a.sellerBook(w, r)
	if !ok {
		return
	}
	d := a.data(r)
	d.Book = b
	for k, v := range map[string]string{"title": b.Title, "author": b.Author, "description": b.Description,
		"price": b.Price.String(), "stock": strconv.Itoa(b.Stock), "stock_shown": strconv.Itoa(b.Stock)} {
		d.Form.Set(k, v)
	}
	a.render(w, r, http.StatusOK, "book_form", d)
}

func (a *App) editBook(w http.ResponseWriter, r *http.Request) {
	b, ok := a.sellerBook(w, r)
	if !ok {
		return
	}
	d := a.data(r)
	d.Book = b
	// The edit moves stock by what the seller changed from shown, so units
	// sold meanwhile are not put on sale again (see store.UpdateBook).
	in, shown, up, ok := a.bookForm(w, r, d, true)
	if !ok {
		return
	}
	if up != nil {
		name, err := a.saveCover(up)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		in.Cover = name
	}
	_, err := a.store.UpdateBook(r.Context(), b.ID, b.SellerID, in, shown, maxStock)
	var changed *store.StockChangedError
	if errors.As(err, &changed) {
		a.removeCover(in.Cover)
		now := strconv.Itoa(changed.Now)
		d.Form.Set("stock", now)
		d.Form.Set("stock_shown", now)
		d.Form.fail("stock", "Units were sold or returned while you edited: the stock is now "+now+
			", and your change no longer fits. The field shows the current stock; set it again and save.")
		a.render(w, r, http.StatusConflict, "book_form", d)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		a.removeCover(in.Cover)
		a.notFound(w, r)
		return
	}
	if err != nil {
		a.undoCover(in.Cover, err)
		a.serverError(w, r, err)
		return
	}
	if in.Cover != "" && b.Cover != "" {
		a.removeCover(b.Cover)
	}
	a.redirect(w, r, "/book/my_books", "“"+in.Title+"” is updated.")
}

// deleteBook archives the book (fault 8): it leaves the catalog and the
// seller's list, and purchases of it keep their history.
func (a *App) deleteBook(w http.ResponseWriter, r *http.Request) {
	id, ok := idParam(r, "id")
	if !ok {
		a.notFound(w, r)
		return
	}
	err := a.store.ArchiveBook(r.Context(), id, a.currentUser(r).ID)
	if errors.Is(err, store.ErrNotFound) {
		a.notFound(w, r)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.redirect(w, r, "/book/my_books", "The book is off sale. Orders for it are kept.")
}
