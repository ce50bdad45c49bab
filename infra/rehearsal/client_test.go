package rehearsal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// shopper is one browser's worth of HTTP against the store: its own cookie
// jar, no automatic redirects. Errors are returned, not fatal, so a load
// generator can count them.
type shopper struct {
	base   string // "https://bookstore.rehearsal.test" or "http://127.0.0.1:port"
	c      *http.Client
	header http.Header // sent with every request
}

// newShopper returns a shopper for base. With roots, https connections trust
// only those CAs; dial, if not "", is the address every connection goes to
// (the balancer on 127.0.0.1), whatever base's host says.
func newShopper(base string, roots *x509.CertPool, dial string) *shopper {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	if dial != "" {
		d := &net.Dialer{Timeout: 5 * time.Second}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dial)
		}
	}
	return &shopper{base: base, c: &http.Client{
		Jar: jar, Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is a response with its body read.
type reply struct {
	Status   int
	Location string // the redirect's path, "" if none
	Header   http.Header
	Body     string
}

func (s *shopper) do(req *http.Request) (reply, error) {
	for k, v := range s.header {
		req.Header[k] = v
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	r := reply{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		if l, err := req.URL.Parse(loc); err == nil {
			r.Location = l.Path
		}
	}
	return r, nil
}

func (s *shopper) get(path string) (reply, error) {
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		return reply{}, err
	}
	return s.do(req)
}

// post sends fields (and file, as multipart/form-data, if not nil) to path.
func (s *shopper) post(path string, fields url.Values, file *containertest.Upload) (reply, error) {
	body, contentType, err := containertest.FormBody(fields, file)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequest(http.MethodPost, s.base+path, body)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", contentType)
	return s.do(req)
}

// submit GETs page, takes the hidden fields of its form posting to action,
// adds fields and posts them.
func (s *shopper) submit(page, action string, fields url.Values, file *containertest.Upload) (reply, error) {
	p, err := s.get(page)
	if err != nil {
		return reply{}, err
	}
	if p.Status != http.StatusOK {
		return p, fmt.Errorf("GET %s: %d", page, p.Status)
	}
	all := containertest.HiddenFields(p.Body, page, action)
	for k, v := range fields {
		all[k] = v
	}
	return s.post(action, all, file)
}

// expectRedirect requires r to be a 303 (or 302) to a path matching want and
// returns the submatches.
func expectRedirect(what string, r reply, err error, want *regexp.Regexp) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if r.Status != http.StatusSeeOther && r.Status != http.StatusFound {
		return nil, fmt.Errorf("%s: status %d, want a redirect to %s", what, r.Status, want)
	}
	m := want.FindStringSubmatch(r.Location)
	if m == nil {
		return nil, fmt.Errorf("%s: redirect to %q, want %s", what, r.Location, want)
	}
	return m, nil
}

// signUp registers and signs in.
func (s *shopper) signUp(name, email, password string) error {
	r, err := s.submit("/register", "/register", url.Values{"name": {name}, "email": {email}, "password": {password}}, nil)
	if _, err := expectRedirect("POST /register", r, err, regexp.MustCompile(`^/login$`)); err != nil {
		return err
	}
	r, err = s.submit("/login", "/login", url.Values{"email": {email}, "password": {password}}, nil)
	_, err = expectRedirect("POST /login", r, err, regexp.MustCompile(`^/book/catalog$`))
	return err
}

// addBook adds a book with a cover and returns its id (from my books).
func (s *shopper) addBook(title string, stock int, cover []byte) (string, error) {
	r, err := s.submit("/book/add_book", "/book/add_book", url.Values{
		"title": {title}, "author": {"R. Hearsal"}, "description": {"Added by the rehearsal."},
		"price": {"3.50"}, "stock": {fmt.Sprint(stock)},
	}, &containertest.Upload{Field: "cover", Name: "cover.png", Type: "image/png", Data: cover})
	if _, err := expectRedirect("POST /book/add_book", r, err, regexp.MustCompile(`^/`)); err != nil {
		return "", err
	}
	mine, err := s.get("/book/my_books")
	if err != nil {
		return "", err
	}
	for _, m := range regexp.MustCompile(`/book/edit_book/(\d+)`).FindAllStringSubmatch(mine.Body, -1) {
		return m[1], nil
	}
	return "", fmt.Errorf("/book/my_books lists no book after adding %q", title)
}

// coverURL returns the src of the first <img> of doc that shows a cover,
// or "".
func coverURL(doc string) string {
	if m := regexp.MustCompile(`<img[^>]+src="(/covers/[^"]+)"`).FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return ""
}
