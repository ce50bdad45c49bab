// Package check verifies a live deployment against the stack's outputs: the
// domain's delegation at its parent zone, the hosted zone's answers, public
// resolution, the certificate, the HTTP→HTTPS redirect and the health
// endpoints. Each check is a Result row: pass, fail or pending, with the
// expected value, the value seen and a hint.
//
// Every address, port, root pool and clock the checks use comes from Options,
// so tests run the whole verifier against servers on loopback.
package check

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bookstore-aws/bookstore/infra/verify/stackout"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Pending is a disagreement that time fixes: resolvers still caching an
	// older answer. It becomes Fail when Wait runs out.
	Pending Status = "pending"
)

// Kinds of checks, as they appear in Result.Check.
const (
	KindDelegation    = "delegation"
	KindALB           = "alb"
	KindAuthoritative = "authoritative"
	KindValidation    = "validation"
	KindPublic        = "public"
	KindTLS           = "tls"
	KindRedirect      = "redirect"
	KindHealth        = "health"
)

// MinValidity is how long a certificate must still be valid: ACM starts
// renewing 60 days before expiry, so under 21 days means renewal is stuck.
const MinValidity = 21 * 24 * time.Hour

// Result is one row of the report.
type Result struct {
	Check    string `json:"check"`    // one of the Kind constants
	Name     string `json:"name"`     // the DNS name or URL checked
	Status   Status `json:"status"`   // pass, fail or pending
	Expected string `json:"expected"` // what the stack's outputs say
	Seen     string `json:"seen"`     // what the live system answered
	Hint     string `json:"hint"`     // what to do about it; empty when passing
}

// Summary counts results by status.
type Summary struct {
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Pending int `json:"pending"`
}

// Report is the outcome of one run of every check.
type Report struct {
	Domain   string    `json:"domain"` // empty when the stack has no domain
	URL      string    `json:"url"`
	Status   Status    `json:"status"` // fail if any row fails, else pending if any is pending, else pass
	Summary  Summary   `json:"summary"`
	Attempts int       `json:"attempts"` // runs made; more than 1 only with Wait
	Notes    []string  `json:"notes"`
	Checks   []Result  `json:"checks"`
	Finished time.Time `json:"finished"`
}

// Options says where the checks send their queries and how they judge the
// answers. The zero value of each field means the production default.
type Options struct {
	// Resolvers are recursive resolvers, host:port, asked in order. Empty:
	// the name servers of /etc/resolv.conf (see SystemResolvers).
	Resolvers []string
	// ParentServers are the parent zone's authoritative servers, host:port.
	// Empty: found by asking the resolvers for the parent zone's NS records.
	ParentServers []string
	// DNSPort is the port of the authoritative servers whose addresses are
	// looked up (the parent's when found, and the hosted zone's). Default 53.
	DNSPort int
	// HTTPPort and HTTPSPort are where the names are dialed. Defaults 80, 443.
	HTTPPort, HTTPSPort int
	// Roots verifies certificate chains. Nil: the system's roots.
	Roots *x509.CertPool
	// Now is the clock for certificate validity. Nil: time.Now.
	Now func() time.Time
	// Timeout bounds each network exchange (a query, a handshake, a request).
	// Default 5s.
	Timeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Resolvers) == 0 {
		rs, err := SystemResolvers("/etc/resolv.conf")
		if err != nil {
			return o, err
		}
		o.Resolvers = rs
	}
	if o.DNSPort == 0 {
		o.DNSPort = 53
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 443
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return o, nil
}

// SystemResolvers returns the name servers of a resolv.conf file as
// host:port addresses, or an error naming the file.
func SystemResolvers(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the system resolvers: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("reading the system resolvers: %s lists no nameserver", path)
	}
	out := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		out[i] = net.JoinHostPort(s, cfg.Port)
	}
	return out, nil
}

// role is what a name is for; it decides which addresses it must have.
type role int

const (
	roleApex role = iota
	roleWWW
	roleSwarm
	roleLegacy
)

type site struct {
	role role
	name string // lower case, no trailing dot
}

// sites lists the names the stack serves, apex first.
func sites(out stackout.Outputs) []site {
	s := []site{{roleApex, out.Domain}, {roleWWW, host(out.WWWURL)}}
	if out.SwarmURL != "" {
		s = append(s, site{roleSwarm, host(out.SwarmURL)})
	}
	if out.LegacyURL != "" {
		s = append(s, site{roleLegacy, host(out.LegacyURL)})
	}
	return s
}

func host(u string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	return canon(h)
}

// prober holds what one run shares between checks.
type prober struct {
	out  stackout.Outputs
	opts Options
	dns  dnsClient
	res  resolver
}

// Run performs every check once and returns the report. It returns an error
// only when Options cannot be completed (no resolver configured); problems
// with the deployment are rows of the report.
func Run(ctx context.Context, out stackout.Outputs, opts Options) (Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	p := &prober{out: out, opts: opts, dns: dnsClient{timeout: opts.Timeout}}
	p.res = newResolver(opts.Resolvers, p.dns)
	rep := Report{Domain: out.Domain, URL: out.URL, Attempts: 1, Notes: []string{}}
	if out.HasDomain() {
		rep.Checks = p.domainChecks(ctx, &rep)
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"url is %s: the stack has no domain, so only the health checks over HTTP apply (no DNS, certificate or redirect checks)", out.URL))
		rep.Checks = p.httpOnlyChecks(ctx)
	}
	rep.finish(opts.Now())
	return rep, nil
}

func (r *Report) finish(now time.Time) {
	r.Summary = Summary{}
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			r.Summary.Pass++
		case Pending:
			r.Summary.Pending++
		default:
			r.Summary.Fail++
		}
	}
	switch {
	case r.Summary.Fail > 0:
		r.Status = Fail
	case r.Summary.Pending > 0:
		r.Status = Pending
	default:
		r.Status = Pass
	}
	r.Finished = now.UTC()
}

// siteState is what the DNS checks learned about one name, for the checks
// that follow.
type siteState struct {
	site
	auth Result
	// want is what resolvers should answer and where the name is dialed:
	// the hosted zone's answer when it is right, else the expected target.
	want addrSet
}

func (p *prober) domainChecks(ctx context.Context, rep *Report) []Result {
	var (
		wg          sync.WaitGroup
		delegation  Result
		alb         lookup
		albErr      error
		zoneServers []server
		zoneErrs    []string
	)
	wg.Go(func() { delegation = p.delegation(ctx) })
	wg.Go(func() { alb, albErr = p.res.addresses(ctx, p.out.ALBDNSName) })
	wg.Go(func() { zoneServers, zoneErrs = p.zoneServers(ctx) })
	wg.Wait()

	albRow := Result{Check: KindALB, Name: canon(p.out.ALBDNSName), Expected: "A/AAAA records (albDnsName resolves)"}
	switch {
	case albErr != nil:
		albRow.Status, albRow.Seen = Fail, albErr.Error()
		albRow.Hint = "the resolver could not be asked; pass --resolver host:port to use another"
	case len(alb.addrs) == 0:
		albRow.Status, albRow.Seen = Fail, "no address ("+dns.RcodeToString[alb.rcode]+")"
		albRow.Hint = "the load balancer does not exist or was replaced: run `pulumi refresh` and `pulumi stack output --json` again"
	default:
		albRow.Status, albRow.Seen = Pass, alb.addrs.String()
	}

	states := make([]*siteState, 0, 4)
	for _, s := range sites(p.out) {
		states = append(states, &siteState{site: s})
	}
	records := distinct(p.out.ValidationRecords)
	validation := make([]Result, len(records))
	for _, st := range states {
		wg.Go(func() { p.authoritativeRow(ctx, st, zoneServers, zoneErrs, alb.addrs) })
	}
	for i, rec := range records {
		wg.Go(func() { validation[i] = p.validationRow(ctx, rec, zoneServers, zoneErrs) })
	}
	wg.Wait()
	if len(p.out.ValidationRecords) == 0 {
		rep.Notes = append(rep.Notes, "validationRecords is empty: the certificate's DNS validation records were not checked")
	}

	public := make([]Result, len(states))
	web := make([][]Result, len(states))
	for i, st := range states {
		wg.Go(func() { public[i] = p.publicRow(ctx, st) })
		wg.Go(func() { web[i] = p.webRows(ctx, st) })
	}
	wg.Wait()

	rows := []Result{delegation, albRow}
	// A name server that cannot be reached by name cannot be asked; the
	// others still are, so each such server is a row of its own.
	for _, e := range zoneErrs {
		name, msg, _ := strings.Cut(e, ": ")
		// An answer without an address blames the output; no answer at all
		// blames the way to the resolver.
		hint := "nameServers lists a server that does not resolve: it must be the hosted zone's NS set"
		if !strings.Contains(msg, "no IPv4 address") {
			hint = "the resolver gave no answer about this name server: check --resolver, /etc/resolv.conf and the network"
		}
		rows = append(rows, Result{Check: KindAuthoritative, Name: name, Status: Fail,
			Expected: "an IPv4 address, to ask it", Seen: msg, Hint: hint})
	}
	for _, st := range states {
		rows = append(rows, st.auth)
	}
	rows = append(rows, validation...)
	rows = append(rows, public...)
	// Group the web rows by kind so a reader scans one concern at a time.
	for _, kind := range []string{KindTLS, KindRedirect, KindHealth} {
		for _, w := range web {
			for _, r := range w {
				if r.Check == kind {
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// delegation checks that the parent zone's own servers delegate the domain to
// the hosted zone's name servers.
func (p *prober) delegation(ctx context.Context) Result {
	want := nameSet(p.out.NameServers)
	r := Result{Check: KindDelegation, Name: p.out.Domain, Expected: strings.Join(want, " ")}
	parents, zone, err := p.parentServers(ctx)
	if err != nil {
		r.Status, r.Seen = Fail, err.Error()
		r.Hint = "the parent zone's servers could not be found; check the resolver (--resolver) and that the domain is registered"
		return r
	}
	var errs []string
	for _, s := range parents {
		if s.addr == "" {
			// Resolved only when needed: the first of a TLD's servers
			// usually answers.
			ips, err := p.res.ipv4(ctx, s.label)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", s.label, err))
				continue
			}
			s.addr = net.JoinHostPort(ips[0].String(), strconv.Itoa(p.opts.DNSPort))
		}
		got, err := referral(ctx, p.dns, s, p.out.Domain)
		if errors.Is(err, errNoAnswer) {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
			continue // another of the parent's servers may answer
		}
		if err != nil {
			r.Status, r.Seen = Fail, fmt.Sprintf("%s: %v", s, err)
			r.Hint = fmt.Sprintf("%s does not delegate %s: register the domain, or set its name servers at the registrar to nameServers", zone, p.out.Domain)
			return r
		}
		r.Seen = strings.Join(got, " ")
		if slices.Equal(got, want) {
			r.Status = Pass
			return r
		}
		r.Status = Fail
		r.Hint = fmt.Sprintf("%s (asked %s) delegates %s to other name servers: set the domain's name servers at its registrar to exactly nameServers, then wait for the parent to publish them",
			zone, s, p.out.Domain)
		return r
	}
	r.Status, r.Seen = Fail, strings.Join(errs, "; ")
	r.Hint = fmt.Sprintf("no server of %s answered: check that this machine can reach port 53, or raise --timeout", zone)
	return r
}

// parentServers returns the servers to ask for the delegation, and a phrase
// naming the parent zone for hints. Servers found through the resolver come
// with their names only (addr empty), to be resolved when asked.
func (p *prober) parentServers(ctx context.Context) ([]server, string, error) {
	if len(p.opts.ParentServers) > 0 {
		out := make([]server, len(p.opts.ParentServers))
		for i, a := range p.opts.ParentServers {
			out[i] = server{label: a, addr: a}
		}
		return out, "the parent zone", nil
	}
	zone, names, err := p.res.parentZone(ctx, p.out.Domain)
	if err != nil {
		return nil, "", fmt.Errorf("finding the parent zone of %s: %w", p.out.Domain, err)
	}
	out := make([]server, len(names))
	for i, n := range names {
		out[i] = server{label: n}
	}
	return out, "the parent zone " + canon(zone), nil
}

// zoneServers resolves nameServers to addresses; the names that do not
// resolve come back as messages.
func (p *prober) zoneServers(ctx context.Context) ([]server, []string) {
	names := nameSet(p.out.NameServers)
	servers := make([]server, len(names))
	errs := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			ips, err := p.res.ipv4(ctx, n)
			if err != nil {
				errs[i] = fmt.Sprintf("%s: %v", n, err)
				return
			}
			servers[i] = server{label: n, addr: net.JoinHostPort(ips[0].String(), strconv.Itoa(p.opts.DNSPort))}
		})
	}
	wg.Wait()
	var okServers []server
	var badErrs []string
	for i := range names {
		if errs[i] != "" {
			badErrs = append(badErrs, errs[i])
		} else {
			okServers = append(okServers, servers[i])
		}
	}
	return okServers, badErrs
}

// askAll asks every server in parallel and returns their answers in order.
func askAll[T any](servers []server, ask func(server) T) []T {
	out := make([]T, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { out[i] = ask(s) })
	}
	wg.Wait()
	return out
}

// authoritativeRow asks every hosted-zone server for st's addresses and
// compares them with the target the name must point at.
func (p *prober) authoritativeRow(ctx context.Context, st *siteState, servers []server, zoneErrs []string, alb addrSet) {
	r := Result{Check: KindAuthoritative, Name: st.name}
	var alt addrSet // another acceptable target
	switch st.role {
	case roleApex, roleWWW:
		r.Expected = "the ALB's addresses: " + alb.String()
		st.want = alb
	case roleSwarm:
		r.Expected = "the ALB's addresses: " + alb.String()
		st.want = alb
		if ip, err := netip.ParseAddr(p.out.SwarmManagerIP); err == nil {
			alt = addrSet{ip}
			r.Expected += ", or swarmManagerIp " + ip.String()
		}
	case roleLegacy:
		// The monolith's Elastic IP is not among the outputs: any address will do here;
		// the TLS and health rows tell whether it is the right host.
		r.Expected = "an A record (the monolith's Elastic IP) or the ALB's addresses"
	}
	defer func() { st.auth = r }()

	if len(servers) == 0 {
		r.Status, r.Seen = Fail, "no hosted-zone server to ask: "+strings.Join(zoneErrs, "; ")
		r.Hint = "nameServers must be resolvable host names (Route 53 gives four)"
		return
	}
	answers := askAll(servers, func(s server) authAnswer { return askAuthoritative(ctx, p.dns, s, st.name) })
	if msg, ok := disagreement(servers, answers); !ok {
		r.Status, r.Seen = Fail, msg
		r.Hint = "every server in nameServers must answer authoritatively and alike; a server without the zone means nameServers is not this hosted zone's set"
		return
	}
	a := answers[0]
	r.Seen = a.String()
	switch {
	case a.cname != "" && canon(a.cname) == canon(p.out.ALBDNSName) && st.role != roleApex:
		r.Status = Pass
		return
	case a.cname != "" && st.role == roleApex:
		r.Status = Fail
		r.Hint = "a CNAME cannot sit at the zone apex (RFC 1034 §3.6.2); use an alias A/AAAA record to the ALB"
		return
	case len(a.addrs) == 0:
		r.Status = Fail
		r.Hint = fmt.Sprintf("the hosted zone has no address for %s: `pulumi up` creates its alias records; check the zone %s", st.name, p.out.HostedZoneID)
		return
	case st.role == roleLegacy:
		r.Status = Pass
		st.want = a.addrs
		return
	case len(alt) > 0 && a.addrs.equal(alt):
		r.Status = Pass
		st.want = alt
		return
	case len(st.want) == 0:
		r.Status = Fail
		r.Hint = "albDnsName does not resolve, so there is nothing to compare with (see the alb row)"
		return
	case a.addrs.equal(st.want):
		r.Status = Pass
		return
	case a.addrs.overlaps(st.want):
		// Alias answers and the ALB's own name are looked up moments apart;
		// while the ALB scales its nodes the two can differ in part.
		r.Status = Pending
		r.Hint = "the ALB's addresses changed between the two lookups; this settles within a minute"
		return
	}
	r.Status = Fail
	r.Hint = fmt.Sprintf("%s points elsewhere: its record should be an alias to albDnsName", st.name)
}

// disagreement reports whether every server answered, and alike. When not,
// it names each server with its answer.
func disagreement(servers []server, answers []authAnswer) (string, bool) {
	ok := true
	for _, a := range answers {
		if a.err != nil || !a.same(answers[0]) {
			ok = false
		}
	}
	if ok {
		return "", true
	}
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = fmt.Sprintf("%s: %s", s, answers[i])
	}
	return strings.Join(parts, "; "), false
}

// distinct drops repeated validation records: ACM gives the apex and a
// wildcard the same one.
func distinct(recs []stackout.Record) []stackout.Record {
	var out []stackout.Record
	seen := map[[2]string]bool{}
	for _, r := range recs {
		k := [2]string{canon(r.Name), canon(r.Value)}
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// validationRow checks that every hosted-zone server answers rec's CNAME with
// rec's value, as ACM needs to issue and later to renew the certificate.
func (p *prober) validationRow(ctx context.Context, rec stackout.Record, servers []server, zoneErrs []string) Result {
	r := Result{Check: KindValidation, Name: canon(rec.Name), Expected: "CNAME " + canon(rec.Value)}
	if len(servers) == 0 {
		r.Status, r.Seen = Fail, "no hosted-zone server to ask: "+strings.Join(zoneErrs, "; ")
		return r
	}
	type answer struct {
		target string
		err    error
	}
	answers := askAll(servers, func(s server) answer {
		t, err := askCNAME(ctx, p.dns, s, rec.Name)
		return answer{t, err}
	})
	var bad []string
	for i, a := range answers {
		switch {
		case a.err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", servers[i], a.err))
		case a.target != canon(rec.Value):
			bad = append(bad, fmt.Sprintf("%s: CNAME %s", servers[i], a.target))
		}
	}
	if len(bad) == 0 {
		r.Status, r.Seen = Pass, "CNAME "+answers[0].target
		return r
	}
	r.Status, r.Seen = Fail, strings.Join(bad, "; ")
	r.Hint = "ACM cannot validate or renew the certificate without this record; `pulumi up` creates it in the hosted zone"
	return r
}

// publicRow checks that the resolvers give out what the hosted zone says.
func (p *prober) publicRow(ctx context.Context, st *siteState) Result {
	source := "the hosted zone's answer"
	if st.auth.Status != Pass {
		source = "the expected target; the hosted zone's answer is wrong"
	}
	r := Result{Check: KindPublic, Name: st.name, Expected: st.want.String() + " (" + source + ")"}
	if len(st.want) == 0 {
		r.Status, r.Seen = Fail, "not asked"
		r.Hint = "there is no right answer to compare with: fix the authoritative row first"
		return r
	}
	l, err := p.res.addresses(ctx, st.name)
	if err != nil {
		r.Status, r.Seen = Fail, err.Error()
		r.Hint = "the resolver could not be asked; pass --resolver host:port to use another"
		return r
	}
	r.Seen = l.addrs.String()
	if len(l.addrs) == 0 && l.rcode == dns.RcodeNameError {
		r.Seen = "NXDOMAIN"
	}
	if l.addrs.equal(st.want) {
		r.Status = Pass
		return r
	}
	r.Status = Pending
	r.Hint = "resolvers still hold an older answer while the delegation and records propagate"
	if l.ttl > 0 && l.ttl != ^uint32(0) {
		r.Hint += fmt.Sprintf("; this one may keep it for %s more", time.Duration(l.ttl)*time.Second)
	}
	return r
}
