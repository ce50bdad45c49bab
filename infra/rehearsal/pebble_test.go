package rehearsal

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PebbleVersion is the Let's Encrypt test CA the monolith rehearsal runs
// (github.com/letsencrypt/pebble/v2): its two commands are built from the Go
// module proxy at this version, checked against go.sum's database like any
// module, into the test's temp dir. Go's build cache makes the second build
// a link step.
const PebbleVersion = "v2.10.3"

// acme is a running Pebble and pebble-challtestsrv, all on 127.0.0.1.
type acme struct {
	DirURL   string         // ACME directory, https
	CAFile   string         // PEM that signs DirURL's TLS certificate (Pebble's minica)
	Root     []byte         // PEM of the root that signs issued certificates (random per run)
	Roots    *x509.CertPool // Root parsed
	DNS      string         // challtestsrv's DNS server, host:port (UDP and TCP)
	mgmt     string         // challtestsrv's management API
	moduleIn string
}

// freePort returns a TCP port free on 127.0.0.1 now. Another process may take
// it before it is used; the rehearsal's servers then fail to start, loudly.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildPebble installs pebble and pebble-challtestsrv at PebbleVersion into
// dir and returns the module's directory (for its test certificates).
func buildPebble(t *testing.T, dir string) string {
	t.Helper()
	mod := "github.com/letsencrypt/pebble/v2"
	start := time.Now()
	cmd := exec.Command("go", "install", mod+"/cmd/pebble@"+PebbleVersion, mod+"/cmd/pebble-challtestsrv@"+PebbleVersion)
	// Outside this module: `go install pkg@version` ignores go.mod anyway, but
	// a GOFLAGS=-mod=vendor in the environment would not.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Pebble %s from the Go module proxy: %v\n%s", PebbleVersion, err, out)
	}
	out, err := exec.Command("go", "mod", "download", "-json", mod+"@"+PebbleVersion).Output()
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v", mod, PebbleVersion, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download -json: %v %s", err, out)
	}
	t.Logf("rehearsal: pebble %s built in %.1fs", PebbleVersion, time.Since(start).Seconds())
	return m.Dir
}

// startACME runs pebble-challtestsrv as a DNS server answering every A query
// with 127.0.0.1 (and nothing else: its challenge servers are off, the
// site's NGINX answers HTTP-01), and Pebble resolving through it and
// validating HTTP-01 on httpPort, where NGINX listens.
func startACME(t *testing.T, httpPort int) *acme {
	t.Helper()
	dir := t.TempDir()
	modDir := buildPebble(t, dir)
	dnsPort, mgmtPort, acmePort, pebbleMgmt := freePort(t), freePort(t), freePort(t), freePort(t)
	a := &acme{
		DirURL:   fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort),
		CAFile:   filepath.Join(modDir, "test/certs/pebble.minica.pem"),
		DNS:      net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort)),
		mgmt:     fmt.Sprintf("http://127.0.0.1:%d", mgmtPort),
		moduleIn: modDir,
	}
	daemon(t, dir, "challtestsrv", filepath.Join(dir, "pebble-challtestsrv"), nil,
		"-dnsserver", a.DNS, "-management", strings.TrimPrefix(a.mgmt, "http://"),
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", pebbleMgmt),
		"certificate":                    filepath.Join(modDir, "test/certs/localhost/cert.pem"),
		"privateKey":                     filepath.Join(modDir, "test/certs/localhost/key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        freePort(t), // nothing listens: TLS-ALPN-01 is not offered by certbot --webroot
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 3, "order": 5},
		"profiles": map[string]any{
			"default": map[string]any{"description": "90 days, as Let's Encrypt", "validityPeriod": 7776000},
		},
	}}
	b, _ := json.Marshal(conf)
	cfg := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// No sleep before validating, and no random nonce rejection: certbot
	// retries a rejected nonce, but the figures would wobble.
	daemon(t, dir, "pebble", filepath.Join(dir, "pebble"),
		[]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		"-config", cfg, "-dnsserver", a.DNS, "-strict")

	caPEM, err := os.ReadFile(a.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(pool, "")}}
	waitFor(t, 30*time.Second, "Pebble's directory", func() error {
		resp, err := client.Get(a.DirURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
	// The root that signs what Pebble issues: generated at start-up, served by
	// its management API.
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", pebbleMgmt))
	if err != nil {
		t.Fatal(err)
	}
	a.Root, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	a.Roots = x509.NewCertPool()
	if !a.Roots.AppendCertsFromPEM(a.Root) {
		t.Fatalf("Pebble's /roots/0 is not PEM: %.200q", a.Root)
	}
	return a
}

// AddA makes challtestsrv answer name's A queries with ip.
func (a *acme) AddA(t *testing.T, name, ip string) {
	t.Helper()
	a.post(t, "/add-a", map[string]any{"host": dnsName(name), "addresses": []string{ip}})
}

func (a *acme) post(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(a.mgmt+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("challtestsrv %s: %s %s", path, resp.Status, msg)
	}
}

func dnsName(n string) string { return strings.TrimSuffix(n, ".") + "." }

// daemon starts a long-running process of the test's own, logging to
// dir/<name>.log, and stops it (by its pid) when the test ends.
func daemon(t *testing.T, dir, name, path string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log (last 3000 bytes):\n%s", name, tail(b, 3000))
		}
	})
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitFor polls check every 200 ms until it returns nil, or fails the test
// after limit with check's last error.
func waitFor(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready after %s: %v", what, limit, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
