// Package dbproxy is a TCP proxy to a MySQL or MariaDB database for tests
// and benchmarks: it can add a delay each way (a database a network hop
// away, as RDS is from its clients), cut the link (connections reset, new
// ones refused) or stall it (bytes stop flowing, like a network partition),
// and restore it. Armed (see Arm), it stalls by itself at the next
// statement that commits, before it reaches the database or as the
// database's answer to it goes back.
package dbproxy

import (
	"net"
	"strings"
	"sync"
	"time"
)

// Modes of a Proxy.
const (
	Up    = "up"    // bytes flow (after the delay)
	Cut   = "cut"   // open connections reset, new ones closed at once
	Stall = "stall" // open connections stop moving bytes; new ones too
)

// What an armed Proxy does at the statement that commits (see Arm).
const (
	// HoldCommit stalls the proxy before the statement reaches the
	// database: the service can't know whether it committed (it didn't).
	HoldCommit = "hold"
	// StallAfterCommit stalls the proxy as the database's answer to the
	// statement goes back, before the service can send anything more: the
	// change is committed and whatever the request does next hangs.
	StallAfterCommit = "after"
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	mode     string
	onCommit string // "", HoldCommit or StallAfterCommit
	commits  string // the statement that commits: "COMMIT", or an autocommitted one's start
	delay    time.Duration
	conns    map[net.Conn]bool
	resume   chan struct{}
}

// Start listens on a random 127.0.0.1 port and forwards every connection to
// target (host:port). Close stops it.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, mode: Up, conns: map[net.Conn]bool{}, resume: make(chan struct{})}
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay holds every chunk of bytes for d before passing it on, in each
// direction: a round trip through the proxy costs 2*d more.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Arm makes the proxy switch to Stall by itself, once, at the next
// statement whose text starts with commits (case-insensitive): "COMMIT", or
// an autocommitted statement such as "INSERT INTO users", sent as text or
// prepared and then executed. onCommit says when: HoldCommit or
// StallAfterCommit. Set(Up) resumes.
func (p *Proxy) Arm(onCommit, commits string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onCommit, p.commits = onCommit, commits
}

// Mode is the proxy's mode now: Up, Cut or Stall (which an armed proxy
// switches to by itself).
func (p *Proxy) Mode() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Set switches to mode (Up, Cut or Stall); Cut also resets every open
// connection.
func (p *Proxy) Set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == Stall && mode != Stall {
		close(p.resume)
		p.resume = make(chan struct{})
	}
	p.mode = mode
	if mode == Cut {
		for c := range p.conns {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// Close stops listening and resets every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Set(Cut)
	return err
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == Cut {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

// MySQL client/server protocol commands the proxy looks for.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
)

// commandIn returns the command byte of the first packet in b that is one
// of cmds and, if prefix is not "", whose text starts with prefix
// (case-insensitive); 0 if none. A packet is a 3-byte length, a sequence
// id, then the command and its text. The driver may send a packet after
// another in one write (a COM_STMT_CLOSE, then the COMMIT), so every packet
// is looked at.
func commandIn(b []byte, prefix string, cmds ...byte) byte {
	for len(b) >= 5 {
		n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		payload := b[4:min(len(b), 4+n)]
		for _, c := range cmds {
			if payload[0] == c && (prefix == "" ||
				len(payload) > len(prefix) && strings.EqualFold(string(payload[1:1+len(prefix)]), prefix)) {
				return c
			}
		}
		b = b[min(len(b), 4+n):]
	}
	return 0
}

// conn is what the proxy knows of one client connection's commit.
type conn struct {
	mu sync.Mutex
	// committing: the statement that commits was sent, as text or as the
	// execution of a prepared one; its answer stalls the proxy
	// (StallAfterCommit). prepared: it was prepared, its execution is next.
	committing, prepared bool
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	st := new(conn)
	go p.copy(up, c, st, true)
	p.copy(c, up, st, false)
}

func (p *Proxy) copy(dst, src net.Conn, st *conn, toDB bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		if n > 0 && toDB && p.onCommit != "" {
			st.mu.Lock()
			switch cmd := commandIn(buf[:n], p.commits, comQuery, comStmtPrepare); {
			case cmd == comQuery && p.onCommit == HoldCommit:
				p.mode, p.onCommit = Stall, ""
			case cmd == comQuery:
				p.onCommit, st.committing = "", true
			case cmd == comStmtPrepare:
				st.prepared = true
			case st.prepared && commandIn(buf[:n], "", comStmtExecute) != 0:
				st.prepared = false
				if p.onCommit == HoldCommit {
					p.mode = Stall
				} else {
					st.committing = true
				}
				p.onCommit = ""
			}
			st.mu.Unlock()
		}
		stalled, resume, delay := p.mode == Stall, p.resume, p.delay
		if n > 0 && !toDB {
			// The answer to the statement that commits: stall everything
			// after it, before the service can send more.
			st.mu.Lock()
			if st.committing {
				st.committing = false
				p.mode = Stall
			}
			st.mu.Unlock()
		}
		p.mu.Unlock()
		if stalled {
			<-resume
		}
		if n > 0 {
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}
