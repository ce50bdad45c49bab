package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/dbproxy"
)

// Accept-Encoding is read as RFC 9110 defines it: qvalues with "q" in any
// case, "0." and "0.000" are zero, all header lines count, "*" stands for
// gzip when gzip isn't named, and an invalid weight doesn't count as 1.
func TestAcceptEncodingQvalues(t *testing.T) {
	e := newEnv(t, 1, nil)
	anon := e.client(0)
	cases := []struct {
		lines []string
		gzip  bool
	}{
		{[]string{"gzip"}, true},
		{[]string{"GZIP;q=0.5"}, true},
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"gzip;Q=0"}, false},
		{[]string{"gzip;q=0."}, false},
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"gzip ; q=0.00 , br"}, false},
		{[]string{"gzip;q=1.5"}, false},
		{[]string{"gzip;q=abc"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"br", "gzip"}, true},
		{[]string{"br", "gzip;q=0"}, false},
		{[]string{"x-gzip"}, true},
		{[]string{"identity"}, false},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, anon.base+"/book/catalog", nil)
		req.Header["Accept-Encoding"] = c.lines
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != c.gzip || res.StatusCode != 200 {
			t.Errorf("Accept-Encoding %q: %d, gzip %v, want %v", c.lines, res.StatusCode, got, c.gzip)
		}
	}
}

// An anonymous visitor sent to sign in costs the store no session row, however
// many times it asks; a signed-in user's session is still used for messages.
func TestAnonymousLoginRedirectsWriteNoSession(t *testing.T) {
	e := newEnv(t, 1, nil)
	before := e.count("SELECT COUNT(*) FROM sessions")
	for range 30 {
		c := e.client(0)
		if r := c.get("/orders"); r.status != http.StatusSeeOther || r.location != "/login" {
			t.Fatalf("anonymous /orders: %d %q", r.status, r.location)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM sessions"); n != before {
		t.Errorf("30 anonymous redirects to /login left %d session rows", n-before)
	}
}

// An anonymous POST /logout (no cookie, or one of a session with nobody
// signed in) writes no session row, however often it comes.
func TestAnonymousLogoutWritesNoSession(t *testing.T) {
	e := newEnv(t, 1, nil)
	before := e.count("SELECT COUNT(*) FROM sessions")
	kept := e.client(0)
	for i := range 30 {
		c := e.client(0)
		if i%2 == 1 {
			c = kept
		}
		if r := c.post("/logout", nil); r.status != http.StatusSeeOther || r.location != "/" {
			t.Fatalf("anonymous logout: %d %q: %s", r.status, r.location, snippet(r.body))
		}
	}
	if n := e.count("SELECT COUNT(*) FROM sessions"); n != before {
		t.Errorf("30 anonymous logouts left %d session rows", n-before)
	}
}

// A request whose client went away is counted with status 499 (nginx's
// "client closed request"), not 503: it is no server fault.
func TestAbandonedRequestsAreCountedApart(t *testing.T) {
	e, p, _ := proxiedEnv(t)
	user, _ := e.user(0, "reader@example.com")
	p.Set(dbproxy.Stall)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, user.base+"/orders", nil)
	_, err := user.c.Do(req)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the client should have given up: %v", err)
	}
	p.Set(dbproxy.Up)
	want := `bookstore_http_requests_total{method="GET",route="/orders",status="499"} 1`
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := e.client(0).get("/metrics").body
		if strings.Contains(body, want) {
			if strings.Contains(body, `route="/orders",status="503"`) {
				t.Errorf("also counted as 503")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in /metrics:\n%s", want, grepLines(body, "bookstore_http_requests_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The client IP is the last X-Forwarded-For entry of all its lines joined:
// a proxy that appends a line of its own is believed, not the first line.
func TestForwardedForLinesAreJoined(t *testing.T) {
	e := newEnv(t, 1, nil)
	c := e.client(0)
	c.hdr["X-Forwarded-For"] = []string{"1.2.3.4, 5.6.7.8", "10.0.0.9"}
	c.get("/healthz")
	if logs := e.logs.String(); !strings.Contains(logs, `"client_ip":"10.0.0.9"`) {
		t.Errorf("client_ip not from the last line:\n%s", grepLines(logs, "client_ip"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
