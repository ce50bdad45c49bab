// Package verifytest runs the parts of a deployment the verifier talks to, on
// loopback: DNS servers built with miekg/dns (a parent zone, a hosted zone,
// a recursive resolver), a web server with TLS from a test CA, and servers
// that never answer. World wires them into one passing deployment that a
// test then breaks in one place.
package verifytest

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// DNS is an in-memory DNS server on 127.0.0.1, over UDP and TCP on one port.
//
// With a zone it behaves as that zone's authoritative server: answers carry
// the AA bit, NS records below the apex are delegations answered with a
// referral, names outside the zone are REFUSED. Without a zone it behaves as
// a recursive resolver that knows exactly its records.
type DNS struct {
	Addr string // host:port
	Port int

	zone    string // fqdn, lower case; "" for a resolver
	mu      sync.Mutex
	rrs     []dns.RR
	queries atomic.Int64
}

// NewDNS starts a server for zone ("" for a resolver) holding records, in
// zone-file syntax ("www.example.com. 300 IN A 127.0.0.1"). It stops when the
// test ends.
func NewDNS(t testing.TB, zone string, records ...string) *DNS {
	t.Helper()
	return NewDNSOn(t, "127.0.0.1", 0, zone, records...)
}

// NewDNSOn is NewDNS on a given loopback address and port (0: any free port),
// for a second server that must share another's port, as every name server
// shares port 53.
func NewDNSOn(t testing.TB, ip string, port int, zone string, records ...string) *DNS {
	t.Helper()
	pc, l, port := listenBoth(t, ip, port)
	s := &DNS{Addr: net.JoinHostPort(ip, strconv.Itoa(port)), Port: port}
	if zone != "" {
		s.zone = dns.CanonicalName(zone)
	}
	s.Set(t, records...)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: l, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// Set replaces the server's records.
func (s *DNS) Set(t testing.TB, records ...string) {
	t.Helper()
	rrs := make([]dns.RR, 0, len(records))
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil || rr == nil {
			t.Fatalf("bad test record %q: %v", r, err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	s.rrs = rrs
	s.mu.Unlock()
}

// Queries is how many queries the server has received.
func (s *DNS) Queries() int { return int(s.queries.Load()) }

// ServeDNS implements dns.Handler.
func (s *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	defer func() { _ = w.WriteMsg(m) }()
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	q := req.Question[0]
	qname := dns.CanonicalName(q.Name)
	s.mu.Lock()
	rrs := s.rrs
	s.mu.Unlock()

	if s.zone == "" {
		m.RecursionAvailable = true
	} else {
		if !dns.IsSubDomain(s.zone, qname) {
			m.Rcode = dns.RcodeRefused
			return
		}
		if cut := delegation(rrs, s.zone, qname); len(cut) > 0 {
			m.Ns = cut
			return
		}
		m.Authoritative = true
	}

	cur := qname
	for range 8 {
		var next string
		for _, rr := range rrs {
			h := rr.Header()
			if dns.CanonicalName(h.Name) != cur {
				continue
			}
			switch {
			case h.Rrtype == q.Qtype:
				m.Answer = append(m.Answer, dns.Copy(rr))
			case h.Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME:
				m.Answer = append(m.Answer, dns.Copy(rr))
				next = dns.CanonicalName(rr.(*dns.CNAME).Target)
			}
		}
		if next == "" || (s.zone != "" && !dns.IsSubDomain(s.zone, next)) {
			break
		}
		cur = next
	}
	if len(m.Answer) > 0 {
		return
	}
	if !exists(rrs, qname) {
		m.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(dns.CanonicalName(soa.Hdr.Name), qname) {
			m.Ns = append(m.Ns, dns.Copy(soa))
			break
		}
	}
}

// delegation returns the NS records of the zone cut at or above qname and
// below the apex, if any.
func delegation(rrs []dns.RR, apex, qname string) []dns.RR {
	var cut []dns.RR
	for _, rr := range rrs {
		ns, ok := rr.(*dns.NS)
		owner := dns.CanonicalName(rr.Header().Name)
		if ok && owner != apex && dns.IsSubDomain(owner, qname) {
			cut = append(cut, dns.Copy(ns))
		}
	}
	return cut
}

func exists(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if o := dns.CanonicalName(rr.Header().Name); o == name || strings.HasSuffix(o, "."+name) {
			return true
		}
	}
	return false
}

// listenBoth binds UDP and TCP on the same port of ip, a free one when port
// is 0.
func listenBoth(t testing.TB, ip string, port int) (net.PacketConn, net.Listener, int) {
	t.Helper()
	if !net.ParseIP(ip).IsLoopback() {
		t.Fatalf("%s is not a loopback address", ip)
	}
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		got := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(got)))
		if err != nil {
			l.Close()
			if port != 0 {
				t.Fatal(err)
			}
			continue
		}
		return pc, l, got
	}
	t.Fatalf("no port free for both UDP and TCP on %s", ip)
	return nil, nil, 0
}

// Silent listens on one port of 127.0.0.1 for UDP and TCP and never answers:
// datagrams are left unread, connections are accepted and left open. It
// stands for a server behind a firewall that drops everything.
func Silent(t testing.TB) (addr string, port int) {
	t.Helper()
	pc, l, port := listenBoth(t, "127.0.0.1", 0)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), port
}
