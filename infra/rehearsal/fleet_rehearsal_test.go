package rehearsal

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/config"
	"github.com/bookstore-aws/bookstore/infra/edge/lbspec"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// testStack parses a test stack's configuration (raw values as Pulumi
// would hand them over; unset keys take their defaults).
func testStack(t testing.TB, raw map[string]string) config.Config {
	t.Helper()
	c, err := config.Parse("bookstore", "rehearsal", func(k string) (string, bool) { v, ok := raw[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRehearsalFleet boots two fleet instances from the rendered user data
// behind HAProxy configured as the ALB, checks what the ALB promises, then
// refreshes both instances under a steady load (0 failed requests) and kills
// one (only requests in flight on it may fail; the balancer stops sending to
// it within its health-check window). The overrides are Overrides.
func TestRehearsalFleet(t *testing.T) {
	t.Parallel() // the package runs past go test's 10 min default one test after another
	f := newFleet(t)
	for _, o := range Overrides {
		t.Logf("override: %s", o)
	}
	stack := testStack(t, nil)
	lb := startBalancer(t, f.ca, stack.AppWeight, stack.SwarmWeight, stack.Swarm)
	// A second balancer for a stack that splits traffic, to show the weights.
	split := testStack(t, map[string]string{"appWeight": "3", "swarmWeight": "1"})
	lbSplit := startBalancer(t, f.ca, split.AppWeight, split.SwarmWeight, split.Swarm)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	// Two instances, booted at once, as the ASG launches them.
	var insts [2]*instance
	var errs [2]error
	var wg sync.WaitGroup
	for n, label := range []string{"a", "b"} {
		wg.Add(1)
		go func() { defer wg.Done(); insts[n], errs[n] = f.launch(ctx, label) }()
	}
	wg.Wait()
	for n := range insts {
		if insts[n] != nil {
			t.Cleanup(func() { f.remove(insts[n]) })
		}
		if errs[n] != nil {
			t.Fatal(errs[n])
		}
	}
	a, b := insts[0], insts[1]
	t.Logf("rehearsal: fleet boot (fleet-boot.sh to healthy): %s and %s", a.Booted.Round(time.Second), b.Booted.Round(time.Second))

	registered := time.Now()
	tgA, err := lb.register(lbspec.AppTargetGroup, a.Port)
	if err != nil {
		t.Fatal(err)
	}
	tgB, err := lb.register(lbspec.AppTargetGroup, b.Port)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := lb.state(tgA); strings.HasPrefix(s.Status, "UP") && !strings.Contains(s.Status, "/") {
		t.Errorf("%s is %q right after registration: a new target must pass %d checks first", tgA, s.Status, lbspec.TargetHealthCheck.HealthyThreshold)
	}
	splitA, err := lbSplit.register(lbspec.AppTargetGroup, a.Port)
	if err != nil {
		t.Fatal(err)
	}
	splitB, err := lbSplit.register(lbspec.SwarmTargetGroup, b.Port)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		lb *balancer
		tg target
	}{{lb, tgA}, {lb, tgB}, {lbSplit, splitA}, {lbSplit, splitB}} {
		if _, err := w.lb.waitHealthy(ctx, w.tg); err != nil {
			t.Fatal(err)
		}
	}
	hc := lbspec.TargetHealthCheck
	toHealthy := time.Since(registered)
	t.Logf("rehearsal: registration to healthy: %s (interval %s, healthy threshold %d)", toHealthy.Round(time.Second), hc.Interval, hc.HealthyThreshold)
	// As on the ALB, a new target waits for HealthyThreshold passing checks,
	// Interval apart, before it gets requests.
	if minimum := time.Duration(hc.HealthyThreshold-1) * hc.Interval; toHealthy < minimum-time.Second {
		t.Errorf("targets healthy %s after registration, before %d checks %s apart could pass", toHealthy, hc.HealthyThreshold, hc.Interval)
	}

	checkBalancer(t, f, lb, a, b)
	checkWeights(t, lbSplit, splitA, splitB, split.AppWeight, split.SwarmWeight)

	// The seller's book, with a cover uploaded through instance A and served
	// by instance B from the shared directory (EFS).
	cover := containertest.CoverPNG(t)
	seller := newShopper(a.URL(), nil, "")
	if err := seller.signUp("Sam Seller", "seller-"+f.run+"@rehearsal.test", "rehearsal seller password"); err != nil {
		t.Fatal(err)
	}
	bookID, err := seller.addBook("Rehearsal Book "+f.run, 100_000, cover)
	if err != nil {
		t.Fatal(err)
	}
	checkSharedCover(t, f, b, cover)

	// The refresh under load: one instance at a time, as the ASG's instance
	// refresh replaces them (launch, healthy, deregister, terminate).
	ld := &load{Workers: 6, BuyEvery: 4, BookID: bookID, MaxRequests: 300_000, MaxDuration: 8 * time.Minute}
	viaLB := func() *shopper {
		return newShopper("https://"+lb.Host, f.ca.Pool(), fmt.Sprintf("127.0.0.1:%d", lb.HTTPSPort))
	}
	if err := ld.start(viaLB, f.run); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			ld.halt()
		}
	}()
	time.Sleep(3 * time.Second)
	refreshStart := time.Now()
	current := map[*instance]target{a: tgA, b: tgB}
	var fresh []*instance
	for n, old := range []*instance{a, b} {
		label := fmt.Sprintf("new%d", n+1)
		i, err := f.launch(ctx, label)
		if i != nil {
			t.Cleanup(func() { f.remove(i) })
		}
		if err != nil {
			t.Fatal(err)
		}
		tg, err := lb.register(lbspec.AppTargetGroup, i.Port)
		if err != nil {
			t.Fatal(err)
		}
		healthy, err := lb.waitHealthy(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		drained, err := lb.deregister(current[old])
		if err != nil {
			t.Fatal(err)
		}
		stop, err := f.terminate(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rehearsal: replaced %s by %s: boot %s, healthy after %s, drain %s, stop (compose down) %s",
			old.Name, i.Name, i.Booted.Round(time.Second), healthy.Round(time.Second), drained.Round(time.Millisecond), stop.Round(time.Millisecond))
		current[i] = tg
		fresh = append(fresh, i)
	}
	time.Sleep(2 * time.Second)
	refreshRequests, refreshFailures := ld.snapshot()
	refreshTook := time.Since(refreshStart)
	t.Logf("rehearsal: instance refresh under load: %d requests (%d workers), %d failed, over %s",
		refreshRequests, ld.Workers, len(refreshFailures), refreshTook.Round(time.Second))
	if len(refreshFailures) > 0 {
		t.Errorf("instance refresh: %d of %d requests failed, want 0: %s", len(refreshFailures), refreshRequests, summary(refreshFailures))
	}

	// kill -9 of one instance's container.
	victim := fresh[0]
	container, err := containertest.Docker(ctx, "compose", "--project-name", victim.Name, "ps", "--quiet", "app")
	if err != nil || strings.TrimSpace(container) == "" {
		t.Fatalf("container of %s: %q %v", victim.Name, container, err)
	}
	container = strings.TrimSpace(container)
	before, _ := lb.state(current[victim])
	killedAt := time.Now()
	if _, err := containertest.Docker(ctx, "kill", "--signal", "KILL", container); err != nil {
		t.Fatal(err)
	}
	window := lbspec.TargetHealthCheck.DetectionWindow()
	// Poll the balancer: when it marks the target DOWN, and when it last
	// sent the target a request.
	var down, lastSent time.Duration
	downErr := fmt.Errorf("not marked DOWN within %s", window+lbspec.TargetHealthCheck.Interval)
	seen := before.Total
	for time.Since(killedAt) < window+lbspec.TargetHealthCheck.Interval {
		s, err := lb.state(current[victim])
		if err != nil {
			t.Fatal(err)
		}
		if s.Total > seen {
			seen, lastSent = s.Total, time.Since(killedAt)
		}
		if strings.HasPrefix(s.Status, "DOWN") && downErr != nil {
			down, downErr = time.Since(killedAt), nil
		}
		if downErr == nil && time.Since(killedAt) > down+3*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ld.halt()
	stopped = true
	after, _ := lb.state(current[victim])
	total, failures := ld.snapshot()
	downAt := killedAt.Add(lastSent + 100*time.Millisecond)
	var inFlight, inWindow, afterDown int
	for _, fl := range failures[len(refreshFailures):] {
		switch {
		case fl.Sent.Before(killedAt):
			inFlight++
		case fl.Sent.Before(downAt):
			inWindow++
		default:
			afterDown++
		}
	}
	restarted, _ := containertest.Docker(ctx, "inspect", "--format", "restarts {{.RestartCount}}, {{.State.Status}}", container)
	t.Logf("rehearsal: kill -9 of %s: balancer marked it DOWN after %s and sent it its last request after %s (window %s: %d checks %s apart, timeout %s); "+
		"%d failed requests: %d in flight at the kill, %d sent until the balancer stopped sending to it, %d after; requests sent to it %d→%d; container %s",
		victim.Name, down.Round(time.Millisecond), lastSent.Round(time.Millisecond), window, lbspec.TargetHealthCheck.UnhealthyThreshold, lbspec.TargetHealthCheck.Interval,
		lbspec.TargetHealthCheck.Timeout, inFlight+inWindow+afterDown, inFlight, inWindow, afterDown, before.Total, after.Total, strings.TrimSpace(restarted))
	t.Logf("rehearsal: totals: %d requests over %s, %d failed (refresh %d, kill %d)",
		total, ld.ended.Sub(ld.started).Round(time.Second), len(failures), len(refreshFailures), inFlight+inWindow+afterDown)
	if downErr != nil || down > window+time.Second || lastSent > window+time.Second {
		t.Errorf("after kill -9: marked DOWN after %s (%v), last request sent to it after %s, want both within the health-check window %s",
			down, downErr, lastSent, window)
	}
	// The ALB does not retry a request on another target: until the checks
	// mark the target unhealthy, requests routed to it fail (502 on AWS, 503
	// from HAProxy). None may fail once it is marked.
	if afterDown > 0 {
		t.Errorf("after kill -9: %d requests sent after the balancer stopped sending to %s failed, want 0: %s",
			afterDown, victim.Name, summary(failures[len(refreshFailures):]))
	}

	checkThrottle(t, viaLB())
}

// checkThrottle sends failed logins through the balancer, each claiming
// another client in X-Forwarded-For: the balancer appends the real peer, so
// the service's per-IP login throttle still counts them as one client.
func checkThrottle(t *testing.T, s *shopper) {
	t.Helper()
	const attempts = 60
	throttled := 0
	for n := 1; n <= attempts; n++ {
		s.header = http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", n)}}
		r, err := s.post("/login", url.Values{"email": {fmt.Sprintf("nobody-%d@rehearsal.test", n)}, "password": {"wrong password"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	t.Logf("rehearsal: login throttle behind the balancer: %d of %d failed logins with spoofed X-Forwarded-For answered 429", throttled, attempts)
	if throttled == 0 {
		t.Errorf("%d failed logins from one client, each with another X-Forwarded-For, were never throttled: the service counts the spoofed address", attempts)
	}
}

// checkBalancer checks what the ALB promises, through the balancer.
func checkBalancer(t *testing.T, f *fleet, lb *balancer, a, b *instance) {
	t.Helper()
	httpClient := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/book/catalog?page=2", lb.HTTPPort), nil)
	req.Host = lb.Host
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://" + lb.Host + "/book/catalog?page=2"; resp.StatusCode != lbspec.Redirect.StatusCode || resp.Header.Get("Location") != want {
		t.Errorf(":80 answers %d Location %q, want %d %s", resp.StatusCode, resp.Header.Get("Location"), lbspec.Redirect.StatusCode, want)
	}

	// TLS: the policy's versions and ciphers only.
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.ServerName, cfg.RootCAs = lb.Host, f.ca.Pool()
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lb.HTTPSPort), cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		s := c.ConnectionState()
		return &s, nil
	}
	if s, err := dial(&tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		t.Errorf("TLS 1.3: %v", err)
	} else {
		t.Logf("rehearsal: TLS 1.3 suite %s", tls.CipherSuiteName(s.CipherSuite))
	}
	if s, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2: %v", err)
	} else if name := tls.CipherSuiteName(s.CipherSuite); !strings.Contains(name, "ECDHE") || !strings.Contains(name, "GCM") {
		t.Errorf("TLS 1.2 negotiated %s, outside %s", name, lbspec.SSLPolicy.Name)
	}
	if _, err := dial(&tls.Config{MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}); err == nil {
		t.Errorf("TLS 1.1 accepted; %s allows 1.2 and 1.3 only", lbspec.SSLPolicy.Name)
	}
	for _, suite := range []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256} {
		if _, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}); err == nil {
			t.Errorf("TLS 1.2 with %s accepted; outside %s", tls.CipherSuiteName(suite), lbspec.SSLPolicy.Name)
		}
	}

	// The private paths: the balancer's own 404, though the service serves them.
	s := newShopper("https://"+lb.Host, f.ca.Pool(), fmt.Sprintf("127.0.0.1:%d", lb.HTTPSPort))
	for _, p := range []string{"/metrics", "/metrics/", "/metrics/x"} {
		r, err := s.get(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != lbspec.PrivateResponse.StatusCode || r.Body != lbspec.PrivateResponse.Body || !strings.HasPrefix(r.Header.Get("Content-Type"), lbspec.PrivateResponse.ContentType) {
			t.Errorf("GET %s through the balancer: %d %q %q, want the fixed %d", p, r.Status, r.Header.Get("Content-Type"), r.Body, lbspec.PrivateResponse.StatusCode)
		}
	}
	if r, err := newShopper(a.URL(), nil, "").get("/metrics"); err != nil || r.Status != http.StatusOK {
		t.Errorf("GET /metrics on the instance itself: %d %v, want 200 (the 404 must be the balancer's)", r.Status, err)
	}

	// X-Forwarded-Proto: the session cookie is Secure.
	email := "cookie-" + f.run + "@rehearsal.test"
	if err := s.signUp("Cookie Check", email, "rehearsal cookie password"); err != nil {
		t.Fatal(err)
	}
	r, err := s.submit("/login", "/login", url.Values{"email": {email}, "password": {"rehearsal cookie password"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookies := r.Header.Values("Set-Cookie")
	if len(cookies) == 0 {
		t.Errorf("POST /login through the balancer set no cookie")
	}
	for _, c := range cookies {
		if !strings.Contains(c, "Secure") {
			t.Errorf("cookie over https without Secure (X-Forwarded-Proto not seen?): %s", c)
		}
	}
}

// checkWeights sends requests through a balancer whose target groups hold
// one target each and compares each group's share with its weight.
func checkWeights(t *testing.T, lb *balancer, app, swarm target, appWeight, swarmWeight int) {
	t.Helper()
	const n = 400
	beforeApp, _ := lb.state(app)
	beforeSwarm, _ := lb.state(swarm)
	s := newShopper("https://"+lb.Host, nil, fmt.Sprintf("127.0.0.1:%d", lb.HTTPSPort))
	s.c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true // only the split is measured here
	for range n {
		if r, err := s.get("/healthz"); err != nil || r.Status != http.StatusOK {
			t.Fatalf("GET /healthz through the split balancer: %d %v", r.Status, err)
		}
	}
	afterApp, _ := lb.state(app)
	afterSwarm, _ := lb.state(swarm)
	gotApp, gotSwarm := afterApp.Total-beforeApp.Total, afterSwarm.Total-beforeSwarm.Total
	share := float64(gotApp) / float64(gotApp+gotSwarm)
	want := float64(appWeight) / float64(appWeight+swarmWeight)
	t.Logf("rehearsal: weights app %d swarm %d: %d requests, app got %d, swarm %d (app share %.2f, want %.2f)",
		appWeight, swarmWeight, n, gotApp, gotSwarm, share, want)
	if share < want-0.08 || share > want+0.08 {
		t.Errorf("app share %.2f over %d requests, want %.2f ± 0.08", share, n, want)
	}
}

// checkSharedCover requires the cover uploaded through another instance to
// be served by instance b and to be a file of the image's user (65532) in
// the shared directory.
func checkSharedCover(t *testing.T, f *fleet, b *instance, cover []byte) {
	t.Helper()
	s := newShopper(b.URL(), nil, "")
	catalog, err := s.get("/book/catalog")
	if err != nil {
		t.Fatal(err)
	}
	src := coverURL(catalog.Body)
	if src == "" {
		t.Fatalf("instance %s's catalog shows no cover", b.Name)
	}
	r, err := s.get(src)
	if err != nil || r.Status != http.StatusOK || !bytes.Equal([]byte(r.Body), cover) {
		t.Errorf("instance %s serves %s: %d %v (%d bytes), want the %d bytes uploaded through the other instance", b.Name, src, r.Status, err, len(r.Body), len(cover))
	}
	found := false
	filepath.Walk(f.efs, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		if data, _ := os.ReadFile(p); bytes.Equal(data, cover) {
			found = true
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 65532 || st.Gid != 65532) {
				t.Errorf("cover %s belongs to %d:%d, want 65532:65532 (the access point's user)", p, st.Uid, st.Gid)
			}
		}
		return nil
	})
	if !found {
		t.Errorf("the cover is not a file in the shared directory %s", f.efs)
	}
}
