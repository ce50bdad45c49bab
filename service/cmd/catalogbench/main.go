// Command catalogbench measures the catalog, the book page and purchases the
// way docs/benchmarks.md reports them: a fresh MariaDB database with -books books
// (bulk-loaded in batches), the real bookstore binary (built with -tags
// noembedded, as in the container image) as its own process, and for each
// request kind a closed-loop load of -conns keep-alive connections for
// -duration after -warmup. It prints one table row per kind: requests/s,
// latency percentiles, page bytes, the server's CPU per request and peak
// RSS; then checks that a purchase shows at once and that units taken
// equal units in purchases.
//
//	go run ./service/cmd/catalogbench -db mysql://user:pass@127.0.0.1:3306/x \
//	    -books 100000 -kinds first,deep,search1,search2,book,buy
//
// Kinds: first (GET /book/catalog), deep (the keyset page where page 1,000
// would start: ?after= the 24,000th newest book, or the last page of a
// smaller catalog), search1 (?q= one word), search2 (?q= two words), book
// (GET /book/{id}), buy (POST /buy/{id}, quantity 1, by -conns signed-in
// buyers over the first 100 books).
//
// -db-delay 2ms puts a TCP proxy (internal/dbproxy) between the server and
// the database that holds every chunk for that long in each direction, as
// a database one network hop away does (RDS Multi-AZ).
//
// The load comes from wrk when it is installed (less CPU per request, which
// matters when it shares the cores with the server), else from a built-in
// Go client (-loadgen go; reads only).
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
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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

	"github.com/alexedwards/scs/v2"
	"github.com/go-sql-driver/mysql"

	"github.com/bookstore-aws/bookstore/service/internal/dbconn"
	"github.com/bookstore-aws/bookstore/service/internal/dbproxy"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

func main() {
	var (
		dbURL    = flag.String("db", os.Getenv("BOOKSTORE_TEST_DATABASE_URL"), "MariaDB/MySQL server (mysql://USER:PASSWORD@HOST:PORT/ANY); a fresh database is created on it and dropped after")
		books    = flag.Int("books", 100, "books in the catalog")
		kinds    = flag.String("kinds", strings.Join(allKinds, ","), "request kinds to measure, in order: "+strings.Join(allKinds, ", "))
		conns    = flag.Int("conns", 64, "concurrent keep-alive connections (and signed-in buyers)")
		duration = flag.Duration("duration", 10*time.Second, "measured load duration per kind")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before measuring, per kind")
		dbDelay  = flag.Duration("db-delay", 0, "delay each way between the server and the database (a TCP proxy)")
		bin      = flag.String("bin", "", "bookstore binary (default: go build -tags noembedded ./service)")
		loadgen  = flag.String("loadgen", "auto", "wrk, go, or auto (wrk if installed)")
		gz       = flag.Bool("gzip", false, "send Accept-Encoding: gzip, as browsers do")
		level    = flag.String("log-level", "info", "the server's LOG_LEVEL (warn drops the per-request lines, to measure their cost)")
	)
	flag.Parse()
	acceptGzip, logLevel = *gz, *level
	o := options{dbURL: *dbURL, books: *books, conns: *conns, duration: *duration, warmup: *warmup, dbDelay: *dbDelay, bin: *bin, loadgen: *loadgen}
	for k := range strings.SplitSeq(*kinds, ",") {
		if !slices.Contains(allKinds, k) {
			fmt.Fprintf(os.Stderr, "catalogbench: -kinds: unknown kind %q; known: %s\n", k, strings.Join(allKinds, ", "))
			os.Exit(2)
		}
		o.kinds = append(o.kinds, k)
	}
	if o.books < 1 || o.conns < 1 {
		fmt.Fprintln(os.Stderr, "catalogbench: -books and -conns must be at least 1")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "catalogbench:", err)
		os.Exit(1)
	}
}

var allKinds = []string{"first", "deep", "search1", "search2", "book", "buy"}

type options struct {
	dbURL            string
	books, conns     int
	duration, warmup time.Duration
	dbDelay          time.Duration
	bin, loadgen     string
	kinds            []string
}

// acceptGzip makes the load send Accept-Encoding: gzip (-gzip).
var acceptGzip bool

// logLevel is the server's LOG_LEVEL (-log-level).
var logLevel string

// Initial stock of every book: more than any run can buy.
const initialStock = 1_000_000

func run(o options) error {
	if o.dbURL == "" {
		return errors.New("-db (or BOOKSTORE_TEST_DATABASE_URL) is required: the benchmark runs on MariaDB")
	}
	s, err := dbconn.SettingsFromEnv(func(k string) string {
		if k == "DATABASE_URL" {
			return o.dbURL
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
	name := "bookstore_test_bench_" + strings.ToLower(rand.Text()[:8])
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
	serverDSN := dsn
	if o.dbDelay > 0 {
		p, err := dbproxy.Start(cfg.Addr)
		if err != nil {
			return err
		}
		defer p.Close()
		p.SetDelay(o.dbDelay)
		pc := cfg.Clone()
		pc.Addr = p.Addr()
		serverDSN = pc.FormatDSN()
	}

	bin := o.bin
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
	srv.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "DATABASE_URL="+serverDSN, "SHARED_DIR="+shared, "LOG_LEVEL="+logLevel)
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
	ready, err := waitReady(base+"/readyz", started, 60*time.Second)
	if err != nil {
		return err
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	loadStart := time.Now()
	ids, err := seed(db, o.books)
	if err != nil {
		return err
	}
	loadTook := time.Since(loadStart)
	cookies, err := buyers(db, o.conns)
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
	defer close(stopRSS)

	loadgen := o.loadgen
	if loadgen == "auto" {
		loadgen = "go"
		if _, err := exec.LookPath("wrk"); err == nil {
			loadgen = "wrk"
		}
	}
	if loadgen != "wrk" && loadgen != "go" {
		return fmt.Errorf("-loadgen %q: want wrk, go or auto", loadgen)
	}
	// ids are in insertion order: the newest last. Page 1,000 (or the last
	// full page) starts after the book at position cursor, 0 the newest.
	cursor := max(0, min(999*24, len(ids)-24)-1)
	targets := map[string]string{
		"first":   "/book/catalog",
		"deep":    fmt.Sprintf("/book/catalog?after=%d", ids[len(ids)-1-cursor]),
		"search1": "/book/catalog?q=" + searchOne,
		"search2": "/book/catalog?q=" + url.QueryEscape(searchTwo),
		"book":    fmt.Sprintf("/book/%d", ids[len(ids)/2]),
		"buy":     "/buy/{id}",
	}
	loadBefore := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		loadBefore = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Printf("%d books loaded in %s; server ready after %s; load average before: %s; db delay each way: %s\n\n",
		len(ids), loadTook.Round(time.Millisecond), ready.Round(time.Millisecond), loadBefore, o.dbDelay)
	fmt.Printf("| books | kind | request | load generator | requests/s | p50 | p99 | errors | page bytes | server CPU per request | server peak RSS |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, kind := range o.kinds {
		target := base + targets[kind]
		if kind == "buy" {
			target = base + "/" // the script makes the requests
		}
		bytes := "-"
		if kind != "buy" {
			page, status, err := get(target)
			if err != nil || status != 200 {
				return fmt.Errorf("%s: GET %s: %d %v", kind, target, status, err)
			}
			bytes = strconv.Itoa(len(page))
		}
		gen := loadgen
		if kind == "buy" {
			gen = "wrk" // the Go client sends no sessions
		}
		var res result
		var script string
		if kind == "buy" {
			if script, err = buyScript(cookies, ids[:min(100, len(ids))]); err != nil {
				return err
			}
			defer os.Remove(script)
		}
		load := func(d time.Duration) (result, error) {
			if gen == "wrk" {
				return runWrk(target, o.conns, d, script)
			}
			return goLoad(target, o.conns, d)
		}
		if _, err := load(o.warmup); err != nil {
			return err
		}
		cpu0 := cpuTime(srv.Process.Pid)
		if res, err = load(o.duration); err != nil {
			return err
		}
		cpu1 := cpuTime(srv.Process.Pid)
		perReq := time.Duration(0)
		if n := res.rps * o.duration.Seconds(); n > 0 {
			perReq = time.Duration(float64(cpu1-cpu0) / n)
		}
		fmt.Printf("| %d | %s | `%s %s` | %s | %.0f | %s | %s | %d | %s | %s | %.1f MB |\n",
			len(ids), kind, map[bool]string{true: "POST", false: "GET"}[kind == "buy"], targets[kind],
			gen+map[bool]string{true: ", gzip"}[acceptGzip && kind != "buy"], res.rps, res.p50, res.p99, res.errors, bytes,
			perReq.Round(time.Microsecond), float64(peakRSS.Load())/1024)
	}

	// Honest stock: a purchase committed now shows in the very next page.
	var before int
	if err := db.QueryRow("SELECT stock FROM books WHERE id = ?", ids[0]).Scan(&before); err != nil {
		return err
	}
	if _, err := store.New(db).Buy(context.Background(), 1, ids[0], 1); err != nil {
		return err
	}
	fresh := "no"
	if page, _, err := get(fmt.Sprintf("%s/book/%d", base, ids[0])); err == nil && strings.Contains(page, fmt.Sprintf(">%d in stock<", before-1)) {
		fresh = "yes"
	}
	// Exact stock: every unit taken is in a purchase.
	var taken, bought int64
	if err := db.QueryRow("SELECT COALESCE(SUM(? - stock), 0) FROM books", initialStock).Scan(&taken); err != nil {
		return err
	}
	if err := db.QueryRow("SELECT COALESCE(SUM(quantity), 0) FROM purchases").Scan(&bought); err != nil {
		return err
	}
	var negative int
	db.QueryRow("SELECT COUNT(*) FROM books WHERE stock < 0").Scan(&negative)
	fmt.Printf("\nstock fresh after a purchase: %s; units taken %d, units in purchases %d (%s); books below zero: %d\n",
		fresh, taken, bought, map[bool]string{true: "exact", false: "NOT EXACT"}[taken == bought], negative)
	if taken != bought || negative != 0 || fresh != "yes" {
		return errors.New("stock is not exact or not fresh")
	}
	return nil
}

// Words of the generated titles and authors; searchOne and searchTwo are
// among them (one in 12 titles has searchOne; searchTwo's second word is in
// one author in 10).
var (
	adjectives = []string{"Silent", "Golden", "Hidden", "Broken", "Distant", "Crimson", "Gentle", "Frozen", "Secret", "Burning", "Quiet", "Wild"}
	nouns      = []string{"Garden", "River", "Mountain", "Harbor", "Forest", "Kingdom", "Library", "Winter", "Promise", "Voyage", "Island", "Mirror", "Engine"}
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Barbara", "Edsger", "Margaret", "Donald", "Frances", "Niklaus"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Hamilton", "Knuth", "Allen", "Wirth"}
)

const (
	searchOne = "garden"
	searchTwo = "garden knuth"
)

// seed bulk-loads n books for one seller, 1,000 rows per INSERT, and
// returns their ids in insertion order.
func seed(db *sql.DB, n int) ([]int64, error) {
	res, err := db.Exec("INSERT INTO users (name, email, password_hash, created_at) VALUES ('Bench Seller', 'seller@bench.example', 'x', UTC_TIMESTAMP())")
	if err != nil {
		return nil, err
	}
	seller, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		var q strings.Builder
		q.WriteString("INSERT INTO books (seller_id, title, author, description, price_cents, stock, archived, created_at) VALUES ")
		var args []any
		for i := start; i < min(start+batch, n); i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, FALSE, UTC_TIMESTAMP())")
			args = append(args, seller,
				fmt.Sprintf("The %s %s, volume %d", adjectives[i%len(adjectives)], nouns[(i/7)%len(nouns)], i+1),
				fmt.Sprintf("%s %s", firstNames[(i/3)%len(firstNames)], lastNames[(i/11)%len(lastNames)]),
				"A book used to measure the catalog page; its description is a sentence or two long, like a real one.",
				999+37*(i%500), initialStock)
		}
		if _, err := db.Exec(q.String(), args...); err != nil {
			return nil, fmt.Errorf("seed books: %w", err)
		}
	}
	rows, err := db.Query("SELECT id FROM books ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// buyers creates n users, each signed in with a session written as the
// server's session store writes it (scs's gob codec), and returns their
// session cookies' values.
func buyers(db *sql.DB, n int) ([]string, error) {
	var tokens []string
	deadline := time.Now().Add(24 * time.Hour).UTC()
	for i := range n {
		email := fmt.Sprintf("buyer%d@bench.example", i)
		res, err := db.Exec("INSERT INTO users (name, email, password_hash, created_at) VALUES (?, ?, 'x', UTC_TIMESTAMP())", "Buyer "+strconv.Itoa(i), email)
		if err != nil {
			return nil, err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		data, err := scs.GobCodec{}.Encode(deadline, map[string]any{
			"userID": id, "userName": "Buyer " + strconv.Itoa(i), "userEmail": email, "seen": time.Now().Unix(),
		})
		if err != nil {
			return nil, err
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		token := base64.RawURLEncoding.EncodeToString(b[:])
		if _, err := db.Exec("INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)", token, data, deadline); err != nil {
			return nil, err
		}
		tokens = append(tokens, token)
	}
	return tokens, nil
}

// buyScript writes a wrk Lua script that POSTs /buy/{id} with quantity 1,
// each request as the next buyer, for the next of books.
func buyScript(cookies []string, books []int64) (string, error) {
	var b strings.Builder
	b.WriteString("local cookies = {")
	for _, c := range cookies {
		fmt.Fprintf(&b, "%q,", "session="+c)
	}
	b.WriteString("}\nlocal books = {")
	for _, id := range books {
		fmt.Fprintf(&b, "%d,", id)
	}
	b.WriteString(`}
local n = 0
request = function()
  n = n + 1
  local book = books[(n * 7919) % #books + 1]
  return wrk.format("POST", "/buy/" .. book, {["Cookie"] = cookies[n % #cookies + 1], ["Content-Type"] = "application/x-www-form-urlencoded"}, "quantity=1")
end
`)
	f, err := os.CreateTemp("", "catalogbench-*.lua")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(b.String())
	return f.Name(), err
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

// runWrk runs wrk against url for d; script, if not "", is a Lua script
// that makes the requests.
func runWrk(url string, conns int, d time.Duration, script string) (result, error) {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency", "--timeout", "5s"}
	if script != "" {
		args = append(args, "-s", script)
	}
	if acceptGzip && script == "" {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
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

func get(url string) (string, int, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.StatusCode, err
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
