package web_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
)

// A session token is compared byte for byte: the live cookie with its
// letters' case swapped signs nobody in (the column's collation was
// utf8mb4_unicode_ci, which took it for the same token).
func TestSessionTokenIsCaseSensitive(t *testing.T) {
	e := newEnv(t, 1, nil)
	user, _ := e.user(0, "reader@example.com")
	token := sessionToken(user)
	if token == "" || strings.ToUpper(token) == strings.ToLower(token) {
		t.Fatalf("session cookie %q", token)
	}
	if r := user.get("/orders"); r.status != http.StatusOK {
		t.Fatalf("the live cookie: %d", r.status)
	}
	swapped := strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, token)
	for _, forged := range []string{swapped, strings.ToUpper(token), strings.ToLower(token)} {
		if forged == token {
			continue
		}
		c := e.client(0)
		c.hdr.Set("Cookie", "session="+forged)
		if r := c.get("/orders"); r.status != http.StatusSeeOther || r.location != "/login" {
			t.Errorf("cookie %q (the live one %q, case changed): %d %q", forged, token, r.status, r.location)
		}
	}
}

// A live token with anything after it is another, unknown token, on every
// engine: MariaDB's and MySQL's utf8mb4_bin is PAD SPACE, and found the
// live session for "<token>   ". Sent raw, as a browser can't be made to.
func TestPaddedSessionTokenSignsNobodyIn(t *testing.T) {
	e := newEnv(t, 1, nil)
	user, _ := e.user(0, "reader@example.com")
	u, _ := url.Parse(user.base)
	token := sessionToken(user)
	get := func(cookie string) string {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /orders HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nConnection: close\r\n\r\n", cookie)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("cookie %q: %v", cookie, err)
		}
		res.Body.Close()
		return fmt.Sprint(res.StatusCode, " ", res.Header.Get("Location"))
	}
	if got := get("session=" + token); got != "200 " {
		t.Fatalf("the live cookie: %s", got)
	}
	for _, pad := range []string{" ", "   ", "\t", "\x00", " \t", "\x00\x00"} {
		for _, cookie := range []string{`session="` + token + pad + `"`, "session=" + token + pad + "x"} {
			if got := get(cookie); got != "303 /login" && !strings.HasPrefix(got, "400") {
				t.Errorf("cookie %q (the live token padded): %s, want 303 to /login", cookie, got)
			}
		}
	}
}

// sessionToken is the value of c's session cookie ("" if none).
func sessionToken(c *client) string {
	u, _ := url.Parse(c.base)
	for _, k := range c.c.Jar.Cookies(u) {
		if k.Name == "session" {
			return k.Value
		}
	}
	return ""
}
