package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium-based browser, or skips.
func findChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	containertest.Missing(t, "chromium not installed: apt-get install chromium (Debian's package), or run .ci/run")
	return ""
}

// screenshotDir is where the browser test leaves its screenshots for a person:
// $BOOKSTORE_SCREENSHOTS_DIR, or a new folder under the system's temp dir.
func screenshotDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BOOKSTORE_SCREENSHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "bookstore-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requestLog records every URL the browser requests and every load that fails.
type requestLog struct {
	mu     sync.Mutex
	urls   []string
	byID   map[network.RequestID]string
	failed []string
}

func (l *requestLog) watch(ctx context.Context) {
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	fails := chromedp.Events(ctx, network.LoadingFailed)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			l.mu.Lock()
			l.urls = append(l.urls, ev.Request.URL)
			if l.byID == nil {
				l.byID = map[network.RequestID]string{}
			}
			l.byID[ev.RequestID] = ev.Request.URL
			l.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range fails {
			if err != nil {
				return
			}
			if ev.Canceled {
				continue // a navigation away from a page cancels its pending loads
			}
			l.mu.Lock()
			l.failed = append(l.failed, strings.TrimSpace(fmt.Sprintf("%s %s %s", l.byID[ev.RequestID], ev.ErrorText, ev.BlockedReason)))
			l.mu.Unlock()
		}
	}()
}

func (l *requestLog) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return distinct(l.failed)
}

func distinct(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// offHost returns the requested URLs that are neither on host nor inline (data:, blob:).
func (l *requestLog) offHost(host string) (off []string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, raw := range l.urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "data" && u.Scheme != "blob" && u.Host != host) {
			off = append(off, raw)
		}
	}
	return distinct(off), len(l.urls)
}

// tab is one browser profile (its own cookies) driving the store. With a
// looker, every page it opens or lands on is screenshotted and checked.
type tab struct {
	t      *testing.T
	ctx    context.Context
	base   string
	looker *looker
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) eval(js string, opts ...chromedp.EvaluateOption) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

func (b *tab) open(path string) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status != 200 {
		b.t.Fatalf("open %s: status %d", path, resp.Status)
	}
	if b.looker != nil {
		b.looker.look(b, pageName(path))
	}
}

// fill types into the named fields of the page, as a person would.
func (b *tab) fill(fields ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		b.do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(`[name=%q]`, fields[i])), fields[i+1]))
	}
}

// submitVia submits the form around the element that js selects (js may also set
// values first), waits for the page that the browser lands on after redirects and
// returns its path. The browser sends its own Origin and Sec-Fetch-Site, so this
// also goes through the service's cross-origin protection.
func (b *tab) submitVia(what, js string) string {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](`(() => { const f = (`+js+`); if (!f) throw new Error("no form"); f.requestSubmit(); })()`))
	if err != nil {
		b.t.Fatalf("%s: submit: %v", what, err)
	}
	if resp.Status != 200 {
		b.t.Fatalf("%s: landed on %s with status %d", what, resp.URL, resp.Status)
	}
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	if b.looker != nil {
		b.looker.look(b, pageName(u.Path))
	}
	return u.Path
}

func (b *tab) submitField(what, field string) string {
	b.t.Helper()
	return b.submitVia(what, fmt.Sprintf(`document.querySelector('[name=%q]').form`, field))
}

func (b *tab) wantPath(what, got string, want *regexp.Regexp) []string {
	b.t.Helper()
	m := want.FindStringSubmatch(got)
	if m == nil {
		b.t.Fatalf("%s: landed on %s, want %s\n%s", what, got, want, snippet(b.eval(`document.body.innerText`)))
	}
	return m
}

// pickJS selects, in the form field name (a <select> or radio buttons), the choice
// whose label contains label, and evaluates to the field's form.
func pickJS(name, label string) string {
	return fmt.Sprintf(`(() => {
	for (const el of document.querySelectorAll('[name=%[1]q]')) {
		if (el.tagName === 'SELECT') {
			for (const o of el.options) if (o.textContent.includes(%[2]q)) { el.value = o.value; return el.form; }
		} else if (el.type === 'radio') {
			const text = [...(el.labels || [])].map(l => l.textContent).join(' ') + ' ' + (el.parentElement ? el.parentElement.textContent : '');
			if (text.includes(%[2]q)) { el.checked = true; return el.form; }
		}
	}
	throw new Error('field %[1]s offers no %[2]s');
})()`, name, label)
}

func (b *tab) register(name, email, password string) {
	b.t.Helper()
	b.open("/register")
	b.fill("name", name, "email", email, "password", password)
	b.wantPath("register", b.submitField("register", "email"), regexp.MustCompile(`^/login$`))
	b.fill("email", email, "password", password)
	b.wantPath("log in", b.submitField("log in", "email"), regexp.MustCompile(`^/book/catalog$`))
}

func (b *tab) screenshot(dir, name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil || cfg.Width == 0 || cfg.Height == 0 {
		b.t.Fatalf("screenshot %s: not a PNG with pixels (%v)", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%dx%d)", path, cfg.Width, cfg.Height)
}

// styleProbe reads computed styles that a stylesheet would change from the
// browser's defaults, and how many CSS rules the page's stylesheets loaded.
const styleProbe = `JSON.stringify((() => {
	const props = ['font-family', 'margin-top', 'margin-left', 'color', 'background-color', 'padding-top', 'max-width', 'font-size', 'text-decoration-line', 'border-top-width'];
	const out = {};
	for (const sel of ['body', 'h1', 'a', 'button', 'input']) {
		const el = document.querySelector(sel);
		if (!el) continue;
		const cs = getComputedStyle(el);
		for (const p of props) out[sel + ' ' + p] = cs.getPropertyValue(p);
	}
	let rules = 0;
	for (const s of document.styleSheets) { try { rules += s.cssRules.length; } catch (e) {} }
	out.rules = String(rules);
	return out;
})())`

const unstyledPage = `data:text/html,<!doctype html><html><body><h1>x</h1><a href="#">a</a><button>b</button><input></body></html>`

// TestBrowserFlow walks the store in headless chromium against the container: a
// seller adds a book with a cover, a buyer buys 2, picks DHL, pays the items and
// the fee, and the order page shows it. It checks that the pages are styled from
// the service alone (the browser requests nothing off the store's host), and
// looks at every page it visits: a screenshot at 1280 px and at 390 px each, in
// one folder it logs (CI uploads it), and the layout checks of looker.look.
func TestBrowserFlow(t *testing.T) {
	browserCtx := startChromium(t)
	c := sharedStore(t)
	shots := screenshotDir(t)
	t.Logf("screenshots go to %s", shots)
	host := strings.TrimPrefix(c.URL, "http://")
	deadline, cancel := context.WithTimeout(browserCtx, 4*time.Minute)
	defer cancel()
	looks := newLooker(shots)

	newTab := func() *tab {
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatal(err)
		}
		ctx, cancelDeadline := context.WithDeadline(ctx, mustDeadline(deadline))
		t.Cleanup(cancelDeadline)
		return &tab{t: t, ctx: ctx, base: c.URL, looker: looks}
	}
	var log requestLog

	id := containertest.RandomHex(4)
	const password = "browser correct horse battery"
	title := "Browser Book " + id
	coverPath := filepath.Join(t.TempDir(), "cover.png")
	if err := os.WriteFile(coverPath, containertest.CoverPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}

	seller := newTab()
	log.watch(seller.ctx)
	seller.open("/")
	seller.register("Sally Seller", "bseller-"+id+"@bookstore.test", password)
	seller.open("/book/add_book")
	seller.fill("title", title, "author", "Chromium Author", "description", "Added in headless chromium.", "price", "12.50")
	seller.do(chromedp.SetValue(chromedp.CSS(`[name="stock"]`), "5"))
	seller.do(chromedp.SetUploadFiles(chromedp.CSS(`input[name="cover"]`), []string{coverPath}))
	seller.submitField("add a book", "title")
	seller.open("/book/my_books")
	m := regexp.MustCompile(`/book/edit_book/(\d+)`).FindStringSubmatch(seller.eval(`document.documentElement.outerHTML`))
	if m == nil {
		t.Fatalf("/book/my_books has no edit link after adding %q", title)
	}
	bookID := m[1]

	buyer := newTab()
	log.watch(buyer.ctx)

	// The browser's own defaults, for the styled check below.
	buyer.do(chromedp.Navigate(unstyledPage))
	plain := buyer.eval(styleProbe)

	stockShelf(t, c.URL, id)
	buyer.register("Bob Buyer", "bbuyer-"+id+"@bookstore.test", password)
	buyer.open("/book/catalog")
	if !strings.Contains(buyer.eval(`document.body.innerText`), title) {
		t.Fatalf("the catalog does not show %q", title)
	}
	checkStyled(t, plain, buyer.eval(styleProbe))
	buyer.docs("catalog.png") // the shelf's covers and placeholders, before the 30 books below fill page 1
	browseCatalog(t, buyer, id)

	// The newest books now fill the catalog's first page: buy on the book's own page.
	buyer.open("/book/" + bookID)
	buyCheckout(t, buyer, bookID, title)

	// The home page's cards lead to the books' own pages.
	buyer.open("/")
	if resp, err := chromedp.RunResponse(buyer.ctx, chromedp.Click(chromedp.CSS(`.cards a`))); err != nil {
		t.Fatalf("follow a card on the home page: %v", err)
	} else if resp.Status != 200 {
		t.Fatalf("follow a card on the home page: %s answered %d", resp.URL, resp.Status)
	}
	if path := buyer.eval(`location.pathname`); !regexp.MustCompile(`^/book/\d+$`).MatchString(path) {
		t.Errorf("a home page card leads to %s, want /book/{id}", path)
	}

	off, total := log.offHost(host)
	if len(off) > 0 {
		t.Errorf("the browser requested URLs off the store's host %s: %q", host, off)
	}
	if total == 0 {
		t.Error("the request log is empty: the network events were not seen")
	}
	if failed := log.failures(); len(failed) > 0 {
		t.Errorf("loads failed in the browser: %q", failed)
	}
}

// browseCatalog puts 30 books on sale (over HTTP, not the browser: speed),
// then in b searches for them, pages through them sorted by price with the
// Next link, and opens one book's page from the catalog; b's looker looks
// at each page.
func browseCatalog(t *testing.T, b *tab, id string) {
	t.Helper()
	seller := newUser(t, b.base)
	register(t, seller, "Paula Pages", "bpages-"+id+"@bookstore.test", "browser correct horse battery")
	for i := range 30 {
		r := seller.submit("/book/add_book", "/book/add_book", url.Values{
			"title": {fmt.Sprintf("Pageturner %s number %02d", id, i)}, "author": {"Paula Pages"},
			"description": {"One of thirty books to page through."}, "price": {fmt.Sprintf("%d.00", 10+i)}, "stock": {"3"},
		}, nil)
		if r.Status != 303 {
			t.Fatalf("add book %d: %d %s", i, r.Status, snippet(r.Body))
		}
	}

	// Search with the box, as a person would.
	b.open("/book/catalog")
	b.fill("q", "pageturner "+id)
	b.wantPath("search", b.submitField("search", "q"), regexp.MustCompile(`^/book/catalog$`))
	text := b.eval(`document.body.innerText`)
	if n := strings.Count(text, "Pageturner "+id); n != 24 || !strings.Contains(text, "Next") {
		t.Fatalf("search: %d matches on the first page, want 24 and a Next link\n%s", n, snippet(text))
	}
	if q := b.eval(`document.querySelector('[name="q"]').value`); q != "pageturner "+id {
		t.Errorf("the search box lost the query: %q", q)
	}

	// Sort by price, then page on.
	b.wantPath("sort", b.submitVia("sort", pickJS("sort", "Price, low to high")), regexp.MustCompile(`^/book/catalog$`))
	first := b.eval(`document.querySelector('.books h2').textContent`)
	if first != fmt.Sprintf("Pageturner %s number 00", id) {
		t.Errorf("sorted by price, the first book is %q", first)
	}
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`a[rel="next"]`))); err != nil {
		t.Fatalf("follow Next: %v", err)
	}
	b.looker.look(b, "book-catalog-next")
	text = b.eval(`document.body.innerText`)
	for _, want := range []string{"number 24", "number 29", "Previous"} {
		if !strings.Contains(text, want) {
			t.Errorf("page 2 of the search: no %q\n%s", want, snippet(text))
		}
	}
	if strings.Contains(text, "number 23") {
		t.Errorf("page 2 repeats a book of page 1\n%s", snippet(text))
	}

	// Open a book's own page from the list.
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(`.books h2 a`))); err != nil {
		t.Fatalf("open a book: %v", err)
	}
	b.looker.look(b, "book")
	text = b.eval(`document.body.innerText`)
	canonical := b.eval(`document.querySelector('link[rel="canonical"]').getAttribute('href')`)
	if !strings.Contains(text, "number 24") || !strings.Contains(text, "Paula Pages") || !strings.Contains(text, "3 in stock") ||
		!regexp.MustCompile(`^/book/\d+$`).MatchString(canonical) {
		t.Errorf("book page (canonical %q):\n%s", canonical, snippet(text))
	}
}

// mustDeadline returns ctx's deadline; ctx has one.
func mustDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// checkStyled requires the store's stylesheet rules to be loaded and the page's
// computed styles to differ from an unstyled page's in the same browser.
func checkStyled(t *testing.T, plainJSON, styledJSON string) {
	t.Helper()
	plain, styled := decodeProbe(t, plainJSON), decodeProbe(t, styledJSON)
	if styled["rules"] == "0" || styled["rules"] == "" {
		t.Errorf("the catalog has no CSS rules loaded: it is unstyled")
	}
	var changed []string
	for k, v := range styled {
		if k != "rules" && plain[k] != "" && plain[k] != v {
			changed = append(changed, fmt.Sprintf("%s: %s → %s", k, plain[k], v))
		}
	}
	if len(changed) < 3 {
		t.Errorf("the catalog's computed styles are (nearly) the browser defaults; changed: %q", changed)
	}
	t.Logf("styled: %s CSS rules loaded, %d computed styles differ from the defaults, e.g. %q",
		styled["rules"], len(changed), changed[:min(3, len(changed))])
}

func decodeProbe(t *testing.T, s string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("style probe: %v: %s", err, s)
	}
	return m
}
