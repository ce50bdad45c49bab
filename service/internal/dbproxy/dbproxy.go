// Package dbproxy is a TCP proxy to a database for tests and benchmarks: it
// can add a delay each way (a database a network hop away, as RDS is from
// its clients), cut the link (connections reset, new ones refused) or
// stall it (bytes stop flowing, like a network partition), and restore it.
package dbproxy

import (
	"net"
	"sync"
	"time"
)

// Modes of a Proxy.
const (
	Up    = "up"    // bytes flow (after the delay)
	Cut   = "cut"   // open connections reset, new ones closed at once
	Stall = "stall" // open connections stop moving bytes; new ones too
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	mode   string
	delay  time.Duration
	conns  map[net.Conn]bool
	resume chan struct{}
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

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go p.copy(up, c)
	p.copy(c, up)
}

func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		stalled, resume, delay := p.mode == Stall, p.resume, p.delay
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
