package web

import (
	"errors"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// homeBooks is how many of the newest books the home page shows: two rows
// of four at 1280 px.
const homeBooks = 8

// home shows a search box (GET /book/catalog?q=), the newest books (the
// catalog's first page in its default order, cut to homeBooks) and the
// links to the rest of the store.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	p, err := a.store.Catalog(r.Context(), store.CatalogQuery{Sort: store.SortNewest, Limit: homeBooks})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Books = p.Books
	a.render(w, r, http.StatusOK, "home", d)
}

func (a *App) registerForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "register", a.data(r))
}

// register creates an account from name, email and password (the
// original's field names), then sends the user to /login.
func (a *App) register(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := a.data(r)
	f := newForm(r.PostForm)
	d.Form = f
	name := f.text("name", true, maxName)
	email := f.email("email")
	password := r.PostForm.Get("password")
	switch {
	case len(password) < minPassword:
		f.fail("password", "Use at least 8 characters.")
	case len(password) > maxPassword:
		f.fail("password", "Use at most 72 bytes.")
	}
	if !f.Valid() {
		a.render(w, r, http.StatusUnprocessableEntity, "register", d)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.opts.BcryptCost)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	_, err = a.store.CreateUser(r.Context(), name, email, hash)
	if errors.Is(err, store.ErrDuplicateEmail) {
		// Fault 5: the original answered 500 here.
		f.fail("email", "This email is already registered. Log in instead?")
		a.render(w, r, http.StatusConflict, "register", d)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.redirect(w, r, "/login", "Your account is ready. Please log in.")
}

func (a *App) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "login", a.data(r))
}

// dummyHash keeps login time the same whether or not the email exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := a.data(r)
	f := newForm(r.PostForm)
	d.Form = f
	email := f.email("email")
	password := r.PostForm.Get("password")
	if password == "" {
		f.fail("password", "This field is required.")
	}
	if !f.Valid() {
		a.render(w, r, http.StatusUnprocessableEntity, "login", d)
		return
	}
	u, err := a.store.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.serverError(w, r, err)
		return
	}
	hash := u.PasswordHash
	if errors.Is(err, store.ErrNotFound) {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		d.Error = "Email or password is incorrect."
		a.render(w, r, http.StatusUnauthorized, "login", d)
		return
	}
	sm := a.sessions(r)
	if err := sm.RenewToken(r.Context()); err != nil {
		a.serverError(w, r, err)
		return
	}
	sm.Put(r.Context(), "userID", u.ID)
	sm.Put(r.Context(), "userName", u.Name)
	sm.Put(r.Context(), "userEmail", u.Email)
	sm.Put(r.Context(), "seen", time.Now().Unix())
	a.redirect(w, r, "/book/catalog", "Welcome back, "+u.Name+".")
}

// loginThrottled answers when a limiter in routes.go refuses a login.
func (a *App) loginThrottled(w http.ResponseWriter, r *http.Request) {
	d := a.data(r)
	d.Form.Set("email", r.PostForm.Get("email"))
	d.Error = "Too many login attempts. Wait a minute and try again."
	w.Header().Set("Retry-After", "60")
	a.render(w, r, http.StatusTooManyRequests, "login", d)
}

func (a *App) logoutForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "logout", a.data(r))
}

// logout signs the user out under a new token. Without a signed-in
// session there is nothing to end: it redirects and writes nothing, or any
// client could make the store keep a session row per request.
func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if a.currentUser(r) == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	sm := a.sessions(r)
	if err := sm.RenewToken(r.Context()); err != nil {
		a.serverError(w, r, err)
		return
	}
	sm.Remove(r.Context(), "userID")
	sm.Remove(r.Context(), "userName")
	sm.Remove(r.Context(), "userEmail")
	a.redirect(w, r, "/", "You have been logged out.")
}

func (a *App) adminUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.store.Users(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	d := a.data(r)
	d.Users = users
	a.render(w, r, http.StatusOK, "users", d)
}
