package web

import (
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// staticFiles is the embedded static/ folder, served under /static/.
var staticFiles, _ = fs.Sub(staticFS, "static")

// static serves one embedded file. A directory, or anything that is not a
// regular file, is a 404: there are no listings.
func (a *App) static(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if !fs.ValidPath(name) {
		a.notFound(w, r)
		return
	}
	st, err := fs.Stat(staticFiles, name)
	if err != nil || !st.Mode().IsRegular() {
		a.notFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeFileFS(w, r, staticFiles, name)
}
