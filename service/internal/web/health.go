package web

import (
	"net/http"
)

// healthz is liveness: the process is up and serving.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz is readiness: not draining, the database answers, and its schema
// is the version this binary expects. The verifier, people and
// readiness-checking orchestrators read it; the ALB's target groups and the
// compose and Swarm healthchecks read /healthz instead, so a database outage
// does not make the Auto Scaling group or Docker replace every instance.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("draining\n"))
		return
	}
	current, err := a.store.SchemaCurrent(r.Context())
	if err != nil {
		a.log.WarnContext(r.Context(), "not ready: database", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unavailable\n"))
		return
	}
	if !current {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("schema not current\n"))
		return
	}
	w.Write([]byte("ready\n"))
}
