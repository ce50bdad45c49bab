package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	userKey
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID names each request: the ALB's X-Amzn-Trace-Id when present
// (so our logs join the ALB's access logs), else 16 random hex digits. The
// id is echoed in X-Request-Id.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Amzn-Trace-Id")
		if id == "" || len(id) > 200 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// closeWhenDraining sets Connection: close on every answer once the
// instance drains (StartDraining): net/http then closes the connection
// after the answer, so a client learns it is closing from a response,
// never by a request lost on a connection closed under it.
func (a *App) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// observe logs one JSON line per request and feeds the request metrics,
// both labelled by chi's route pattern (/book/edit_book/{id}), never the
// raw path, so the label set stays bounded.
func (a *App) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		d := time.Since(start)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		method := methodLabel(r.Method)
		a.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		a.metrics.duration.WithLabelValues(method, route).Observe(d.Seconds())
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int("bytes", ww.BytesWritten()),
			slog.String("request_id", requestID(r.Context())),
			slog.String("client_ip", clientIP(r)))
	})
}

// methodLabel keeps the method label's values bounded: a client may send any
// token as a method (RFC 9110, section 9.1), and each would be a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// recoverPanic turns a handler panic into a logged 500.
func (a *App) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.serverError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// secureHeaders sets headers every page should carry. The CSP allows only
// our own origin: templates load nothing else.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "deny")
		if isHTTPS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// isHTTPS reports whether the client reached us over HTTPS: TLS ends at the
// ALB or NGINX, which say so in X-Forwarded-Proto.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clientIP is the address that connected to the nearest proxy: the last
// X-Forwarded-For entry (the ALB and NGINX append the peer they saw; the
// entries before it are whatever the client sent), else the peer address.
// Its lines are joined first, as RFC 9110 (section 5.3) joins a repeated
// list field: a proxy may add its entry as a line of its own.
func clientIP(r *http.Request) string {
	if xff := strings.Join(r.Header.Values("X-Forwarded-For"), ","); xff != "" {
		last := xff[strings.LastIndexByte(xff, ',')+1:]
		if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loadSession loads and saves the session with the manager whose cookie
// matches the request's scheme (see loadAndSave), then puts the signed-in
// user in the context.
// A signed-in user's pages are never stored by the browser (no-store), so
// Back after logout can't show them. A HEAD request loads the session but
// never saves it: what GET would change (the flash message it shows and
// removes) must stay for the GET that follows (RFC 9110, section 9.3.2).
func (a *App) loadSession(next http.Handler) http.Handler {
	withUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm := a.sessions(r)
		if id := sm.GetInt64(r.Context(), "userID"); id != 0 && checkIdle(r.Context(), sm, time.Now()) {
			u := &sessionUser{ID: id, Name: sm.GetString(r.Context(), "userName"), Email: sm.GetString(r.Context(), "userEmail")}
			r = r.WithContext(context.WithValue(r.Context(), userKey, u))
			w.Header().Add("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
	plain, secure := a.loadAndSave(a.plain, withUser), a.loadAndSave(a.secure, withUser)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHTTPS(r) {
			secure.ServeHTTP(w, r)
			return
		}
		plain.ServeHTTP(w, r)
	})
}

// requireLogin sends anonymous users to /login. The "please log in" flash
// goes only into a session the client already has: writing a session row
// for it would let any client make the store keep a row per request.
func (a *App) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.currentUser(r) == nil {
			flash := "Please log in first."
			if a.sessions(r).Token(r.Context()) == "" {
				flash = ""
			}
			a.redirect(w, r, "/login", flash)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin answers 403 to signed-in users not in ADMIN_EMAILS (fault 4:
// the original listed all users to anyone signed in).
func (a *App) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := a.currentUser(r)
		if u == nil || !a.admins[u.Email] {
			a.errorPage(w, r, http.StatusForbidden, "Only administrators can see this page.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; handlers that take uploads raise it.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// statusClientClosedRequest is nginx's 499 "client closed request": the
// status a request is logged and counted with when its client went away
// before the answer, so it is not taken for a server fault (5xx).
const statusClientClosedRequest = 499

// errBudgetSpent is the cause of a request context whose database budget
// ran out (see dbBudget), told apart from a client that went away.
var errBudgetSpent = errors.New("web: the request's database time budget is spent")

// clientGone reports whether r's client went away (its connection closed)
// rather than r's database budget running out.
func clientGone(r *http.Request) bool {
	ctx := r.Context()
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errBudgetSpent)
}

// dbBudget gives each request one deadline for all its database work
// (Options.DBBudget): session load, queries, commit and session save share
// it, so no sequence of calls, each within the store's own timeout, adds up
// past it. The store bounds its commits by it too (go-sql-driver's commit
// watches no context). It also lets the store record a committed change
// (store.TrackCommits), which sessionError reads.
func (a *App) dbBudget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeoutCause(store.TrackCommits(r.Context()), a.opts.DBBudget, errBudgetSpent)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
