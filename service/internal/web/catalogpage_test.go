package web_test

import (
	"cmp"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

var (
	bookIDs   = regexp.MustCompile(`<li class="book" id="book-(\d+)">`)
	nextLink  = regexp.MustCompile(`<a rel="next" href="([^"]+)">`)
	prevLink  = regexp.MustCompile(`<a rel="prev" href="([^"]+)">`)
	searchBox = regexp.MustCompile(`<input id="q" name="q" type="search" maxlength="100" value="([^"]*)">`)
)

// page GETs a catalog URL and returns the book ids it lists and its next
// and previous links ("" when absent).
func (c *client) page(path string) (ids []int64, next, prev string) {
	c.t.Helper()
	r := c.get(path)
	if r.status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, r.status, snippet(r.body))
	}
	for _, m := range bookIDs.FindAllStringSubmatch(r.body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	if m := nextLink.FindStringSubmatch(r.body); m != nil {
		next = html.UnescapeString(m[1])
	}
	if m := prevLink.FindStringSubmatch(r.body); m != nil {
		prev = html.UnescapeString(m[1])
	}
	return ids, next, prev
}

// walk follows Next links from path to the last page, then Previous links
// back to the first, and checks both ways list the same books in the same
// order, pages of at most 24, the first without Previous.
func (c *client) walk(path string) []int64 {
	c.t.Helper()
	var pages [][]int64
	ids, next, prev := c.page(path)
	if prev != "" {
		c.t.Fatalf("%s: the first page links to a previous one (%s)", path, prev)
	}
	pages = append(pages, ids)
	for next != "" {
		ids, next, prev = c.page(next)
		if len(pages) > 100 {
			c.t.Fatal("more than 100 pages: the Next links loop")
		}
		pages = append(pages, ids)
	}
	var forward []int64
	for _, p := range pages {
		if len(p) > 24 || len(p) == 0 {
			c.t.Fatalf("%s: a page of %d books", path, len(p))
		}
		forward = append(forward, p...)
	}
	// Back from the last page.
	for i := len(pages) - 2; i >= 0; i-- {
		if prev == "" {
			c.t.Fatalf("%s: page %d has no Previous link", path, i+2)
		}
		ids, _, prev = c.page(prev)
		if !slices.Equal(ids, pages[i]) {
			c.t.Fatalf("%s: page %d going back is %v, going forward it was %v", path, i+1, ids, pages[i])
		}
	}
	return forward
}

// Every order walks every book on sale exactly once, in the order it
// names, with ties on price and title broken by id, forwards and
// backwards; an archived book is in none of them.
func TestCatalogPagesWalkEveryBookOnceInEachOrder(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	type book struct {
		id    int64
		title string
		price money.Cents
	}
	var books []book
	titles := []string{"Same Title", "Alpha", "Same Title", "Zebra", "same title"}
	for i := range 61 {
		in := bookIn(money.Cents(100*(i%4)), 5) // 4 prices: many ties
		b := book{e.book(sid, titles[i%len(titles)], in), titles[i%len(titles)], in.Price}
		books = append(books, b)
	}
	archived := books[7].id
	if err := e.store.ArchiveBook(t.Context(), archived, sid); err != nil {
		t.Fatal(err)
	}
	books = slices.DeleteFunc(books, func(b book) bool { return b.id == archived })
	byID := func(a, b book) int { return cmp.Compare(a.id, b.id) }
	want := map[string]func(a, b book) int{
		"":       func(a, b book) int { return -byID(a, b) },
		"newest": func(a, b book) int { return -byID(a, b) },
		"title": func(a, b book) int {
			return cmp.Or(cmp.Compare(strings.ToLower(a.title), strings.ToLower(b.title)), byID(a, b))
		},
		"price":      func(a, b book) int { return cmp.Or(cmp.Compare(a.price, b.price), byID(a, b)) },
		"price_desc": func(a, b book) int { return -cmp.Or(cmp.Compare(a.price, b.price), byID(a, b)) },
	}
	c := e.client(0)
	for sort, order := range want {
		slices.SortFunc(books, order)
		var ids []int64
		for _, b := range books {
			ids = append(ids, b.id)
		}
		path := "/book/catalog"
		if sort != "" {
			path += "?sort=" + sort
		}
		if got := c.walk(path); !slices.Equal(got, ids) {
			t.Errorf("sort %q:\n got %v\nwant %v", sort, got, ids)
		}
	}
	// The old URL shows the first page: the 24 newest.
	slices.SortFunc(books, want[""])
	if ids, next, _ := c.page("/book/catalog?page=1"); len(ids) != 24 || ids[0] != books[0].id || next == "" {
		t.Errorf("?page=1: %v, next %q", ids, next)
	}
}

// Bad parameters get a 4xx page that says what was wrong, never a 500, and
// never a query.
func TestCatalogRefusesBadParameters(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	e.book(sid, "Only", bookIn(100, 1))
	c := e.client(0)
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"page=0", 400}, {"page=-1", 400}, {"page=1e9", 400}, {"page=abc", 400}, {"page=2", 400},
		{"sort=bogus", 400}, {"sort=", 200}, {"sort=price&sort=title", 400},
		{"after=abc", 400}, {"after=0", 400}, {"after=-3", 400}, {"after=1e9", 400},
		{"after=99999999", 404}, {"before=99999999", 404}, {"after=1&before=1", 400},
		{"q=" + strings.Repeat("a", 1000), 400}, {"q=" + url.QueryEscape(strings.Repeat("é", 101)), 400},
		{"q=" + url.QueryEscape(strings.Repeat("é", 100)), 200},
		{"q=abc%00def", 400}, {"q=%FF%FEabc", 400}, {"q=abc%C3", 400},
	} {
		r := c.get("/book/catalog?" + tc.query)
		if r.status != tc.status {
			t.Errorf("?%.40s: %d, want %d: %s", tc.query, r.status, tc.status, snippet(r.body))
		}
		if tc.status == 400 && !strings.Contains(r.body, "<h1>") {
			t.Errorf("?%.40s: no error page: %s", tc.query, snippet(r.body))
		}
	}
}

// Search finds whole words in titles and authors, all of them, and nothing
// in the query acts as a FULLTEXT operator or an SQL wildcard; short and
// stopword-only queries say why they find nothing.
func TestCatalogSearch(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	goBook := e.book(sid, "The Go Programming Language", store.BookInput{Author: "Alan Donovan", Price: 100, Stock: 1})
	rust := e.book(sid, "Programming Rust", store.BookInput{Author: "Jim Blandy", Price: 200, Stock: 1})
	pct := e.book(sid, "100% Pure abcxdef", store.BookInput{Author: "Percent Person", Price: 300, Stock: 1})
	off := e.book(sid, "Programming Archived", store.BookInput{Author: "Gone", Price: 300, Stock: 1})
	if err := e.store.ArchiveBook(t.Context(), off, sid); err != nil {
		t.Fatal(err)
	}
	c := e.client(0)
	search := func(q string) (ids []int64, body string) {
		t.Helper()
		r := c.get("/book/catalog?q=" + url.QueryEscape(q))
		if r.status != http.StatusOK {
			t.Fatalf("q=%q: %d %s", q, r.status, snippet(r.body))
		}
		for _, m := range bookIDs.FindAllStringSubmatch(r.body, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
		return ids, r.body
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"programming", []int64{rust, goBook}},
		{"PROGRAMMING", []int64{rust, goBook}},
		{"donovan programming", []int64{goBook}}, // author and title
		{"programming donovan blandy", nil},      // every word must match
		{"rust", []int64{rust}},
		// Operators are separators: these are the words programming and
		// go/language, all required.
		{`+programming -language`, []int64{goBook}},
		{`"programming language`, []int64{goBook}},
		{`programming*`, []int64{rust, goBook}},
		{`prog*`, nil}, // no prefix search: a wildcard would find both
		{`~programming <rust> (blandy) @2`, []int64{rust}},
		// SQL in the query is words: "or" is a stopword, "1" too short.
		{`programming) OR (1=1`, []int64{rust, goBook}},
		{`programming' OR '1'='1`, []int64{rust, goBook}},
		// Wildcards are separators, never wildcards: % alone would match
		// every book, abc_def would match abcxdef.
		{`%`, nil},
		{`%%%`, nil},
		{`abc_def`, nil},
		{`abc%def`, nil},
		{`abcxdef`, []int64{pct}},
		{`\`, nil},
		{`nothingmatchesthis`, nil},
	} {
		ids, body := search(tc.q)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("q=%q: %v, want %v", tc.q, ids, tc.want)
		}
		if len(tc.want) == 0 && !strings.Contains(body, "No books match") {
			t.Errorf("q=%q: no \"No books match\": %s", tc.q, snippet(body))
		}
		if m := searchBox.FindStringSubmatch(body); m == nil || html.UnescapeString(m[1]) != tc.q {
			t.Errorf("q=%q: not kept in the search box", tc.q)
		}
	}
	// Too short, or only stopwords: a normal page that says why.
	for _, q := range []string{"go", "the", "a of the", "C#"} {
		ids, body := search(q)
		if len(ids) != 0 || !strings.Contains(body, "at least 3 letters") || !strings.Contains(body, "No books match") {
			t.Errorf("q=%q: %v %s", q, ids, snippet(body))
		}
	}
	// The query stays in the search box.
	if _, body := search("donovan"); !strings.Contains(body, `value="donovan"`) {
		t.Errorf("query not kept in the box: %s", snippet(body))
	}
}

// Search combines with sort and paging: the query and sort ride along in
// every page link, and the walk covers exactly the matches, in order.
func TestCatalogSearchPagesAndSorts(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	var want []int64
	for i := range 30 {
		want = append(want, e.book(sid, fmt.Sprintf("Common Word %d", i), bookIn(money.Cents(1000-10*(i%5)), 1)))
		e.book(sid, fmt.Sprintf("Other %d", i), bookIn(1, 1))
	}
	prices := map[int64]int{}
	for i, id := range want {
		prices[id] = 1000 - 10*(i%5)
	}
	slices.SortFunc(want, func(a, b int64) int { return cmp.Or(cmp.Compare(prices[a], prices[b]), cmp.Compare(a, b)) })
	c := e.client(0)
	_, next, _ := c.page("/book/catalog?q=common+word&sort=price")
	if !strings.Contains(next, "q=common+word") || !strings.Contains(next, "sort=price") {
		t.Fatalf("next link drops the query or sort: %q", next)
	}
	if got := c.walk("/book/catalog?q=common+word&sort=price"); !slices.Equal(got, want) {
		t.Errorf("search walk:\n got %v\nwant %v", got, want)
	}
}

// A book has its own page with everything the catalog shows and a
// canonical link; the catalog links to it; archived, unknown and malformed
// ids are 404; the other routes under /book/ still answer as before.
func TestBookPage(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	id := e.book(sid, "Dune & Sons", store.BookInput{Author: "Frank <Herbert>", Description: "Spice.", Price: 1999, Stock: 3, Cover: "c0ffee.png"})
	gone := e.book(sid, "Gone", bookIn(100, 1))
	if err := e.store.ArchiveBook(t.Context(), gone, sid); err != nil {
		t.Fatal(err)
	}
	c := e.client(0)
	r := c.get(fmt.Sprintf("/book/%d", id))
	for _, want := range []string{
		fmt.Sprintf(`<link rel="canonical" href="/book/%d">`, id),
		"<h1>Dune &amp; Sons</h1>", "Frank &lt;Herbert&gt;", "Spice.", "19.99", ">3 in stock<",
		fmt.Sprintf(`action="/buy/%d"`, id), `src="/covers/c0ffee.png"`,
	} {
		if r.status != 200 || !strings.Contains(r.body, want) {
			t.Errorf("book page: %d, no %q: %s", r.status, want, snippet(r.body))
		}
	}
	// A book without a cover shows the placeholder with its initial, as
	// the catalog's cards do.
	plain := e.book(sid, "emma", bookIn(500, 1))
	if r := c.get(fmt.Sprintf("/book/%d", plain)); r.status != 200 || !strings.Contains(r.body, `<span class="cover cover-none" aria-hidden="true">E</span>`) {
		t.Errorf("book page without a cover: %d, no placeholder: %s", r.status, snippet(r.body))
	}
	if cat := c.get("/book/catalog"); !strings.Contains(cat.body, fmt.Sprintf(`<a href="/book/%d">Dune &amp; Sons</a>`, id)) {
		t.Errorf("catalog does not link to the book page: %s", snippet(cat.body))
	}
	for _, path := range []string{fmt.Sprintf("/book/%d", gone), "/book/99999999", "/book/0", "/book/-1", "/book/abc", "/book/1e3", "/book/99999999999999999999"} {
		if r := c.get(path); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	if r := c.get("/book/my_books"); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("/book/my_books: %d %s", r.status, r.location)
	}
	if r := c.get("/book/catalog"); r.status != 200 || !strings.Contains(r.body, "<h1>Catalog</h1>") {
		t.Errorf("/book/catalog: %d", r.status)
	}
}

// A purchase through one instance shows at once on the other instance's
// book page, first page, search and sorted pages: no page is cached past
// a change.
func TestCatalogPagesFreshAfterPurchaseElsewhere(t *testing.T) {
	e := newEnv(t, 2, nil)
	_, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Watched Closely", bookIn(500, 9))
	for i := range 30 {
		e.book(sid, fmt.Sprintf("Filler %d", i), bookIn(money.Cents(400+i), 1))
	}
	buyer, _ := e.user(1, "buyer@example.com")
	reader := e.client(0)
	paths := []string{fmt.Sprintf("/book/%d", book), "/book/catalog?q=watched", "/book/catalog?sort=title&q=closely", "/book/catalog?sort=price_desc"}
	for want := 9; want > 6; want-- {
		for _, p := range paths {
			if r := reader.get(p); !strings.Contains(r.body, fmt.Sprintf(">%d in stock<", want)) {
				t.Fatalf("%s on instance 0 shows stale stock, want %d: %s", p, want, snippet(r.body))
			}
		}
		buyer.buy(book, 1)
	}
	// A search's members follow edits, additions and archiving at once.
	seller := e.client(1)
	seller.logIn("seller@example.com")
	if r := seller.multipart(fmt.Sprintf("/book/edit_book/%d", book), map[string]string{"title": "Renamed", "author": "A",
		"price": "5", "stock": "6", "stock_shown": "6"}, "", nil); r.status != 303 {
		t.Fatalf("edit: %d %s", r.status, snippet(r.body))
	}
	if ids, _, _ := reader.page("/book/catalog?q=watched"); len(ids) != 0 {
		t.Errorf("?q=watched still lists the renamed book: %v", ids)
	}
	if ids, _, _ := reader.page("/book/catalog?q=renamed"); !slices.Equal(ids, []int64{book}) {
		t.Errorf("?q=renamed: %v, want [%d]", ids, book)
	}
	added := e.book(sid, "Renamed Too", bookIn(1, 1))
	if ids, _, _ := reader.page("/book/catalog?q=renamed"); !slices.Equal(ids, []int64{added, book}) {
		t.Errorf("?q=renamed after an addition: %v, want [%d %d]", ids, added, book)
	}
	seller.post(fmt.Sprintf("/book/delete_book/%d", added), nil)
	if ids, _, _ := reader.page("/book/catalog?q=renamed"); !slices.Equal(ids, []int64{book}) {
		t.Errorf("?q=renamed after archiving: %v, want [%d]", ids, book)
	}
}

// Signed-in pages and purchases don't write the session: its row stays as
// login left it (scs's IdleTimeout rewrote it on every request, one more
// database round trip and write for each).
func TestSignedInRequestsDoNotWriteTheSession(t *testing.T) {
	e := newEnv(t, 1, nil)
	buyer, sid := e.user(0, "buyer@example.com")
	book := e.book(sid, "Often Bought", bookIn(100, 10))
	row := func() string {
		var data, expiry string
		if err := e.sql.QueryRow("SELECT HEX(data), CAST(expiry AS CHAR) FROM sessions WHERE LENGTH(data) > 0").Scan(&data, &expiry); err != nil {
			t.Fatal(err)
		}
		return data + " " + expiry
	}
	buyer.get("/book/catalog") // shows and removes login's flash: a write
	before := row()
	buyer.get("/book/catalog")
	buyer.get(fmt.Sprintf("/book/%d", book))
	pid := buyer.buy(book, 1)
	if after := row(); after != before {
		t.Errorf("the purchase wrote the session:\n%s\n%s", before, after)
	}
	buyer.get(fmt.Sprintf("/delivery/%d", pid))
	buyer.deliver(pid, 1)
	buyer.get(fmt.Sprintf("/payment/%d", pid))
	buyer.get("/orders")
	if after := row(); after != before {
		t.Errorf("the session row changed:\n%s\n%s", before, after)
	}
	if r := buyer.get("/orders"); r.status != 200 {
		t.Errorf("still signed in? /orders: %d", r.status)
	}
}

// Search reads words as InnoDB's FULLTEXT parser does: combining marks and
// _ are inside words (a Hindi virama, Tamil vowel signs, Arabic vowel
// marks), the query is put in NFC (an accent typed decomposed), and a word
// longer than innodb_ft_max_token_size is dropped like a short one, not
// searched for in vain. On both engines' paths.
func TestCatalogSearchWordsAsInnoDBReadsThem(t *testing.T) {
	e := newEnv(t, 1, nil)
	_, sid := e.user(0, "seller@example.com")
	hindi := e.book(sid, "हिन्दी व्याकरण", store.BookInput{Author: "Kamta Prasad", Price: 100, Stock: 1})
	tamil := e.book(sid, "தமிழ் இலக்கணம்", store.BookInput{Author: "Tolkappiyar", Price: 100, Stock: 1})
	arabic := e.book(sid, "كِتَابُ الْعَرَبِيَّةِ", store.BookInput{Author: "Sibawayh", Price: 100, Stock: 1})
	resume := e.book(sid, "R\u00e9sum\u00e9 Writing", store.BookInput{Author: "Ann Author", Price: 100, Stock: 1})
	under := e.book(sid, "The foo_bar Handbook", store.BookInput{Author: "Snake Case", Price: 100, Stock: 1})
	c := e.client(0)
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"हिन्दी", []int64{hindi}},
		{"தமிழ்", []int64{tamil}},
		{"كِتَابُ", []int64{arabic}},
		{"re\u0301sume\u0301", []int64{resume}},
		{"foo_bar", []int64{under}},
		{"handbook " + strings.Repeat("x", 85), []int64{under}},
	} {
		r := c.get("/book/catalog?q=" + url.QueryEscape(tc.q))
		var ids []int64
		for _, m := range bookIDs.FindAllStringSubmatch(r.body, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
		if r.status != http.StatusOK || !slices.Equal(ids, tc.want) {
			t.Errorf("q=%+q: %d %v, want %v", tc.q, r.status, ids, tc.want)
		}
	}
}
