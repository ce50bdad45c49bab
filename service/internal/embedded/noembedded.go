//go:build noembedded

package embedded

import "errors"

// Available reports whether this binary contains the engine (false when
// built with -tags noembedded).
const Available = false

// Server is a running embedded engine; in this build there is none.
type Server struct {
	DSN  string
	Addr string
}

// ErrNotBuiltIn is returned by Start in binaries built with -tags noembedded.
var ErrNotBuiltIn = errors.New("no database configured: set DATABASE_URL or DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ARN (this binary was built with -tags noembedded, without the in-memory engine)")

// Start always fails in this build; see ErrNotBuiltIn.
func Start(dbName string) (*Server, error) { return nil, ErrNotBuiltIn }

// Close does nothing.
func (s *Server) Close() error { return nil }
