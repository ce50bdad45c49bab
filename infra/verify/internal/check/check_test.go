package check_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/verify/internal/check"
	vt "github.com/bookstore-aws/bookstore/infra/verify/internal/verifytest"
)

func run(t *testing.T, w *vt.World, opts check.Options) check.Report {
	t.Helper()
	rep, err := check.Run(context.Background(), w.Outputs(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// row finds the row of kind about name; it fails the test when there is not
// exactly one.
func row(t *testing.T, rep check.Report, kind, name string) check.Result {
	t.Helper()
	var found []check.Result
	for _, r := range rep.Checks {
		if r.Check == kind && r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rows %s %s in:\n%s", len(found), kind, name, dump(rep))
	}
	return found[0]
}

func dump(rep check.Report) string {
	var b strings.Builder
	_ = check.WriteText(&b, rep)
	return b.String()
}

// expect checks one row's status and that its seen value and hint contain
// the given phrases.
func expect(t *testing.T, rep check.Report, kind, name string, status check.Status, seen, hint string) check.Result {
	t.Helper()
	r := row(t, rep, kind, name)
	if r.Status != status {
		t.Errorf("%s %s: status %s, want %s\n%s", kind, name, r.Status, status, dump(rep))
	}
	if !strings.Contains(r.Seen, seen) {
		t.Errorf("%s %s: seen %q, want it to contain %q", kind, name, r.Seen, seen)
	}
	if !strings.Contains(r.Hint, hint) {
		t.Errorf("%s %s: hint %q, want it to contain %q", kind, name, r.Hint, hint)
	}
	if status != check.Pass && r.Hint == "" {
		t.Errorf("%s %s: %s without a hint", kind, name, status)
	}
	return r
}

// onlyFailing asserts that exactly the rows named (kind + " " + name) do not
// pass: a fault shows where it is and nowhere else.
func onlyFailing(t *testing.T, rep check.Report, rows ...string) {
	t.Helper()
	var got []string
	for _, r := range rep.Checks {
		if r.Status != check.Pass {
			got = append(got, r.Check+" "+r.Name)
		}
	}
	slices.Sort(got)
	slices.Sort(rows)
	if !slices.Equal(got, rows) {
		t.Errorf("rows not passing: %q, want %q\n%s", got, rows, dump(rep))
	}
}

func TestAllPass(t *testing.T) {
	w := vt.NewWorld(t)
	rep := run(t, w, w.Options())
	if rep.Status != check.Pass {
		t.Fatalf("status %s\n%s", rep.Status, dump(rep))
	}
	// 1 delegation, 1 alb, 4 authoritative, 2 validation, 4 public, 4 tls, 4 redirect, 8 health.
	if len(rep.Checks) != 28 || rep.Summary.Pass != 28 {
		t.Errorf("%d checks, %d pass; want 28\n%s", len(rep.Checks), rep.Summary.Pass, dump(rep))
	}
	onlyFailing(t, rep)
	d := row(t, rep, check.KindDelegation, "example.com")
	if d.Seen != "ns-1.awsdns-01.org ns-2.awsdns-02.co.uk ns-3.awsdns-03.com ns-4.awsdns-04.net" {
		t.Errorf("delegation seen %q", d.Seen)
	}
	if r := row(t, rep, check.KindAuthoritative, "www.example.com"); r.Seen != "127.0.0.1 ::1" {
		t.Errorf("authoritative www seen %q", r.Seen)
	}
	if r := row(t, rep, check.KindTLS, "www.example.com"); !strings.Contains(r.Seen, "expires 2026-08-30 (90 days left)") {
		t.Errorf("tls seen %q, want the expiry date and days left", r.Seen)
	}
	// Each server is asked what it is for, once: the parent for the
	// delegation; each of the 4 zone servers for 4 names × (A, AAAA) and 2
	// validation CNAMEs; the resolver for the ALB (A, AAAA), the 4 name
	// servers and the 4 names (A, AAAA).
	if p, z, r := w.Parent.Queries(), w.Zone.Queries(), w.Resolver.Queries(); p != 1 || z != 40 || r != 14 {
		t.Errorf("queries: parent %d, zone %d, resolver %d; want 1, 40, 14", p, z, r)
	}
	// The certificate was asked for by each name, as a browser would.
	if got := w.Web.SNIs(); !slices.Equal(got, []string{"example.com", "legacy.example.com", "swarm.example.com", "www.example.com"}) {
		t.Errorf("SNI names seen by the server: %q", got)
	}
}

func TestDelegationToOtherNameServers(t *testing.T) {
	w := vt.NewWorld(t)
	w.Parent.Set(t, vt.ParentRecords("NS1.Registrar-Parking.net", "ns2.registrar-parking.net.")...)
	rep := run(t, w, w.Options())
	r := expect(t, rep, check.KindDelegation, "example.com", check.Fail,
		"ns1.registrar-parking.net ns2.registrar-parking.net", "set the domain's name servers at its registrar")
	if r.Expected != "ns-1.awsdns-01.org ns-2.awsdns-02.co.uk ns-3.awsdns-03.com ns-4.awsdns-04.net" {
		t.Errorf("expected %q, want the stack's nameServers", r.Expected)
	}
	onlyFailing(t, rep, "delegation example.com")
}

func TestDelegationComparesCaseAndDotsAway(t *testing.T) {
	w := vt.NewWorld(t)
	w.Parent.Set(t, vt.ParentRecords("NS-4.AWSDNS-04.NET", "ns-3.awsdns-03.com", "Ns-2.Awsdns-02.Co.Uk", "ns-1.awsdns-01.org")...)
	w.Stack["nameServers"] = []any{"ns-1.awsdns-01.org.", "NS-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"}
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindDelegation, "example.com", check.Pass, "ns-1.awsdns-01.org", "")
}

func TestNotDelegated(t *testing.T) {
	w := vt.NewWorld(t)
	w.Parent.Set(t, vt.ParentRecords()...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindDelegation, "example.com", check.Fail, "NXDOMAIN", "register the domain")
}

func TestParentFoundThroughResolver(t *testing.T) {
	w := vt.NewWorld(t)
	// Like the real com. servers, the parent listens on the same port as
	// the hosted zone's (53), on another address.
	parent := vt.NewDNSOn(t, "127.0.0.2", w.Zone.Port, "com.", vt.ParentRecords("ns9.elsewhere.net")...)
	// The first of com.'s servers has no address; the verifier moves on.
	w.Resolver.Set(t, append(vt.ResolverRecords(),
		"com. 172800 IN NS a.gtld-servers.net.",
		"com. 172800 IN NS b.gtld-servers.net.",
		"b.gtld-servers.net. 172800 IN A 127.0.0.2")...)
	opts := w.Options()
	opts.ParentServers = nil
	rep := run(t, w, opts)
	expect(t, rep, check.KindDelegation, "example.com", check.Fail, "ns9.elsewhere.net", "parent zone com (asked b.gtld-servers.net")
	if parent.Queries() == 0 {
		t.Error("the parent found through the resolver was never asked")
	}
	if w.Parent.Queries() != 0 {
		t.Error("the parent given in the default options was asked")
	}
}

func TestMissingWWW(t *testing.T) {
	w := vt.NewWorld(t)
	w.Zone.Set(t, vt.Drop(vt.ZoneRecords(), "www.example.com.")...)
	rep := run(t, w, w.Options())
	// _e5f6.www.example.com still exists, so www is an empty non-terminal:
	// NOERROR without records, not NXDOMAIN.
	expect(t, rep, check.KindAuthoritative, "www.example.com", check.Fail, "no A/AAAA record", "has no address for www.example.com")
	onlyFailing(t, rep, "authoritative www.example.com")
}

func TestSwarmMissingIsNXDOMAIN(t *testing.T) {
	w := vt.NewWorld(t)
	w.Zone.Set(t, vt.Drop(vt.ZoneRecords(), "swarm.example.com.")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "swarm.example.com", check.Fail, "NXDOMAIN", "alias records")
}

func TestWWWPointsElsewhere(t *testing.T) {
	w := vt.NewWorld(t)
	recs := vt.Drop(vt.ZoneRecords(), "www.example.com.")
	w.Zone.Set(t, append(recs, "www.example.com. 60 IN A 127.0.0.7")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "www.example.com", check.Fail, "127.0.0.7", "alias to albDnsName")
}

func TestWWWAsCNAMEToTheALB(t *testing.T) {
	w := vt.NewWorld(t)
	recs := vt.Drop(vt.ZoneRecords(), "www.example.com.")
	w.Zone.Set(t, append(recs, "www.example.com. 300 IN CNAME "+vt.ALB+".")...)
	w.Resolver.Set(t, append(vt.Drop(vt.ResolverRecords(), "www.example.com."),
		"www.example.com. 300 IN CNAME "+vt.ALB+".")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "www.example.com", check.Pass, "CNAME "+vt.ALB, "")
	expect(t, rep, check.KindPublic, "www.example.com", check.Pass, "127.0.0.1 ::1", "")
}

func TestSwarmOnItsManagerIP(t *testing.T) {
	w := vt.NewWorld(t)
	recs := vt.Drop(vt.ZoneRecords(), "swarm.example.com.")
	w.Zone.Set(t, append(recs, "swarm.example.com. 60 IN A 127.0.0.3")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "swarm.example.com", check.Pass, "127.0.0.3", "")
	// Resolvers are compared with the zone, not with the ALB.
	expect(t, rep, check.KindPublic, "swarm.example.com", check.Pending, "127.0.0.1 ::1", "older answer")
}

func TestZoneServersDisagree(t *testing.T) {
	w := vt.NewWorld(t)
	recs := vt.Drop(vt.ZoneRecords(), "www.example.com.")
	vt.NewDNSOn(t, "127.0.0.2", w.Zone.Port, vt.Domain, append(recs, "www.example.com. 60 IN A 127.0.0.1")...)
	w.Resolver.Set(t, append(vt.Drop(vt.ResolverRecords(), "ns-4.awsdns-04.net."), "ns-4.awsdns-04.net. 60 IN A 127.0.0.2")...)
	rep := run(t, w, w.Options())
	r := expect(t, rep, check.KindAuthoritative, "www.example.com", check.Fail, "ns-4.awsdns-04.net (127.0.0.2:", "answer authoritatively and alike")
	if !strings.Contains(r.Seen, "ns-1.awsdns-01.org (127.0.0.1:") || !strings.Contains(r.Seen, ": 127.0.0.1 ::1") {
		t.Errorf("seen %q should name each server with its answer", r.Seen)
	}
}

func TestZoneServerWithoutAuthority(t *testing.T) {
	w := vt.NewWorld(t)
	// A resolver, not the zone's server, sits at ns-4's address.
	vt.NewDNSOn(t, "127.0.0.2", w.Zone.Port, "", vt.ResolverRecords()...)
	w.Resolver.Set(t, append(vt.Drop(vt.ResolverRecords(), "ns-4.awsdns-04.net."), "ns-4.awsdns-04.net. 60 IN A 127.0.0.2")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "example.com", check.Fail, "AA bit not set", "")
	expect(t, rep, check.KindValidation, "_a1b2.example.com", check.Fail, "AA bit not set", "ACM cannot validate")
}

func TestValidationRecordWrong(t *testing.T) {
	w := vt.NewWorld(t)
	w.Zone.Set(t, vt.Replace(vt.ZoneRecords(), "_a7b8.xyz.acm-validations.aws.", "_old.xyz.acm-validations.aws.")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindValidation, "_e5f6.www.example.com", check.Fail, "CNAME _old.xyz.acm-validations.aws", "ACM cannot validate")
	onlyFailing(t, rep, "validation _e5f6.www.example.com")
}

func TestPublicResolutionIsPendingNotFailed(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Replace(vt.ResolverRecords(), "www.example.com. 60 IN A 127.0.0.1", "www.example.com. 45 IN A 127.0.0.9")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindPublic, "www.example.com", check.Pending, "127.0.0.9", "may keep it for 45s more")
	if rep.Status != check.Pending {
		t.Errorf("report status %s, want pending", rep.Status)
	}
	onlyFailing(t, rep, "public www.example.com")
}

func TestPublicNXDOMAINShowsNegativeCaching(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, append(vt.Drop(vt.ResolverRecords(), "legacy.example.com."),
		"example.com. 900 IN SOA ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 300")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindPublic, "legacy.example.com", check.Pending, "NXDOMAIN", "5m0s more")
}

func TestCertificateWithoutWWW(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetCert(w.CA.Issue(t, w.Now.AddDate(0, 0, 90), "example.com", "swarm.example.com", "legacy.example.com"))
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindTLS, "www.example.com", check.Fail, "does not cover www.example.com", "subject alternative name")
	// The health of www is judged apart from its certificate.
	onlyFailing(t, rep, "tls www.example.com")
}

func TestCertificateExpiringSoon(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetCert(w.CA.Issue(t, w.Now.Add(10*24*time.Hour+time.Hour), vt.Names()...))
	rep := run(t, w, w.Options())
	for _, n := range vt.Names() {
		expect(t, rep, check.KindTLS, n, check.Fail, "21 days or fewer left", "renewal")
	}
	r := row(t, rep, check.KindTLS, "example.com")
	if !strings.Contains(r.Seen, "expires 2026-06-11 (10 days left)") {
		t.Errorf("seen %q, want the expiry date", r.Seen)
	}
}

func TestCertificateJustOverTheLimit(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetCert(w.CA.Issue(t, w.Now.Add(check.MinValidity+time.Hour), vt.Names()...))
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindTLS, "example.com", check.Pass, "21 days left", "")
}

func TestCertificateExpired(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetCert(w.CA.Issue(t, w.Now.Add(-time.Hour), vt.Names()...))
	rep := run(t, w, w.Options())
	r := expect(t, rep, check.KindTLS, "example.com", check.Fail, "expired", "replace")
	if strings.Contains(r.Seen, "chain") {
		t.Errorf("an expired certificate is reported as expired, not as a chain error: %q", r.Seen)
	}
}

func TestCertificateFromUntrustedCA(t *testing.T) {
	w := vt.NewWorld(t)
	other := vt.NewCA(t, w.Now)
	w.Web.SetCert(other.Issue(t, w.Now.AddDate(0, 0, 90), vt.Names()...))
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindTLS, "example.com", check.Fail, "does not chain to a trusted root", "public CA")
}

func TestNoRedirect(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		seen    string
		hint    string
	}{
		{"200 instead of 301", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("the store, unencrypted")) },
			"200 OK: the store, unencrypted", "redirect action"},
		{"302", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "https://"+strings.Split(r.Host, ":")[0]+r.URL.Path, http.StatusFound)
		}, "302 Found", "HTTP_301"},
		{"301 to another host", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "https://example.com"+r.URL.Path, http.StatusMovedPermanently)
		}, "301 Moved Permanently to https://example.com/healthz", "host example.com"},
		{"301 to http", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "http://"+strings.Split(r.Host, ":")[0]+r.URL.Path, http.StatusMovedPermanently)
		}, "301", `scheme "http"`},
		{"301 dropping the path", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "https://"+strings.Split(r.Host, ":")[0]+"/", http.StatusMovedPermanently)
		}, "301", `path "/"`},
		{"301 to another port", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "https://"+strings.Split(r.Host, ":")[0]+":8443"+r.URL.Path, http.StatusMovedPermanently)
		}, "301", "port 8443"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := vt.NewWorld(t)
			w.Web.SetPlain(c.handler)
			rep := run(t, w, w.Options())
			expect(t, rep, check.KindRedirect, "http://www.example.com/healthz", check.Fail, c.seen, c.hint)
		})
	}
}

func TestRedirectToPort443IsTheSameHost(t *testing.T) {
	w := vt.NewWorld(t)
	// The ALB's default redirect writes the port out: https://#{host}:443/#{path}.
	w.Web.SetPlain(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "https://"+strings.Split(r.Host, ":")[0]+":443"+r.URL.Path, http.StatusMovedPermanently)
	}))
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindRedirect, "http://example.com/healthz", check.Pass, "https://example.com:443/healthz", "")
}

func TestUnhealthyTarget(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetReady(http.StatusServiceUnavailable)
	rep := run(t, w, w.Options())
	var want []string
	for _, n := range vt.Names() {
		u := "https://" + n + "/readyz"
		expect(t, rep, check.KindHealth, u, check.Fail, "503 Service Unavailable: database: dial tcp", "not ready")
		want = append(want, "health "+u)
	}
	onlyFailing(t, rep, want...)
}

func TestBadGateway(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetReady(http.StatusBadGateway)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindHealth, "https://example.com/readyz", check.Fail, "502", "no healthy target")
}

func TestTimeoutsAreBounded(t *testing.T) {
	w := vt.NewWorld(t)
	_, dnsPort := vt.Silent(t)
	parent, _ := vt.Silent(t)
	_, httpsPort := vt.Silent(t)
	_, httpPort := vt.Silent(t)
	opts := w.Options()
	opts.ParentServers = []string{parent}
	opts.DNSPort = dnsPort
	opts.HTTPSPort = httpsPort
	opts.HTTPPort = httpPort
	opts.Timeout = time.Second

	start := time.Now()
	rep := run(t, w, opts)
	// Three phases run one after another (parent, ALB and name servers; the
	// hosted zone; resolvers and web), each bounded by Timeout, everything
	// within a phase in parallel: about 3s when nothing answers.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("run took %s with a 1s timeout", took)
	}
	expect(t, rep, check.KindDelegation, "example.com", check.Fail, "no answer within 1s", "raise --timeout")
	expect(t, rep, check.KindAuthoritative, "www.example.com", check.Fail, "no answer within 1s", "")
	expect(t, rep, check.KindValidation, "_a1b2.example.com", check.Fail, "no answer within 1s", "")
	expect(t, rep, check.KindTLS, "www.example.com", check.Fail, "handshake: no answer within 1s", "")
	expect(t, rep, check.KindRedirect, "http://www.example.com/healthz", check.Fail, "no answer within 1s", "")
	expect(t, rep, check.KindHealth, "https://www.example.com/healthz", check.Fail, "no answer within 1s", "")
	if rep.Status != check.Fail {
		t.Errorf("status %s", rep.Status)
	}
}

func TestResolverTimeout(t *testing.T) {
	w := vt.NewWorld(t)
	silent, _ := vt.Silent(t)
	opts := w.Options()
	opts.Resolvers = []string{silent}
	opts.Timeout = 200 * time.Millisecond
	rep := run(t, w, opts)
	expect(t, rep, check.KindALB, vt.ALB, check.Fail, "no answer within 200ms", "--resolver")
	if rep.Status != check.Fail {
		t.Errorf("status %s", rep.Status)
	}
}

func TestSecondResolverAnswersWhenFirstIsSilent(t *testing.T) {
	w := vt.NewWorld(t)
	silent, _ := vt.Silent(t)
	opts := w.Options()
	opts.Resolvers = []string{silent, w.Resolver.Addr}
	opts.Timeout = 2 * time.Second
	start := time.Now()
	rep := run(t, w, opts)
	if rep.Status != check.Pass {
		t.Errorf("status %s\n%s", rep.Status, dump(rep))
	}
	// Only the queries sent before the second resolver first answered wait
	// for the silent one; the run's three DNS phases would otherwise take a
	// timeout each at least.
	if took := time.Since(start); took > 3*opts.Timeout {
		t.Errorf("run took %s", took)
	}
}

func TestWithoutDomainOnlyHealthOverHTTP(t *testing.T) {
	w := vt.NewWorld(t)
	w.Stack["url"] = "http://" + vt.ALB
	for _, k := range []string{"wwwUrl", "certificateArn", "hostedZoneId", "swarmUrl", "legacyUrl"} {
		w.Stack[k] = ""
	}
	w.Stack["validationRecords"] = []any{}
	w.Stack["nameServers"] = []any{}
	w.Web.SetPlain(w.Web.Health())
	rep := run(t, w, w.Options())
	if len(rep.Checks) != 2 || rep.Status != check.Pass {
		t.Fatalf("want 2 passing health rows\n%s", dump(rep))
	}
	expect(t, rep, check.KindHealth, "http://"+vt.ALB+"/healthz", check.Pass, "200 OK", "")
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "only the health checks over HTTP apply") {
		t.Errorf("notes %q", rep.Notes)
	}
	if w.Zone.Queries() != 0 || w.Parent.Queries() != 0 {
		t.Error("DNS zone servers asked without a domain")
	}

	w.Web.SetReady(http.StatusServiceUnavailable)
	rep = run(t, w, w.Options())
	expect(t, rep, check.KindHealth, "http://"+vt.ALB+"/readyz", check.Fail, "503", "not ready")
}

func TestWaitTurnsPendingIntoPass(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	var lines []string
	var calls atomic.Int32
	progress := func(rep check.Report, left time.Duration) {
		lines = append(lines, check.ProgressLine(rep, left))
		if calls.Add(1) == 2 {
			w.Resolver.Set(t, vt.ResolverRecords()...) // propagation ends
		}
	}
	rep, err := check.Wait(context.Background(), w.Outputs(t), w.Options(), time.Minute, 10*time.Millisecond, progress)
	if err != nil {
		t.Fatal(err)
	}
	// The resolver agrees from the third attempt on.
	if rep.Status != check.Pass || rep.Attempts < 3 {
		t.Fatalf("status %s after %d attempts, want pass after 3 or more\n%s", rep.Status, rep.Attempts, dump(rep))
	}
	if len(lines) != rep.Attempts-1 || !strings.HasPrefix(lines[0], "attempt 1: 27/28 pass, 1 pending, 0 fail; waiting on public www.example.com;") {
		t.Errorf("progress lines %q", lines)
	}
}

func TestWaitRunsOut(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	start := time.Now()
	rep, err := check.Wait(context.Background(), w.Outputs(t), w.Options(), 300*time.Millisecond, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Wait took %s for 300ms", took)
	}
	// How many attempts fit in 300ms depends on the machine; re-polling is
	// TestWaitTurnsPendingIntoPass's subject.
	if rep.Attempts < 1 {
		t.Errorf("%d attempts", rep.Attempts)
	}
	expect(t, rep, check.KindPublic, "www.example.com", check.Fail, "NXDOMAIN", "still pending when --wait 300ms ran out")
	if rep.Status != check.Fail || rep.Summary.Pending != 0 {
		t.Errorf("status %s, summary %+v", rep.Status, rep.Summary)
	}
}

func TestWaitStopsWithContext(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := check.Wait(ctx, w.Outputs(t), w.Options(), time.Hour, time.Hour, func(check.Report, time.Duration) { cancel() })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attempts != 1 || rep.Status != check.Pending {
		t.Errorf("attempts %d, status %s; want the first report, still pending", rep.Attempts, rep.Status)
	}
}

func TestSystemResolvers(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/resolv.conf"
	if err := writeFile(path, "# comment\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:1\n"); err != nil {
		t.Fatal(err)
	}
	got, err := check.SystemResolvers(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"192.0.2.53:53", "[2001:db8::53]:53"}) {
		t.Errorf("got %q", got)
	}
	if err := writeFile(path, "search example.com\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := check.SystemResolvers(path); err == nil || !strings.Contains(err.Error(), "no nameserver") {
		t.Errorf("err = %v", err)
	}
	if _, err := check.SystemResolvers(dir + "/missing"); err == nil {
		t.Error("no error for a missing file")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func TestLegacyWithoutRecord(t *testing.T) {
	w := vt.NewWorld(t)
	w.Zone.Set(t, vt.Drop(vt.ZoneRecords(), "legacy.example.com.")...)
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "legacy.example.com", check.Fail, "NXDOMAIN", "no address for legacy.example.com")
	// Its only possible target is what the zone says, so nothing is dialed.
	expect(t, rep, check.KindTLS, "legacy.example.com", check.Fail, "not asked", "fix the authoritative row")
	expect(t, rep, check.KindHealth, "https://legacy.example.com/readyz", check.Fail, "not asked", "fix the authoritative row")
	expect(t, rep, check.KindPublic, "legacy.example.com", check.Fail, "not asked", "fix the authoritative row")
}

func TestRepeatedValidationRecordIsCheckedOnce(t *testing.T) {
	w := vt.NewWorld(t)
	recs := w.Stack["validationRecords"].([]any)
	w.Stack["validationRecords"] = append(recs, map[string]any{"name": "_A1B2.example.com", "type": "cname", "value": "_c3d4.xyz.acm-validations.aws"})
	rep := run(t, w, w.Options())
	if rep.Status != check.Pass || len(rep.Checks) != 28 {
		t.Errorf("status %s with %d rows, want pass with 28\n%s", rep.Status, len(rep.Checks), dump(rep))
	}
}

func TestNameServerThatDoesNotResolve(t *testing.T) {
	w := vt.NewWorld(t)
	w.Stack["nameServers"] = []any{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.nte"}
	rep := run(t, w, w.Options())
	expect(t, rep, check.KindAuthoritative, "ns-4.awsdns-04.nte", check.Fail, "no IPv4 address (NXDOMAIN)", "does not resolve")
	expect(t, rep, check.KindDelegation, "example.com", check.Fail, "ns-4.awsdns-04.net", "other name servers")
	// The three that resolve are still asked.
	expect(t, rep, check.KindAuthoritative, "www.example.com", check.Pass, "127.0.0.1 ::1", "")
	onlyFailing(t, rep, "authoritative ns-4.awsdns-04.nte", "delegation example.com")
}

// With no resolver answering, the name servers' rows blame the resolver,
// not the stack's nameServers output.
func TestNameServersWhenTheResolverIsDown(t *testing.T) {
	w := vt.NewWorld(t)
	opts := w.Options()
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never read: queries time out
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	opts.Resolvers = []string{dead.LocalAddr().String()}
	opts.Timeout = 300 * time.Millisecond
	rep := run(t, w, opts)
	expect(t, rep, check.KindAuthoritative, "ns-1.awsdns-01.org", check.Fail, "", "check --resolver")
	for _, r := range rep.Checks {
		if strings.Contains(r.Hint, "does not resolve: it must be") {
			t.Errorf("%s %s blames nameServers with no resolver answering: %s", r.Check, r.Name, r.Hint)
		}
	}
}
