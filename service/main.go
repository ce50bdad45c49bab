// Command bookstore serves the bookstore over plain HTTP on $PORT.
//
//	bookstore              serve (configuration from the environment; see docs/service.md)
//	bookstore healthcheck  GET http://127.0.0.1:$PORT/healthz; exit 0 if it answers 200,
//	                       1 otherwise (container HEALTHCHECK: the image has no shell or curl)
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bookstore-aws/bookstore/service/internal/config"
	"github.com/bookstore-aws/bookstore/service/internal/dbconn"
	"github.com/bookstore-aws/bookstore/service/internal/embedded"
	"github.com/bookstore-aws/bookstore/service/internal/store"
	"github.com/bookstore-aws/bookstore/service/internal/web"
)

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "healthcheck" && len(os.Args) == 2 {
			os.Exit(healthcheck(os.Getenv))
		}
		fmt.Fprintln(os.Stderr, "usage: bookstore [healthcheck]")
		os.Exit(2)
	}
	if err := run(os.Getenv); err != nil {
		if !errors.Is(err, errLogged) {
			// One line per problem (config reports every bad variable).
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintln(os.Stderr, "bookstore:", line)
			}
		}
		os.Exit(1)
	}
}

// errLogged means the error that ended run is already in the JSON log.
var errLogged = errors.New("logged")

// healthcheck probes the local server's liveness within 2 seconds.
func healthcheck(getenv func(string) string) int {
	port, err := config.Port(getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bookstore healthcheck:", err)
		return 1
	}
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bookstore healthcheck:", err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "bookstore healthcheck: status", res.StatusCode)
		return 1
	}
	return 0
}

// Server timeouts. IdleTimeout outlasts the ALB's 60 s idle timeout, as AWS
// advises for targets, so the ALB never reuses a connection we just closed.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second // a book form with a photo, from a slow phone
	writeTimeout      = 60 * time.Second
	idleTimeout       = 75 * time.Second
	dbWait            = config.StartupDBWait
)

func run(getenv func(string) string) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	// From here on, what stops the service is a log line like any other,
	// so it reaches CloudWatch with the rest; before, there is no logger.
	if err := serve(cfg, logger); err != nil {
		logger.Error("exiting", "error", err.Error())
		return errLogged
	}
	return nil
}

// serve runs the service with a valid configuration until a signal ends it
// (nil) or it can't start or go on (an error naming the variable at fault).
func serve(cfg config.Config, logger *slog.Logger) (err error) {
	// The covers folder is checked before the port is taken and the
	// database waited for, so a bad SHARED_DIR stops the start at once
	// instead of turning the first upload into a 500.
	sharedDir, tempShared := cfg.SharedDir, ""
	if sharedDir == "" {
		if tempShared, err = os.MkdirTemp("", "bookstore-shared-"); err != nil {
			return fmt.Errorf("SHARED_DIR is not set and no temporary directory could be made for covers: %w", err)
		}
		sharedDir = tempShared
		defer os.RemoveAll(tempShared)
	}
	if err := web.PrepareSharedDir(sharedDir); err != nil {
		return fmt.Errorf("SHARED_DIR: %s is not a writable directory: %w", sharedDir, err)
	}
	ctx, stopSignals := watchSignals(logger, func() {
		if tempShared != "" {
			os.RemoveAll(tempShared)
		}
	})
	defer stopSignals()

	// The port is taken before the database is waited for: a port in use
	// fails the start at once. Connections queue until Serve.
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("PORT: %w", err)
	}
	defer ln.Close()

	db, closeDB, err := openDB(ctx, cfg.DB, tempShared, logger)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := migrate(ctx, db, cfg.DB, logger); err != nil {
		return err
	}
	st := store.New(db)
	go expireReservations(ctx, st, logger)
	sessions := store.NewSessionStore(db, store.DefaultTimeout, 5*time.Minute)
	defer sessions.StopCleanup()
	app, err := web.New(web.Options{
		Store:       st,
		Sessions:    sessions,
		Logger:      logger,
		SharedDir:   sharedDir,
		AdminEmails: cfg.AdminEmails,
		Currency:    cfg.Currency,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           app.Routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "database", cfg.DB.Mode.String(), "shared_dir", sharedDir,
		"drain_timeout", cfg.DrainTimeout.String(), "schema_version", store.SchemaVersion)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return drain(srv, app, cfg.DrainTimeout, stopSignal(ctx) == syscall.SIGTERM, logger)
}

// expireReservations gives back, once a minute until ctx ends, the units of
// purchases left unpaid for store.ReservationTTL. Every instance runs it:
// ExpirePending is safe to run on several at once.
func expireReservations(ctx context.Context, st *store.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := st.ExpirePending(ctx, time.Now().Add(-store.ReservationTTL))
		if err != nil && ctx.Err() == nil {
			logger.Warn("expiring unpaid reservations", "error", err.Error(), "expired", n)
		} else if n > 0 {
			logger.Info("unpaid reservations expired; their units are back on sale", "purchases", n)
		}
	}
}

// signalError is the cause of the context watchSignals returns.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// signalName is "SIGTERM" or "SIGINT" (os.Signal's String says "terminated").
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}

// stopSignal returns the signal that ended ctx, or nil.
func stopSignal(ctx context.Context) os.Signal {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.sig
	}
	return nil
}

// watchSignals returns a context that ends on the first SIGTERM or SIGINT,
// with a signalError as its cause. A second one means "now": it logs,
// calls onForce and exits 1 at once, whatever is running.
func watchSignals(logger *slog.Logger, onForce func()) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(signalError{sig})
		case <-done:
			return
		}
		select {
		case sig := <-ch:
			logger.Error("second signal: exiting now, requests in flight are cut", "signal", signalName(sig))
			onForce()
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// drain shuts down within timeout. /readyz answers 503 at once. With
// preStop (SIGTERM, what orchestrators send), the server keeps serving
// for the first fifth of the timeout, so requests a load balancer sends
// while it is still deregistering this target are answered, not refused;
// SIGINT (Ctrl-C) skips that. Then the listener closes and
// in-flight requests finish.
func drain(srv *http.Server, app *web.App, timeout time.Duration, preStop bool, logger *slog.Logger) error {
	start := time.Now()
	// Keep-alives stay on: switching them off makes net/http close idle
	// connections at once, under a request a client may just have sent on
	// one. Instead each answer from now on carries Connection: close (see
	// web.App.StartDraining), and Shutdown closes what is left idle.
	app.StartDraining()
	if preStop {
		logger.Info("draining: readiness is 503; still serving for a fifth of DRAIN_TIMEOUT", "timeout", timeout.String())
		time.Sleep(timeout / 5)
	} else {
		logger.Info("interrupted: finishing requests in flight, then exiting", "timeout", timeout.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout-time.Since(start))
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		return fmt.Errorf("drain: requests still running after DRAIN_TIMEOUT %s: %w", timeout, err)
	}
	logger.Info("stopped", "took", time.Since(start).String())
	return nil
}

// openDB opens the configured database, or starts the embedded engine.
// tempShared, with the embedded engine, is the temporary directory covers
// go to, named in the same warning.
func openDB(ctx context.Context, s dbconn.Settings, tempShared string, logger *slog.Logger) (*sql.DB, func(), error) {
	if s.Mode != dbconn.ModeEmbedded {
		db, err := dbconn.Open(ctx, s, logger)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	srv, err := embedded.Start("bookstore")
	if err != nil {
		return nil, nil, err
	}
	msg := "no database configured: using the embedded in-memory engine; ALL DATA IS LOST WHEN THE PROCESS EXITS. Set DATABASE_URL (or DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ARN) to keep it."
	if tempShared != "" {
		msg += " Covers go to the temporary directory " + tempShared + ", removed at exit; set SHARED_DIR to keep them."
		logger.Warn(msg, "shared_dir", tempShared)
	} else {
		logger.Warn(msg)
	}
	db, err := sql.Open("mysql", srv.DSN)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	db.SetMaxOpenConns(8)
	return db, func() { db.Close(); srv.Close() }, nil
}

// migrate applies the schema, waiting up to dbWait for a database that
// doesn't answer yet. An error that waiting won't cure (a wrong password,
// no such database; see dbconn.Permanent) fails at once, naming the
// variable to fix. It returns early when ctx ends (a signal), saying so.
func migrate(ctx context.Context, db *sql.DB, s dbconn.Settings, logger *slog.Logger) error {
	wctx, cancel := context.WithTimeout(ctx, dbWait)
	defer cancel()
	for {
		err := store.Migrate(wctx, db, logger)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%w while waiting for the database; the last error was: %w", context.Cause(ctx), err)
		}
		if p := dbconn.Permanent(s, err); p != nil {
			return p
		}
		if !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		if wctx.Err() != nil {
			return fmt.Errorf("database unreachable for %s: %w", dbWait, err)
		}
		logger.Warn("database not reachable yet; retrying", "err", err)
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("%w while waiting for the database; the last error was: %w", context.Cause(ctx), err)
			}
			return fmt.Errorf("database unreachable for %s: %w", dbWait, err)
		case <-time.After(2 * time.Second):
		}
	}
}
