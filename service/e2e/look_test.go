package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// The widths every page is looked at: a desktop and a phone (an iPhone
// 12-15's 390 CSS px).
const (
	desktopWidth, desktopHeight = 1280, 900
	phoneWidth, phoneHeight     = 390, 844
)

// docsImagesEnv, set to 1, makes the browser test also write the
// screenshots the docs show (the catalog and the payment summary, at
// 1280 px) into docs/img/:
//
//	BOOKSTORE_UPDATE_DOCS_IMG=1 go test -run TestBrowserFlow ./service/e2e
const docsImagesEnv = "BOOKSTORE_UPDATE_DOCS_IMG"

// looker takes and checks the pictures of the pages a tab visits: each at
// both widths, numbered in the order visited, in one folder.
type looker struct {
	dir string
	n   int
}

func newLooker(dir string) *looker { return &looker{dir: dir} }

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// pageName names a page by its path without ids: /payment/12 -> payment,
// / -> home, /book/catalog -> book-catalog.
func pageName(path string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(regexp.MustCompile(`/\d+`).ReplaceAllString(path, "")), "-"), "-")
	if n == "" {
		return "home"
	}
	return n
}

// look screenshots b's page at both widths as NN-name.png and
// NN-name-phone.png, after the layout checks at each width (failures are
// test errors naming the page and width). The page is left at desktop
// width.
func (l *looker) look(b *tab, name string) {
	b.t.Helper()
	l.n++
	file := fmt.Sprintf("%02d-%s", l.n, name)
	b.waitImages()
	for _, w := range []struct {
		suffix        string
		width, height int64
		mobile        bool
	}{{"", desktopWidth, desktopHeight, false}, {"-phone", phoneWidth, phoneHeight, true}} {
		if w.mobile {
			b.do(chromedp.EmulateViewport(w.width, w.height, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		} else {
			b.do(chromedp.EmulateViewport(w.width, w.height))
		}
		for _, p := range b.layoutProblems(w.width) {
			b.t.Errorf("%s at %d px: %s", name, w.width, p)
		}
		b.screenshot(l.dir, file+w.suffix+".png")
	}
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
}

// docs writes b's page at desktop width to docs/img/file when
// docsImagesEnv is 1, for the docs to show.
func (b *tab) docs(file string) {
	b.t.Helper()
	if os.Getenv(docsImagesEnv) != "1" {
		return
	}
	// The tests run in service/e2e; docs/ is at the repository's root.
	dir := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	b.waitImages()
	b.screenshot(dir, file)
}

// stockShelf puts three more books on sale over HTTP (not the browser:
// speed), so the catalog and the home page show a row of cards: one with a
// cover and two without (the placeholder), one of them with a title long
// enough to wrap and a word too long for a phone's card.
func stockShelf(t *testing.T, base, id string) {
	t.Helper()
	seller := newUser(t, base)
	register(t, seller, "Shelf Seller", "bshelf-"+id+"@bookstore.test", "browser correct horse battery")
	for _, b := range []struct {
		title string
		cover bool
	}{
		{"The Extraordinarily Long and Winding Title of a Book That Goes On " + id, false},
		{"Brief " + id, false},
		{"Pneumonoultramicroscopicsilicovolcanoconiosis " + id, true},
	} {
		var up *containertest.Upload
		if b.cover {
			up = &containertest.Upload{Field: "cover", Name: "cover.png", Type: "image/png", Data: containertest.CoverPNG(t)}
		}
		r := seller.submit("/book/add_book", "/book/add_book", url.Values{
			"title": {b.title}, "author": {"Shelf Seller"}, "description": {"On the shelf for the screenshots."},
			"price": {"9.90"}, "stock": {"4"},
		}, up)
		if r.Status != 303 {
			t.Fatalf("add %q: %d %s", b.title, r.Status, snippet(r.Body))
		}
	}
}

// buyCheckout buys 2 of bookID (12.50 each) in b from the book's page it
// is on (/book/{id}), as a shopper would: choose DHL on the delivery page
// (clicking the labels first), see the summary with the fee on the payment
// page, pay by credit card, and find the order with the fee included.
func buyCheckout(t *testing.T, b *tab, bookID, title string) {
	t.Helper()
	got := b.submitVia("buy 2", fmt.Sprintf(`(() => {
		const f = document.querySelector('form[action$="/buy/%s"]');
		f.querySelector('[name="quantity"]').value = '2';
		return f;
	})()`, bookID))
	purchaseID := b.wantPath("buy", got, regexp.MustCompile(`^/delivery/(\d+)$`))[1]
	for _, width := range []int64{desktopWidth, phoneWidth} {
		b.do(chromedp.EmulateViewport(width, phoneHeight))
		b.checkLabelsClickable(fmt.Sprintf("delivery at %d px", width))
	}
	b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	b.wantPath("delivery", b.submitVia("delivery", pickJS("provider", "DHL")), regexp.MustCompile(`^/payment/`+purchaseID+`$`))

	summary := b.eval(`document.querySelector('.summary').innerText`)
	for _, want := range []string{"2 × " + title, "25.00\u00a0EUR", "DHL", "50.00\u00a0EUR", "Amount due", "75.00\u00a0EUR"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the payment summary lacks %q:\n%s", want, summary)
		}
	}
	if button := b.eval(`document.querySelector('form[action^="/payment/"] button').innerText`); button != "Pay 75.00\u00a0EUR" {
		t.Errorf("the payment button says %q, want \"Pay 75.00 EUR\"", button)
	}
	b.docs("payment.png") // before the clicks below change the method
	b.checkLabelsClickable("payment")
	landed := b.submitVia("pay", pickJS("method", "Credit Card"))
	b.wantPath("pay", landed, regexp.MustCompile(`^/orders$`))
	orders := b.eval(`document.body.innerText`)
	for _, want := range []string{title, "25.00\u00a0EUR", "DHL 50.00\u00a0EUR", "75.00\u00a0EUR by Credit Card", "Paid 75.00\u00a0EUR by Credit Card"} {
		if !strings.Contains(orders, want) {
			t.Errorf("/orders in the browser: want %q\n%s", want, snippet(orders))
		}
	}
}

// waitImages waits for the page's images to load or fail, so screenshots
// show the covers.
func (b *tab) waitImages() {
	b.t.Helper()
	b.eval(`(async () => { await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; }))); return ''; })()`, chromedp.EvalAwaitPromise)
}

// layoutJS finds, in the page as laid out now, what a person would see as
// broken (from bounding boxes: getBoundingClientRect and a Range's
// getClientRects):
//   - a radio button not on the first line of its label's text, or after it;
//   - text or an element sticking out of its card (catalog and home cards,
//     the book page, choices, the checkout summary, table cells, messages);
//   - cards in one row of a grid with different heights;
//   - a page wider than the window (a horizontal scroll bar).
const layoutJS = `JSON.stringify((() => {
	const out = [];
	const px = v => Math.round(v);
	const desc = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
		(typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
	const textOf = el => (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
	const visible = b => b.width > 0 && b.height > 0;
	const texts = root => {
		const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, { acceptNode: n => n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT });
		const all = [];
		for (let n = w.nextNode(); n; n = w.nextNode()) all.push(n);
		return all;
	};
	const rects = node => { const r = document.createRange(); r.selectNodeContents(node); return [...r.getClientRects()].filter(visible); };

	for (const input of document.querySelectorAll('input[type=radio]')) {
		const label = (input.labels && input.labels[0]) || input.closest('label');
		const what = 'radio ' + input.name + '=' + input.value;
		if (!label) { out.push(what + ' has no label'); continue; }
		const first = texts(label)[0];
		if (!first) { out.push(what + ': its label has no text'); continue; }
		const line = rects(first)[0], box = input.getBoundingClientRect();
		if (!line || !visible(box)) { out.push(what + ' or its label is not shown'); continue; }
		const mid = (box.top + box.bottom) / 2;
		if (mid < line.top || mid > line.bottom) {
			out.push(what + ' (y ' + px(box.top) + '-' + px(box.bottom) + ') is not on the line of its label "' + textOf(label) + '" (y ' + px(line.top) + '-' + px(line.bottom) + ')');
		} else if (box.left >= line.left) {
			out.push(what + ' is after its label text "' + textOf(label) + '"');
		}
	}

	// Inside means inside the content box: text over a card's padding
	// touches its border, a form over main's padding touches the screen.
	const cards = 'main, .book, .book-page, .card, .option, .summary, .flash, .error, td, th, .hero, fieldset';
	for (const card of document.querySelectorAll(cards)) {
		const r = card.getBoundingClientRect(), cs = getComputedStyle(card), n = p => parseFloat(cs[p]) || 0;
		if (!visible(r)) continue;
		const c = {
			left: r.left + n('borderLeftWidth') + n('paddingLeft'),
			right: r.right - n('borderRightWidth') - n('paddingRight'),
			bottom: r.bottom - n('borderBottomWidth') - n('paddingBottom'),
		};
		const out1 = b => b.right > c.right + 1 || b.left < c.left - 1 || b.bottom > c.bottom + 1;
		let bad = null;
		for (const el of card.querySelectorAll('*')) {
			const b = el.getBoundingClientRect();
			if (visible(b) && out1(b) && getComputedStyle(el).position !== 'absolute') { bad = desc(el) + ' "' + textOf(el) + '"'; break; }
		}
		if (!bad) for (const n of texts(card)) {
			if (rects(n).some(out1)) { bad = 'text "' + n.textContent.trim().slice(0, 40) + '"'; break; }
		}
		if (!bad && card.scrollWidth > card.clientWidth + 1 && getComputedStyle(card).overflowX !== 'visible') bad = 'its content (scrolls)';
		if (bad) out.push(bad + ' overflows ' + desc(card) + ' "' + textOf(card) + '"');
	}

	for (const grid of document.querySelectorAll('.books, .cards')) {
		const rows = new Map();
		for (const item of grid.children) {
			const b = item.getBoundingClientRect();
			const top = px(b.top);
			if (!rows.has(top)) rows.set(top, []);
			rows.get(top).push(px(b.height));
		}
		for (const [top, hs] of rows) {
			if (Math.max(...hs) - Math.min(...hs) > 1) out.push('cards in the row at y ' + top + ' of ' + desc(grid) + ' differ in height: ' + hs.join(', ') + ' px');
		}
	}

	const doc = document.documentElement;
	// The window's width comes from the test: a phone's browser widens its
	// layout viewport to fit a too-wide page, so innerWidth would agree.
	if (doc.scrollWidth > WIDTH) out.push('the page is ' + doc.scrollWidth + ' px wide in a ' + WIDTH + ' px window: it scrolls sideways');
	return out;
})())`

// layoutProblems runs layoutJS in b's page, shown in a window width CSS
// px wide.
func (b *tab) layoutProblems(width int64) []string {
	b.t.Helper()
	var out []string
	js := strings.Replace(layoutJS, "JSON.stringify((() => {", fmt.Sprintf("JSON.stringify((() => {\n\tconst WIDTH = %d;", width), 1)
	if err := json.Unmarshal([]byte(b.eval(js)), &out); err != nil {
		b.t.Fatalf("layout check: %v", err)
	}
	return out
}

// checkLabelsClickable clicks each radio's label at its right end (the
// price, far from the button) and requires the radio to be checked then:
// the whole label is the target, not just the small circle.
func (b *tab) checkLabelsClickable(name string) {
	b.t.Helper()
	var targets []struct {
		Value string
		X, Y  float64
	}
	js := `JSON.stringify([...document.querySelectorAll('input[type=radio]')].map(i => {
		const l = (i.labels && i.labels[0]) || i.closest('label');
		const r = (l || i).getBoundingClientRect();
		return { Value: i.name + '=' + i.value, X: r.right - 6, Y: (r.top + r.bottom) / 2 };
	}))`
	if err := json.Unmarshal([]byte(b.eval(js)), &targets); err != nil {
		b.t.Fatal(err)
	}
	if len(targets) == 0 {
		b.t.Errorf("%s: no radio buttons to click", name)
	}
	for i, tg := range targets {
		b.do(chromedp.MouseClickXY(tg.X, tg.Y))
		if got := b.eval(fmt.Sprintf(`String(document.querySelectorAll('input[type=radio]')[%d].checked)`, i)); got != "true" {
			b.t.Errorf("%s: clicking the right end of the label of %s (%.0f, %.0f) did not check it", name, tg.Value, tg.X, tg.Y)
		}
	}
}

// startChromium starts a headless Debian chromium for one test and returns
// its browser context; it skips (or fails under BOOKSTORE_TEST_STRICT) when
// there is none.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	chromium := findChromium(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoSandbox, // as root, in CI
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser, with no deadline
		containertest.Missing(t, fmt.Sprintf("chromium at %s does not start: %v", chromium, err))
	}
	return browserCtx
}

// brokenPage has each fault the layout checks look for, as the store's
// pages had them before: a radio on its own line above its label, a long
// word out of its card, cards of one row with different heights, a block
// wider than a phone, a form field over main's padding (to the screen's
// edge).
const brokenPage = `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><style>
	body{margin:0;font:16px sans-serif}
	label input{display:block}
	.books{display:grid;grid-template-columns:repeat(2,150px);align-items:start;list-style:none;padding:0}
	.book{border:1px solid #ccc;width:150px}
	.wide{width:600px;height:10px;background:#eee}
</style></head><body>
<form><fieldset><legend>Delivery</legend><label><input type="radio" name="provider" value="1"> DHL International 50.00</label></fieldset></form>
<ul class="books"><li class="book">Short</li><li class="book">Supercalifragilisticexpialidocious-and-then-some<br>two<br>lines</li></ul>
<div class="wide"></div>
<main style="padding:16px"><form style="display:grid"><input name="title" style="width:370px"></form></main>
</body></html>`

// The layout checks can fail: on a page with each fault they report each
// one, at phone width.
func TestLayoutChecksFindBrokenLayouts(t *testing.T) {
	browserCtx := startChromium(t)
	ctx, cancel := chromedp.NewContext(browserCtx)
	defer cancel()
	b := &tab{t: t, ctx: ctx}
	b.do(chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile))
	b.do(chromedp.Navigate("data:text/html;charset=utf-8," + strings.ReplaceAll(brokenPage, "#", "%23")))
	got := strings.Join(b.layoutProblems(phoneWidth), "\n")
	for _, want := range []string{
		"radio provider=1 (y",
		`overflows li.book "Supercalifragilistic`,
		"differ in height",
		"scrolls sideways",
		`input "" overflows main`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the checks missed %q; they found:\n%s", want, got)
		}
	}
}
