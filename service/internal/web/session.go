package web

import (
	"net/http"

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
