package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The whole flow over HTTP: register and log in, add a book with a cover, a
// second user buys 2, pays, picks a delivery; /orders shows it and the
// stock is down by 2.
func TestFullFlow(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller := e.client(0)
	seller.signUp("Sally Seller", "sally@example.com")

	r := seller.multipart("/book/add_book", map[string]string{
		"title": "Dune", "author": "Frank Herbert", "description": "Spice.", "price": "19.99", "stock": "10",
	}, "cover.png", png1x1)
	if r.status != http.StatusSeeOther || r.location != "/book/my_books" {
		t.Fatalf("add book: %d %s", r.status, snippet(r.body))
	}
	page := seller.follow(r)
	if !strings.Contains(page.body, "Dune") || !strings.Contains(page.body, "is on sale") {
		t.Fatalf("my books lacks the book or the flash: %s", snippet(page.body))
	}

	buyer := e.client(0)
	buyer.signUp("Bob Buyer", "bob@example.com")
	cat := buyer.get("/book/catalog")
	m := regexp.MustCompile(`action="/buy/(\d+)"`).FindStringSubmatch(cat.body)
	if cat.status != 200 || m == nil || !strings.Contains(cat.body, "19.99") || !strings.Contains(cat.body, "10 in stock") {
		t.Fatalf("catalog: %d %s", cat.status, snippet(cat.body))
	}
	cover := regexp.MustCompile(`src="(/covers/[0-9a-f]{32}\.png)"`).FindStringSubmatch(cat.body)
	if cover == nil {
		t.Fatalf("catalog shows no cover: %s", snippet(cat.body))
	}
	img := buyer.get(cover[1])
	if img.status != 200 || img.header.Get("Content-Type") != "image/png" || img.body != string(png1x1) {
		t.Fatalf("cover: %d %q", img.status, img.header.Get("Content-Type"))
	}

	var bookID int64
	fmt.Sscan(m[1], &bookID)
	// Buy, then delivery, then payment: the fee is in the amount due.
	pid := buyer.buy(bookID, 2)
	del := buyer.get(fmt.Sprintf("/delivery/%d", pid))
	for _, want := range []string{"Reserved for you until", "2 × Dune", "39.98\u00a0EUR", "Servientrega", "Domestic", "15.00\u00a0EUR", "Continue to payment"} {
		if !strings.Contains(del.body, want) {
			t.Fatalf("delivery page lacks %q: %s", want, snippet(del.body))
		}
	}
	if r := buyer.get(fmt.Sprintf("/payment/%d", pid)); r.status != http.StatusSeeOther || r.location != fmt.Sprintf("/delivery/%d", pid) {
		t.Fatalf("payment before a delivery: %d %s, want a 303 to the delivery", r.status, r.location)
	}
	buyer.deliver(pid, 4)
	pay := buyer.get(fmt.Sprintf("/payment/%d", pid))
	for _, want := range []string{"39.98\u00a0EUR", "Servientrega", "15.00\u00a0EUR", "<strong>54.98\u00a0EUR</strong>", "Pay 54.98\u00a0EUR", "Reserved for you until"} {
		if pay.status != 200 || !strings.Contains(pay.body, want) {
			t.Fatalf("payment page: %d, lacks %q: %s", pay.status, want, snippet(pay.body))
		}
	}
	r = buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}})
	if r.status != http.StatusSeeOther || r.location != fmt.Sprintf("/orders#order-%d", pid) {
		t.Fatalf("pay: %d %s %s", r.status, r.location, snippet(r.body))
	}
	orders := buyer.follow(r)
	for _, want := range []string{"Paid 54.98\u00a0EUR by PayPal", "Dune", "39.98\u00a0EUR", "Servientrega 15.00\u00a0EUR", "54.98\u00a0EUR by PayPal", ">Paid<"} {
		if !strings.Contains(orders.body, want) {
			t.Fatalf("/orders lacks %q: %s", want, snippet(orders.body))
		}
	}
	if s := e.stock(bookID); s != 8 {
		t.Fatalf("stock %d, want 8", s)
	}
	if cat := buyer.get("/book/catalog"); !strings.Contains(cat.body, "8 in stock") {
		t.Fatalf("catalog doesn't show the new stock: %s", snippet(cat.body))
	}
	// The seller sees it in their own list with edit and delete.
	if mb := seller.get("/book/my_books"); !strings.Contains(mb.body, fmt.Sprintf("/book/edit_book/%d", bookID)) {
		t.Fatalf("my books: %s", snippet(mb.body))
	}
}

func TestEditBookShowsCurrentStock(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "sally@example.com")
	id := e.book(sid, "Emma", bookIn(1250, 7))
	r := seller.get(fmt.Sprintf("/book/edit_book/%d", id))
	if r.status != 200 || !strings.Contains(r.body, `name="stock" type="number" value="7"`) || !strings.Contains(r.body, `value="12.50"`) ||
		!strings.Contains(r.body, `name="stock_shown" type="hidden" value="7"`) {
		t.Fatalf("edit form: %d %s", r.status, snippet(r.body))
	}
	r = seller.multipart(fmt.Sprintf("/book/edit_book/%d", id), map[string]string{
		"title": "Emma", "author": "Jane Austen", "price": "13", "stock": "9", "stock_shown": "7"}, "", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, snippet(r.body))
	}
	if s := e.stock(id); s != 9 {
		t.Fatalf("stock %d after edit, want 9", s)
	}
	// Another seller can't see or edit it.
	other, _ := e.user(0, "other@example.com")
	if r := other.get(fmt.Sprintf("/book/edit_book/%d", id)); r.status != 404 {
		t.Fatalf("other seller's edit form: %d", r.status)
	}
	r = other.multipart(fmt.Sprintf("/book/edit_book/%d", id), map[string]string{
		"title": "Mine", "author": "X", "price": "1", "stock": "1"}, "", nil)
	if r.status != 404 || e.stock(id) != 9 {
		t.Fatalf("other seller's edit: %d, stock %d", r.status, e.stock(id))
	}
}

func TestPagesNeedLogin(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	for _, p := range []string{"/book/my_books", "/book/add_book", "/orders", "/payment/1", "/delivery/1", "/admin/users"} {
		if r := c.get(p); r.status != http.StatusSeeOther || r.location != "/login" {
			t.Errorf("GET %s anonymous: %d %s", p, r.status, r.location)
		}
	}
	if r := c.post("/buy/1", url.Values{"quantity": {"1"}}); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("POST /buy anonymous: %d %s", r.status, r.location)
	}
	for _, p := range []string{"/", "/book/catalog", "/login", "/register", "/logout"} {
		if r := c.get(p); r.status != 200 {
			t.Errorf("GET %s anonymous: %d", p, r.status)
		}
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, 1, nil)
	c, _ := e.user(0, "a@example.com")
	if r := c.get("/orders"); r.status != 200 {
		t.Fatalf("orders: %d", r.status)
	}
	r := c.post("/logout", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := c.get("/orders"); r.status != http.StatusSeeOther {
		t.Fatalf("orders after logout: %d", r.status)
	}
}

// Fault 2 through the edit form: units sold after the form was shown stay
// sold when the seller saves it; a change that no longer fits is refused
// with the current stock in the field; a form without stock_shown is
// refused. Nothing is written by a refused save.
func TestEditKeepsUnitsSoldSinceTheFormWasShown(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "sally@example.com")
	buyer, _ := e.user(0, "bob@example.com")
	id := e.book(sid, "Emma", bookIn(1000, 10))
	path := fmt.Sprintf("/book/edit_book/%d", id)
	if r := seller.get(path); !strings.Contains(r.body, `name="stock_shown" type="hidden" value="10"`) {
		t.Fatalf("edit form: %s", snippet(r.body))
	}
	buyer.buy(id, 4)
	form := map[string]string{"title": "Emma", "author": "A", "price": "12", "stock": "10", "stock_shown": "10"}
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusSeeOther {
		t.Fatalf("price-only save: %d %s", r.status, snippet(r.body))
	}
	if s := e.stock(id); s != 6 {
		t.Fatalf("stock %d after a price-only save, want 6: the 4 sold went back on sale", s)
	}

	before := e.snapshot()
	form["stock"] = "0" // -10 from a stock of 6
	r := seller.multipart(path, form, "", nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "the stock is now 6") ||
		!strings.Contains(r.body, `name="stock" type="number" value="6"`) || !strings.Contains(r.body, `name="stock_shown" type="hidden" value="6"`) {
		t.Fatalf("-10 from 6: %d %s", r.status, snippet(r.body))
	}
	delete(form, "stock_shown")
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "reload the page") {
		t.Fatalf("no stock_shown: %d %s", r.status, snippet(r.body))
	}
	form["stock_shown"] = "-1"
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("stock_shown -1: %d", r.status)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a refused save wrote: %s -> %s", before, after)
	}
}

// A reservation left unpaid past store.ReservationTTL gives its units back;
// its pages then say so (409) instead of taking a payment or looping
// between payment and delivery.
func TestExpiredReservation(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "sally@example.com")
	buyer, _ := e.user(0, "bob@example.com")
	id := e.book(sid, "Emma", bookIn(1000, 3))
	p := buyer.buy(id, 3)
	if s := e.stock(id); s != 0 {
		t.Fatalf("stock %d after reserving all 3", s)
	}
	if r := buyer.get(fmt.Sprintf("/delivery/%d", p)); !strings.Contains(r.body, "Reserved for you until") {
		t.Fatalf("delivery page shows no deadline: %s", snippet(r.body))
	}
	buyer.deliver(p, 4)
	if r := buyer.get(fmt.Sprintf("/payment/%d", p)); !strings.Contains(r.body, "Reserved for you until") {
		t.Fatalf("payment page shows no deadline: %s", snippet(r.body))
	}
	// Overdue but not yet swept: already refused.
	old := time.Now().UTC().Add(-31 * time.Minute).Truncate(time.Second)
	if _, err := e.sql.Exec("UPDATE purchases SET created_at = ? WHERE id = ?", old, p); err != nil {
		t.Fatal(err)
	}
	if r := buyer.post(fmt.Sprintf("/payment/%d", p), url.Values{"method": {"PayPal"}}); r.status != http.StatusConflict {
		t.Fatalf("paying an overdue reservation before the sweep: %d", r.status)
	}
	if r := buyer.get(fmt.Sprintf("/payment/%d", p)); r.status != http.StatusConflict {
		t.Fatalf("payment page of an overdue reservation: %d", r.status)
	}
	if n, err := e.store.ExpirePending(t.Context(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if s := e.stock(id); s != 3 {
		t.Fatalf("stock %d after the reservation expired, want 3", s)
	}
	if cat := buyer.get("/book/catalog"); !strings.Contains(cat.body, ">3 in stock<") {
		t.Fatalf("catalog after expiry: %s", snippet(cat.body))
	}
	before := e.snapshot()
	for _, r := range []resp{
		buyer.get(fmt.Sprintf("/payment/%d", p)),
		buyer.post(fmt.Sprintf("/payment/%d", p), url.Values{"method": {"PayPal"}}),
		buyer.get(fmt.Sprintf("/delivery/%d", p)),
		buyer.post(fmt.Sprintf("/delivery/%d", p), url.Values{"provider": {"1"}}),
	} {
		if r.status != http.StatusConflict || !strings.Contains(r.body, "This reservation expired") {
			t.Errorf("expired purchase page: %d %s", r.status, snippet(r.body))
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a page of an expired purchase wrote: %s -> %s", before, after)
	}
	if o := buyer.get("/orders"); !strings.Contains(o.body, "Expired unpaid") || strings.Contains(o.body, fmt.Sprintf(`href="/payment/%d"`, p)) {
		t.Fatalf("orders: %s", snippet(o.body))
	}
}

// A book whose stock is above the form's 100,000 cap (expired reservations
// gave units back) can still be saved unchanged, or lowered.
func TestEditBookAboveTheStockCap(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "sally@example.com")
	id := e.book(sid, "Emma", bookIn(1000, 100_000))
	if _, err := e.sql.Exec("UPDATE books SET stock = 100002 WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/book/edit_book/%d", id)
	if r := seller.get(path); !strings.Contains(r.body, `name="stock_shown" type="hidden" value="100002"`) {
		t.Fatalf("edit form: %s", snippet(r.body))
	}
	form := map[string]string{"title": "Emma, retitled", "author": "A", "price": "10", "stock": "100002", "stock_shown": "100002"}
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusSeeOther {
		t.Fatalf("unchanged stock above the cap: %d %s", r.status, snippet(r.body))
	}
	form["stock"] = "100003"
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no more than 100002") {
		t.Fatalf("raised above what was shown: %d %s", r.status, snippet(r.body))
	}
	form["stock"] = "5"
	if r := seller.multipart(path, form, "", nil); r.status != http.StatusSeeOther || e.stock(id) != 5 {
		t.Fatalf("lowered: %d, stock %d", r.status, e.stock(id))
	}
	// The add form has no such allowance.
	if r := seller.multipart("/book/add_book", map[string]string{"title": "X", "author": "A", "price": "1", "stock": "100001", "stock_shown": "100001"}, "", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("add with stock 100001: %d", r.status)
	}
}
