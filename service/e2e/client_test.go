package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
	"golang.org/x/net/html"
)

// user is one browser's worth of HTTP: its own cookie jar, no automatic redirects
// (the tests assert each redirect of the contract).
type user struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newUser(t testing.TB, base string) *user {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &user{t: t, base: base, c: &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body read.
type page struct {
	Status   int
	Location string // the path of a redirect, "" otherwise
	Header   http.Header
	Body     string
}

func (u *user) do(req *http.Request) page {
	u.t.Helper()
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	p := page{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		l, err := req.URL.Parse(loc)
		if err != nil {
			u.t.Fatalf("%s %s: bad Location %q", req.Method, req.URL.Path, loc)
		}
		p.Location = l.Path
	}
	return p
}

// get fetches path and requires 200.
func (u *user) get(path string) page {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.base+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	p := u.do(req)
	if p.Status != http.StatusOK {
		u.t.Fatalf("GET %s: status %d, want 200\n%s", path, p.Status, snippet(p.Body))
	}
	return p
}

// submit GETs formPage, takes the hidden fields of its form that posts to action
// (a CSRF token, if the service uses one), adds fields and POSTs them to action.
// With a file, the body is multipart/form-data, as a browser sends an upload.
func (u *user) submit(formPage, action string, fields url.Values, file *containertest.Upload) page {
	u.t.Helper()
	all := containertest.HiddenFields(u.get(formPage).Body, formPage, action)
	for k, v := range fields {
		all[k] = v
	}
	body, contentType, err := containertest.FormBody(all, file)
	if err != nil {
		u.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, u.base+action, body)
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return u.do(req)
}

// redirectTo requires p to be a redirect (302 or 303, as after a POST) to a path
// matching want, and returns the submatches.
func redirectTo(t testing.TB, what string, p page, want *regexp.Regexp) []string {
	t.Helper()
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("%s: status %d, want a redirect (303) to %s\n%s", what, p.Status, want, snippet(p.Body))
	}
	m := want.FindStringSubmatch(p.Location)
	if m == nil {
		t.Fatalf("%s: redirect to %q, want %s", what, p.Location, want)
	}
	return m
}

func snippet(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// elements returns the elements of doc named tag (e.g. "img", "input").
func elements(t testing.TB, doc, tag string) []*html.Node {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	var out []*html.Node
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	}
	return out
}

// options returns the choices a form offers for field name, as value → label:
// the options of a <select name=...>, or the radio inputs named so with their labels.
func options(t testing.TB, doc, name string) map[string]string {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	out := map[string]string{}
	labels := map[string]string{} // id → label text
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && n.Data == "label" && attr(n, "for") != "" {
			labels[attr(n, "for")] = text(n)
		}
	}
	for n := range root.Descendants() {
		if n.Type != html.ElementNode || attr(n, "name") != name {
			continue
		}
		switch {
		case n.Data == "select":
			for o := range n.Descendants() {
				if o.Type == html.ElementNode && o.Data == "option" {
					v := attr(o, "value")
					if v == "" && !hasAttr(o, "value") {
						v = strings.TrimSpace(text(o))
					}
					out[v] = text(o)
				}
			}
		case n.Data == "input" && strings.EqualFold(attr(n, "type"), "radio"):
			label := labels[attr(n, "id")]
			if n.Parent != nil && n.Parent.Data == "label" {
				label = text(n.Parent)
			}
			out[attr(n, "value")] = label
		}
	}
	return out
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// choose returns the value of the option whose label contains want.
func choose(t testing.TB, opts map[string]string, field, want string) string {
	t.Helper()
	for v, label := range opts {
		if strings.Contains(label, want) {
			return v
		}
	}
	t.Fatalf("field %q offers no %q: %v", field, want, opts)
	return ""
}
