//go:build pprof

package main

import (
	"log"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
)

// Built with -tags pprof (never in the image), the binary serves the
// profiler on 127.0.0.1:6060, for measuring with `go tool pprof`.
func init() {
	go func() { log.Println(http.ListenAndServe("127.0.0.1:6060", nil)) }()
}
