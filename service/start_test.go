package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/testdb"
)

// exited waits up to within for p to exit and returns how long it took
// from since; the test fails if it is still running.
func (p *proc) exited(t *testing.T, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	select {
	case <-p.done:
		return time.Since(since)
	case <-time.After(within):
		t.Fatalf("still running %v after the start or signal:\n%s", within, p.out.String())
		return 0
	}
}

// exitError is the error of the JSON log line {"level":"ERROR","msg":"exiting"}
// that a start or run failure ends with once logging is set up, or "" if
// the output has no such line.
func exitError(out string) string {
	for _, line := range strings.Split(out, "\n") {
		var l struct{ Level, Msg, Error string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" && l.Msg == "exiting" {
			return l.Error
		}
	}
	return ""
}

// exitCode is p's exit status once it has exited, -1 if a signal killed it.
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// waitLog waits until p's output contains s.
func (p *proc) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v:\n%s", s, within, p.out.String())
		}
		select {
		case <-p.done:
			t.Fatalf("exited before logging %q: %v\n%s", s, p.err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// closedDSN is a DATABASE_URL where nothing listens: the service would
// wait dbWait (2 minutes) for it.
func closedDSN(t *testing.T) string {
	return fmt.Sprintf("mysql://app:not-a-real-password@127.0.0.1:%d/bookstore", freePort(t))
}

// With the embedded engine and no SHARED_DIR, covers go to a temporary
// directory, named in the warning about the engine, usable by this
// process's user, and removed at exit.
func TestEmbeddedWithoutSharedDirUsesATemporaryOne(t *testing.T) {
	tmp := t.TempDir()
	p := start(t, binary(t, ""), "SHARED_DIR=", "TMPDIR="+tmp, "DRAIN_TIMEOUT=1s")
	p.waitReady(t, 20*time.Second)
	dirs, _ := filepath.Glob(filepath.Join(tmp, "bookstore-shared-*"))
	if len(dirs) != 1 {
		t.Fatalf("temporary directories %v, want one", dirs)
	}
	dir := dirs[0]
	if !strings.Contains(p.out.String(), "ALL DATA IS LOST WHEN THE PROCESS EXITS") ||
		!strings.Contains(p.out.String(), "Covers go to the temporary directory "+dir+", removed at exit") {
		t.Fatalf("the warning does not name %s:\n%s", dir, p.out.String())
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	form := url.Values{"name": {"S"}, "email": {"s@example.com"}, "password": {"long enough"}}
	if res, err := c.PostForm(p.url("/register"), form); err != nil || res.StatusCode != 200 {
		t.Fatalf("register: %v %v", res, err)
	}
	if res, err := c.PostForm(p.url("/login"), form); err != nil || res.Request.URL.Path != "/book/catalog" {
		t.Fatalf("login: %v %v", res, err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"title": "T", "author": "A", "price": "1.00", "stock": "1"} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("cover", "c.gif")
	fw.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	mw.Close()
	res, err := c.Post(p.url("/book/add_book"), mw.FormDataContentType(), &body)
	if err != nil || res.Request.URL.Path != "/book/my_books" {
		t.Fatalf("add a book with a cover: %v %v", res, err)
	}
	if covers, _ := filepath.Glob(filepath.Join(dir, "covers", "*.gif")); len(covers) != 1 {
		t.Fatalf("covers in %s: %v", dir, covers)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.exited(t, time.Now(), 10*time.Second)
	if p.err != nil {
		t.Fatalf("exit: %v\n%s", p.err, p.out.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", dir, err)
	}
}

// A SHARED_DIR where covers can't be written stops the start at once, with
// an error naming SHARED_DIR, whatever the database (here one that isn't up,
// which would otherwise be waited for).
func TestUnwritableSharedDirStopsTheStart(t *testing.T) {
	bin := binary(t, "")
	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	cases := map[string]string{
		"a file":                file,
		"under a file":          filepath.Join(file, "sub"),
		"in /proc":              "/proc/bookstore-shared",
		"a read-only directory": readOnlyDir(t),
	}
	for name, dir := range cases {
		for db, env := range map[string][]string{"embedded": {}, "database not up": {"DATABASE_URL=" + closedDSN(t)}} {
			t.Run(name+", "+db, func(t *testing.T) {
				p := startAsUnprivileged(t, bin, append(env, "SHARED_DIR="+dir)...)
				p.exited(t, time.Now(), 10*time.Second)
				out := p.out.String()
				if p.exitCode() != 1 || !strings.HasPrefix(exitError(out), "SHARED_DIR: "+dir+" is not a writable directory") {
					t.Fatalf("exit %d, output:\n%s", p.exitCode(), out)
				}
				if strings.Contains(out, "retrying") {
					t.Fatalf("waited for the database first:\n%s", out)
				}
			})
		}
	}
}

// readOnlyDir is a directory this process's user may not write to: 0555,
// or, for root (who may write anywhere), one owned by root that
// startAsUnprivileged's user may not write to.
func readOnlyDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "bookstore-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startAsUnprivileged is start, but as root it runs the binary as nobody
// (uid 65534), from a copy it may execute: root would pass every
// permission check.
func startAsUnprivileged(t *testing.T, bin string, env ...string) *proc {
	t.Helper()
	if os.Geteuid() != 0 {
		return start(t, bin, env...)
	}
	dir, err := os.MkdirTemp("", "bookstore-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "bookstore")
	if err := os.WriteFile(copied, b, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &proc{port: freePort(t), out: &lockedBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(copied)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), fmt.Sprintf("PORT=%d", p.port), "TMPDIR=" + dir}, env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// A wrong password or an unknown database is not waited for: the start
// fails at once, naming DATABASE_URL, without the password.
func TestPermanentDatabaseErrorsFailAtOnce(t *testing.T) {
	d := testdb.New(t)
	bin := binary(t, "")
	for name, change := range map[string]func(*mysql.Config){
		"wrong password":   func(c *mysql.Config) { c.Passwd = "wrong-" + c.Passwd },
		"unknown database": func(c *mysql.Config) { c.DBName = "bookstore_test_no_such_db" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(d.DSN)
			if err != nil {
				t.Fatal(err)
			}
			change(cfg)
			p := start(t, bin, "DATABASE_URL="+cfg.FormatDSN())
			p.exited(t, time.Now(), 15*time.Second)
			out := p.out.String()
			if p.exitCode() != 1 || !strings.HasPrefix(exitError(out), "DATABASE_URL: the ") {
				t.Fatalf("exit %d, output:\n%s", p.exitCode(), out)
			}
			if strings.Contains(out, "retrying") {
				t.Fatalf("a permanent error was retried:\n%s", out)
			}
			if strings.Contains(out, cfg.Passwd) {
				t.Fatalf("the password was printed:\n%s", out)
			}
		})
	}
}

// SIGTERM or SIGINT while the database is waited for stops the wait at
// once and says so, instead of "unreachable for 2m0s".
func TestSignalWhileWaitingForTheDatabase(t *testing.T) {
	bin := binary(t, "")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := start(t, bin, "DATABASE_URL="+closedDSN(t))
			p.waitLog(t, "database not reachable yet; retrying", 10*time.Second)
			sent := time.Now()
			p.cmd.Process.Signal(sig)
			p.exited(t, sent, 3*time.Second)
			out := p.out.String()
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			if !strings.HasPrefix(exitError(out), "interrupted by "+name+" while waiting for the database") || strings.Contains(out, "unreachable for") {
				t.Fatalf("output:\n%s", out)
			}
		})
	}
}

// The port is taken before the database is waited for: a port in use
// fails the start at once.
func TestPortInUseFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := start(t, binary(t, ""), "DATABASE_URL="+closedDSN(t), fmt.Sprintf("PORT=%d", port))
	p.exited(t, time.Now(), 10*time.Second)
	if out := p.out.String(); p.exitCode() != 1 || !strings.HasPrefix(exitError(out), "PORT: ") || !strings.Contains(out, "address already in use") {
		t.Fatalf("exit %d, output:\n%s", p.exitCode(), out)
	}
}

// Ctrl-C (SIGINT) of an idle service stops it at once: the pre-stop phase
// (a fifth of DRAIN_TIMEOUT, 5 s by default) is for SIGTERM only.
func TestSIGINTSkipsThePreStopPhase(t *testing.T) {
	p := start(t, binary(t, ""))
	p.waitReady(t, 20*time.Second)
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	took := p.exited(t, sent, 10*time.Second)
	if p.err != nil || took >= 5*time.Second {
		t.Fatalf("SIGINT: exit %v after %v (a fifth of the default DRAIN_TIMEOUT is 5s):\n%s", p.err, took, p.out.String())
	}
	if !strings.Contains(p.out.String(), `"msg":"interrupted: finishing requests in flight, then exiting"`) {
		t.Fatalf("output:\n%s", p.out.String())
	}
}

// A second signal during the drain exits at once with code 1 and a log
// line, even with a request in flight; the temporary covers directory is
// removed all the same.
func TestSecondSignalForcesExit(t *testing.T) {
	bin := binary(t, "")
	for _, sigs := range [][2]syscall.Signal{{syscall.SIGTERM, syscall.SIGTERM}, {syscall.SIGINT, syscall.SIGINT}, {syscall.SIGTERM, syscall.SIGINT}} {
		t.Run(sigs[0].String()+" then "+sigs[1].String(), func(t *testing.T) {
			tmp := t.TempDir()
			p := start(t, bin, "DRAIN_TIMEOUT=25s", "SHARED_DIR=", "TMPDIR="+tmp)
			p.waitReady(t, 20*time.Second)
			// A request in flight keeps the drain waiting.
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=")
			time.Sleep(100 * time.Millisecond)
			p.cmd.Process.Signal(sigs[0])
			if sigs[0] == syscall.SIGTERM {
				p.waitLog(t, "draining: readiness is 503", 5*time.Second)
			} else {
				p.waitLog(t, "interrupted: finishing requests", 5*time.Second)
			}
			sent := time.Now()
			p.cmd.Process.Signal(sigs[1])
			took := p.exited(t, sent, 3*time.Second)
			if p.exitCode() != 1 || !strings.Contains(p.out.String(), `"msg":"second signal: exiting now`) {
				t.Fatalf("exit %d after %v:\n%s", p.exitCode(), took, p.out.String())
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "bookstore-shared-*")); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
			io.Copy(io.Discard, conn)
		})
	}
}

// A request still running when DRAIN_TIMEOUT ends is cut, and the exit is 1
// with the reason as a JSON log line, like every other log line.
func TestDrainOverrunExitsOneWithAJSONReason(t *testing.T) {
	p := start(t, binary(t, ""), "DRAIN_TIMEOUT=1s")
	p.waitReady(t, 20*time.Second)
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Never finished: the body is 100 bytes long and 5 come.
	fmt.Fprint(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=")
	time.Sleep(100 * time.Millisecond)
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	took := p.exited(t, sent, 5*time.Second)
	if p.exitCode() != 1 || !strings.HasPrefix(exitError(p.out.String()), "drain: requests still running after DRAIN_TIMEOUT 1s") {
		t.Fatalf("exit %d after %v:\n%s", p.exitCode(), took, p.out.String())
	}
	if took < time.Second {
		t.Fatalf("exited after %v, before DRAIN_TIMEOUT", took)
	}
}

// During the pre-stop window after SIGTERM, a request sent on a keep-alive
// connection that was idle is answered, and the answer closes the
// connection (Connection: close). Before, keep-alives were switched off,
// which makes net/http close idle connections at once: such a request got
// no answer (behind the ALB, a 502).
func TestKeepAliveRequestsAreAnsweredWhileDraining(t *testing.T) {
	p := start(t, binary(t, ""), "DRAIN_TIMEOUT=5s")
	p.waitReady(t, 20*time.Second)
	const n = 20
	type kc struct {
		c net.Conn
		r *bufio.Reader
	}
	get := func(c kc) (*http.Response, error) {
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprint(c.c, "GET /book/catalog HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, err
		}
		res, err := http.ReadResponse(c.r, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}
	conns := make([]kc, n)
	for i := range conns {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = kc{c, bufio.NewReader(c)}
		if res, err := get(conns[i]); err != nil || res.StatusCode != 200 || res.Close {
			t.Fatalf("before SIGTERM, connection %d: %v %v", i, res, err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "still serving", 2*time.Second)
	failed := 0
	for i, c := range conns {
		res, err := get(c)
		if err != nil || res.StatusCode != 200 || !res.Close {
			failed++
			t.Errorf("after SIGTERM, keep-alive connection %d: %v %v", i, res, err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests on keep-alive connections were lost during the drain", failed, n)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit: %v\n%s", p.err, p.out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit")
	}
}
