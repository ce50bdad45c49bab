//go:build !noembedded

package embedded

import (
	"context"
	"strings"
	"sync"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// The memory engine is not safe for concurrent writers: each session works on
// its own copy of a table and a commit replaces the shared table with that
// copy, so concurrent transactions lose each other's updates and inserts (200
// concurrent "UPDATE books SET stock = stock - 1 WHERE stock >= 1" + INSERT
// transactions against stock 50 all "succeed" and leave 16 purchase rows; see
// TestSerializedTransactionsDoNotOversell). serialized makes the engine
// serializable in the bluntest correct way: one statement at a time, and a
// connection inside an explicit transaction keeps the turn from START
// TRANSACTION until COMMIT, ROLLBACK or disconnect. That is slow for a real
// database and fine for this one, which serves development and tests.
type serialized struct {
	mysql.Handler
	turn sync.Mutex
}

// connState is kept in mysql.Conn.ClientData; a connection's statements run
// one after another, so only its own goroutine touches it.
type connState struct {
	holding bool // has the turn
	inTx    bool // inside START TRANSACTION ... COMMIT/ROLLBACK
}

func serialize(h mysql.Handler) (mysql.Handler, error) {
	return &serialized{Handler: h}, nil
}

func state(c *mysql.Conn) *connState {
	if s, ok := c.ClientData.(*connState); ok {
		return s
	}
	s := &connState{}
	c.ClientData = s
	return s
}

// mayBlock reports statements that wait on other connections (GET_LOCK, used
// by the migration library) and so must not hold the turn while they wait.
func mayBlock(q string) bool {
	return strings.Contains(strings.ToUpper(q), "GET_LOCK(")
}

func (h *serialized) acquire(c *mysql.Conn) *connState {
	s := state(c)
	if !s.holding {
		h.turn.Lock()
		s.holding = true
	}
	return s
}

// release ends the turn after a statement unless a transaction is open.
func (h *serialized) release(c *mysql.Conn, s *connState, q string) {
	switch kind(q) {
	case "begin":
		s.inTx = true
	case "end":
		s.inTx = false
	}
	if !s.inTx && s.holding {
		s.holding = false
		h.turn.Unlock()
	}
}

func kind(q string) string {
	q = strings.ToUpper(strings.TrimSpace(q))
	switch {
	case strings.HasPrefix(q, "START TRANSACTION"), q == "BEGIN", strings.HasPrefix(q, "BEGIN WORK"):
		return "begin"
	case strings.HasPrefix(q, "COMMIT"), strings.HasPrefix(q, "ROLLBACK") && !strings.Contains(q, "SAVEPOINT"):
		return "end"
	}
	return ""
}

func (h *serialized) ComQuery(ctx context.Context, c *mysql.Conn, q string, cb mysql.ResultSpoolFn) error {
	if mayBlock(q) && !state(c).holding {
		return h.Handler.ComQuery(ctx, c, q, cb)
	}
	s := h.acquire(c)
	defer h.release(c, s, q)
	return h.Handler.ComQuery(ctx, c, q, cb)
}

func (h *serialized) ComMultiQuery(ctx context.Context, c *mysql.Conn, q string, cb mysql.ResultSpoolFn) (string, error) {
	s := h.acquire(c)
	rest, err := h.Handler.ComMultiQuery(ctx, c, q, cb)
	h.release(c, s, strings.TrimSuffix(q, rest))
	return rest, err
}

func (h *serialized) ComPrepare(ctx context.Context, c *mysql.Conn, q string, p *mysql.PrepareData) ([]*querypb.Field, error) {
	s := h.acquire(c)
	defer h.release(c, s, "")
	return h.Handler.ComPrepare(ctx, c, q, p)
}

func (h *serialized) ComStmtExecute(ctx context.Context, c *mysql.Conn, p *mysql.PrepareData, cb func(*sqltypes.Result) error) error {
	if mayBlock(p.PrepareStmt) && !state(c).holding {
		return h.Handler.ComStmtExecute(ctx, c, p, cb)
	}
	s := h.acquire(c)
	defer h.release(c, s, p.PrepareStmt)
	return h.Handler.ComStmtExecute(ctx, c, p, cb)
}

func (h *serialized) ConnectionClosed(c *mysql.Conn) {
	s := state(c)
	h.Handler.ConnectionClosed(c)
	if s.holding {
		s.holding, s.inTx = false, false
		h.turn.Unlock()
	}
}
