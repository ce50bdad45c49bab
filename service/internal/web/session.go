package web

import (
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
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
