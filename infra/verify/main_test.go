package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bookstore-aws/bookstore/infra/verify/internal/check"
	vt "github.com/bookstore-aws/bookstore/infra/verify/internal/verifytest"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, opts check.Options, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, opts)
	return result{code, out.String(), errOut.String()}
}

func TestBadInputIsExit2WithTheKey(t *testing.T) {
	w := vt.NewWorld(t)
	good := string(w.JSON(t))
	missing := strings.Replace(good, `"albDnsName"`, `"albDnsNameX"`, 1)
	masked := strings.Replace(good, `"https://www.example.com"`, `"[secret]"`, 1)
	cases := []struct {
		name, stdin, key, words string
	}{
		{"empty", "", "", "empty input"},
		{"garbage", "\x00\xff not json {", "", "not a JSON object"},
		{"pulumi's human output", "Current stack outputs (2):\n    OUTPUT  VALUE\n    url     https://example.com\n", "", "not a JSON object"},
		{"missing key", missing, "albDnsName", "missing"},
		{"masked secret", masked, "wwwUrl", "--show-secrets"},
		{"wrong type", strings.Replace(good, `"efsId": "fs-0123456789abcdef0"`, `"efsId": 12`, 1), "efsId", "must be a string"},
		{"malformed url", strings.Replace(good, `"url": "https://example.com"`, `"url": "https:///"`, 1), "url", "no host"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, w.Options(), c.stdin)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, c.words) || (c.key != "" && !strings.Contains(r.stderr, c.key+":")) {
				t.Errorf("stderr %q, want %q about %q", r.stderr, c.words, c.key)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing without --json", r.stdout)
			}

			r = runCmd(t, w.Options(), c.stdin, "--json")
			var got map[string]string
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json stdout is not JSON: %v: %q", err, r.stdout)
			}
			if r.code != exitUsage || got["status"] != "error" || got["key"] != c.key || !strings.Contains(got["error"], c.words) {
				t.Errorf("--json: exit %d, %v", r.code, got)
			}
		})
	}
	if w.Zone.Queries()+w.Parent.Queries()+w.Resolver.Queries() != 0 {
		t.Error("DNS queries were sent for bad input")
	}
}

func TestBadFlagsAreExit2(t *testing.T) {
	w := vt.NewWorld(t)
	good := string(w.JSON(t))
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"outputs.json"},
		{"--wait", "-1s"},
		{"--wait", "soon"},
		{"--interval", "0s", "--wait", "1m"},
		{"--timeout", "0"},
		{"--resolver", "dns.google"},
		{"--resolver", ","},
		{"--parent-server", "ns1.example.net"},
		{"--roots", filepath.Join(t.TempDir(), "absent.pem")},
		{"--roots", "main.go"}, // no certificate in it
		{"--https-port", "0"},
		{"--http-port", "65536"},
		{"--dns-port", "-1"},
		{"-f", filepath.Join(t.TempDir(), "absent.json")},
	} {
		r := runCmd(t, w.Options(), good, args...)
		if r.code != exitUsage || r.stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
	if r := runCmd(t, w.Options(), "", "-h"); r.code != exitPass || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("-h: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestParseResolvers(t *testing.T) {
	got, err := parseResolvers("--resolver", "1.1.1.1, [2606:4700:4700::1111]:53,127.0.0.1:5353,::1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1.1.1.1:53", "[2606:4700:4700::1111]:53", "127.0.0.1:5353", "[::1]:53"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAllPassIsExit0(t *testing.T) {
	w := vt.NewWorld(t)
	r := runCmd(t, w.Options(), string(w.JSON(t)))
	if r.code != exitPass {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "28 checks: 28 pass, 0 pending, 0 fail: PASS") || !strings.HasPrefix(r.stdout, "Deployment of example.com\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// Everything the tests inject has a flag, so a rehearsal (a test CA, DNS and
// web servers on high ports) runs the command as a person would: the same
// world passes with flags alone, and fails without --roots.
func TestFlagsReachEveryServer(t *testing.T) {
	w := vt.NewWorld(t)
	roots := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(roots, w.CA.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	base := check.Options{Now: w.Options().Now, Timeout: w.Options().Timeout}
	args := []string{
		"--resolver", w.Resolver.Addr, "--parent-server", w.Parent.Addr,
		"--dns-port", strconv.Itoa(w.Zone.Port), "--http-port", strconv.Itoa(w.Web.HTTPPort), "--https-port", strconv.Itoa(w.Web.HTTPSPort),
	}
	if r := runCmd(t, base, string(w.JSON(t)), append(args, "--roots", roots)...); r.code != exitPass {
		t.Errorf("with flags only: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, base, string(w.JSON(t)), args...); r.code != exitFail || !strings.Contains(r.stdout, "certificate") {
		t.Errorf("without --roots (the system's roots): exit %d, want 1 with the TLS rows failing\n%s", r.code, r.stdout)
	}
}

func TestFromFile(t *testing.T) {
	w := vt.NewWorld(t)
	path := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(path, w.JSON(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, w.Options(), "stdin is ignored", "-f", path); r.code != exitPass {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestFailIsExit1AndPendingExit3(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetCert(w.CA.Issue(t, w.Now.AddDate(0, 0, 90), "example.com", "swarm.example.com", "legacy.example.com"))
	r := runCmd(t, w.Options(), string(w.JSON(t)))
	if r.code != exitFail || !strings.Contains(r.stdout, "fail     tls            www.example.com") {
		t.Errorf("exit %d, want 1\n%s", r.code, r.stdout)
	}

	w = vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	r = runCmd(t, w.Options(), string(w.JSON(t)))
	if r.code != exitPending || !strings.Contains(r.stdout, ": PENDING") {
		t.Errorf("exit %d, want 3\n%s", r.code, r.stdout)
	}
}

// TestJSONShape pins the machine-readable report: field names, types, and
// the set of statuses.
func TestJSONShape(t *testing.T) {
	w := vt.NewWorld(t)
	w.Web.SetReady(503)
	r := runCmd(t, w.Options(), string(w.JSON(t)), "--json")
	if r.code != exitFail {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var rep map[string]any
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	if got := keys(rep); !slices.Equal(got, []string{"attempts", "checks", "domain", "finished", "notes", "status", "summary", "url"}) {
		t.Errorf("report keys %q", got)
	}
	if rep["domain"] != "example.com" || rep["url"] != "https://example.com" || rep["status"] != "fail" || rep["attempts"] != json.Number("1") {
		t.Errorf("report head: %v %v %v %v", rep["domain"], rep["url"], rep["status"], rep["attempts"])
	}
	if rep["finished"] != "2026-06-01T12:00:00Z" {
		t.Errorf("finished %v, want the injected clock in RFC 3339", rep["finished"])
	}
	sum, _ := rep["summary"].(map[string]any)
	if sum["pass"] != json.Number("24") || sum["fail"] != json.Number("4") || sum["pending"] != json.Number("0") {
		t.Errorf("summary %v", sum)
	}
	if notes, ok := rep["notes"].([]any); !ok || len(notes) != 0 {
		t.Errorf("notes %#v, want an empty list", rep["notes"])
	}
	checks, _ := rep["checks"].([]any)
	if len(checks) != 28 {
		t.Fatalf("%d checks", len(checks))
	}
	kinds := map[string]bool{}
	for _, c := range checks {
		row := c.(map[string]any)
		if got := keys(row); !slices.Equal(got, []string{"check", "expected", "hint", "name", "seen", "status"}) {
			t.Fatalf("row keys %q", got)
		}
		for k, v := range row {
			if _, ok := v.(string); !ok {
				t.Errorf("row field %s is %T, want string", k, v)
			}
		}
		if s := row["status"]; s != "pass" && s != "fail" && s != "pending" {
			t.Errorf("status %v", s)
		}
		if row["status"] == "fail" && row["hint"] == "" {
			t.Errorf("failing row without a hint: %v", row)
		}
		kinds[row["check"].(string)] = true
	}
	want := []string{"alb", "authoritative", "delegation", "health", "public", "redirect", "tls", "validation"}
	if got := keys(func() map[string]any {
		m := map[string]any{}
		for k := range kinds {
			m[k] = true
		}
		return m
	}()); !slices.Equal(got, want) {
		t.Errorf("kinds %q, want %q", got, want)
	}
}

// syncWriter lets the test watch stderr while run writes to it.
type syncWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	onWrite func(n int)
	writes  int
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.onWrite != nil {
		s.onWrite(s.writes)
	}
	return s.buf.Write(p)
}

func TestWaitUntilResolversAgree(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	stderr := &syncWriter{onWrite: func(n int) {
		if n == 1 {
			w.Resolver.Set(t, vt.ResolverRecords()...) // propagation ends after the first attempt
		}
	}}
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"--wait", "1m", "--interval", "10ms", "--json"},
		bytes.NewReader(w.JSON(t)), &stdout, stderr, w.Options())
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.buf.String())
	}
	line := stderr.buf.String()
	if !strings.HasPrefix(line, "verify: attempt 1: 27/28 pass, 1 pending, 0 fail; waiting on public www.example.com; ") || !strings.HasSuffix(line, " left\n") {
		t.Errorf("progress %q", line)
	}
	var rep check.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != check.Pass || rep.Attempts < 2 {
		t.Errorf("status %s after %d attempts", rep.Status, rep.Attempts)
	}
}

func TestWaitRunsOutIsExit1(t *testing.T) {
	w := vt.NewWorld(t)
	w.Resolver.Set(t, vt.Drop(vt.ResolverRecords(), "www.example.com.")...)
	r := runCmd(t, w.Options(), string(w.JSON(t)), "--wait", "200ms", "--interval", "50ms")
	if r.code != exitFail || !strings.Contains(r.stdout, "still pending when --wait 200ms ran out") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
}

func TestWithoutDomain(t *testing.T) {
	w := vt.NewWorld(t)
	w.Stack["url"] = "http://" + vt.ALB
	for _, k := range []string{"wwwUrl", "certificateArn", "hostedZoneId", "swarmUrl", "legacyUrl"} {
		w.Stack[k] = ""
	}
	w.Stack["validationRecords"] = []any{}
	w.Stack["nameServers"] = []any{}
	w.Web.SetPlain(w.Web.Health())
	r := runCmd(t, w.Options(), string(w.JSON(t)))
	if r.code != exitPass || !strings.Contains(r.stdout, "note: url is http://"+vt.ALB+": the stack has no domain, so only the health checks over HTTP apply") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
}
