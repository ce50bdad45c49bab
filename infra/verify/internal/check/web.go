package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Health endpoints of the service (docs/architecture.md, the contract, "liveness / readiness").
var healthPaths = []string{"/healthz", "/readyz"}

// redirectPath is what the redirect check asks for over plain HTTP; the
// answer must keep it, as the ALB's redirect action does by default.
const redirectPath = "/healthz"

// dialer connects to the first of addrs that accepts on port, whatever host
// the caller asked for: the checks decide where a name is served.
func (p *prober) dialer(addrs []netip.Addr, port int) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		var errs []string
		for _, a := range addrs {
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), strconv.Itoa(port)))
			if err == nil {
				return c, nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v", a, netErr(err, p.opts.Timeout)))
			if ctx.Err() != nil {
				break
			}
		}
		if len(errs) == 0 {
			return nil, errors.New("no address to connect to")
		}
		return nil, errors.New(strings.Join(errs, "; "))
	}
}

// client makes requests that never follow redirects and never reuse a
// connection, dialing addrs on port. Certificates are not verified here: the
// tls row judges them, and a health row should say whether the service is up
// even when the certificate is wrong. Nothing secret is sent.
func (p *prober) client(addrs []netip.Addr, port int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       p.dialer(addrs, port),
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       p.opts.Timeout,
	}
}

// get requests u and returns the response with at most 512 bytes of its body
// read, or an error in a person's words.
func (p *prober) get(ctx context.Context, c *http.Client, u string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "bookstore-verify")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", netErr(err, p.opts.Timeout)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp, snippet(body), nil
}

// snippet is a body's first line-ish, for a failing row.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// webRows checks what a browser would see at st's name: the certificate, the
// redirect from http and the health endpoints.
func (p *prober) webRows(ctx context.Context, st *siteState) []Result {
	addrs := st.want.ipv4First()
	if len(addrs) == 0 {
		return p.unreachable(st.name)
	}
	rows := make([]Result, 2+len(healthPaths))
	var wg sync.WaitGroup
	wg.Go(func() { rows[0] = p.tlsRow(ctx, st.name, addrs) })
	wg.Go(func() { rows[1] = p.redirectRow(ctx, st.name, addrs) })
	for i, path := range healthPaths {
		wg.Go(func() { rows[2+i] = p.healthRow(ctx, "https://"+st.name+path, addrs, p.opts.HTTPSPort) })
	}
	wg.Wait()
	return rows
}

// unreachable is the web rows of a name with no address to dial.
func (p *prober) unreachable(name string) []Result {
	rows := []Result{
		{Check: KindTLS, Name: name, Expected: "a certificate for " + name},
		{Check: KindRedirect, Name: "http://" + name + redirectPath, Expected: "301 to https://" + name + redirectPath},
	}
	for _, path := range healthPaths {
		rows = append(rows, Result{Check: KindHealth, Name: "https://" + name + path, Expected: "200"})
	}
	for i := range rows {
		rows[i].Status, rows[i].Seen = Fail, "not asked: "+name+" has no address"
		rows[i].Hint = "fix the authoritative row for " + name + " first"
	}
	return rows
}

func (p *prober) tlsRow(ctx context.Context, name string, addrs []netip.Addr) Result {
	r := Result{Check: KindTLS, Name: name,
		Expected: fmt.Sprintf("a certificate for %s from a trusted root, more than %d days left", name, int(MinValidity.Hours()/24))}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	conn, err := p.dialer(addrs, p.opts.HTTPSPort)(ctx, "tcp", "")
	if err != nil {
		r.Status, r.Seen = Fail, err.Error()
		r.Hint = "nothing accepts connections on port 443: the ALB's listener or security group"
		return r
	}
	defer conn.Close()
	// Verification is done below, step by step, so the row can say which
	// part fails; nothing is sent on this connection.
	tc := tls.Client(conn, &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		r.Status, r.Seen = Fail, "handshake: "+netErr(err, p.opts.Timeout).Error()
		r.Hint = "the listener on 443 does not complete a TLS 1.2+ handshake for this name"
		return r
	}
	certs := tc.ConnectionState().PeerCertificates
	leaf := certs[0]
	now := p.opts.Now()
	left := leaf.NotAfter.Sub(now)
	r.Seen = fmt.Sprintf("for %s, issued by %s, expires %s (%s)",
		strings.Join(leaf.DNSNames, " "), issuer(leaf), leaf.NotAfter.UTC().Format(time.DateOnly), daysLeft(left))

	var problems, hints []string
	if err := leaf.VerifyHostname(name); err != nil {
		problems = append(problems, "does not cover "+name)
		hints = append(hints, fmt.Sprintf("the certificate must list %s as a subject alternative name (the ACM certificate's subjectAlternativeNames)", name))
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{
		Roots: p.opts.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	var inv x509.CertificateInvalidError
	switch {
	case left <= 0:
		problems = append(problems, "expired")
		hints = append(hints, "replace the certificate now")
	case verr != nil && !(errors.As(verr, &inv) && inv.Reason == x509.Expired):
		problems = append(problems, "does not chain to a trusted root: "+verr.Error())
		hints = append(hints, "serve the full chain from a public CA (ACM does)")
	}
	if left > 0 && left <= MinValidity {
		problems = append(problems, fmt.Sprintf("%d days or fewer left", int(MinValidity.Hours()/24)))
		hints = append(hints, "ACM renews from 60 days before expiry while its validation CNAMEs resolve: check the validation rows and the certificate's renewal status")
	}
	if len(problems) == 0 {
		r.Status = Pass
		return r
	}
	r.Status = Fail
	r.Seen = strings.Join(problems, "; ") + " — " + r.Seen
	r.Hint = strings.Join(hints, "; ")
	return r
}

func issuer(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func daysLeft(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	return fmt.Sprintf("%d days left", int(d.Hours()/24))
}

func (p *prober) redirectRow(ctx context.Context, name string, addrs []netip.Addr) Result {
	want := "https://" + name + redirectPath
	r := Result{Check: KindRedirect, Name: "http://" + name + redirectPath, Expected: "301 to " + want}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	resp, body, err := p.get(ctx, p.client(addrs, p.opts.HTTPPort), "http://"+name+redirectPath)
	if err != nil {
		r.Status, r.Seen = Fail, err.Error()
		r.Hint = "nothing answers on port 80: the ALB's :80 listener or security group"
		return r
	}
	loc := resp.Header.Get("Location")
	r.Seen = resp.Status
	if loc != "" {
		r.Seen += " to " + loc
	} else if body != "" && resp.StatusCode != http.StatusMovedPermanently {
		r.Seen += ": " + body
	}
	if resp.StatusCode != http.StatusMovedPermanently {
		r.Status = Fail
		r.Hint = "the :80 listener must answer with a redirect action to HTTPS, status HTTP_301"
		return r
	}
	if ok, why := sameOnHTTPS(loc, name); !ok {
		r.Status = Fail
		r.Hint = "the redirect must go to https on the same host and path (" + why + "); the ALB's defaults #{host} and #{path} do that"
		return r
	}
	r.Status = Pass
	return r
}

// sameOnHTTPS reports whether loc is https://name on the default port with
// redirectPath, and if not, why.
func sameOnHTTPS(loc, name string) (bool, string) {
	u, err := url.Parse(loc)
	switch {
	case loc == "":
		return false, "no Location header"
	case err != nil:
		return false, "Location is not a URL"
	case u.Scheme != "https":
		return false, "scheme " + strconv.Quote(u.Scheme)
	case canon(u.Hostname()) != name:
		return false, "host " + u.Hostname()
	case u.Port() != "" && u.Port() != "443":
		return false, "port " + u.Port()
	case u.Path != redirectPath:
		return false, "path " + strconv.Quote(u.Path)
	}
	return true, ""
}

func (p *prober) healthRow(ctx context.Context, u string, addrs []netip.Addr, port int) Result {
	r := Result{Check: KindHealth, Name: u, Expected: "200"}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	resp, body, err := p.get(ctx, p.client(addrs, port), u)
	if err != nil {
		r.Status, r.Seen = Fail, err.Error()
		r.Hint = "the load balancer does not answer; check its listeners and security group"
		return r
	}
	r.Seen = resp.Status
	if resp.StatusCode == http.StatusOK {
		r.Status = Pass
		return r
	}
	if body != "" {
		r.Seen += ": " + body
	}
	r.Status = Fail
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable && strings.HasSuffix(u, "/readyz"):
		r.Hint = "the service runs but is not ready: database unreachable, migrations pending, or draining; see its logs"
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
		r.Hint = "the ALB has no healthy target: check the target groups' health and the instances' logs"
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.Hint = "health endpoints must answer directly, not redirect"
	default:
		r.Hint = "the service's health endpoint must answer 200"
	}
	return r
}

// httpOnlyChecks is all that applies without a domain: health over plain
// HTTP at url.
func (p *prober) httpOnlyChecks(ctx context.Context) []Result {
	u, _ := url.Parse(p.out.URL) // stackout checked it
	port := p.opts.HTTPPort
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	base := strings.TrimSuffix(p.out.URL, "/")
	l, err := p.res.addresses(ctx, u.Hostname())
	rows := make([]Result, len(healthPaths))
	for i, path := range healthPaths {
		switch {
		case err != nil:
			rows[i] = Result{Check: KindHealth, Name: base + path, Expected: "200", Status: Fail, Seen: err.Error(),
				Hint: "the resolver could not be asked; pass --resolver host:port to use another"}
		case len(l.addrs) == 0:
			rows[i] = Result{Check: KindHealth, Name: base + path, Expected: "200", Status: Fail, Seen: u.Hostname() + " does not resolve",
				Hint: "the load balancer does not exist or was replaced: run `pulumi refresh` and read the outputs again"}
		default:
			rows[i] = p.healthRow(ctx, base+path, l.addrs.ipv4First(), port)
		}
	}
	return rows
}
