package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the EDNS0 UDP payload size we advertise: the DNS Flag Day 2020
// value, which avoids IP fragmentation. Larger answers come back truncated
// and are asked again over TCP (RFC 7766).
const ednsSize = 1232

// maxChain bounds how many CNAMEs are followed inside one answer.
const maxChain = 8

// server is a DNS server to ask directly: a label for people (its name, or
// the address when that is all we have) and the address to send to.
type server struct {
	label string
	addr  string // host:port
}

func (s server) String() string {
	if s.label == "" || s.label == s.addr {
		return s.addr
	}
	return fmt.Sprintf("%s (%s)", s.label, s.addr)
}

// dnsClient sends one query and waits at most timeout for its answer.
type dnsClient struct {
	timeout time.Duration
}

// exchange sends m to addr over UDP, and again over TCP when the answer is
// truncated. The error says what happened in words a person can act on.
func (c dnsClient) exchange(ctx context.Context, m *dns.Msg, addr string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &dns.Client{Net: "udp", Timeout: c.timeout, UDPSize: ednsSize}
	r, _, err := cl.ExchangeContext(ctx, m, addr)
	if err == nil && r.Truncated {
		cl.Net = "tcp"
		r, _, err = cl.ExchangeContext(ctx, m, addr)
	}
	if err != nil {
		return nil, netErr(err, c.timeout)
	}
	return r, nil
}

// errNoAnswer is a timeout: the server or host did not answer at all.
var errNoAnswer = errors.New("no answer")

// netErr shortens network errors to what matters: a timeout, a refusal, or
// the underlying message.
func netErr(err error, timeout time.Duration) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w within %s", errNoAnswer, timeout)
	}
	if errors.Is(err, net.ErrClosed) {
		return errors.New("connection closed")
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func question(name string, qtype uint16, recursive bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = recursive
	m.SetEdns0(ednsSize, false)
	return m
}

// canon is the form names are compared in: lower case, no trailing dot.
func canon(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// nameSet returns names in canonical form, sorted and without duplicates.
func nameSet(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, canon(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addrSet is a sorted set of addresses.
type addrSet []netip.Addr

func newAddrSet(addrs []netip.Addr) addrSet {
	s := slices.Clone(addrs)
	slices.SortFunc(s, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrSet(slices.Compact(s))
}

func (s addrSet) equal(o addrSet) bool { return slices.Equal(s, o) }

func (s addrSet) overlaps(o addrSet) bool {
	for _, a := range s {
		if slices.Contains(o, a) {
			return true
		}
	}
	return false
}

func (s addrSet) String() string {
	if len(s) == 0 {
		return "no address"
	}
	parts := make([]string, len(s))
	for i, a := range s {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// ipv4First orders addresses for dialing: IPv4 first, since a runner without
// IPv6 would otherwise spend its timeout on an unreachable address.
func (s addrSet) ipv4First() []netip.Addr {
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b netip.Addr) int {
		switch {
		case a.Is4() && !b.Is4():
			return -1
		case !a.Is4() && b.Is4():
			return 1
		}
		return 0
	})
	return out
}

// chain follows the CNAMEs for qname inside msg's answer section and returns
// the addresses of the last name, that name, and the smallest TTL on the way.
func chain(msg *dns.Msg, qname string) (addrs []netip.Addr, last string, ttl uint32) {
	cur := canon(qname)
	ttl = ^uint32(0)
	for range maxChain {
		next := ""
		for _, rr := range msg.Answer {
			if c, ok := rr.(*dns.CNAME); ok && canon(c.Hdr.Name) == cur {
				next = canon(c.Target)
				ttl = min(ttl, c.Hdr.Ttl)
			}
		}
		if next == "" || next == cur {
			break
		}
		cur = next
	}
	for _, rr := range msg.Answer {
		if canon(rr.Header().Name) != cur {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				addrs = append(addrs, a)
				ttl = min(ttl, v.Hdr.Ttl)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				addrs = append(addrs, a)
				ttl = min(ttl, v.Hdr.Ttl)
			}
		}
	}
	if ttl == ^uint32(0) {
		ttl = negativeTTL(msg)
	}
	return addrs, cur, ttl
}

// negativeTTL is how long a resolver may cache "no such data": the smaller of
// the SOA's TTL and its MINIMUM field (RFC 2308 §5); 0 when there is no SOA.
func negativeTTL(msg *dns.Msg) uint32 {
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	return 0
}

// resolver asks recursive resolvers, in order, until one answers. Once one
// has answered, later queries start with it, so a dead first resolver costs
// one timeout per run rather than one per query.
type resolver struct {
	servers   []string // host:port
	c         dnsClient
	preferred *atomic.Int32
}

func newResolver(servers []string, c dnsClient) resolver {
	return resolver{servers: servers, c: c, preferred: new(atomic.Int32)}
}

// query asks for name/qtype with recursion. A SERVFAIL or REFUSED moves on
// to the next server; the last answer or error is returned.
func (r resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	var lastErr error
	var last *dns.Msg
	first := int(r.preferred.Load())
	for i := range r.servers {
		idx := (first + i) % len(r.servers)
		s := r.servers[idx]
		msg, err := r.c.exchange(ctx, question(name, qtype, true), s)
		if err != nil {
			lastErr = fmt.Errorf("resolver %s: %w", s, err)
			continue
		}
		if msg.Rcode == dns.RcodeServerFailure || msg.Rcode == dns.RcodeRefused {
			last, lastErr = msg, nil
			continue
		}
		r.preferred.Store(int32(idx))
		return msg, nil
	}
	if last != nil {
		return last, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no resolver configured")
	}
	return nil, lastErr
}

// lookup is one name's A and AAAA records as a resolver sees them.
type lookup struct {
	addrs addrSet
	rcode int    // of the A query
	ttl   uint32 // seconds a resolver may keep this answer
}

// addresses resolves name's A and AAAA records. A failed query is an error;
// NXDOMAIN or no data is an empty set with the rcode.
func (r resolver) addresses(ctx context.Context, name string) (lookup, error) {
	var all []netip.Addr
	l := lookup{ttl: ^uint32(0)}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		msg, err := r.query(ctx, name, qt)
		if err != nil {
			return lookup{}, err
		}
		if msg.Rcode != dns.RcodeSuccess && msg.Rcode != dns.RcodeNameError {
			return lookup{}, fmt.Errorf("resolver answered %s for %s %s", dns.RcodeToString[msg.Rcode], name, dns.TypeToString[qt])
		}
		if qt == dns.TypeA {
			l.rcode = msg.Rcode
		}
		addrs, _, ttl := chain(msg, name)
		all = append(all, addrs...)
		l.ttl = min(l.ttl, ttl)
	}
	l.addrs = newAddrSet(all)
	return l, nil
}

// ipv4 resolves name to its IPv4 addresses, for reaching a name server.
func (r resolver) ipv4(ctx context.Context, name string) ([]netip.Addr, error) {
	msg, err := r.query(ctx, name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	addrs, _, _ := chain(msg, name)
	var v4 []netip.Addr
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		}
	}
	if len(v4) == 0 {
		return nil, fmt.Errorf("%s has no IPv4 address (%s)", canon(name), dns.RcodeToString[msg.Rcode])
	}
	return v4, nil
}

// parentZone finds the zone that holds the delegation of domain: the nearest
// ancestor that has NS records of its own. It returns the zone and its name
// servers' names.
func (r resolver) parentZone(ctx context.Context, domain string) (string, []string, error) {
	labels := dns.SplitDomainName(domain)
	for i := 1; i <= len(labels); i++ {
		zone := dns.Fqdn(strings.Join(labels[i:], "."))
		msg, err := r.query(ctx, zone, dns.TypeNS)
		if err != nil {
			return "", nil, err
		}
		var ns []string
		for _, rr := range msg.Answer {
			if n, ok := rr.(*dns.NS); ok && canon(n.Hdr.Name) == canon(zone) {
				ns = append(ns, n.Ns)
			}
		}
		if len(ns) > 0 {
			return zone, nameSet(ns), nil
		}
	}
	return "", nil, fmt.Errorf("no zone above %s has name servers", domain)
}

// authAnswer is what one authoritative server said about a name.
type authAnswer struct {
	addrs addrSet // A and AAAA at the end of any in-zone CNAME chain
	cname string  // set when the chain leaves the answer: its last target
	rcode int
	err   error // the server did not answer authoritatively
}

func (a authAnswer) String() string {
	switch {
	case a.err != nil:
		return a.err.Error()
	case a.cname != "":
		return "CNAME " + a.cname
	case len(a.addrs) == 0 && a.rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	case len(a.addrs) == 0:
		return "no A/AAAA record"
	}
	return a.addrs.String()
}

func (a authAnswer) same(b authAnswer) bool { return a.String() == b.String() }

// askAuthoritative asks s for name's A and AAAA records without recursion and
// requires an authoritative answer (the AA bit, RFC 1035 §4.1.1).
func askAuthoritative(ctx context.Context, c dnsClient, s server, name string) authAnswer {
	var all []netip.Addr
	var out authAnswer
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		msg, err := c.exchange(ctx, question(name, qt, false), s.addr)
		if err != nil {
			return authAnswer{err: err}
		}
		if err := authoritative(msg); err != nil {
			return authAnswer{err: err}
		}
		addrs, last, _ := chain(msg, name)
		if len(addrs) == 0 && last != canon(name) {
			out.cname = last
		}
		if qt == dns.TypeA {
			out.rcode = msg.Rcode
		}
		all = append(all, addrs...)
	}
	if len(all) > 0 {
		out.cname = ""
	}
	out.addrs = newAddrSet(all)
	return out
}

// authoritative accepts an answer that carries the AA bit and says either
// NOERROR or NXDOMAIN.
func authoritative(msg *dns.Msg) error {
	if msg.Rcode != dns.RcodeSuccess && msg.Rcode != dns.RcodeNameError {
		return fmt.Errorf("answered %s", dns.RcodeToString[msg.Rcode])
	}
	if !msg.Authoritative {
		return errors.New("answered without authority (AA bit not set): it does not serve this zone")
	}
	return nil
}

// askCNAME asks s for name's CNAME without recursion and returns its target.
func askCNAME(ctx context.Context, c dnsClient, s server, name string) (string, error) {
	msg, err := c.exchange(ctx, question(name, dns.TypeCNAME, false), s.addr)
	if err != nil {
		return "", err
	}
	if err := authoritative(msg); err != nil {
		return "", err
	}
	for _, rr := range msg.Answer {
		if cn, ok := rr.(*dns.CNAME); ok && canon(cn.Hdr.Name) == canon(name) {
			return canon(cn.Target), nil
		}
	}
	if msg.Rcode == dns.RcodeNameError {
		return "", errors.New("NXDOMAIN")
	}
	return "", errors.New("no CNAME record")
}

// referral asks s for domain's NS records without recursion and returns the
// set the parent delegates to: from a referral's authority section, or from
// the answer when the parent also serves the child.
func referral(ctx context.Context, c dnsClient, s server, domain string) ([]string, error) {
	msg, err := c.exchange(ctx, question(domain, dns.TypeNS, false), s.addr)
	if err != nil {
		return nil, err
	}
	switch msg.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, fmt.Errorf("NXDOMAIN: the parent zone has no %s", domain)
	default:
		return nil, fmt.Errorf("answered %s", dns.RcodeToString[msg.Rcode])
	}
	var ns []string
	for _, rr := range append(slices.Clone(msg.Answer), msg.Ns...) {
		if n, ok := rr.(*dns.NS); ok && canon(n.Hdr.Name) == canon(domain) {
			ns = append(ns, n.Ns)
		}
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("no NS records for %s: the parent does not delegate it", domain)
	}
	return nameSet(ns), nil
}
