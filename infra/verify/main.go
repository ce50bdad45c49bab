// Command verify checks a live deployment against the stack's outputs: the
// domain's delegation at its parent zone, the hosted zone's records, public
// resolution, the certificate, the HTTP→HTTPS redirect and the health
// endpoints, one row per check.
//
//	pulumi stack output --json | go run ./infra/verify
//	go run ./infra/verify -f outputs.json --wait 15m
//
// Exit status: 0 every check passes; 1 a check fails (or is still pending
// when --wait runs out); 2 bad flags or stack outputs; 3 nothing fails but
// some checks are pending (DNS still propagating).
//
// It needs no secret (URLs, names, addresses), so --show-secrets is needed
// only if the stack marks one of those outputs secret; the error says so.
// It imports no Pulumi package, so it builds in seconds.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bookstore-aws/bookstore/infra/verify/internal/check"
	"github.com/bookstore-aws/bookstore/infra/verify/stackout"
)

// Exit codes.
const (
	exitPass    = 0
	exitFail    = 1
	exitUsage   = 2
	exitPending = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, check.Options{})
	stop()
	os.Exit(code)
}

const usage = `Usage: pulumi stack output --json | verify [flags]
       verify -f outputs.json [flags]

Checks the live deployment against the stack's outputs: delegation at the
parent zone, the hosted zone's answers, public resolution, TLS on 443, the
redirect from http and /healthz and /readyz. Exit status: 0 all pass,
1 a check fails, 2 bad flags or input, 3 only pending (DNS propagating).

Flags:
`

// run is the command with its surroundings passed in. base holds what tests
// inject (servers, ports, roots, clock); flags given on the command line
// override it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, base check.Options) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	file := fs.String("f", "-", "read the stack outputs from `file`; - is stdin")
	asJSON := fs.Bool("json", false, "write the report as JSON on stdout")
	wait := fs.Duration("wait", 0, "re-run the checks until all pass or this much time has passed, e.g. 15m; 0 runs once")
	interval := fs.Duration("interval", 15*time.Second, "time between runs with --wait")
	timeout := fs.Duration("timeout", 5*time.Second, "limit for each query, handshake or request")
	resolvers := fs.String("resolver", "", "recursive resolvers to use, `host[:port],...`; default: /etc/resolv.conf")
	parents := fs.String("parent-server", "", "the parent zone's authoritative servers, `host[:port],...`; default: found through the resolvers")
	roots := fs.String("roots", "", "trust only the CA certificates in this PEM `file` (e.g. a test CA's root); default: the system's roots")
	dnsPort := fs.Int("dns-port", 53, "`port` of the authoritative name servers the checks look up")
	httpPort := fs.Int("http-port", 80, "`port` the redirect check dials on every name")
	httpsPort := fs.Int("https-port", 443, "`port` the TLS and health checks dial on every name")

	fail := func(key, msg string) int {
		fmt.Fprintf(stderr, "verify: %s\n", msg)
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(map[string]string{"status": "error", "key": key, "error": msg})
		}
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitPass
		}
		return exitUsage // flag has printed the error and the usage
	}
	if fs.NArg() > 0 {
		return fail("", fmt.Sprintf("unexpected argument %q: the stack outputs come from stdin or -f", fs.Arg(0)))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *wait < 0:
		return fail("", "--wait must not be negative")
	case *interval <= 0:
		return fail("", "--interval must be positive")
	case *timeout <= 0:
		return fail("", "--timeout must be positive")
	}
	for name, port := range map[string]int{"dns-port": *dnsPort, "http-port": *httpPort, "https-port": *httpsPort} {
		if port < 1 || port > 65535 {
			return fail("", fmt.Sprintf("--%s %d is not a port (1-65535)", name, port))
		}
	}

	opts := base
	if set["timeout"] || opts.Timeout == 0 {
		opts.Timeout = *timeout
	}
	if set["resolver"] {
		rs, err := parseResolvers("--resolver", *resolvers)
		if err != nil {
			return fail("", err.Error())
		}
		opts.Resolvers = rs
	}
	if set["parent-server"] {
		ps, err := parseResolvers("--parent-server", *parents)
		if err != nil {
			return fail("", err.Error())
		}
		opts.ParentServers = ps
	}
	if set["roots"] {
		pool, err := readRoots(*roots)
		if err != nil {
			return fail("", err.Error())
		}
		opts.Roots = pool
	}
	if set["dns-port"] || opts.DNSPort == 0 {
		opts.DNSPort = *dnsPort
	}
	if set["http-port"] || opts.HTTPPort == 0 {
		opts.HTTPPort = *httpPort
	}
	if set["https-port"] || opts.HTTPSPort == 0 {
		opts.HTTPSPort = *httpsPort
	}

	in, closeIn, err := input(*file, stdin)
	if err != nil {
		return fail("", err.Error())
	}
	out, err := stackout.Parse(in)
	closeIn()
	if err != nil {
		var se *stackout.Error
		key := ""
		if errors.As(err, &se) {
			key = se.Key
		}
		return fail(key, err.Error())
	}

	var rep check.Report
	if *wait > 0 {
		rep, err = check.Wait(ctx, out, opts, *wait, *interval, func(r check.Report, left time.Duration) {
			fmt.Fprintf(stderr, "verify: %s\n", check.ProgressLine(r, left))
		})
	} else {
		rep, err = check.Run(ctx, out, opts)
	}
	if err != nil {
		return fail("", err.Error())
	}
	if *asJSON {
		err = check.WriteJSON(stdout, rep)
	} else {
		err = check.WriteText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify: writing the report: %v\n", err)
		return exitFail
	}
	switch rep.Status {
	case check.Pass:
		return exitPass
	case check.Pending:
		return exitPending
	default:
		return exitFail
	}
}

// input opens the stack outputs: name, or stdin for "-". Reading a terminal
// would wait for typing that never comes, so that is an error.
func input(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the stack outputs: %w", err)
		}
		return f, func() { f.Close() }, nil
	}
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return nil, nil, errors.New("no stack outputs: pipe in `pulumi stack output --json`, or pass -f FILE")
		}
	}
	return stdin, func() {}, nil
}

// readRoots reads a PEM file of CA certificates (RFC 7468) into a pool.
// Errors: the file can't be read, or holds no certificate.
func readRoots(name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--roots: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--roots %s: no PEM certificate in it", name)
	}
	return pool, nil
}

// parseResolvers reads flag's value s, "host[:port],...", into host:port
// addresses, port 53 by default.
func parseResolvers(flag, s string) ([]string, error) {
	var out []string
	for r := range strings.SplitSeq(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		host, port, err := net.SplitHostPort(r)
		if err != nil {
			host, port = strings.Trim(r, "[]"), "53"
		}
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("%s %q: %q is not an IP address", flag, s, host)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	if len(out) == 0 {
		return nil, errors.New(flag + ": no address given")
	}
	return out, nil
}
