// Command bookstore serves the bookstore over plain HTTP on $PORT.
//
//	bookstore              serve (configuration from the environment; see README)
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
		fmt.Fprintln(os.Stderr, "bookstore:", err)
		os.Exit(1)
	}
}

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
	readTimeout       = 60 * time.Second // a 2 MB cover from a slow phone
	writeTimeout      = 60 * time.Second
	idleTimeout       = 75 * time.Second
	// dbWait bounds how long start-up waits for an unreachable database
	// (RDS still booting) before giving up; the container is restarted.
	dbWait = 2 * time.Minute
)

func run(getenv func(string) string) error {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	db, closeDB, err := openDB(ctx, cfg.DB, logger)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := migrate(ctx, db, logger); err != nil {
		return err
	}
	st := store.New(db)
	sessions := store.NewSessionStore(db, store.DefaultTimeout, 5*time.Minute)
	defer sessions.StopCleanup()
	app, err := web.New(web.Options{
		Store:       st,
		Sessions:    sessions,
		Logger:      logger,
		SharedDir:   cfg.SharedDir,
		AdminEmails: cfg.AdminEmails,
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.SharedDir, 0o755); err != nil {
		logger.Warn("SHARED_DIR is not writable: cover uploads will fail", "dir", cfg.SharedDir, "err", err)
	}

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("PORT: %w", err)
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
	logger.Info("serving", "addr", ln.Addr().String(), "database", cfg.DB.Mode.String(), "shared_dir", cfg.SharedDir,
		"drain_timeout", cfg.DrainTimeout.String(), "schema_version", store.SchemaVersion)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return drain(srv, app, cfg.DrainTimeout, logger)
}

// drain shuts down within timeout. /readyz answers 503 at once; for the
// first fifth of the timeout the server keeps serving, so a load balancer
// that still sends traffic sees the 503 and stops, instead of connections
// being refused; then the listener closes and in-flight requests finish.
func drain(srv *http.Server, app *web.App, timeout time.Duration, logger *slog.Logger) error {
	start := time.Now()
	app.StartDraining()
	srv.SetKeepAlivesEnabled(false)
	logger.Info("draining: readiness is 503", "timeout", timeout.String())
	time.Sleep(timeout / 5)
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
func openDB(ctx context.Context, s dbconn.Settings, logger *slog.Logger) (*sql.DB, func(), error) {
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
	logger.Warn("no database configured: using the embedded in-memory engine; ALL DATA IS LOST WHEN THE PROCESS EXITS. Set DATABASE_URL (or DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ARN) to keep it.")
	db, err := sql.Open("mysql", srv.DSN)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	db.SetMaxOpenConns(8)
	return db, func() { db.Close(); srv.Close() }, nil
}

// migrate applies the schema, waiting up to dbWait for a database that
// doesn't answer yet.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, dbWait)
	defer cancel()
	for {
		err := store.Migrate(ctx, db, logger)
		if err == nil || !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		logger.Warn("database not reachable yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("database unreachable for %s: %w", dbWait, err)
		case <-time.After(2 * time.Second):
		}
	}
}
