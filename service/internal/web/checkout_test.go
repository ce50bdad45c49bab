package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The original's /payment/{id} still answers for a purchase without a
// delivery: it sends the buyer to choose one (the fee is part of the amount
// due), and a payment posted anyway charges nothing.
func TestPaymentWithoutDeliveryGoesToDelivery(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Emma", bookIn(1000, 3))
	buyer, _ := e.user(0, "buyer@example.com")
	pid := buyer.buy(book, 1)
	want := fmt.Sprintf("/delivery/%d", pid)
	for name, r := range map[string]resp{
		"GET":                    buyer.get(fmt.Sprintf("/payment/%d", pid)),
		"POST":                   buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}}),
		"POST with a bad method": buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"Bitcoin"}}),
	} {
		if r.status != http.StatusSeeOther || r.location != want {
			t.Errorf("%s /payment without a delivery: %d %q, want a 303 to %s", name, r.status, r.location, want)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM payments"); n != 0 {
		t.Fatalf("%d payments without a delivery", n)
	}
	if page := buyer.get(want); !strings.Contains(page.body, "its fee is part of the amount due") {
		t.Fatalf("the delivery page doesn't say why: %s", snippet(page.body))
	}
}

// Until paid, the buyer can go back and change the delivery; the delivery
// page shows the current choice, the payment page the new fee; once paid,
// the delivery stays.
func TestDeliveryChangesUntilPaid(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Emma", bookIn(1000, 3))
	buyer, _ := e.user(0, "buyer@example.com")
	pid := buyer.buy(book, 1)
	buyer.deliver(pid, 1)
	if p := buyer.get(fmt.Sprintf("/payment/%d", pid)); !strings.Contains(p.body, "Pay 60.00\u00a0EUR") || !strings.Contains(p.body, fmt.Sprintf(`href="/delivery/%d"`, pid)) {
		t.Fatalf("payment with DHL: %s", snippet(p.body))
	}
	checked := regexp.MustCompile(`value="(\d+)" checked`)
	if m := checked.FindStringSubmatch(buyer.get(fmt.Sprintf("/delivery/%d", pid)).body); m == nil || m[1] != "1" {
		t.Fatalf("back on the delivery page, checked: %v; want DHL (1)", m)
	}
	buyer.deliver(pid, 3)
	if p := buyer.get(fmt.Sprintf("/payment/%d", pid)); !strings.Contains(p.body, "Envia") || !strings.Contains(p.body, "Pay 30.00\u00a0EUR") {
		t.Fatalf("payment with Envia: %s", snippet(p.body))
	}
	buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}})
	r := buyer.post(fmt.Sprintf("/delivery/%d", pid), url.Values{"provider": {"1"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/orders") {
		t.Fatalf("changing the delivery after paying: %d %s", r.status, r.location)
	}
	if got := e.count("SELECT provider_id FROM deliveries WHERE purchase_id = ?", pid); got != 3 {
		t.Fatalf("delivery %d after paying, want Envia (3)", got)
	}
	if got := e.count("SELECT amount_cents FROM payments WHERE purchase_id = ?", pid); got != 3000 {
		t.Fatalf("paid %d cents, want 3000", got)
	}
	if r := buyer.get(fmt.Sprintf("/payment/%d", pid)); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/orders") {
		t.Fatalf("payment page of a paid order: %d %s", r.status, r.location)
	}
}

// A purchase paid before delivery was charged (payments.delivery_cents NULL)
// shows what was paid and that its delivery cost nothing; one without a
// delivery can still choose one, at no charge.
func TestOrdersPaidBeforeDeliveryWasCharged(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Old", bookIn(3999, 10))
	buyer, bid := e.user(0, "buyer@example.com")
	for _, q := range []string{
		"INSERT INTO purchases (id, buyer_id, book_id, quantity, unit_price_cents, total_cents, status, created_at) VALUES (501, %d, %d, 2, 3999, 7998, 'paid', NOW())",
		"INSERT INTO payments (purchase_id, amount_cents, method, created_at) VALUES (501, 7998, 'PayPal', NOW())",
		"INSERT INTO deliveries (purchase_id, provider_id, cost_cents, created_at) VALUES (501, 1, 5000, NOW())",
		"INSERT INTO purchases (id, buyer_id, book_id, quantity, unit_price_cents, total_cents, status, created_at) VALUES (502, %d, %d, 1, 3999, 3999, 'paid', NOW())",
		"INSERT INTO payments (purchase_id, amount_cents, method, created_at) VALUES (502, 3999, 'Credit Card', NOW())",
	} {
		if strings.Contains(q, "%d") {
			q = fmt.Sprintf(q, bid, book)
		}
		if _, err := e.sql.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	orders := buyer.get("/orders").body
	row := regexp.MustCompile(`(?s)<tr id="order-501">.*?</tr>`).FindString(orders)
	for _, want := range []string{"79.98\u00a0EUR by PayPal", "DHL <span class=\"muted\">(no charge)</span>"} {
		if !strings.Contains(row, want) {
			t.Errorf("old order lacks %q: %s", want, row)
		}
	}
	if strings.Contains(row, "50.00") {
		t.Errorf("old order shows DHL's fee as if charged: %s", row)
	}
	if r := buyer.get("/payment/502"); r.status != http.StatusSeeOther || r.location != "/delivery/502" {
		t.Fatalf("old paid order without a delivery: /payment/502 %d %s", r.status, r.location)
	}
	if page := buyer.get("/delivery/502"); !strings.Contains(page.body, "no charge") || !strings.Contains(page.body, "Choose this delivery") {
		t.Fatalf("old order's delivery page: %s", snippet(page.body))
	}
	r := buyer.post("/delivery/502", url.Values{"provider": {"3"}})
	if page := buyer.follow(r); !strings.Contains(page.body, "at no charge") {
		t.Fatalf("choosing a delivery for an old order: %s", snippet(page.body))
	}
	if got := e.count("SELECT amount_cents FROM payments WHERE purchase_id = 502"); got != 3999 {
		t.Fatalf("old payment now %d cents", got)
	}
}

// The pages are English: the original's Spanish provider coverage is gone,
// the providers' names stay.
func TestDeliveryPageIsEnglish(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Emma", bookIn(1000, 3))
	buyer, _ := e.user(0, "buyer@example.com")
	page := buyer.get(fmt.Sprintf("/delivery/%d", buyer.buy(book, 1))).body
	for _, want := range []string{"DHL", "FedEx", "Envia", "Servientrega", "International", "Domestic"} {
		if !strings.Contains(page, want) {
			t.Errorf("delivery page lacks %q", want)
		}
	}
	for _, spanish := range []string{"Internacional", "Nacional"} {
		if strings.Contains(page, spanish) {
			t.Errorf("delivery page shows %q", spanish)
		}
	}
}
