package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// growers are the code points that the email's normalization (lower case,
// then NFC) makes longer, found by going through all of Unicode.
func growers() []rune {
	var g []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if utf8.ValidRune(r) && utf8.RuneCountInString(store.NormalizeEmail(string(r))) > 1 {
			g = append(g, r)
		}
	}
	return g
}

// Every length limit holds on the value as stored: an email that fits as
// typed but not once normalized is a 422 naming the field, never a 500
// (before, U+0958 x 122 + "@example.com" reached the database and failed
// there with "Data too long").
func TestEmailLimitHoldsAfterNormalization(t *testing.T) {
	g := growers()
	if len(g) < 50 {
		t.Fatalf("only %d code points grow under normalization", len(g))
	}
	e := newEnv(t, 1, nil)
	anon := e.client(0)
	const domain = "@example.com"
	for _, r := range g {
		grown := utf8.RuneCountInString(store.NormalizeEmail(string(r)))
		// As many as fit as typed, and too many once normalized.
		n := (254 - len(domain)) / grown
		n++
		email := strings.Repeat(string(r), n) + domain
		if utf8.RuneCountInString(email) > 254 {
			continue
		}
		res := anon.post("/register", url.Values{"name": {"N"}, "email": {email}, "password": {"correct horse"}})
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("U+%04X x %d: %d, want 422", r, n, res.status)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM users"); n != 0 {
		t.Errorf("%d users made", n)
	}
}

// Every text field of every form takes exactly its limit in characters, of
// the widest ones (4-byte UTF-8), and refuses one more with a 422: the
// columns hold what the forms allow, on this engine.
func TestEveryTextFieldTakesItsLimit(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Edit me", bookIn(100, 5))
	const wide = "😀"
	long := func(n int) string { return strings.Repeat(wide, n) }
	bookFields := map[string]int{"title": 200, "author": 200, "description": 2000}
	for _, path := range []string{"/book/add_book", fmt.Sprintf("/book/edit_book/%d", book)} {
		for name, max := range bookFields {
			for _, n := range []int{max, max + 1} {
				v := map[string]string{"title": "T", "author": "A", "price": "1", "stock": "5", "stock_shown": "5"}
				v[name] = long(n)
				r := seller.multipart(path, v, "", nil)
				want := http.StatusSeeOther
				if n > max {
					want = http.StatusUnprocessableEntity
				}
				if r.status != want {
					t.Errorf("%s %s of %d characters: %d, want %d: %s", path, name, n, r.status, want, snippet(r.body))
				}
			}
		}
	}
	anon := e.client(0)
	for _, n := range []int{100, 101} {
		r := anon.post("/register", url.Values{"name": {long(n)}, "email": {fmt.Sprintf("n%d@example.com", n)}, "password": {"correct horse"}})
		if want := map[bool]int{true: 303, false: 422}[n <= 100]; r.status != want {
			t.Errorf("name of %d characters: %d, want %d", n, r.status, want)
		}
	}
	local := strings.Repeat("a", 254-len("@example.com"))
	for _, email := range []string{local + "@example.com", local + "a@example.com"} {
		r := anon.post("/register", url.Values{"name": {"N"}, "email": {email}, "password": {"correct horse"}})
		if want := map[bool]int{true: 303, false: 422}[len(email) <= 254]; r.status != want {
			t.Errorf("email of %d characters: %d, want %d", len(email), r.status, want)
		}
	}
}

// A required field of invisible characters only is refused on every form
// that has one, as is a visible name with a Hangul filler after it.
func TestInvisibleRequiredFieldsAreRefused(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Edit me", bookIn(100, 5))
	anon := e.client(0)
	for _, v := range []string{"\u3164", "\u2800", "\u034F", "\u3164\u2800\u034F", "Alice book\u3164", "\u115F\u1160\uFFA0"} {
		for _, path := range []string{"/book/add_book", fmt.Sprintf("/book/edit_book/%d", book)} {
			for _, name := range []string{"title", "author"} {
				f := map[string]string{"title": "T", "author": "A", "price": "1", "stock": "5", "stock_shown": "5"}
				f[name] = v
				if r := seller.multipart(path, f, "", nil); r.status != http.StatusUnprocessableEntity {
					t.Errorf("%s %s %+q: %d, want 422", path, name, v, r.status)
				}
			}
		}
		r := anon.post("/register", url.Values{"name": {v}, "email": {"x@example.com"}, "password": {"correct horse"}})
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("register name %+q: %d, want 422", v, r.status)
		}
	}
}
