package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The catalog is cached per instance, but a purchase committed through one
// instance shows in the very next catalog page of every other instance:
// no stale stock.
func TestCatalogIsNeverStaleAcrossInstances(t *testing.T) {
	e := newEnv(t, 2, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Watched", bookIn(500, 30))
	buyer, _ := e.user(1, "buyer@example.com")
	reader := e.client(0)
	for want := 30; want > 20; want-- {
		if r := reader.get("/book/catalog"); !strings.Contains(r.body, fmt.Sprintf(">%d in stock<", want)) {
			t.Fatalf("instance 0 shows stale stock, want %d: %s", want, snippet(r.body))
		}
		buyer.buy(book, 1)
	}
	// Edits and archiving invalidate it too.
	seller := e.client(1)
	seller.logIn("seller@example.com")
	r := seller.multipart(fmt.Sprintf("/book/edit_book/%d", book), map[string]string{"title": "Retitled", "author": "A", "price": "5", "stock": "7", "stock_shown": "20"}, "", nil)
	if r.status != 303 {
		t.Fatalf("edit: %d", r.status)
	}
	if r := reader.get("/book/catalog"); !strings.Contains(r.body, "Retitled") || !strings.Contains(r.body, ">7 in stock<") {
		t.Fatalf("edit not shown: %s", snippet(r.body))
	}
	seller.post(fmt.Sprintf("/book/delete_book/%d", book), nil)
	if r := reader.get("/book/catalog"); strings.Contains(r.body, "Retitled") {
		t.Fatal("archived book still shown")
	}
}

// Under concurrent readers and buyers, no page shows more stock than the
// database had when the request was sent.
func TestCatalogUnderConcurrentPurchases(t *testing.T) {
	e := newEnv(t, 2, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Busy", bookIn(500, 40))
	buyers := make([]*client, 8)
	for i := range buyers {
		buyers[i], _ = e.user(i%2, fmt.Sprintf("b%d@example.com", i))
	}
	var wg sync.WaitGroup
	for _, b := range buyers {
		wg.Go(func() {
			for range 5 {
				b.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"1"}})
			}
		})
	}
	for i := range 8 {
		reader := e.client(i % 2)
		wg.Go(func() {
			for range 10 {
				before := e.stock(book)
				r := reader.get("/book/catalog")
				var shown int
				if i := strings.Index(r.body, " in stock<"); i > 0 {
					j := strings.LastIndexByte(r.body[:i], '>')
					fmt.Sscan(r.body[j+1:i], &shown)
				} else if strings.Contains(r.body, "Out of stock") {
					shown = 0
				} else {
					t.Errorf("no stock shown: %s", snippet(r.body))
					return
				}
				if shown > before {
					t.Errorf("page shows %d in stock; the database had %d before the request", shown, before)
				}
			}
		})
	}
	wg.Wait()
}

// Browsers that accept gzip get the same page compressed (the Go client
// here sends Accept-Encoding: gzip itself and unpacks the answer).
func TestCatalogGzip(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	for i := range 30 {
		e.book(sid, fmt.Sprintf("Book %d", i), bookIn(100, 3))
	}
	res, err := http.Get(e.servers[0].URL + "/book/catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !res.Uncompressed || !strings.Contains(string(body), "Book 29") || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("uncompressed %v, vary %q", res.Uncompressed, res.Header.Get("Vary"))
	}
	plain := e.client(0).get("/book/catalog")
	if plain.header.Get("Content-Encoding") != "" || plain.body != string(body) {
		t.Fatal("the plain page differs from the gzipped one")
	}
	c := e.client(0)
	c.hdr.Set("Accept-Encoding", "gzip;q=0, br")
	if r := c.get("/book/catalog"); r.header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent though refused with q=0")
	}
}
