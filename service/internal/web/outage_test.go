package web_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxy is a TCP proxy to the database that the test can cut (connections
// reset, new ones refused) or stall (bytes stop flowing, like a network
// partition), and restore. Armed (see arm), it stalls by itself at the next
// statement that commits: "hold" stalls before it reaches the database (its
// outcome is then unknown to the service), "after" stalls as the database's
// answer to it goes back (the change is committed; what follows hangs).
// delay holds every packet to the database that long (a slow network).
type proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	mode     string // "up", "cut", "stall"
	onCommit string // "", "hold", "after"
	commits  string // the statement that commits: "COMMIT", or an autocommitted one's start
	delay    time.Duration
	conns    map[net.Conn]bool
	resume   chan struct{}
}

// arm sets what the proxy does (see proxy) at the next statement that
// starts with commits (case-insensitive): "COMMIT", or an autocommitted
// statement such as "INSERT INTO users".
func (p *proxy) arm(onCommit, commits string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onCommit, p.commits = onCommit, commits
}

// setDelay holds every packet to the database for d (0: none).
func (p *proxy) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// commandIn returns the command byte of the first packet in b that is cmd,
// or, if prefix is not "", whose text starts with prefix; 0 if none (MySQL
// client/server protocol: 3-byte length, sequence id, command, text). The
// driver may send a packet after another in one write (a COM_STMT_CLOSE,
// then the COMMIT), so every packet is looked at.
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

// MySQL commands the proxy looks for.
const (
	comQuery       = 0x03
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
)

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, mode: "up", conns: map[net.Conn]bool{}, resume: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); p.set("cut") })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == "cut" {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	var stallAfterReply sync.Mutex // guards committing and prepared, per connection
	// committing: the statement that commits was sent, as text or as the
	// execution of prepared; its answer stalls the proxy ("after").
	committing, prepared := false, false
	cp := func(dst, src net.Conn) {
		toDB := dst == up
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			p.mu.Lock()
			if toDB && n > 0 && p.onCommit != "" {
				stallAfterReply.Lock()
				switch cmd := commandIn(buf[:n], p.commits, comQuery, comStmtPrepare); {
				case cmd == comQuery && p.onCommit == "hold":
					p.mode, p.onCommit = "stall", ""
				case cmd == comQuery:
					p.onCommit, committing = "", true
				case cmd == comStmtPrepare:
					prepared = true // committed by its execution, next
				case prepared && commandIn(buf[:n], "", comStmtExecute) != 0:
					prepared = false
					if p.onCommit == "hold" {
						p.mode = "stall"
					} else {
						committing = true
					}
					p.onCommit = ""
				}
				stallAfterReply.Unlock()
			}
			stalled, resume, delay := p.mode == "stall", p.resume, p.delay
			if !toDB && n > 0 {
				// The answer to the statement that commits: stall
				// everything after it, before the service can send more.
				stallAfterReply.Lock()
				if committing {
					committing = false
					p.mode = "stall"
				}
				stallAfterReply.Unlock()
			}
			p.mu.Unlock()
			if stalled {
				<-resume
			}
			if toDB && delay > 0 {
				time.Sleep(delay)
			}
			if n > 0 {
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
	go cp(up, c)
	cp(c, up)
}

// set switches mode; "cut" also resets every open connection.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "stall" && mode != "stall" {
		close(p.resume)
		p.resume = make(chan struct{})
	}
	p.mode = mode
	if mode == "cut" {
		for c := range p.conns {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// When the database goes away pages answer 503 within a bounded time, and
// when it comes back the same instance serves again, with no restart. Both
// kinds of outage: connections refused, and a silent network.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	e, p, timeout := proxiedEnv(t)
	_, sid := e.user(0, "seller@example.com")
	e.book(sid, "Survivor", bookIn(100, 3))
	anon := e.client(0)
	user, _ := e.user(0, "reader@example.com")

	check := func(when string, want int) {
		t.Helper()
		for _, c := range []*client{anon, user} {
			start := time.Now()
			r := c.get("/book/catalog")
			took := time.Since(start)
			if r.status != want {
				t.Fatalf("%s: catalog %d, want %d: %s", when, r.status, want, snippet(r.body))
			}
			if took > 3*timeout {
				t.Fatalf("%s: catalog took %v", when, took)
			}
			if want == 503 && (!strings.Contains(r.body, "cannot reach its database") || r.header.Get("Retry-After") == "") {
				t.Fatalf("%s: 503 page: %s", when, snippet(r.body))
			}
		}
		if r := anon.get("/readyz"); (want == 200) != (r.status == 200) {
			t.Fatalf("%s: readyz %d", when, r.status)
		}
		if r := anon.get("/healthz"); r.status != 200 {
			t.Fatalf("%s: healthz %d", when, r.status)
		}
	}
	check("before", 200)
	for _, mode := range []string{"cut", "stall"} {
		p.set(mode)
		check(mode, http.StatusServiceUnavailable)
		p.set("up")
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := user.get("/book/catalog")
			if r.status == 200 && strings.Contains(r.body, "Survivor") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: no recovery, still %d", mode, r.status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		check("after "+mode, 200)
	}
	if !strings.Contains(e.logs.String(), `"msg":"database unavailable"`) {
		t.Fatal("the outage was not logged")
	}
}
