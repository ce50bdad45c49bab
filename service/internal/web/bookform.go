package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// Caps on reading a book form (multipart/form-data).
const (
	// maxBookFormBytes is the most of a book form's body that is read. A
	// cover over MaxCoverBytes is not kept, but the body after it is still
	// read (and thrown away) up to here, so the fields sent after the cover
	// come back in the form and the browser gets the page instead of a reset
	// connection. 32 MiB is above the photos phones take (2-12 MB, up to
	// ~25 MB at 48+ MP) while it bounds what one request may make the
	// server read; at the server's 60 s read timeout it needs ~4.5 Mbit/s.
	// Past it the body is cut: the fields read so far come back.
	maxBookFormBytes = 32 << 20
	// maxFieldBytes caps one text field. It is more than any field's limit
	// can take (2000 characters of up to 4 bytes), so a longer value is
	// kept cut short and refused as too long.
	maxFieldBytes = 16 << 10
)

// bookFormFields are the text fields of the book forms; other parts are
// skipped unread.
var bookFormFields = map[string]bool{"title": true, "author": true, "description": true, "price": true, "stock": true, "stock_shown": true}

// bookFormBody is what readBookForm took from the body.
type bookFormBody struct {
	values      url.Values // the first value of each of bookFormFields sent
	cover       []byte     // the first non-empty cover, at most MaxCoverBytes
	coverTooBig bool       // a cover over MaxCoverBytes was sent (and dropped)
	cut         bool       // the body went past maxBookFormBytes: parts after that point are missing
}

// readBookForm streams a book form's body: text fields of up to
// maxFieldBytes each, the cover up to MaxCoverBytes+1 bytes. Whatever the
// order of the parts, a too large cover does not lose the other fields. A
// form that is not multipart is read as a URL-encoded one of up to
// maxFormBytes. The error is for a body that can't be parsed or a client
// that went away; hitting maxBookFormBytes is not an error but cut.
func (a *App) readBookForm(w http.ResponseWriter, r *http.Request) (bookFormBody, error) {
	b := bookFormBody{values: url.Values{}}
	mr, err := r.MultipartReader()
	if errors.Is(err, http.ErrNotMultipart) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return b, err
		}
		b.values = r.PostForm
		return b, nil
	}
	if err != nil {
		return b, err
	}
	var tooBig *http.MaxBytesError
	for {
		p, err := mr.NextPart()
		switch {
		case err == io.EOF:
			return b, nil
		case errors.As(err, &tooBig):
			b.cut = true
			return b, nil
		case err != nil:
			return b, fmt.Errorf("book form: %w", err)
		}
		name := p.FormName()
		switch {
		case name == "cover" && b.cover == nil && !b.coverTooBig:
			data, err := io.ReadAll(io.LimitReader(p, a.opts.MaxCoverBytes+1))
			switch {
			case errors.As(err, &tooBig):
				b.cut = true
				return b, nil
			case err != nil:
				return b, fmt.Errorf("book form: cover: %w", err)
			case int64(len(data)) > a.opts.MaxCoverBytes:
				// NextPart skips the rest of it.
				b.coverTooBig = true
			case len(data) > 0: // an empty file input sends an empty part
				b.cover = data
			}
		case bookFormFields[name] && !b.values.Has(name):
			data, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
			switch {
			case errors.As(err, &tooBig):
				b.cut = true
				return b, nil
			case err != nil:
				return b, fmt.Errorf("book form: %s: %w", name, err)
			}
			b.values.Set(name, string(cutRunes(data, maxFieldBytes)))
		}
	}
}

// cutRunes returns b cut to at most n bytes without splitting a UTF-8
// sequence at the end, so an over-long value is refused as too long rather
// than as invalid.
func cutRunes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[:n]
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size > 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}
