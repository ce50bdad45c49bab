package web_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/web"
)

var (
	tag    = regexp.MustCompile(`<[^>]*>`)
	amount = regexp.MustCompile(`\d+\.\d\d(\x{a0}[A-Z]{3})?`)
)

// bareAmounts returns the amounts in page's visible text that don't carry
// the currency code want right after them.
func bareAmounts(page, want string) []string {
	if i := strings.Index(page, "<main>"); i >= 0 {
		page = page[i:]
	}
	var bad []string
	for _, m := range amount.FindAllStringSubmatch(tag.ReplaceAllString(page, " "), -1) {
		if m[1] != "\u00a0"+want {
			bad = append(bad, m[0])
		}
	}
	return bad
}

// Every amount on every page that shows one carries the configured
// currency, the same way: "19.99 USD".
func TestEveryAmountShowsTheCurrency(t *testing.T) {
	usd, err := money.ParseCurrency("USD")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 1, func(o *web.Options) { o.Currency = usd })
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Dune", bookIn(1999, 5))
	buyer, _ := e.user(0, "buyer@example.com")
	pid := buyer.buy(book, 2)

	pages := map[string]string{}
	pages["home"] = buyer.get("/").body
	pages["catalog"] = buyer.get("/book/catalog").body
	pages["book"] = buyer.get(fmt.Sprintf("/book/%d", book)).body
	pages["delivery"] = buyer.get(fmt.Sprintf("/delivery/%d", pid)).body
	buyer.deliver(pid, 1)
	pages["payment"] = buyer.get(fmt.Sprintf("/payment/%d", pid)).body
	pages["after paying"] = buyer.follow(buyer.post(fmt.Sprintf("/payment/%d", pid), url.Values{"method": {"PayPal"}})).body
	pages["my books"] = seller.get("/book/my_books").body
	pages["edit"] = seller.get(fmt.Sprintf("/book/edit_book/%d", book)).body

	for name, body := range pages {
		if bad := bareAmounts(body, "USD"); len(bad) > 0 {
			t.Errorf("%s shows amounts without USD: %q", name, bad)
		}
	}
	for name, want := range map[string]string{
		"catalog": "19.99\u00a0USD", "payment": "Pay 89.98\u00a0USD", "after paying": "89.98\u00a0USD by PayPal",
		"home": "19.99\u00a0USD", "book": "19.99\u00a0USD", "delivery": "50.00\u00a0USD",
		"my books": "19.99\u00a0USD", "edit": "Price (USD)",
	} {
		if !strings.Contains(pages[name], want) {
			t.Errorf("%s lacks %q: %s", name, want, snippet(pages[name]))
		}
	}
	// The default, with no currency configured, is EUR.
	d := newEnv(t, 1, nil)
	_, dsid := d.user(0, "s@example.com")
	d.book(dsid, "Dune", bookIn(1999, 5))
	if cat := d.client(0).get("/book/catalog").body; !strings.Contains(cat, "19.99\u00a0EUR") {
		t.Errorf("default currency: catalog lacks 19.99 EUR: %s", snippet(cat))
	}
}

// The check above can fail: a bare amount is found.
func TestBareAmountsFindsAmountsWithoutCurrency(t *testing.T) {
	page := "<main><p>Total <strong>12.50</strong></p><p>3.00\u00a0USD</p><p>4.00\u00a0EUR</p></main>"
	if got := strings.Join(bareAmounts(page, "USD"), ","); got != "12.50,4.00\u00a0EUR" {
		t.Fatalf("bareAmounts = %q", got)
	}
}
