package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Fault 1: the original took price and amount from hidden form fields. Every
// field a tamperer could add is ignored; the charge is the database's.
func TestFault1TamperedPriceIsIgnored(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Dear", bookIn(4999, 5))
	buyer, _ := e.user(0, "buyer@example.com")
	r := buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{
		"quantity": {"2"}, "price": {"0.01"}, "total_price": {"0.02"}, "amount": {"0.02"}, "unit_price": {"0.01"},
	})
	if r.status != http.StatusSeeOther {
		t.Fatalf("buy: %d %s", r.status, snippet(r.body))
	}
	pid := purchaseID(t, r.location)
	r = buyer.post(fmt.Sprintf("/delivery/%d", pid), url.Values{"provider": {"1"}, "cost": {"0.01"}, "cost_cents": {"1"}, "fee": {"0"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("delivery: %d %s", r.status, snippet(r.body))
	}
	r = buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"Credit Card"}, "amount": {"0.02"}, "total": {"0.02"}, "delivery_cost": {"0"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", r.status, snippet(r.body))
	}
	if got := e.count("SELECT total_cents FROM purchases WHERE id = ?", pid); got != 9998 {
		t.Fatalf("purchase total %d cents, want 9998", got)
	}
	// 2 x 49.99 and DHL's 50.00, from the database.
	if got := e.count("SELECT amount_cents FROM payments WHERE purchase_id = ? AND delivery_cents = 5000", pid); got != 14998 {
		t.Fatalf("payment %d cents, want 14998", got)
	}
}

// Fault 2: stock 50, 200 concurrent buyers over two instances sharing one
// database. Exactly 50 units sold, stock never below 0, every accepted
// purchase recorded.
func TestFault2ConcurrentBuyersNeverOversell(t *testing.T) {
	e := newEnv(t, 2, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Scarce", bookIn(1000, 50))
	const buyers = 200
	clients := make([]*client, buyers)
	for i := range clients {
		clients[i], _ = e.user(i%2, fmt.Sprintf("buyer%d@example.com", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[int64]bool{}
	refused, other := 0, []string{}
	start := make(chan struct{})
	for _, c := range clients {
		wg.Go(func() {
			<-start
			r := c.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"1"}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.status == http.StatusSeeOther && purchaseURL.MatchString(r.location):
				accepted[purchaseID(t, r.location)] = true
			case r.status == http.StatusConflict:
				refused++
			default:
				other = append(other, fmt.Sprintf("%d %s", r.status, snippet(r.body)))
			}
		})
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d unexpected answers, first: %s", len(other), other[0])
	}
	if len(accepted) != 50 || refused != 150 {
		t.Fatalf("accepted %d, refused %d; want 50, 150", len(accepted), refused)
	}
	if s := e.stock(book); s != 0 {
		t.Fatalf("stock %d, want 0", s)
	}
	if n := e.count("SELECT COUNT(*) FROM purchases WHERE book_id = ? AND quantity = 1", book); n != 50 {
		t.Fatalf("%d purchases recorded, want 50", n)
	}
	for id := range accepted {
		if e.count("SELECT COUNT(*) FROM purchases WHERE id = ? AND book_id = ?", id, book) != 1 {
			t.Fatalf("accepted purchase %d not recorded", id)
		}
	}
	// Both instances' catalogs agree at once.
	for i := range e.servers {
		if r := e.client(i).get("/book/catalog"); !strings.Contains(r.body, "Out of stock") {
			t.Fatalf("instance %d still sells it: %s", i, snippet(r.body))
		}
	}
}

// Fault 3: a user could pay for or set the delivery of another's purchase by
// changing the id in the URL. Now it is a 404, and nothing changes.
func TestFault3OtherUsersPurchaseIs404(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Mine", bookIn(100, 5))
	owner, _ := e.user(0, "owner@example.com")
	pid := owner.buy(book, 1)
	thief, _ := e.user(0, "thief@example.com")
	for _, r := range []resp{
		thief.get(fmt.Sprintf("/payment/%d", pid)),
		thief.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}}),
		thief.get(fmt.Sprintf("/delivery/%d", pid)),
		thief.post(fmt.Sprintf("/delivery/%d", pid), url.Values{"provider": {"1"}}),
	} {
		if r.status != http.StatusNotFound {
			t.Fatalf("thief got %d: %s", r.status, snippet(r.body))
		}
	}
	if n := e.count("SELECT COUNT(*) FROM payments"); n != 0 {
		t.Fatalf("%d payments after the thief's attempts", n)
	}
	// The owner pays; the thief still can't choose its delivery.
	owner.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}})
	if r := thief.post(fmt.Sprintf("/delivery/%d", pid), url.Values{"provider": {"1"}}); r.status != http.StatusNotFound {
		t.Fatalf("thief's delivery on a paid purchase: %d", r.status)
	}
	if n := e.count("SELECT COUNT(*) FROM deliveries"); n != 0 {
		t.Fatalf("%d deliveries after the thief's attempt", n)
	}
	if r := thief.get("/orders"); strings.Contains(r.body, "Mine") {
		t.Fatal("thief's orders list the owner's purchase")
	}
}

// Fault 4: any signed-in user could list all users. Now only ADMIN_EMAILS.
func TestFault4OnlyAdminsListUsers(t *testing.T) {
	e := newEnv(t, 1, nil)
	user, _ := e.user(0, "someone@example.com")
	if r := user.get("/admin/users"); r.status != http.StatusForbidden || strings.Contains(r.body, `<td data-label="Email">`) {
		t.Fatalf("non-admin: %d", r.status)
	}
	admin, _ := e.user(0, "admin@example.com") // ADMIN_EMAILS has Admin@Example.com
	r := admin.get("/admin/users")
	if r.status != 200 || !strings.Contains(r.body, `<td data-label="Email">someone@example.com</td>`) {
		t.Fatalf("admin: %d %s", r.status, snippet(r.body))
	}
	if r := admin.get("/"); !strings.Contains(r.body, `href="/admin/users"`) {
		t.Fatal("admin's home has no users link")
	}
	if r := user.get("/"); strings.Contains(r.body, `href="/admin/users"`) {
		t.Fatal("non-admin's home links to users")
	}
}

// Fault 5: registering an email twice gave a 500. Now it's a form error,
// whatever the case of the address.
func TestFault5DuplicateEmailIsAFormError(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	c.signUp("First", "twice@example.com")
	for _, email := range []string{"twice@example.com", "TWICE@example.com"} {
		r := e.client(0).post("/register", url.Values{"name": {"Second"}, "email": {email}, "password": {"another pass"}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "already registered") || !strings.Contains(r.body, `value="Second"`) {
			t.Fatalf("%s: %d %s", email, r.status, snippet(r.body))
		}
	}
	if n := e.count("SELECT COUNT(*) FROM users"); n != 1 {
		t.Fatalf("%d users", n)
	}
}

// Fault 6: no CSRF protection. A cross-site POST is refused and changes
// nothing; the same POST from our own origin works.
func TestFault6CrossSitePostsAreRefused(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Target", bookIn(100, 5))
	victim, _ := e.user(0, "victim@example.com")

	victim.hdr.Set("Sec-Fetch-Site", "cross-site")
	victim.hdr.Set("Origin", "https://evil.example")
	if r := victim.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"5"}}); r.status != http.StatusForbidden {
		t.Fatalf("cross-site buy: %d", r.status)
	}
	victim.hdr.Del("Sec-Fetch-Site") // an older browser: Origin alone
	if r := victim.post("/logout", nil); r.status != http.StatusForbidden {
		t.Fatalf("cross-origin logout: %d", r.status)
	}
	if s := e.stock(book); s != 5 {
		t.Fatalf("stock %d after refused buys", s)
	}
	victim.hdr.Set("Sec-Fetch-Site", "same-origin")
	victim.hdr.Set("Origin", e.servers[0].URL)
	if r := victim.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("same-origin buy: %d %s", r.status, snippet(r.body))
	}
}

// Fault 8: deleting a bought book broke the purchase history. Now it is
// archived: off the catalog and the seller's list, orders intact.
func TestFault8DeletingABoughtBookKeepsHistory(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Ephemeral", bookIn(700, 5))
	buyer, _ := e.user(0, "buyer@example.com")
	pid := buyer.buy(book, 1)
	buyer.deliver(pid, 4)
	buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}})

	if r := buyer.post(fmt.Sprintf("/book/delete_book/%d", book), nil); r.status != http.StatusNotFound {
		t.Fatalf("non-seller delete: %d", r.status)
	}
	r := seller.post(fmt.Sprintf("/book/delete_book/%d", book), nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, snippet(r.body))
	}
	if r := seller.follow(r); strings.Contains(r.body, "Ephemeral") || !strings.Contains(r.body, "off sale") {
		t.Fatalf("my books after delete: %s", snippet(r.body))
	}
	if r := buyer.get("/book/catalog"); strings.Contains(r.body, "Ephemeral") {
		t.Fatal("archived book still in the catalog")
	}
	orders := buyer.get("/orders")
	if orders.status != 200 || !strings.Contains(orders.body, "Ephemeral") || !strings.Contains(orders.body, "7.00") {
		t.Fatalf("orders after delete: %d %s", orders.status, snippet(orders.body))
	}
	if r := buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"1"}}); r.status != http.StatusNotFound {
		t.Fatalf("buying an archived book: %d", r.status)
	}
}

// Fault 9: money was a float. A float-based server turns 19.99 into 1998
// cents or shows 59.97 as 59.970000000000006; here it is exact end to end.
func TestFault9MoneyIsExact(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	for _, price := range []string{"19.99", "0.29", "1.15", "4.35"} {
		r := seller.multipart("/book/add_book", map[string]string{"title": "P" + price, "author": "A", "price": price, "stock": "9"}, "", nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("add at %s: %d %s", price, r.status, snippet(r.body))
		}
	}
	if got := e.count("SELECT price_cents FROM books WHERE title = 'P19.99'"); got != 1999 {
		t.Fatalf("19.99 stored as %d cents", got)
	}
	if got := e.count("SELECT price_cents FROM books WHERE title = 'P0.29'"); got != 29 {
		t.Fatalf("0.29 stored as %d cents", got)
	}
	buyer, _ := e.user(0, "buyer@example.com")
	book := int64(e.count("SELECT id FROM books WHERE title = 'P19.99'"))
	pid := buyer.buy(book, 3)
	buyer.deliver(pid, 4)
	// 3 x 19.99 = 59.97, and Servientrega's 15.00.
	if r := buyer.get(fmt.Sprintf("/payment/%d", pid)); !strings.Contains(r.body, "<dd>59.97\u00a0EUR</dd>") || !strings.Contains(r.body, "<strong>74.97\u00a0EUR</strong>") {
		t.Fatalf("amount due: %s", snippet(r.body))
	}
	if r := seller.multipart("/book/add_book", map[string]string{"title": "X", "author": "A", "price": "1.005", "stock": "1"}, "", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a third decimal was accepted: %d", r.status)
	}
}

// Fault 11: the same purchase could be paid twice. Now the second payment,
// sequential or concurrent, charges nothing.
func TestFault11PayingTwiceChargesOnce(t *testing.T) {
	e := newEnv(t, 2, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Once", bookIn(1500, 5))
	buyer, _ := e.user(0, "buyer@example.com")
	pid := buyer.buy(book, 2)
	buyer.deliver(pid, 1)
	// The same session on both instances, ten payments at once.
	other := e.client(1)
	other.c.Jar = buyer.c.Jar
	var wg sync.WaitGroup
	for i := range 10 {
		c := buyer
		if i%2 == 1 {
			c = &client{t: t, base: e.servers[1].URL, c: other.c, hdr: http.Header{}}
		}
		wg.Go(func() {
			if r := c.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}}); r.status != http.StatusSeeOther {
				t.Errorf("payment: %d %s", r.status, snippet(r.body))
			}
		})
	}
	wg.Wait()
	if n := e.count("SELECT COUNT(*) FROM payments WHERE purchase_id = ?", pid); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	r := buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"Bank Transfer"}})
	if r.status != http.StatusSeeOther || !strings.Contains(buyer.follow(r).body, "already paid") {
		t.Fatalf("second payment: %d", r.status)
	}
	// 2 x 15.00 and DHL's 50.00, once.
	if m := e.count("SELECT COUNT(*) FROM payments WHERE purchase_id = ? AND method = 'PayPal' AND amount_cents = 8000", pid); m != 1 {
		t.Fatal("the payment changed")
	}
}

func purchaseID(t *testing.T, loc string) int64 {
	t.Helper()
	m := purchaseURL.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("not a payment URL: %q", loc)
	}
	var id int64
	fmt.Sscan(m[1], &id)
	return id
}
