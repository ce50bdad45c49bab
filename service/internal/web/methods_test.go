package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// Every route that answers GET answers HEAD the same way, without a body:
// uptime checkers use HEAD. Routes without GET still refuse it.
func TestHeadAnswersWhereGetDoes(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "seller@example.com")
	e.book(sid, "Listed", bookIn(1000, 5))
	r := seller.multipart("/book/add_book", map[string]string{"title": "Covered", "author": "A", "price": "1.00", "stock": "1"}, "c.png", png1x1)
	if r.status != http.StatusSeeOther {
		t.Fatalf("add book with cover: %d %s", r.status, snippet(r.body))
	}
	var cover string
	if err := e.sql.QueryRow("SELECT cover FROM books WHERE title = 'Covered'").Scan(&cover); err != nil {
		t.Fatal(err)
	}
	anon := e.client(0)
	for _, c := range []struct {
		who  *client
		path string
	}{
		{anon, "/"}, {anon, "/healthz"}, {anon, "/readyz"}, {anon, "/book/catalog"}, {anon, "/covers/" + cover},
		{anon, "/static/style.css"}, {anon, "/metrics"}, {anon, "/login"}, {anon, "/register"},
		{seller, "/book/catalog"}, {seller, "/book/my_books"}, {seller, "/book/add_book"}, {seller, "/orders"},
	} {
		get := c.who.request(http.MethodGet, c.path)
		head := c.who.request(http.MethodHead, c.path)
		if get.status != 200 || head.status != 200 {
			t.Errorf("%s: GET %d, HEAD %d; want 200 for both", c.path, get.status, head.status)
			continue
		}
		if head.body != "" {
			t.Errorf("HEAD %s sent a body of %d bytes", c.path, len(head.body))
		}
		if g, h := get.header.Get("Content-Type"), head.header.Get("Content-Type"); g != h {
			t.Errorf("%s: Content-Type GET %q, HEAD %q", c.path, g, h)
		}
		// /metrics and the pages of a signed-in user differ from one request to the next.
		if g, h := get.header.Get("Content-Length"), head.header.Get("Content-Length"); c.path != "/metrics" && c.who == anon && g != h {
			t.Errorf("%s: Content-Length GET %q, HEAD %q", c.path, g, h)
		}
	}
	for _, p := range []string{"/book/delete_book/1", "/buy/1"} {
		if r := seller.request(http.MethodHead, p); r.status != http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s (POST only): %d, want 405", p, r.status)
		}
	}
	if r := anon.request(http.MethodHead, "/nope"); r.status != http.StatusNotFound {
		t.Errorf("HEAD /nope: %d, want 404", r.status)
	}
}

// request sends a bodiless request with identity encoding, so that the
// Content-Length of GET and HEAD can be compared.
func (c *client) request(method, path string) resp {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	req.Header.Set("Accept-Encoding", "identity")
	return c.do(req)
}

// No path lists a directory: /static/ and its like are 404 with the store's
// own page, for GET and HEAD.
func TestNoDirectoryListings(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	for _, p := range []string{"/static/", "/static", "/static/.", "/static//", "/static/./", "/covers/", "/covers", "/static/style.css/", "/static/%2e/"} {
		r := c.get(p)
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404: %.200s", p, r.status, r.body)
		}
		if strings.Contains(r.body, "style.css") && !strings.Contains(r.body, `<link rel="stylesheet" href="/static/style.css">`) ||
			strings.Contains(r.body, `<a href="style.css">`) || strings.Contains(r.body, "<pre>") {
			t.Errorf("GET %s lists a directory: %.300s", p, r.body)
		}
		if h := c.request(http.MethodHead, p); h.status != http.StatusNotFound {
			t.Errorf("HEAD %s: %d, want 404", p, h.status)
		}
	}
	if r := c.get("/static/style.css"); r.status != 200 || r.header.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("style.css: %d %q", r.status, r.header.Get("Cache-Control"))
	}
}

// A 405 names the methods the path does answer (Allow, RFC 9110 section
// 15.5.6); any method on a path nothing answers is a 404, like GET there.
func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodOptions, "/login", "GET, HEAD, POST"},
		{http.MethodDelete, "/book/catalog", "GET, HEAD"},
		{"BREW", "/", "GET, HEAD"},
		{http.MethodGet, "/buy/1", "POST"},
		{http.MethodPut, "/payment/7", "GET, HEAD, POST"},
	} {
		r := c.request(tc.method, tc.path)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405 with %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, "BREW"} {
		if r := c.request(m, "/no/such/page"); r.status != http.StatusNotFound || r.header.Get("Allow") != "" {
			t.Errorf("%s /no/such/page: %d, Allow %q; want 404", m, r.status, r.header.Get("Allow"))
		}
	}
}

// HEAD changes nothing GET would: the flash message a page shows once is
// still there for the GET after a HEAD of it.
func TestHeadLeavesTheFlashForGet(t *testing.T) {
	e := newEnv(t, 1, nil)
	c, _ := e.user(0, "reader@example.com") // the login leaves "Welcome back, …"
	if r := c.request(http.MethodHead, "/book/catalog"); r.status != http.StatusOK || r.header.Get("Vary") != "Cookie" {
		t.Fatalf("HEAD: %d, Vary %q (GET sends Cookie)", r.status, r.header.Values("Vary"))
	}
	if r := c.get("/book/catalog"); !strings.Contains(r.body, "Welcome back") {
		t.Fatalf("the flash was spent by HEAD: %s", snippet(r.body))
	}
	if r := c.get("/book/catalog"); strings.Contains(r.body, "Welcome back") {
		t.Fatal("the flash shows twice: the check above can't fail")
	}
}

// Pages of a signed-in user are never stored (Back after logout must not
// show them); an anonymous catalog may be.
func TestSignedInPagesAreNotStored(t *testing.T) {
	e := newEnv(t, 1, nil)
	c, _ := e.user(0, "reader@example.com")
	for _, p := range []string{"/", "/book/catalog", "/login", "/orders", "/book/my_books"} {
		if r := c.get(p); r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("signed in, %s: Cache-Control %q, want no-store", p, r.header.Values("Cache-Control"))
		}
	}
	if r := e.client(0).get("/book/catalog"); strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		t.Errorf("anonymous catalog: Cache-Control %q", r.header.Get("Cache-Control"))
	}
}
