package rehearsal

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/edge/lbspec"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// balancer is Debian's HAProxy configured as the stack's ALB (lbspec): :80
// redirects to https, :443 terminates TLS with the ALB's policy, the
// private paths get the ALB's fixed 404, and requests go to the app or
// swarm backend by the forward weights, each backend a target group with
// the target group's health check. Targets are registered and deregistered
// through HAProxy's runtime API, as the ASG does with the target group.
type balancer struct {
	t         testing.TB
	HTTPPort  int // stands in for :80
	HTTPSPort int // stands in for :443
	Host      string
	socket    string
	cmd       *exec.Cmd
	slots     map[string][]string // backend -> free server slots
}

// slotsPerGroup is how many targets a backend can hold at once.
const slotsPerGroup = 4

// balancerHost is the name the test certificate is issued for (ACM's
// certificate covers the stack's domain).
const balancerHost = "bookstore.rehearsal.test"

// haproxyConfig renders the configuration for the stack's ALB from lbspec and
// the forward weights. Servers are declared disabled (not registered) in
// slots s1…sN of each backend; register fills one.
func haproxyConfig(socket, certFile, privateBody string, httpPort, httpsPort, appWeight, swarmWeight int, swarm bool) (string, error) {
	forward, err := lbspec.Forward(appWeight, swarmWeight, swarm)
	if err != nil {
		return "", err
	}
	var private []string
	for _, p := range lbspec.PrivatePaths {
		switch i := strings.IndexByte(p, '*'); {
		case i < 0:
			private = append(private, "path "+p)
		case i == len(p)-1:
			private = append(private, "path_beg "+strings.TrimSuffix(p, "*"))
		default:
			return "", fmt.Errorf("path pattern %q: only a trailing * is translated", p)
		}
	}
	hc := lbspec.TargetHealthCheck
	matcher, err := strconv.Atoi(hc.Matcher)
	if err != nil {
		return "", fmt.Errorf("health check matcher %q: only one status code is translated", hc.Matcher)
	}
	sec := func(d time.Duration) string { return strconv.Itoa(int(d/time.Millisecond)) + "ms" }
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4000
    stats socket %s mode 600 level admin
    ssl-default-bind-ciphers %s
    ssl-default-bind-ciphersuites %s
    ssl-default-bind-options ssl-min-ver %s ssl-max-ver %s no-tls-tickets

defaults
    mode http
    timeout connect 10s
    timeout client %s
    timeout server %s
    timeout http-keep-alive %s
    timeout http-request 60s
    # The ALB does not retry a request on another target.
    retries 0

frontend http
    bind 127.0.0.1:%d
    http-request redirect scheme %s code %d

frontend https
    bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
    # As the ALB: one X-Forwarded-For, the peer appended to what the client sent.
    http-request set-header X-Forwarded-For "%%[req.fhdr(x-forwarded-for)], %%[src]" if { req.fhdr(x-forwarded-for) -m found }
    http-request set-header X-Forwarded-For %%[src] unless { req.fhdr(x-forwarded-for) -m found }
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Port %d
    http-request return status %d content-type %s file %s if { %s }
`,
		socket,
		strings.Join(lbspec.SSLPolicy.Ciphers, ":"), strings.Join(lbspec.SSLPolicy.CipherSuites, ":"),
		tlsVer(lbspec.SSLPolicy.Protocols[0]), tlsVer(lbspec.SSLPolicy.Protocols[len(lbspec.SSLPolicy.Protocols)-1]),
		sec(lbspec.IdleTimeout), sec(lbspec.IdleTimeout), sec(lbspec.IdleTimeout),
		httpPort, strings.ToLower(lbspec.Redirect.Protocol), lbspec.Redirect.StatusCode,
		httpsPort, certFile, lbspec.Redirect.Port,
		lbspec.PrivateResponse.StatusCode, lbspec.PrivateResponse.ContentType, privateBody,
		strings.Join(private, " } || { "))
	// The weighted forward: a number in [0, sum), each group its share.
	sum := 0
	for _, g := range forward {
		sum += g.Weight
	}
	fmt.Fprintf(&b, "    http-request set-var(txn.forward) rand(%d)\n", sum)
	lo := 0
	for _, g := range forward {
		if g.Weight > 0 {
			fmt.Fprintf(&b, "    use_backend %s if { var(txn.forward) -m int ge %d } { var(txn.forward) -m int lt %d }\n", g.Role, lo, lo+g.Weight)
		}
		lo += g.Weight
	}
	for _, g := range forward {
		fmt.Fprintf(&b, `
backend %s
    balance roundrobin
    option httpchk
    http-check send meth GET uri %s ver HTTP/1.1 hdr Host %s
    http-check expect status %d
    timeout check %s
    default-server inter %s fall %d rise %d
`, g.Role, hc.Path, balancerHost, matcher, sec(hc.Timeout), sec(hc.Interval), hc.UnhealthyThreshold, hc.HealthyThreshold)
		for n := 1; n <= slotsPerGroup; n++ {
			fmt.Fprintf(&b, "    server s%d 127.0.0.1:1 check disabled\n", n)
		}
	}
	return b.String(), nil
}

// tlsVer turns "TLSv1.2" into HAProxy's "TLSv1.2" (the same spelling; a
// different one is an error at start).
func tlsVer(p string) string { return p }

// startBalancer runs HAProxy until t ends.
func startBalancer(t testing.TB, ca *testCA, appWeight, swarmWeight int, swarm bool) *balancer {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		containertest.Missing(t, "haproxy not installed: apt-get install haproxy (Debian's), or run .ci/run")
	}
	dir := t.TempDir()
	_, _, combined := ca.issue(t, dir, balancerHost)
	lb := &balancer{t: t, Host: balancerHost, socket: filepath.Join(dir, "admin.sock"), slots: map[string][]string{}}
	if lb.HTTPPort, err = containertest.FreePort(); err != nil {
		t.Fatal(err)
	}
	if lb.HTTPSPort, err = containertest.FreePort(); err != nil {
		t.Fatal(err)
	}
	// The fixed response's body, byte for byte.
	privateBody := filepath.Join(dir, "private-response")
	if err := os.WriteFile(privateBody, []byte(lbspec.PrivateResponse.Body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := haproxyConfig(lb.socket, combined, privateBody, lb.HTTPPort, lb.HTTPSPort, appWeight, swarmWeight, swarm)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	logFile, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	lb.cmd = exec.Command(bin, "-db", "-f", cfgFile)
	lb.cmd.Stdout, lb.cmd.Stderr = logFile, logFile
	if err := lb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lb.cmd.Process.Kill()
		lb.cmd.Wait()
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("haproxy log:\n%s", containertest.Tail(string(b), 30))
			}
		}
	})
	for _, g := range []string{lbspec.AppTargetGroup, lbspec.SwarmTargetGroup} {
		for n := 1; n <= slotsPerGroup; n++ {
			lb.slots[g] = append(lb.slots[g], "s"+strconv.Itoa(n))
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := lb.api("show info"); err == nil {
			return lb
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's runtime API at %s does not answer", lb.socket)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// api sends one runtime API command and returns the answer.
func (lb *balancer) api(command string) (string, error) {
	c, err := net.DialTimeout("unix", lb.socket, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", command); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	out := b.String()
	if strings.Contains(out, "Unknown command") || strings.Contains(out, "No such") || strings.Contains(out, "Require") {
		return out, fmt.Errorf("haproxy %q: %s", command, strings.TrimSpace(out))
	}
	return out, sc.Err()
}

// target is a registered server: backend/slot.
type target struct{ Group, Slot string }

func (tg target) String() string { return tg.Group + "/" + tg.Slot }

// register puts 127.0.0.1:port in target group g. Like a newly registered
// ALB target it gets no request until HealthyThreshold checks pass: the
// server leaves maintenance marked down, so its checks must rise (HAProxy
// would otherwise take it as up at once).
func (lb *balancer) register(g string, port int) (target, error) {
	if len(lb.slots[g]) == 0 {
		return target{}, fmt.Errorf("target group %s is full", g)
	}
	tg := target{g, lb.slots[g][0]}
	lb.slots[g] = lb.slots[g][1:]
	if _, err := lb.api(fmt.Sprintf("set server %s addr 127.0.0.1 port %d", tg, port)); err != nil {
		return tg, err
	}
	if _, err := lb.api(fmt.Sprintf("set server %s state ready", tg)); err != nil {
		return tg, err
	}
	_, err := lb.api(fmt.Sprintf("set server %s health down", tg))
	return tg, err
}

// serverState is one line of `show stat` for a server.
type serverState struct {
	Status  string // "UP", "DOWN", "MAINT", "DRAIN", "UP 1/2", ...
	Current int    // current sessions
	Total   int    // cumulated sessions
}

func (lb *balancer) state(tg target) (serverState, error) {
	out, err := lb.api("show stat")
	if err != nil {
		return serverState{}, err
	}
	lines := strings.Split(out, "\n")
	if len(lines) == 0 {
		return serverState{}, fmt.Errorf("show stat: empty")
	}
	header := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) < len(header) || f[col["pxname"]] != tg.Group || f[col["svname"]] != tg.Slot {
			continue
		}
		cur, _ := strconv.Atoi(f[col["scur"]])
		tot, _ := strconv.Atoi(f[col["stot"]])
		return serverState{Status: f[col["status"]], Current: cur, Total: tot}, nil
	}
	return serverState{}, fmt.Errorf("show stat: no server %s", tg)
}

// waitStatus polls until tg's status starts with want, or timeout passes.
func (lb *balancer) waitStatus(tg target, want string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		s, err := lb.state(tg)
		if err == nil && strings.HasPrefix(s.Status, want) {
			return time.Since(start), nil
		}
		last = s.Status
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), fmt.Errorf("%s still %q after %s, want %s", tg, last, timeout, want)
}

// deregister drains tg as the ALB does: no new requests at once, requests in
// flight may finish until the deregistration delay, then the target is
// removed (remaining connections cut). It returns how long the drain took.
func (lb *balancer) deregister(tg target) (time.Duration, error) {
	start := time.Now()
	if _, err := lb.api("set server " + tg.String() + " state drain"); err != nil {
		return 0, err
	}
	for time.Since(start) < lbspec.DeregistrationDelay {
		s, err := lb.state(tg)
		if err != nil {
			return time.Since(start), err
		}
		if s.Current == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	if _, err := lb.api("set server " + tg.String() + " state maint"); err != nil {
		return took, err
	}
	_, err := lb.api("shutdown sessions server " + tg.String())
	lb.slots[tg.Group] = append(lb.slots[tg.Group], tg.Slot)
	return took, err
}

// waitHealthy waits until the balancer sends tg requests (checks passed).
func (lb *balancer) waitHealthy(ctx context.Context, tg target) (time.Duration, error) {
	hc := lbspec.TargetHealthCheck
	return lb.waitStatus(tg, "UP", time.Duration(hc.HealthyThreshold+1)*hc.Interval+hc.Timeout)
}
