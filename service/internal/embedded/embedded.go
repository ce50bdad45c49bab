//go:build !noembedded

// Package embedded runs an in-process, in-memory MySQL-compatible server
// (github.com/dolthub/go-mysql-server's memory engine) on 127.0.0.1, so that
// `go run ./service` serves a working store with nothing else installed. The
// service talks to it through the ordinary go-sql-driver/mysql driver, over
// TCP, exactly as it talks to MariaDB or RDS: one code path for all three.
//
// Data lives in memory and is lost when the process exits.
package embedded

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/sirupsen/logrus"
)

// Available reports whether this binary contains the engine (false when
// built with -tags noembedded).
const Available = true

// Server is a running embedded engine.
type Server struct {
	// DSN is a go-sql-driver/mysql DSN for the server's database, with a
	// random per-process password.
	DSN string
	// Addr is the host:port the server listens on (127.0.0.1, random port).
	Addr string

	srv       *server.Server
	done      chan error
	closeOnce sync.Once
}

// Start starts a server with one empty database named dbName on a random
// loopback port. It returns when the server accepts connections.
func Start(dbName string) (*Server, error) {
	if dbName == "" {
		return nil, errors.New("embedded: empty database name")
	}
	db := memory.NewDatabase(dbName)
	db.BaseDatabase.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db)
	engine := sqle.NewDefault(pro)

	// Without a mysql.user table the engine accepts any user; give it one
	// account with a random password so other local processes can't walk in.
	password := rand.Text()
	mysqlDb := engine.Analyzer.Catalog.MySQLDb
	mysqlDb.SetEnabled(true)
	ed := mysqlDb.Editor()
	mysqlDb.AddSuperUser(ed, "bookstore", "localhost", password)
	mysqlDb.AddSuperUser(ed, "bookstore", "127.0.0.1", password)
	ed.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded: listen: %w", err)
	}
	cfg := server.Config{Protocol: "tcp", Address: ln.Addr().String(), Listener: ln}
	srv, err := server.NewServerWithHandler(cfg, engine, sql.NewContext, memory.NewSessionBuilder(pro), nil, serialize)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded: new server: %w", err)
	}
	s := &Server{
		Addr: ln.Addr().String(),
		DSN:  fmt.Sprintf("bookstore:%s@tcp(%s)/%s?interpolateParams=true", password, ln.Addr().String(), dbName),
		srv:  srv,
		done: make(chan error, 1),
	}
	go func() { s.done <- srv.Start() }()
	return s, nil
}

// Close stops the server and drops its data.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.srv.Close() })
	return err
}

func init() {
	// The engine logs every connection at info level, and warns about file privileges it never uses, through logrus.
	logrus.SetLevel(logrus.ErrorLevel)
}
