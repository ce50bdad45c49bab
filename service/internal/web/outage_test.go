package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/dbproxy"
)

// newProxy starts a dbproxy to target, closed when t ends.
func newProxy(t *testing.T, target string) *dbproxy.Proxy {
	p, err := dbproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// When the database goes away pages answer 503 within a bounded time, and
// when it comes back the same instance serves again, with no restart. Both
// kinds of outage: connections refused, and a silent network.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	e, p, timeout := proxiedEnv(t)
	_, sid := e.user(0, "seller@example.com")
	e.book(sid, "Survivor", bookIn(100, 3))
	anon := e.client(0)
	user, _ := e.user(0, "reader@example.com")

	check := func(when string, want int) {
		t.Helper()
		for _, c := range []*client{anon, user} {
			start := time.Now()
			r := c.get("/book/catalog")
			took := time.Since(start)
			if r.status != want {
				t.Fatalf("%s: catalog %d, want %d: %s", when, r.status, want, snippet(r.body))
			}
			if took > 3*timeout {
				t.Fatalf("%s: catalog took %v", when, took)
			}
			if want == 503 && (!strings.Contains(r.body, "cannot reach its database") || r.header.Get("Retry-After") == "") {
				t.Fatalf("%s: 503 page: %s", when, snippet(r.body))
			}
		}
		if r := anon.get("/readyz"); (want == 200) != (r.status == 200) {
			t.Fatalf("%s: readyz %d", when, r.status)
		}
		if r := anon.get("/healthz"); r.status != 200 {
			t.Fatalf("%s: healthz %d", when, r.status)
		}
	}
	check("before", 200)
	for _, mode := range []string{"cut", "stall"} {
		p.Set(mode)
		check(mode, http.StatusServiceUnavailable)
		p.Set(dbproxy.Up)
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := user.get("/book/catalog")
			if r.status == 200 && strings.Contains(r.body, "Survivor") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: no recovery, still %d", mode, r.status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		check("after "+mode, 200)
	}
	if !strings.Contains(e.logs.String(), `"msg":"database unavailable"`) {
		t.Fatal("the outage was not logged")
	}
}
