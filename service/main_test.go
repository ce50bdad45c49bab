package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/testdb"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary builds the service once per test run (tags: "" or "noembedded").
func binary(t *testing.T, tags string) string {
	t.Helper()
	buildOnce.Do(func() { binDir, buildErr = os.MkdirTemp("", "bookstore-bin") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	out := filepath.Join(binDir, "bookstore"+tags)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-tags", tags, "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %q: %v\n%s", tags, err, b)
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type proc struct {
	cmd  *exec.Cmd
	port int
	out  *lockedBuf
	done chan struct{} // closed when the process has exited; then err is its exit
	err  error
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// start runs the binary with env (plus PORT, and SHARED_DIR unless env
// sets it; "SHARED_DIR=" leaves it unset) and returns at once.
func start(t *testing.T, bin string, env ...string) *proc {
	t.Helper()
	p := &proc{port: freePort(t), out: &lockedBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), fmt.Sprintf("PORT=%d", p.port)}
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "SHARED_DIR=") }) {
		p.cmd.Env = append(p.cmd.Env, "SHARED_DIR="+t.TempDir())
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path) }

// waitReady polls /readyz and returns how long the process took to be ready.
func (p *proc) waitReady(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := http.Get(p.url("/readyz"))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return time.Since(deadline.Add(-within))
			}
		}
		select {
		case <-p.done:
			t.Fatalf("exited before ready: %v\n%s", p.err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("not ready within %v:\n%s", within, p.out.String())
	return 0
}

// Serves on the embedded engine with nothing configured, and says plainly
// that the data is lost at exit. On SIGTERM: readiness 503 at once, the
// request in flight finishes, exit 0.
func TestServeThenDrainOnSIGTERM(t *testing.T) {
	p := start(t, binary(t, ""), "DRAIN_TIMEOUT=3s")
	p.waitReady(t, 20*time.Second)
	if !strings.Contains(p.out.String(), "ALL DATA IS LOST WHEN THE PROCESS EXITS") {
		t.Fatalf("no warning about the in-memory engine:\n%s", p.out.String())
	}
	if res, err := http.Get(p.url("/book/catalog")); err != nil || res.StatusCode != 200 {
		t.Fatalf("catalog: %v %v", res, err)
	}

	// A request in flight: headers sent, body half sent.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := url.Values{"name": {"Late"}, "email": {"late@example.com"}, "password": {"long enough"}}.Encode()
	fmt.Fprintf(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond)

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	res, err := http.Get(p.url("/readyz"))
	if err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz right after SIGTERM: %v %v", res, err)
	}
	res.Body.Close()

	fmt.Fprint(conn, body[10:])
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || r.StatusCode != http.StatusSeeOther {
		t.Fatalf("in-flight request: %v %v", r, err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit: %v\n%s", p.err, p.out.String())
		}
		if took := time.Since(sent); took > 3*time.Second {
			t.Fatalf("exit took %v, over DRAIN_TIMEOUT", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit")
	}
}

func TestHealthcheckMode(t *testing.T) {
	bin := binary(t, "")
	p := start(t, bin)
	p.waitReady(t, 20*time.Second)
	hc := exec.Command(bin, "healthcheck")
	hc.Env = []string{fmt.Sprintf("PORT=%d", p.port)}
	if out, err := hc.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck of a live server: %v %s", err, out)
	}
	hc = exec.Command(bin, "healthcheck")
	hc.Env = []string{fmt.Sprintf("PORT=%d", freePort(t))}
	if err := hc.Run(); err == nil {
		t.Fatal("healthcheck of nothing passed")
	}
}

// Bad configuration stops the process at once with the variable's name.
func TestBadConfigurationExits(t *testing.T) {
	bin := binary(t, "")
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{[]string{"PORT=5000", "DRAIN_TIMEOUT=forever", "DATABASE_URL=postgres://u:p@h/db"}, []string{"bookstore: DRAIN_TIMEOUT:", "bookstore: DATABASE_URL:"}},
		{[]string{"PORT=5000", "DATABASE_URL=mysql://u:p@h/db?tls=preferred", "DB_TLS_CA_FILE=" + os.Args[0]}, []string{"DB_TLS_CA_FILE: is set, but DATABASE_URL has tls=preferred"}},
	} {
		cmd := exec.Command(bin)
		cmd.Env = c.env
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%v: exit 0: %s", c.env, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%v: %v: output lacks %q: %s", c.env, err, w, out)
			}
		}
		if strings.Contains(string(out), ":p@") {
			t.Fatalf("the password was printed: %s", out)
		}
	}
}

// The container image is built without the embedded engine; with no
// database configured it must say what to set.
func TestNoEmbeddedBuildNeedsADatabase(t *testing.T) {
	cmd := exec.Command(binary(t, "noembedded"))
	cmd.Env = []string{fmt.Sprintf("PORT=%d", freePort(t))}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no database configured: set DATABASE_URL or DB_HOST") {
		t.Fatalf("%v: %s", err, out)
	}
}

func mariadb(t *testing.T) testdb.DB {
	t.Helper()
	if os.Getenv(testdb.EnvURL) == "" {
		if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
			t.Fatalf("%s is not set", testdb.EnvURL)
		}
		t.Skipf("needs a shared server: set %s", testdb.EnvURL)
	}
	return testdb.New(t)
}

// Fault 10, as deployed: three instances boot at once against one empty
// database; all become ready.
func TestThreeInstancesBootAtOnce(t *testing.T) {
	d := mariadb(t)
	bin := binary(t, "noembedded")
	var ps []*proc
	for range 3 {
		ps = append(ps, start(t, bin, "DATABASE_URL="+d.DSN))
	}
	for _, p := range ps {
		p.waitReady(t, 30*time.Second)
	}
	migrated := 0
	for _, p := range ps {
		if strings.Contains(p.out.String(), `"msg":"schema migrated"`) {
			migrated++
		}
	}
	if migrated != 1 {
		t.Fatalf("%d instances applied migrations, want 1", migrated)
	}
}

// With DATABASE_URL, data outlives the process.
func TestDataPersistsAcrossRestarts(t *testing.T) {
	d := mariadb(t)
	bin := binary(t, "noembedded")
	p := start(t, bin, "DATABASE_URL="+d.DSN)
	p.waitReady(t, 30*time.Second)
	res, err := http.PostForm(p.url("/register"), url.Values{"name": {"Kept"}, "email": {"kept@example.com"}, "password": {"long enough"}})
	if err != nil || res.Request.URL.Path != "/login" {
		t.Fatalf("register: %v %v", res, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p = start(t, bin, "DATABASE_URL="+d.DSN)
	p.waitReady(t, 30*time.Second)
	res, err = http.PostForm(p.url("/login"), url.Values{"email": {"kept@example.com"}, "password": {"long enough"}})
	if err != nil || res.Request.URL.Path != "/book/catalog" {
		t.Fatalf("login after restart: %v %v", res, err)
	}
}

// Fault 7: the original kept its secret key and database password in the
// source. No string literal in the service may hold a credential.
func TestNoCredentialsInSource(t *testing.T) {
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`[a-z+]+://[^/\s:@]+:([^/\s@%]+)@`),             // URL with a password
		regexp.MustCompile(`^[\w-]+:([^%@\s]+)@(tcp|unix)\(`),              // go-sql-driver DSN with a password
		regexp.MustCompile(`(?i)(secret[_-]?key|api[_-]?key)\s*[:=]\s*\S`), // Flask's SECRET_KEY = ...
		regexp.MustCompile(`(?i)^(password|passwd|pwd)\s*[:=]\s*\S`),
	}
	placeholder := regexp.MustCompile(`^[A-Z_]+$`) // PASSWORD in a usage message
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		switch filepath.Ext(path) {
		case ".go":
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					for _, p := range patterns {
						m := p.FindStringSubmatch(strings.Trim(lit.Value, "`\""))
						if m != nil && !(len(m) > 1 && placeholder.MatchString(m[1])) {
							t.Errorf("%s: credential-like literal %s", fset.Position(lit.Pos()), lit.Value)
						}
					}
				}
				return true
			})
			checked++
		case ".sql", ".tmpl", ".css":
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, p := range patterns[:3] {
				if p.Match(b) {
					t.Errorf("%s: credential-like text", path)
				}
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
	}
}

// A database that is not up yet at start (RDS still booting) is waited for.
func TestWaitsForTheDatabaseAtStart(t *testing.T) {
	d := testdb.New(t)
	cfg, err := mysql.ParseDSN(d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	target := cfg.Addr
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there yet
	p := start(t, binary(t, ""), "DATABASE_URL="+cfg.FormatDSN())
	// The database comes up only after the service has found it down and
	// said it retries: a fixed sleep let a start slowed by a loaded
	// machine dial after the listener was up, and the test failed.
	const retrying = "database not reachable yet; retrying"
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.out.String(), retrying); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("exited (%v) while the database was down, without retrying:\n%s", p.err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry logged while the database was down:\n%s", p.out.String())
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	p.waitReady(t, 20*time.Second)
}
