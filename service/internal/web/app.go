// Package web is the bookstore's HTTP side: routes (routes.go holds the
// whole middleware chain), thin handlers, and embedded templates and CSS.
// Handlers parse and validate input, call the store, and render; the store
// owns every query.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/currency"

	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure an App. Zero values take the documented defaults.
type Options struct {
	Store    *store.Store
	Sessions scs.Store // usually store.SessionStore
	Logger   *slog.Logger
	// SharedDir is where covers are written (under covers/), shared by all
	// instances (EFS in production).
	SharedDir string
	// AdminEmails may list users (/admin/users); compared as store.NormalizeEmail gives them.
	AdminEmails []string
	// BcryptCost defaults to bcrypt.DefaultCost (10).
	BcryptCost int
	// LoginPerIP and LoginPerEmail cap POST /login attempts per LoginWindow
	// (defaults 20, 5, 1 minute), counted in this instance's memory.
	LoginPerIP, LoginPerEmail int
	LoginWindow               time.Duration
	// MaxCoverBytes caps a cover upload (default 2 MiB).
	MaxCoverBytes int64
	// Currency is the unit of every amount (config's CURRENCY); the zero
	// Unit means money.DefaultCurrency.
	Currency currency.Unit
	// DBBudget is the time one request may spend in the database, all its
	// queries, its commit and its session load and save together (default
	// Store.Timeout, else store.DefaultTimeout: 3 s). See dbBudget.
	DBBudget time.Duration
}

// App is one instance of the web application.
type App struct {
	opts      Options
	store     *store.Store
	log       *slog.Logger
	pages     map[string]*template.Template
	fragments *template.Template
	admins    map[string]bool
	// Two managers on one store: scs fixes Cookie.Secure per manager, and
	// the cookie must be Secure exactly when the request came over HTTPS
	// (X-Forwarded-Proto from the ALB); see sessions().
	plain, secure *scs.SessionManager
	metrics       *metrics
	catalog       *freshCache[*catalogSnapshot]
	books         *freshCache[store.Book]
	draining      atomic.Bool
	bufs          sync.Pool
}

// New builds an App; it fails if the templates don't parse or an option is
// unusable.
func New(o Options) (*App, error) {
	if o.Store == nil || o.Sessions == nil {
		return nil, errors.New("web: Store and Sessions are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SharedDir == "" {
		return nil, errors.New("web: SharedDir is required")
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
	if o.LoginPerIP == 0 {
		o.LoginPerIP = 20
	}
	if o.LoginPerEmail == 0 {
		o.LoginPerEmail = 5
	}
	if o.LoginWindow == 0 {
		o.LoginWindow = time.Minute
	}
	if o.MaxCoverBytes == 0 {
		o.MaxCoverBytes = 2 << 20
	}
	if o.Currency == (currency.Unit{}) {
		cur, err := money.ParseCurrency(money.DefaultCurrency)
		if err != nil {
			return nil, fmt.Errorf("web: default currency: %w", err)
		}
		o.Currency = cur
	}
	if o.DBBudget == 0 {
		o.DBBudget = o.Store.Timeout
	}
	if o.DBBudget <= 0 {
		o.DBBudget = store.DefaultTimeout
	}
	a := &App{opts: o, store: o.Store, log: o.Logger, admins: map[string]bool{}}
	for _, e := range o.AdminEmails {
		a.admins[store.NormalizeEmail(e)] = true
	}
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}
	a.plain = newSessionManager(o.Sessions, false, a.sessionError)
	a.secure = newSessionManager(o.Sessions, true, a.sessionError)
	a.metrics = newMetrics(o.Store.DB)
	a.catalog = newFreshCache[*catalogSnapshot](512)
	a.books = newFreshCache[store.Book](4096)
	a.bufs.New = func() any { return new(bytes.Buffer) }
	return a, nil
}

func newSessionManager(st scs.Store, secure bool, onErr func(http.ResponseWriter, *http.Request, error)) *scs.SessionManager {
	sm := scs.New()
	sm.Store = st
	sm.Lifetime = 24 * time.Hour
	// No scs IdleTimeout: with one, scs rewrites the session row on every
	// request (a database write and round trip per page); loadSession
	// enforces sessionIdleTimeout itself, writing at most once per
	// sessionSeenEvery.
	sm.Cookie.Name = "session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = secure
	sm.ErrorFunc = onErr
	return sm
}

func (a *App) parseTemplates() error {
	a.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.tmpl")
	if err != nil {
		return err
	}
	for _, n := range names {
		page := strings.TrimSuffix(filepath.Base(n), ".tmpl")
		if page == "base" {
			continue
		}
		t, err := template.New(page).Funcs(a.templateFuncs()).ParseFS(templateFS, "templates/base.tmpl", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", page, err)
		}
		a.pages[page] = t
	}
	a.fragments = a.pages["catalog"]
	return nil
}

// templateFuncs are the functions templates may call:
//
//	money: an amount (money.Cents) as every page shows it, "129.98 EUR"
//	currency: the currency's ISO 4217 code alone, for labels ("Price (EUR)")
//	initial: the first letter of a title, upper-cased, for a cover placeholder
//	sortName: how the catalog's sort menu names an order
func (a *App) templateFuncs() template.FuncMap {
	cur := a.opts.Currency
	return template.FuncMap{
		"money":    func(c money.Cents) string { return c.In(cur) },
		"currency": func() string { return cur.String() },
		"initial":  initial,
		"sortName": func(s store.CatalogSort) string {
			return map[store.CatalogSort]string{store.SortNewest: "Newest first", store.SortTitle: "Title",
				store.SortPriceAsc: "Price, low to high", store.SortPriceDesc: "Price, high to low"}[s]
		},
	}
}

// initial returns the first letter or digit of s, upper-cased, or "" if s
// has none.
func initial(s string) string {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return ""
}

// templateData is everything a page may show.
type templateData struct {
	User    *sessionUser
	IsAdmin bool
	Flash   string
	Error   string
	Form    *form
	Catalog template.HTML
	// CatalogView is the catalog's search, sort and page links.
	CatalogView *catalogView
	Books       []store.Book
	Book        store.Book
	Purchase    store.Purchase
	Methods     []string
	Providers   []store.Provider
	Orders      []store.Order
	Users       []store.User
	StatusText  string
	Message     string
	MaxCover    string
}

func (a *App) data(r *http.Request) *templateData {
	d := &templateData{Form: newForm(nil), MaxCover: a.maxCoverText()}
	if u := a.currentUser(r); u != nil {
		d.User, d.IsAdmin = u, a.admins[u.Email]
	}
	d.Flash = a.sessions(r).PopString(r.Context(), "flash")
	return d
}

// render writes page with status, or a 500 if it fails to execute (it is
// executed into a buffer first, so a half page is never sent).
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, page string, d *templateData) {
	t, ok := a.pages[page]
	if !ok {
		a.serverError(w, r, fmt.Errorf("web: no template %q", page))
		return
	}
	buf := a.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer a.bufs.Put(buf)
	if err := t.ExecuteTemplate(buf, "base", d); err != nil {
		a.serverError(w, r, fmt.Errorf("web: render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// A length lets net/http send the page in one write, not in chunks.
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// errorPage renders the error page with status and message.
func (a *App) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := &templateData{Form: newForm(nil), StatusText: http.StatusText(status), Message: msg}
	if u := a.currentUser(r); u != nil {
		d.User, d.IsAdmin = u, a.admins[u.Email]
	}
	a.render(w, r, status, "error", d)
}

func (a *App) notFound(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusNotFound, "There is nothing here.")
}

// serverError answers 503 when the database is unavailable (the client may
// retry; the load balancer may route elsewhere), 500 otherwise, and logs.
// When the database stopped answering during a change's commit
// (store.ErrOutcomeUnknown) the 503 says the change may have been saved and
// where to look before sending it again, and carries no Retry-After. A
// request whose client went away is answered 499 (nginx's "client closed
// request"), which nobody reads but the metrics count apart from 5xx.
func (a *App) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r) {
		a.log.DebugContext(r.Context(), "request abandoned", "err", err, "request_id", requestID(r.Context()))
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	if errors.Is(err, store.ErrOutcomeUnknown) {
		a.log.WarnContext(r.Context(), "database unavailable, change outcome unknown", "err", err, "request_id", requestID(r.Context()))
		a.errorPage(w, r, http.StatusServiceUnavailable, "The store lost its database while saving this, so it cannot tell whether it was saved. "+
			"Look at Your orders or My books, or try to log in after a registration, before you send it again.")
		return
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(context.Cause(r.Context()), errBudgetSpent) {
		a.log.WarnContext(r.Context(), "database unavailable", "err", err, "request_id", requestID(r.Context()))
		w.Header().Set("Retry-After", "5")
		a.errorPage(w, r, http.StatusServiceUnavailable, "The store cannot reach its database right now. Try again in a moment.")
		return
	}
	a.log.ErrorContext(r.Context(), "server error", "err", err, "request_id", requestID(r.Context()))
	w.Header().Set("Connection", "close")
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// sessionError answers a session that could not be loaded or saved (see
// loadAndSave) as a server error; a redirect the handler had set is dropped.
func (a *App) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Del("Location")
	a.serverError(w, r, err)
}

// redirect sends the browser to url with a 303 after a POST, with flash.
func (a *App) redirect(w http.ResponseWriter, r *http.Request, url, flash string) {
	if flash != "" {
		a.sessions(r).Put(r.Context(), "flash", flash)
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// StartDraining makes /readyz answer 503 from now on (SIGTERM), and every
// answer carry Connection: close, so that each keep-alive connection ends
// after a request answered (see closeWhenDraining).
func (a *App) StartDraining() { a.draining.Store(true) }
