package web

import (
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// sessionUser is who is signed in, kept in the session at login (users are
// never renamed or deleted, so no query per request is needed).
type sessionUser struct {
	ID    int64
	Name  string
	Email string
}

func (a *App) currentUser(r *http.Request) *sessionUser {
	u, _ := r.Context().Value(userKey).(*sessionUser)
	return u
}

// sessions is the session manager whose cookie suits r (see App.plain).
func (a *App) sessions(r *http.Request) *scs.SessionManager {
	if isHTTPS(r) {
		return a.secure
	}
	return a.plain
}

// A signed-in session ends after sessionIdleTimeout without a request. The
// last request's time is kept in the session, refreshed only when it is
// sessionSeenEvery old, so a busy user's requests don't each write the
// session: the idle timeout is thus honoured to within sessionSeenEvery.
const (
	sessionIdleTimeout = 12 * time.Hour
	sessionSeenEvery   = time.Minute
)

// checkIdle signs out a session idle for longer than sessionIdleTimeout
// (and reports false), and otherwise records the request's time when the
// recorded one is sessionSeenEvery old. Sessions from before this rule
// have no time recorded and get one now.
func checkIdle(ctx context.Context, sm *scs.SessionManager, now time.Time) bool {
	seen := sm.GetInt64(ctx, "seen")
	if seen != 0 && now.Sub(time.Unix(seen, 0)) > sessionIdleTimeout {
		sm.Remove(ctx, "userID")
		sm.Remove(ctx, "userName")
		sm.Remove(ctx, "userEmail")
		sm.Remove(ctx, "seen")
		return false
	}
	if seen == 0 || now.Sub(time.Unix(seen, 0)) >= sessionSeenEvery {
		sm.Put(ctx, "seen", now.Unix())
	}
	return true
}

// loadAndSave is scs's LoadAndSave with one difference, in what a failed
// session save does to the answer. The session is saved just before the
// handler's answer is sent (its first WriteHeader or Write). If the save
// fails, the handler's answer still goes out, logged, when it already
// reports a failure (status 400 or more) or when the request committed a
// change (store.Committed): a "try again" then would make the change twice.
// The answer then sets no cookie; the browser keeps its old one, and a flash
// message the session carried is lost. Otherwise (a sign-in, whose point is
// the session) the answer is a server error (see sessionError). A HEAD
// request's session is loaded but never saved (see loadSession).
func (a *App) loadAndSave(sm *scs.SessionManager, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		token := ""
		if c, err := r.Cookie(sm.Cookie.Name); err == nil {
			token = c.Value
		}
		ctx, err := sm.Load(r.Context(), token)
		if err != nil {
			a.sessionError(w, r, err)
			return
		}
		sr := r.WithContext(ctx)
		if r.Method == http.MethodHead {
			next.ServeHTTP(w, sr)
			return
		}
		sw := &sessionWriter{ResponseWriter: w}
		sw.save = func(status int) bool {
			switch sm.Status(ctx) {
			case scs.Modified:
				token, expiry, err := sm.Commit(ctx)
				if err == nil {
					sm.WriteSessionCookie(ctx, w, token, expiry)
					return true
				}
				if status >= 400 || store.Committed(ctx) && !clientGone(sr) {
					a.log.WarnContext(ctx, "session not saved; sending the handler's answer", "status", status,
						"committed_change", store.Committed(ctx), "err", err, "request_id", requestID(ctx))
					return true
				}
				a.sessionError(w, sr, err)
				return false
			case scs.Destroyed:
				sm.WriteSessionCookie(ctx, w, "", time.Time{})
			}
			return true
		}
		next.ServeHTTP(sw, sr)
		sw.WriteHeader(http.StatusOK) // no-op if the handler wrote
	})
}

// sessionWriter saves the session before the first byte of the answer goes
// out, and drops the answer if save says so (it has sent another).
type sessionWriter struct {
	http.ResponseWriter
	save    func(status int) bool
	written bool
	dropped bool
}

func (sw *sessionWriter) WriteHeader(status int) {
	if sw.written {
		return
	}
	sw.written = true
	if sw.dropped = !sw.save(status); !sw.dropped {
		sw.ResponseWriter.WriteHeader(status)
	}
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	sw.WriteHeader(http.StatusOK)
	if sw.dropped {
		return len(b), nil
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
