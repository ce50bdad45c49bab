package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// A session token is compared byte for byte: the live cookie with its
// letters' case swapped signs nobody in (the column's collation was
// utf8mb4_unicode_ci, which took it for the same token).
func TestSessionTokenIsCaseSensitive(t *testing.T) {
	e := newEnv(t, 1, nil)
	user, _ := e.user(0, "reader@example.com")
	u, _ := url.Parse(user.base)
	var token string
	for _, c := range user.c.Jar.Cookies(u) {
		if c.Name == "session" {
			token = c.Value
		}
	}
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
