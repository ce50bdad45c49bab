package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// Request body caps: forms are small; book forms carry a cover.
const maxFormBytes = 64 << 10

// Routes returns the whole application: every route and, in order, every
// middleware a request passes through.
func (a *App) Routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(a.notFound)
	r.MethodNotAllowed(a.methodNotAllowed(r))
	// Outermost first: answer HEAD wherever GET is answered (uptime
	// checkers use HEAD; net/http drops the body), name the request, log
	// and measure it, survive a panic, set security headers, bound its time
	// in the database. Once draining, every answer closes its connection.
	r.Use(a.closeWhenDraining, middleware.GetHead, withRequestID, a.observe, a.recoverPanic, secureHeaders, a.dbBudget)

	// Operations: no session, no CSRF check (GET only).
	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{}))
	r.Get("/static/*", a.static)
	r.Get("/covers/{name}", a.cover)

	// Pages: cross-origin POSTs are refused (fault 6), then the session
	// is loaded from MySQL.
	r.Group(func(r chi.Router) {
		r.Use(a.csrf().Handler, limitBody(maxFormBytes), a.loadSession)

		r.Get("/", a.home)
		r.Get("/register", a.registerForm)
		r.Post("/register", a.register)
		r.Get("/login", a.loginForm)
		r.With(a.loginLimits()...).Post("/login", a.login)
		r.Get("/logout", a.logoutForm)
		r.Post("/logout", a.logout)
		r.Get("/book/catalog", a.catalogPage)
		// Static routes under /book/ (catalog, my_books, add_book) win
		// over this pattern in chi; a non-numeric id is a 404.
		r.Get("/book/{id}", a.bookPage)

		r.Group(func(r chi.Router) {
			r.Use(a.requireLogin)
			r.Get("/book/my_books", a.myBooks)
			r.Get("/book/add_book", a.addBookForm)
			r.Get("/book/edit_book/{id}", a.editBookForm)
			r.Post("/book/delete_book/{id}", a.deleteBook)
			r.Post("/buy/{book_id}", a.buy)
			r.Get("/payment/{purchase_id}", a.paymentForm)
			r.Post("/payment/{purchase_id}", a.pay)
			r.Get("/delivery/{purchase_id}", a.deliveryForm)
			r.Post("/delivery/{purchase_id}", a.chooseDelivery)
			r.Get("/orders", a.orders)
			r.With(a.requireAdmin).Get("/admin/users", a.adminUsers)
		})
	})

	// Book forms take a cover upload, so their body cap is larger (see
	// maxBookFormBytes); the same chain otherwise.
	r.Group(func(r chi.Router) {
		r.Use(a.csrf().Handler, limitBody(maxBookFormBytes), a.loadSession, a.requireLogin)
		r.Post("/book/add_book", a.addBook)
		r.Post("/book/edit_book/{id}", a.editBook)
	})
	return r
}

// csrf refuses cross-origin unsafe requests using the browser's
// Sec-Fetch-Site and Origin headers (net/http's CrossOriginProtection).
func (a *App) csrf() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
	}))
	return c
}

// methodNotAllowed answers a method routes has no handler for on a path it
// knows: 405 with the Allow header RFC 9110 (section 15.5.6) requires,
// listing the methods that path answers (HEAD wherever GET). On a path
// that answers no method at all it is a 404, as for any other method.
func (a *App) methodNotAllowed(routes chi.Routes) http.HandlerFunc {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions}
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := m
			if m == http.MethodHead {
				probe = http.MethodGet // middleware.GetHead
			}
			if routes.Match(chi.NewRouteContext(), probe, r.URL.Path) {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			a.notFound(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		a.errorPage(w, r, http.StatusMethodNotAllowed, "That method is not allowed here.")
	}
}

// loginLimits throttle POST /login per client IP and per email, in this
// instance's memory (each instance counts alone).
func (a *App) loginLimits() []func(http.Handler) http.Handler {
	o := a.opts
	onLimit := httprate.WithLimitHandler(a.loginThrottled)
	return []func(http.Handler) http.Handler{
		httprate.LimitBy(o.LoginPerIP, o.LoginWindow, func(r *http.Request) (string, error) {
			return "ip:" + clientIP(r), nil
		}, onLimit),
		httprate.LimitBy(o.LoginPerEmail, o.LoginWindow, func(r *http.Request) (string, error) {
			r.ParseForm()
			return "email:" + store.NormalizeEmail(r.PostForm.Get("email")), nil
		}, onLimit),
	}
}
