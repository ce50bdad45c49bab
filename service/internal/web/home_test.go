package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The home page shows the newest books (covers or a placeholder), a search
// box that GETs the catalog with q, and the links it had.
func TestHomeShowsNewestBooksAndSearch(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	for i := range 10 {
		e.book(sid, fmt.Sprintf("Book %02d", i), bookIn(1000, 3))
	}
	home := e.client(0).get("/")
	if home.status != 200 {
		t.Fatalf("home: %d", home.status)
	}
	// Each card links to its book's page.
	cards := regexp.MustCompile(`<a href="(/book/\d+)">.*?card-title">(Book \d+)<`).FindAllStringSubmatch(home.body, -1)
	var got []string
	for _, m := range cards {
		got = append(got, m[2])
		if p := e.client(0).get(m[1]); p.status != 200 || !strings.Contains(p.body, "<h1>"+m[2]+"</h1>") {
			t.Errorf("card %s links to %s: %d %s", m[2], m[1], p.status, snippet(p.body))
		}
	}
	if strings.Join(got, ",") != "Book 09,Book 08,Book 07,Book 06,Book 05,Book 04,Book 03,Book 02" {
		t.Errorf("home shows %q, want the 8 newest, newest first", got)
	}
	for _, want := range []string{`<form class="search" method="get" action="/book/catalog"`, `name="q"`, `class="cover cover-none"`, `href="/register"`, `href="/book/catalog"`} {
		if !strings.Contains(home.body, want) {
			t.Errorf("home lacks %s", want)
		}
	}
}
