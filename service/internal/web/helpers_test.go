package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
	"github.com/bookstore-aws/bookstore/service/internal/testdb"
	"github.com/bookstore-aws/bookstore/service/internal/web"
)

// env is one database shared by one or more app instances, each behind its
// own real HTTP server: what the load balancer sees.
type env struct {
	t       *testing.T
	db      testdb.DB
	sql     *sql.DB
	store   *store.Store
	shared  string
	apps    []*web.App
	servers []*httptest.Server
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, instances int, tweak func(*web.Options)) *env {
	t.Helper()
	d := testdb.New(t)
	e := &env{t: t, db: d, shared: t.TempDir(), logs: &syncBuffer{}}
	e.sql = d.Open(t)
	if err := store.Migrate(t.Context(), e.sql, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	e.store = store.New(e.sql)
	for range instances {
		e.addInstance(d.DSN, tweak)
	}
	return e
}

// addInstance starts another app on its own pool for dsn.
func (e *env) addInstance(dsn string, tweak func(*web.Options)) (*web.App, *httptest.Server) {
	t := e.t
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(16)
	st := store.New(db)
	st.Timeout = e.db.Timeout
	o := web.Options{
		Store:       st,
		Sessions:    store.NewSessionStore(db, e.db.Timeout, 0),
		Logger:      slog.New(slog.NewJSONHandler(e.logs, nil)),
		SharedDir:   e.shared,
		AdminEmails: []string{" Admin@Example.com"},
		BcryptCost:  bcrypt.MinCost,
		LoginPerIP:  100000, LoginPerEmail: 100000,
	}
	if tweak != nil {
		tweak(&o)
	}
	app, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Routes())
	t.Cleanup(srv.Close)
	e.apps = append(e.apps, app)
	e.servers = append(e.servers, srv)
	return app, srv
}

// client is a browser: a cookie jar, no automatic redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	hdr  http.Header
}

func (e *env) client(i int) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.servers[i].URL, hdr: http.Header{}, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type resp struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *client) do(req *http.Request) resp {
	c.t.Helper()
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header.Get("Location"), res.Header}
}

func (c *client) get(path string) resp {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, v url.Values) resp {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// follow GETs a redirect's target (one hop) and returns that page.
func (c *client) follow(r resp) resp {
	c.t.Helper()
	if r.status != http.StatusSeeOther {
		c.t.Fatalf("want a 303, got %d: %s", r.status, snippet(r.body))
	}
	return c.get(r.location)
}

func (c *client) multipart(path string, fields map[string]string, fileName string, file []byte) resp {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("cover", fileName)
		fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func snippet(s string) string {
	if i := strings.Index(s, "<main>"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 1500 {
		s = s[:1500]
	}
	return s
}

// register and log in through the forms.
func (c *client) signUp(name, email string) {
	c.t.Helper()
	r := c.post("/register", url.Values{"name": {name}, "email": {email}, "password": {"correct horse"}})
	if r.status != http.StatusSeeOther || r.location != "/login" {
		c.t.Fatalf("register %s: %d %s %s", email, r.status, r.location, snippet(r.body))
	}
	c.logIn(email)
}

func (c *client) logIn(email string) {
	c.t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {"correct horse"}})
	if r.status != http.StatusSeeOther || r.location != "/book/catalog" {
		c.t.Fatalf("login %s: %d %s", email, r.status, snippet(r.body))
	}
}

// user creates an account directly (fast) and logs a new client in with it.
func (e *env) user(i int, email string) (*client, int64) {
	e.t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	id, err := e.store.CreateUser(context.Background(), "User "+email, email, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.client(i)
	c.logIn(email)
	return c, id
}

func (e *env) book(seller int64, title string, price store.BookInput) int64 {
	e.t.Helper()
	price.Title = title
	if price.Author == "" {
		price.Author = "Author"
	}
	id, err := e.store.CreateBook(context.Background(), seller, price)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.sql.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) stock(id int64) int {
	return e.count("SELECT stock FROM books WHERE id = ?", id)
}

// purchaseURL is where a buy sends the buyer: to choose a delivery, which
// comes before paying.
var purchaseURL = regexp.MustCompile(`^/delivery/(\d+)$`)

// buy posts a buy and returns the purchase id from the redirect.
func (c *client) buy(book int64, qty int) int64 {
	c.t.Helper()
	r := c.post(fmt.Sprintf("/buy/%d", book), url.Values{"quantity": {strconv.Itoa(qty)}})
	m := purchaseURL.FindStringSubmatch(r.location)
	if r.status != http.StatusSeeOther || m == nil {
		c.t.Fatalf("buy: %d %s %s", r.status, r.location, snippet(r.body))
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// deliver chooses provider for purchase pid and checks it lands on the
// payment page.
func (c *client) deliver(pid int64, provider int) {
	c.t.Helper()
	r := c.post(fmt.Sprintf("/delivery/%d", pid), url.Values{"provider": {strconv.Itoa(provider)}})
	if r.status != http.StatusSeeOther || r.location != fmt.Sprintf("/payment/%d", pid) {
		c.t.Fatalf("delivery %d for %d: %d %s %s", provider, pid, r.status, r.location, snippet(r.body))
	}
}

// A 1x1 PNG.
var png1x1 = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func bookIn(price money.Cents, stock int) store.BookInput {
	return store.BookInput{Price: price, Stock: stock}
}
