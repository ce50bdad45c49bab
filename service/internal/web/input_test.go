package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/web"
)

// snapshot counts every table a bad request could touch.
func (e *env) snapshot() string {
	var parts []string
	for _, q := range []string{
		"SELECT COUNT(*) FROM users", "SELECT COUNT(*) FROM books", "SELECT COUNT(*) FROM purchases",
		"SELECT COUNT(*) FROM payments", "SELECT COUNT(*) FROM deliveries", "SELECT COALESCE(SUM(stock), 0) FROM books",
		"SELECT COALESCE(SUM(price_cents), 0) FROM books", "SELECT version FROM catalog_version",
	} {
		parts = append(parts, fmt.Sprint(e.count(q)))
	}
	return strings.Join(parts, ",")
}

// Bad input gets a 4xx with the form and a clear message, never a 500, and
// the database is untouched.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t, 1, func(o *web.Options) { o.MaxCoverBytes = 64 << 10 })
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Real", bookIn(1000, 5))
	buyer, _ := e.user(0, "buyer@example.com")
	paid := buyer.buy(book, 1)
	buyer.deliver(paid, 4)
	buyer.post(fmt.Sprintf("/payment/%d", paid), url.Values{"method": {"PayPal"}})
	pending := buyer.buy(book, 1)
	buyer.deliver(pending, 4)

	good := map[string]string{"title": "T", "author": "A", "description": "D", "price": "10.00", "stock": "3"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	long := strings.Repeat("é", 201)
	type tc struct {
		name   string
		do     func() resp
		status int
		msg    string
	}
	cases := []tc{}
	for _, f := range []struct{ field, value, msg string }{
		{"price", "abc", "digits with at most 2 decimals"},
		{"price", "-5", "must not be negative"},
		{"price", "1e309", "digits with at most 2 decimals"},
		{"price", "99999999999999999999", "must be at most"},
		{"price", "", "Enter an amount"},
		{"stock", "abc", "whole number"},
		{"stock", "-1", "no less than 0"},
		{"stock", "99999999999", "no more than 100000"},
		{"stock", "2.5", "whole number"},
		{"title", long, "too long"},
		{"title", "", "required"},
		{"author", long, "too long"},
		{"description", strings.Repeat("x", 2001), "too long"},
		{"title", "bad \xff utf-8", "invalid characters"},
		{"title", "a\x00b", "a control character (U+0000, character 2)"},
		{"title", "x\x1b[31mred\x07", "a control character (U+001B"},
		{"title", "del\x7f!", "a control character (U+007F"},
		{"title", "c1\u0085x", "a control character (U+0085"},
		{"title", "c1\u009bx", "a control character (U+009B"},
		{"title", "tab\there", "a line break or tab"},
		{"title", "line\u2028sep", "a line or paragraph separator"},
		{"title", "\ufffe", "a noncharacter"},
		{"author", "two\nlines", "a line break or tab"},
		{"author", "evil\u202egnp.exe", "a bidirectional override character (U+202E"},
		{"author", "iso\u2066late", "a bidirectional override character"},
		{"description", "nul \x00 here", "a control character (U+0000"},
		{"description", "clear \x1b[2J screen", "a control character (U+001B"},
		{"description", "bell\n\a", "a control character (U+0007"},
		{"description", "rlo \u202e", "a bidirectional override character"},
		{"title", "zero\u200bwidth", "an invisible formatting character (U+200B, character 5)"},
		{"author", "\ufeffBOM", "an invisible formatting character (U+FEFF"},
		{"author", "word\u2060joiner", "an invisible formatting character (U+2060"},
		{"description", "mongolian\u180e", "an invisible formatting character (U+180E"},
		{"title", "\u200d", "what it holds does not show"},
		{"author", "\u00ad\u200e", "what it holds does not show"},
	} {
		fields := with(f.field, f.value)
		cases = append(cases, tc{"add " + f.field + "=" + trunc(f.value), func() resp { return seller.multipart("/book/add_book", fields, "", nil) }, 422, f.msg})
		cases = append(cases, tc{"edit " + f.field + "=" + trunc(f.value), func() resp {
			return seller.multipart(fmt.Sprintf("/book/edit_book/%d", book), fields, "", nil)
		}, 422, f.msg})
	}
	cases = append(cases,
		tc{"cover not an image", func() resp {
			return seller.multipart("/book/add_book", good, "evil.png", []byte("<script>alert(1)</script>"))
		}, 422, "must be a JPEG, PNG, GIF or WebP"},
		tc{"cover html named jpg", func() resp {
			return seller.multipart("/book/add_book", good, "x.jpg", []byte("<!DOCTYPE html><html></html>"))
		}, 422, "must be a JPEG"},
		tc{"cover oversized", func() resp {
			return seller.multipart("/book/add_book", good, "big.png", append(append([]byte{}, png1x1...), bytes.Repeat([]byte{0}, 70<<10)...))
		}, 413, "at most"},
		tc{"quantity 0", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"0"}}) }, 422, "no less than 1"},
		tc{"quantity negative", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"-3"}}) }, 422, "no less than 1"},
		tc{"quantity text", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"two"}}) }, 422, "whole number"},
		tc{"quantity huge", func() resp {
			return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"99999999999999999999"}})
		}, 422, "whole number"},
		tc{"quantity over stock", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {"4"}}) }, 409, "Only 3 left"},
		tc{"quantity missing", func() resp { return buyer.post(fmt.Sprintf("/buy/%d", book), url.Values{}) }, 422, "required"},
		tc{"buy unknown book", func() resp { return buyer.post("/buy/999999", url.Values{"quantity": {"1"}}) }, 404, "nothing here"},
		tc{"buy non-numeric id", func() resp { return buyer.post("/buy/abc", url.Values{"quantity": {"1"}}) }, 404, "nothing here"},
		tc{"edit unknown book", func() resp { return seller.get("/book/edit_book/999999") }, 404, "nothing here"},
		tc{"delete unknown book", func() resp { return seller.post("/book/delete_book/0", nil) }, 404, "nothing here"},
		tc{"payment unknown id", func() resp { return buyer.get("/payment/999999") }, 404, "nothing here"},
		tc{"payment id overflow", func() resp { return buyer.get("/payment/99999999999999999999999") }, 404, "nothing here"},
		tc{"payment bad method", func() resp {
			return buyer.post(fmt.Sprintf("/payment/%d", pending), url.Values{"method": {"Bitcoin"}})
		}, 422, "Choose one of the options"},
		tc{"delivery unknown provider", func() resp {
			return buyer.post(fmt.Sprintf("/delivery/%d", pending), url.Values{"provider": {"99"}})
		}, 422, "Choose one of the delivery providers"},
		tc{"delivery non-numeric provider", func() resp {
			return buyer.post(fmt.Sprintf("/delivery/%d", pending), url.Values{"provider": {"DHL"}})
		}, 422, "Choose a delivery provider"},
		tc{"register bad email", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"not-an-email"}, "password": {"long enough"}})
		}, 422, "Enter an email address"},
		tc{"register email with name", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"Bob <bob@example.com>"}, "password": {"long enough"}})
		}, 422, "Enter an email address"},
		tc{"register long name", func() resp {
			return e.client(0).post("/register", url.Values{"name": {strings.Repeat("n", 101)}, "email": {"n@example.com"}, "password": {"long enough"}})
		}, 422, "too long"},
		tc{"register long email", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {strings.Repeat("n", 250) + "@example.com"}, "password": {"long enough"}})
		}, 422, "too long"},
		tc{"register name with escape", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"\x1b]0;pwned\x07N"}, "email": {"n@example.com"}, "password": {"long enough"}})
		}, 422, "a control character"},
		tc{"register email with NUL", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"n\x00@example.com"}, "password": {"long enough"}})
		}, 422, "a control character"},
		tc{"register email with zero-width space", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"buyer\u200b@example.com"}, "password": {"long enough"}})
		}, 422, "invisible formatting character (U+200B, character 6)"},
		tc{"register email with soft hyphen", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"buy\u00ader@example.com"}, "password": {"long enough"}})
		}, 422, "an invisible character (U+00AD"},
		tc{"register invisible name", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"\u200d\u200c"}, "email": {"n@example.com"}, "password": {"long enough"}})
		}, 422, "what it holds does not show"},
		tc{"register short password", func() resp {
			return e.client(0).post("/register", url.Values{"name": {"N"}, "email": {"n@example.com"}, "password": {"short"}})
		}, 422, "at least 8"},
		tc{"register huge form", func() resp {
			return e.client(0).post("/register", url.Values{"name": {strings.Repeat("n", 100<<10)}, "email": {"n@example.com"}, "password": {"long enough"}})
		}, 400, "could not be read"},
		tc{"login bad email", func() resp {
			return e.client(0).post("/login", url.Values{"email": {"nope"}, "password": {"x"}})
		}, 422, "Enter an email address"},
		tc{"login wrong password", func() resp {
			return e.client(0).post("/login", url.Values{"email": {"buyer@example.com"}, "password": {"wrong"}})
		}, 401, "incorrect"},
		tc{"login unknown user", func() resp {
			return e.client(0).post("/login", url.Values{"email": {"ghost@example.com"}, "password": {"whatever1"}})
		}, 401, "incorrect"},
	)
	before := e.snapshot()
	for _, c := range cases {
		r := c.do()
		if r.status != c.status || !strings.Contains(html.UnescapeString(r.body), c.msg) {
			t.Errorf("%s: got %d, want %d with %q: %s", c.name, r.status, c.status, c.msg, snippet(r.body))
		}
		if c.status == 422 && strings.HasPrefix(c.name, "add ") && !strings.Contains(r.body, `enctype="multipart/form-data"`) {
			t.Errorf("%s: the form was not re-rendered", c.name)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("%s changed the database: %s -> %s", c.name, before, after)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM books WHERE cover IS NOT NULL"); n != 0 {
		t.Fatalf("%d covers recorded", n)
	}
	if r := seller.get("/covers/..%2f..%2fetc%2fpasswd"); r.status != 404 {
		t.Fatalf("cover path traversal: %d", r.status)
	}
}

func trunc(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// What real text needs is kept exactly: line breaks and tabs in the
// description, emoji sequences (zero-width joiner), right-to-left and
// Arabic letter marks, subdivision flags (tag characters), soft hyphens,
// and the characters of every script. (At a field's end, where it does
// nothing, such a mark is refused: see TestIgnorableAtTheEndsIsRefused.)
func TestPrintingTextIsAccepted(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	fields := map[string]string{
		"title":       "👨\u200d👩\u200d👧 Fami\u00adly, Zoë 李",
		"author":      "עברית\u200f ك\u061c (1999) \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
		"description": "line 1\r\nline 2\n\tindented",
		"price":       "1.00", "stock": "1",
	}
	if r := seller.multipart("/book/add_book", fields, "", nil); r.status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.status, snippet(r.body))
	}
	var title, author, desc string
	if err := e.sql.QueryRow("SELECT title, author, description FROM books").Scan(&title, &author, &desc); err != nil {
		t.Fatal(err)
	}
	if title != fields["title"] || author != fields["author"] || desc != fields["description"] {
		t.Fatalf("stored %q %q %q", title, author, desc)
	}
}

// A refused form keeps what the user typed.
func TestRefusedFormKeepsValues(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	r := seller.multipart("/book/add_book", map[string]string{"title": "Keep <me>", "author": "A", "price": "x", "stock": "3"}, "", nil)
	if r.status != 422 || !strings.Contains(r.body, `value="Keep &lt;me&gt;"`) {
		t.Fatalf("%d %s", r.status, snippet(r.body))
	}
}

// Login is throttled per email (and per IP): the sixth try in a minute for
// one address is refused even with the right password, and other addresses
// are unaffected.
func TestLoginIsThrottled(t *testing.T) {
	e := newEnv(t, 1, func(o *web.Options) { o.LoginPerEmail, o.LoginPerIP = 5, 8 })
	c, _ := e.user(0, "victim@example.com") // one attempt used
	for range 4 {
		if r := c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"guess"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("guess: %d", r.status)
		}
	}
	r := c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"correct horse"}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many login attempts") {
		t.Fatalf("sixth attempt: %d %s", r.status, snippet(r.body))
	}
	// Same IP, other address: under the per-IP cap of 8 still.
	e.user(0, "bystander@example.com")
	// Per IP: with X-Forwarded-For spoofing the leftmost entry changes
	// nothing; the proxy-appended last entry counts.
	c2 := e.client(0)
	c2.hdr.Set("X-Forwarded-For", "1.2.3.4, 10.9.9.9")
	for i := range 8 {
		c2.hdr.Set("X-Forwarded-For", fmt.Sprintf("1.2.3.%d, 10.9.9.9", i))
		if r := c2.post("/login", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {"x"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d from 10.9.9.9: %d", i, r.status)
		}
	}
	if r := c2.post("/login", url.Values{"email": {"u9@example.com"}, "password": {"x"}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("ninth attempt from one IP: %d", r.status)
	}
}

// Session cookies: HttpOnly and SameSite=Lax always; Secure exactly when the
// ALB says the client used HTTPS.
func TestSessionCookieFlags(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.user(0, "a@example.com")
	for _, https := range []bool{false, true} {
		c := e.client(0)
		if https {
			c.hdr.Set("X-Forwarded-Proto", "https")
		}
		r := c.post("/login", url.Values{"email": {"a@example.com"}, "password": {"correct horse"}})
		sc := r.header.Get("Set-Cookie")
		if r.status != http.StatusSeeOther || !strings.Contains(sc, "session=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
			t.Fatalf("https=%v: %d %q", https, r.status, sc)
		}
		if strings.Contains(sc, "Secure") != https {
			t.Fatalf("https=%v: Set-Cookie %q", https, sc)
		}
		if https && r.header.Get("Strict-Transport-Security") == "" {
			t.Fatal("no HSTS over https")
		}
	}
}

// Sessions live in MySQL: log in through one instance, be signed in on
// another.
func TestSessionsAreSharedAcrossInstances(t *testing.T) {
	e := newEnv(t, 2, nil)
	c, _ := e.user(0, "roamer@example.com")
	c.base = e.servers[1].URL
	if r := c.get("/orders"); r.status != 200 {
		t.Fatalf("orders on the other instance: %d", r.status)
	}
}

// An address is one account only as spelled: "ádmin@" or a full-width "ａdmin@"
// is neither the admin's account, nor a way around its login throttle, nor
// a way to squat it. (The email column compared with utf8mb4_unicode_ci
// took all of these for admin@example.com.) The same letters composed or
// decomposed (NFC, NFD) are one address.
func TestEmailsAreComparedAsSpelled(t *testing.T) {
	e := newEnv(t, 1, func(o *web.Options) { o.LoginPerEmail = 5 })
	admin, _ := e.user(0, "admin@example.com")
	if r := admin.get("/admin/users"); r.status != http.StatusOK {
		t.Fatalf("admin: %d", r.status)
	}
	lookalikes := []string{"ádmin@example.com", "ａdmin@example.com", "admin@éxample.com"}
	for _, l := range lookalikes {
		c := e.client(0)
		if r := c.post("/login", url.Values{"email": {l}, "password": {"correct horse"}}); r.status != http.StatusUnauthorized {
			t.Errorf("log in as %s with admin's password: %d, want 401", l, r.status)
		}
	}
	// Throttle: 5 tries for admin@ spent (1 login above + 4 guesses); the
	// look-alikes are other buckets, but they are also other accounts.
	for range 4 {
		admin.post("/login", url.Values{"email": {"admin@example.com"}, "password": {"guess"}})
	}
	if r := e.client(0).post("/login", url.Values{"email": {"ádmin@example.com"}, "password": {"correct horse"}}); r.status == http.StatusSeeOther {
		t.Fatal("a look-alike address logged in to the admin's account past its throttle")
	}
	// Squatting: a look-alike registers as a new account; admin@ stays admin's.
	c := e.client(0)
	if r := c.post("/register", url.Values{"name": {"Squatter"}, "email": {"ádmin@example.com"}, "password": {"correct horse"}}); r.status != http.StatusSeeOther {
		t.Fatalf("register a look-alike: %d %s", r.status, snippet(r.body))
	}
	c.logIn("ádmin@example.com")
	if r := c.get("/admin/users"); r.status != http.StatusForbidden {
		t.Fatalf("look-alike on /admin/users: %d, want 403", r.status)
	}
	if n := e.count("SELECT COUNT(*) FROM users"); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
	// NFD "é" (e + U+0301) is the NFC one: same account, refused as taken.
	if r := e.client(0).post("/register", url.Values{"name": {"Again"}, "email": {"a\u0301dmin@example.com"}, "password": {"long enough"}}); r.status != http.StatusConflict {
		t.Fatalf("register NFD spelling of a taken address: %d, want 409", r.status)
	}
}

// Logging out ends the session even while another request of it is still
// running: that request's end must not bring the old token back (it did:
// scs committed its data under the deleted token). Here a buy whose body is
// still arriving spans the logout.
func TestLogoutWinsOverARequestInFlight(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	buyer, _ := e.user(0, "buyer@example.com")
	book := e.book(sid, "T", bookIn(100, 5))
	u, _ := url.Parse(buyer.base)
	var cookie string
	for _, c := range buyer.c.Jar.Cookies(u) {
		cookie += c.Name + "=" + c.Value + "; "
	}

	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "quantity=1"
	fmt.Fprintf(conn, "POST /buy/%d HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
		book, u.Host, cookie, len(body), body[:5])
	time.Sleep(100 * time.Millisecond)

	if r := buyer.post("/logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	fmt.Fprint(conn, body[5:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the buy in flight: %d", res.StatusCode)
	}

	// The old cookie, as the late response just set it again.
	old := e.client(0)
	req, _ := http.NewRequest(http.MethodGet, old.base+"/orders", nil)
	req.Header.Set("Cookie", cookie)
	if r := old.do(req); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Fatalf("/orders with the logged-out token: %d %s, want a redirect to /login", r.status, r.location)
	}
}
