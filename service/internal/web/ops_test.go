package web_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	if r := c.get("/healthz"); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := c.get("/readyz"); r.status != 200 {
		t.Fatalf("readyz %d: %s", r.status, r.body)
	}
	// A schema this binary doesn't know (an older binary during a rolling
	// deploy, or a failed migration) is not ready.
	if _, err := e.sql.Exec("UPDATE schema_migrations SET dirty = TRUE"); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/readyz"); r.status != 503 || !strings.Contains(r.body, "schema") {
		t.Fatalf("dirty schema: readyz %d %s", r.status, r.body)
	}
	e.sql.Exec("UPDATE schema_migrations SET dirty = FALSE")
	e.apps[0].StartDraining()
	if r := c.get("/readyz"); r.status != 503 || !strings.Contains(r.body, "draining") {
		t.Fatalf("draining: readyz %d", r.status)
	}
	if r := c.get("/book/catalog"); r.status != 200 {
		t.Fatalf("draining still serves pages, got %d", r.status)
	}
}

// Metrics: requests and latency by route pattern (never the raw path), DB
// pool stats and purchases.
func TestMetrics(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Counted", bookIn(100, 9))
	buyer, _ := e.user(0, "buyer@example.com")
	buyer.buy(book, 3)
	buyer.get("/payment/999999")
	r := e.client(0).get("/metrics")
	if r.status != 200 {
		t.Fatalf("metrics %d", r.status)
	}
	for _, want := range []string{
		`bookstore_http_requests_total{method="POST",route="/buy/{book_id}",status="303"} 1`,
		`bookstore_http_requests_total{method="GET",route="/payment/{purchase_id}",status="404"} 1`,
		`bookstore_http_request_duration_seconds_count{method="POST",route="/login"}`,
		`bookstore_purchases_total 1`,
		`bookstore_purchased_units_total 3`,
		`go_sql_max_open_connections{db_name="bookstore"} 16`,
		`go_sql_in_use_connections{db_name="bookstore"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(r.body, `route="/payment/999999"`) {
		t.Error("a raw path became a label")
	}
}

// Any token is a valid method on the wire; only the standard ones may become
// label values, or one client could create series without bound.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	for _, m := range []string{"BREW", "M12345", "get", "PROPFIND"} {
		req, _ := http.NewRequest(m, c.base+"/", nil)
		if r := c.do(req); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %d, want 405", m, r.status)
		}
	}
	body := c.get("/metrics").body
	for _, m := range []string{"BREW", "M12345", "get", "PROPFIND"} {
		if strings.Contains(body, `method="`+m+`"`) {
			t.Errorf("method %q became a label value", m)
		}
	}
	if want := `bookstore_http_requests_total{method="other",route="unmatched",status="405"} 4`; !strings.Contains(body, want) {
		t.Errorf("metrics lack %s", want)
	}
}

// One JSON log line per request with method, route, status, duration and
// request id; the ALB's X-Amzn-Trace-Id is the request id when present.
func TestRequestLogs(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	c.hdr.Set("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678")
	r := c.get("/book/edit_book/5")
	if r.header.Get("X-Request-Id") != "Root=1-67891233-abcdef012345678912345678" {
		t.Fatalf("X-Request-Id %q", r.header.Get("X-Request-Id"))
	}
	c.hdr.Del("X-Amzn-Trace-Id")
	r = c.get("/nope")
	generated := r.header.Get("X-Request-Id")
	if len(generated) != 16 {
		t.Fatalf("generated request id %q", generated)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines, want 2", len(lines))
	}
	first, second := lines[0], lines[1]
	if first["method"] != "GET" || first["route"] != "/book/edit_book/{id}" || first["status"] != float64(http.StatusSeeOther) ||
		first["request_id"] != "Root=1-67891233-abcdef012345678912345678" {
		t.Fatalf("first line: %v", first)
	}
	if _, ok := first["duration_ms"].(float64); !ok {
		t.Fatalf("no duration: %v", first)
	}
	if second["route"] != "unmatched" || second["status"] != float64(404) || second["request_id"] != generated {
		t.Fatalf("second line: %v", second)
	}
}

// Pages load nothing from other origins (no CDN): they must work offline,
// and the CSP allows only 'self'.
func TestNoExternalAssets(t *testing.T) {
	e := newEnv(t, 1, nil)
	c, sid := e.user(0, "a@example.com")
	e.book(sid, "Local", bookIn(100, 1))
	for _, p := range []string{"/", "/book/catalog", "/book/my_books", "/book/add_book", "/orders", "/login", "/register"} {
		r := c.get(p)
		if r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
		for _, bad := range []string{`src="http`, `href="http`, `src="//`, `href="//`, "@import"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s loads from elsewhere: %s", p, bad)
			}
		}
		if !strings.Contains(r.body, `<link rel="stylesheet" href="/static/style.css">`) || !strings.Contains(r.body, `name="viewport"`) {
			t.Errorf("%s: no embedded stylesheet or viewport", p)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	css := c.get("/static/style.css")
	if css.status != 200 || !strings.Contains(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, "@media") {
		t.Fatalf("stylesheet: %d %q", css.status, css.header.Get("Content-Type"))
	}
}
