package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/dbproxy"
)

// proxiedEnv is an env whose one instance reaches the database through a
// proxy the test controls, with a database budget of one second per request.
func proxiedEnv(t *testing.T) (*env, *dbproxy.Proxy, time.Duration) {
	t.Helper()
	e := newEnv(t, 0, nil)
	cfg, err := mysql.ParseDSN(e.db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, cfg.Addr)
	cfg.Addr = p.Addr()
	const budget = time.Second
	e.db.Timeout = budget
	e.addInstance(cfg.FormatDSN(), nil)
	return e, p, budget
}

// A change that committed is reported as done, even when the database stops
// answering right after its COMMIT (so the session can't be saved): for
// every form that changes something. A 503 here would invite a retry that
// makes the change twice (a second reservation, a second book).
func TestCommittedChangeIsReportedAsDone(t *testing.T) {
	e, p, budget := proxiedEnv(t)
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Committed", bookIn(500, 10))
	buyer, _ := e.user(0, "buyer@example.com")
	// The checkout's order: buy, choose a delivery, pay.
	undelivered := buyer.buy(book, 1)
	unpaid := buyer.buy(book, 1)
	if r := buyer.post(fmt.Sprintf("/delivery/%d", unpaid), url.Values{"provider": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("delivery: %d", r.status)
	}
	anon := e.client(0)

	cases := []struct {
		name     string
		do       func() resp
		location string // prefix
		commits  string // the statement that commits the change
		rows     string // counts what the change made: one row once it has
	}{
		{"buy", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"2"}}) },
			"/delivery/", "COMMIT", "SELECT COUNT(*) FROM purchases WHERE quantity = 2"},
		{"delivery", func() resp {
			return buyer.post(fmt.Sprintf("/delivery/%d", undelivered), url.Values{"provider": {"1"}})
		}, fmt.Sprintf("/payment/%d", undelivered), "COMMIT", fmt.Sprintf("SELECT COUNT(*) FROM deliveries WHERE purchase_id = %d", undelivered)},
		{"payment", func() resp {
			return buyer.post(fmt.Sprintf("/payment/%d", unpaid), url.Values{"method": {"Credit Card"}})
		}, "/orders", "COMMIT", fmt.Sprintf("SELECT COUNT(*) FROM payments WHERE purchase_id = %d", unpaid)},
		{"add book", func() resp {
			return seller.multipart("/book/add_book", map[string]string{"title": "Added", "author": "A", "price": "3", "stock": "4"}, "", nil)
		}, "/book/my_books", "COMMIT", "SELECT COUNT(*) FROM books WHERE title = 'Added'"},
		{"edit book", func() resp {
			return seller.multipart(fmt.Sprintf("/book/edit_book/%d", book),
				map[string]string{"title": "Edited", "author": "A", "price": "5", "stock": "10", "stock_shown": "7"}, "", nil)
		}, "/book/my_books", "COMMIT", "SELECT COUNT(*) FROM books WHERE title = 'Edited'"},
		{"register", func() resp {
			return anon.post("/register", url.Values{"name": {"New"}, "email": {"new@example.com"}, "password": {"correct horse"}})
		}, "/login", "INSERT INTO users", "SELECT COUNT(*) FROM users WHERE email = 'new@example.com'"},
	}
	for _, c := range cases {
		if n := e.count(c.rows); n != 0 {
			t.Fatalf("%s: %d rows before", c.name, n)
		}
		p.Arm(dbproxy.StallAfterCommit, c.commits)
		start := time.Now()
		r := c.do()
		took := time.Since(start)
		stalled := p.Mode() == dbproxy.Stall
		p.Set(dbproxy.Up)
		if !stalled {
			t.Errorf("%s: the proxy saw no COMMIT", c.name)
		}
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, c.location) {
			t.Errorf("%s after its commit, database stalled: %d %q, want 303 to %s: %s", c.name, r.status, r.location, c.location, snippet(r.body))
		}
		if n := e.count(c.rows); n != 1 {
			t.Errorf("%s: %d rows, want 1", c.name, n)
		}
		if took > budget+time.Second {
			t.Errorf("%s took %v; the budget is %v", c.name, took, budget)
		}
	}
	if !strings.Contains(e.logs.String(), `"msg":"session not saved; sending the handler's answer"`) {
		t.Error("the failed session saves were not logged")
	}
}

// A COMMIT the database never answers costs a request no more than its
// database budget (go-sql-driver's commit watches no context: before, the
// request waited for the connection's read timeout, here forever). The
// answer says that the purchase may have been made and where to look.
func TestCommitHeldIsBoundedByTheBudget(t *testing.T) {
	e, p, budget := proxiedEnv(t)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Held", bookIn(500, 10))
	buyer, _ := e.user(0, "buyer@example.com")
	buyer.c.Timeout = budget + 5*time.Second // the old code waited forever

	p.Arm(dbproxy.HoldCommit, "COMMIT")
	start := time.Now()
	r := buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"1"}})
	took := time.Since(start)
	p.Set(dbproxy.Up)
	if took > budget+500*time.Millisecond {
		t.Errorf("a held COMMIT: answered after %v; the budget is %v", took, budget)
	}
	if r.status != http.StatusServiceUnavailable || r.location != "" || r.header.Get("Retry-After") != "" ||
		!strings.Contains(r.body, "cannot tell whether it was saved") {
		t.Errorf("a held COMMIT: %d %q Retry-After %q: %s", r.status, r.location, r.header.Get("Retry-After"), snippet(r.body))
	}
}

// One budget covers all of a request's database calls: on a slow network
// where each call alone fits the store's timeout, their sum does not stretch
// the answer (before, each call had its own 1 s here, and a buy took ~2 s).
func TestDatabaseBudgetCoversTheWholeRequest(t *testing.T) {
	e, p, budget := proxiedEnv(t)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Slow", bookIn(500, 10))
	buyer, _ := e.user(0, "buyer@example.com")

	p.SetDelay(150 * time.Millisecond) // each way: 300 ms a round trip
	start := time.Now()
	r := buyer.post("/buy/"+strconv.FormatInt(book, 10), url.Values{"quantity": {"1"}})
	took := time.Since(start)
	p.SetDelay(0)
	if took > budget+300*time.Millisecond {
		t.Errorf("buy on a slow network: answered %d after %v; the budget is %v", r.status, took, budget)
	}
	if r.status != http.StatusServiceUnavailable && r.status != http.StatusSeeOther {
		t.Errorf("buy on a slow network: %d: %s", r.status, snippet(r.body))
	}
}

// A cover saved for an add or an edit whose COMMIT got no answer stays on
// disk: the change may have committed (here it does, once the held COMMIT
// reaches the database), and then the book must not point at a deleted
// file. Only a change the store says did not happen takes its cover back.
func TestUnknownOutcomeKeepsTheCover(t *testing.T) {
	e, p, budget := proxiedEnv(t)
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Before", bookIn(500, 10))
	seller.c.Timeout = budget + 5*time.Second
	cases := []struct {
		name, path, title string
		fields            map[string]string
	}{
		{"add", "/book/add_book", "Added with cover", map[string]string{"author": "A", "price": "3", "stock": "4"}},
		{"edit", fmt.Sprintf("/book/edit_book/%d", book), "Edited with cover",
			map[string]string{"author": "A", "price": "5", "stock": "10", "stock_shown": "10"}},
	}
	for _, c := range cases {
		c.fields["title"] = c.title
		p.Arm(dbproxy.HoldCommit, "COMMIT")
		r := seller.multipart(c.path, c.fields, "cover.png", png1x1)
		p.Set(dbproxy.Up)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "cannot tell whether it was saved") {
			t.Fatalf("%s, COMMIT held: %d: %s", c.name, r.status, snippet(r.body))
		}
		// The held COMMIT now reaches the database and commits.
		var cover string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err := e.sql.QueryRow("SELECT cover FROM books WHERE title = ?", c.title).Scan(&cover)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the held COMMIT never committed: %v", c.name, err)
			}
		}
		if img := seller.get("/covers/" + cover); img.status != http.StatusOK || img.body != string(png1x1) {
			t.Errorf("%s committed after an unknown outcome: GET /covers/%s is %d", c.name, cover, img.status)
		}
	}
}

// An autocommitted write whose answer never came (registration's INSERT)
// may have been applied, as a COMMIT may: the answer says so, without
// Retry-After, rather than "try again", whose retry then meets a 409 for
// the account the first request made.
func TestAutocommittedWriteHeldIsOutcomeUnknown(t *testing.T) {
	e, p, budget := proxiedEnv(t)
	anon := e.client(0)
	anon.c.Timeout = budget + 5*time.Second
	p.Arm(dbproxy.HoldCommit, "INSERT INTO users")
	r := anon.post("/register", url.Values{"name": {"Held"}, "email": {"held@example.com"}, "password": {"correct horse"}})
	p.Set(dbproxy.Up)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "" ||
		!strings.Contains(r.body, "cannot tell whether it was saved") {
		t.Errorf("register, INSERT held: %d Retry-After %q: %s", r.status, r.header.Get("Retry-After"), snippet(r.body))
	}
	// A read that gets no answer changed nothing: "try again" stays true.
	p.Arm(dbproxy.HoldCommit, "SELECT")
	r = anon.get("/book/catalog")
	p.Set(dbproxy.Up)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("catalog, SELECT held: %d Retry-After %q: %s", r.status, r.header.Get("Retry-After"), snippet(r.body))
	}
}
