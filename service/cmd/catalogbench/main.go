// Command catalogbench measures GET /book/catalog the way docs/benchmarks.md
// reports it: a fresh MariaDB database with -books books, the real
// bookstore binary (built with -tags noembedded, as in the container image)
// as its own process, and a closed-loop load of -conns keep-alive
// connections for -duration. It prints requests/s, latency percentiles, the
// server's peak RSS and how long the server took to become ready, then
// checks that the catalog still shows a purchase at once.
//
//	go run ./service/cmd/catalogbench -db mysql://user:pass@127.0.0.1:3306/x
//
// The load comes from wrk when it is installed (less CPU per request, which
// matters when it shares the cores with the server), else from a built-in
// Go client (-loadgen go).
//
// To see where the server's time goes, build it with -tags noembedded,pprof
// (the profiler then listens on 127.0.0.1:6060), pass it with -bin, and run
// `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5` during
// the load.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/dbconn"
	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

func main() {
	var (
		dbURL    = flag.String("db", os.Getenv("BOOKSTORE_TEST_DATABASE_URL"), "MariaDB/MySQL server (mysql://USER:PASSWORD@HOST:PORT/ANY); a fresh database is created on it and dropped after")
		books    = flag.Int("books", 100, "books in the catalog")
		conns    = flag.Int("conns", 64, "concurrent keep-alive connections")
		duration = flag.Duration("duration", 10*time.Second, "measured load duration")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before measuring")
		bin      = flag.String("bin", "", "bookstore binary (default: go build -tags noembedded ./service)")
		loadgen  = flag.String("loadgen", "auto", "wrk, go, or auto (wrk if installed)")
		gz       = flag.Bool("gzip", false, "send Accept-Encoding: gzip, as browsers do")
		level    = flag.String("log-level", "info", "the server's LOG_LEVEL (warn drops the per-request lines, to measure their cost)")
	)
	flag.Parse()
	acceptGzip, logLevel = *gz, *level
	if err := run(*dbURL, *books, *conns, *duration, *warmup, *bin, *loadgen); err != nil {
		fmt.Fprintln(os.Stderr, "catalogbench:", err)
		os.Exit(1)
	}
}

// acceptGzip makes the load send Accept-Encoding: gzip (-gzip).
var acceptGzip bool

// logLevel is the server's LOG_LEVEL (-log-level).
var logLevel string

func run(dbURL string, nBooks, conns int, duration, warmup time.Duration, bin, loadgen string) error {
	if dbURL == "" {
		return errors.New("-db (or BOOKSTORE_TEST_DATABASE_URL) is required: the benchmark runs on MariaDB")
	}
	s, err := dbconn.SettingsFromEnv(func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	if err != nil {
		return err
	}
	cfg, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		return err
	}
	name := "bookstore_bench_" + strings.ToLower(rand.Text()[:8])
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer admin.Exec("DROP DATABASE " + name)
	cfg.DBName = name
	dsn := cfg.FormatDSN()

	if bin == "" {
		dir, err := os.MkdirTemp("", "catalogbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "bookstore")
		build := exec.Command("go", "build", "-tags", "noembedded", "-o", bin, "./service")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	shared, err := os.MkdirTemp("", "catalogbench-shared")
	if err != nil {
		return err
	}
	defer os.RemoveAll(shared)
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "DATABASE_URL="+dsn, "SHARED_DIR="+shared, "LOG_LEVEL="+logLevel)
	logf, err := os.CreateTemp("", "catalogbench-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(logf.Name())
	srv.Stdout, srv.Stderr = logf, logf
	started := time.Now()
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	ready, err := waitReady(base+"/readyz", started, 30*time.Second)
	if err != nil {
		return err
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db)
	ids, err := seed(st, nBooks)
	if err != nil {
		return err
	}

	var peakRSS atomic.Int64
	stopRSS := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := rssKB(srv.Process.Pid); kb > peakRSS.Load() {
				peakRSS.Store(kb)
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()

	loadBefore := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		loadBefore = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	target := base + "/book/catalog"
	if loadgen == "auto" {
		loadgen = "go"
		if _, err := exec.LookPath("wrk"); err == nil {
			loadgen = "wrk"
		}
	}
	var res result
	var cpu0, cpu1 time.Duration
	switch loadgen {
	case "wrk":
		if _, err := runWrk(target, conns, warmup); err != nil {
			return err
		}
		cpu0 = cpuTime(srv.Process.Pid)
		res, err = runWrk(target, conns, duration)
	case "go":
		goLoad(target, conns, warmup)
		cpu0 = cpuTime(srv.Process.Pid)
		res, err = goLoad(target, conns, duration)
	default:
		return fmt.Errorf("-loadgen %q: want wrk, go or auto", loadgen)
	}
	cpu1 = cpuTime(srv.Process.Pid)
	close(stopRSS)
	if err != nil {
		return err
	}
	perReq := time.Duration(0)
	if n := res.rps * duration.Seconds(); n > 0 {
		perReq = time.Duration(float64(cpu1-cpu0) / n)
	}

	// Honest stock: a purchase committed now shows in the very next page.
	fresh := "no"
	if _, err := st.Buy(context.Background(), 1, ids[0], 1); err != nil {
		return err
	}
	if page, err := get(target); err == nil && strings.Contains(page, fmt.Sprintf(`id="book-%d"`, ids[0])) &&
		strings.Contains(page, "99 in stock") {
		fresh = "yes"
	}

	fmt.Printf("| books | connections | load generator | requests/s | p50 | p99 | errors | server CPU per request | server peak RSS | ready after | stock fresh after a purchase | load average before |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %s | %.0f | %s | %s | %d | %s | %.1f MB | %s | %s | %s |\n",
		nBooks, conns, loadgen+map[bool]string{true: ", gzip"}[acceptGzip], res.rps, res.p50, res.p99, res.errors, perReq.Round(time.Microsecond), float64(peakRSS.Load())/1024,
		ready.Round(time.Millisecond), fresh, loadBefore)

	return nil
}

func seed(st *store.Store, n int) ([]int64, error) {
	ctx := context.Background()
	seller, err := st.CreateUser(ctx, "Bench Seller", "seller@bench.example", []byte("x"))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for i := range n {
		id, err := st.CreateBook(ctx, seller, store.BookInput{
			Title:       fmt.Sprintf("Book number %d", i+1),
			Author:      fmt.Sprintf("Author %d", i%17),
			Description: "A book used to measure the catalog page; its description is a sentence or two long, like a real one.",
			Price:       money.Cents(999 + 37*i),
			Stock:       100,
		})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

var (
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkErr = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(url string, conns int, d time.Duration) (result, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency"}
	if acceptGzip {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	var r result
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output has no Requests/sec:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, m := range wrkPct.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit)).Round(10 * time.Microsecond)
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	for _, m := range wrkErr.FindAllSubmatch(out, -1) {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	return r, nil
}

// goLoad keeps conns requests in flight for d and records every latency.
func goLoad(url string, conns int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: !acceptGzip}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	end := time.Now().Add(d)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				t := time.Now()
				res, err := c.Get(url)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if err != nil || res.StatusCode != 200 {
					bad++
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(lat) == 0 {
		return result{}, errors.New("no successful request")
	}
	slices.Sort(lat)
	return result{
		rps:    float64(len(lat)) / d.Seconds(),
		p50:    lat[len(lat)/2].Round(10 * time.Microsecond),
		p99:    lat[len(lat)*99/100].Round(10 * time.Microsecond),
		errors: errs,
	}, nil
}

func waitReady(url string, started time.Time, within time.Duration) (time.Duration, error) {
	for time.Since(started) < within {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return time.Since(started), nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("server not ready within %v", within)
}

func get(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func rssKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the user+system CPU time process pid has used (/proc/PID/stat,
// fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
