package verifytest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bookstore-aws/bookstore/infra/verify/internal/check"
	"github.com/bookstore-aws/bookstore/infra/verify/stackout"
)

// The deployment a World stands for.
const (
	Domain = "example.com"
	ALB    = "bookstore-alb-1234567890.eu-west-1.elb.amazonaws.com"
)

// NameServers is the hosted zone's delegation set, as Route 53 hands it out.
var NameServers = []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"}

// World is one passing deployment of example.com on loopback: the parent
// zone com., the hosted zone, a resolver that agrees with it, and the load
// balancer, with the stack outputs that describe them. Every address is on
// loopback: 127.0.0.1 (and ::1 for AAAA, never dialed first), and 127.0.0.3
// for the swarm manager's Elastic IP.
type World struct {
	Now      time.Time
	CA       *CA
	Parent   *DNS // authoritative for com.
	Zone     *DNS // authoritative for example.com
	Resolver *DNS
	Web      *Web
	// Stack is what `pulumi stack output --json` prints; edit it before JSON.
	Stack map[string]any
}

// NewWorld starts every server; all checks pass against it.
func NewWorld(t testing.TB) *World {
	t.Helper()
	w := &World{Now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	w.CA = NewCA(t, w.Now)
	w.Parent = NewDNS(t, "com.", ParentRecords(NameServers...)...)
	w.Zone = NewDNS(t, Domain, ZoneRecords()...)
	w.Resolver = NewDNS(t, "", ResolverRecords()...)
	w.Web = NewWeb(t, w.CA.Issue(t, w.Now.AddDate(0, 0, 90), Names()...))
	w.Stack = map[string]any{
		"url":            "https://" + Domain,
		"wwwUrl":         "https://www." + Domain,
		"albDnsName":     ALB,
		"albZoneId":      "Z32O12XQLNTSW2",
		"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/1f2e3d4c",
		"validationRecords": []any{
			map[string]any{"name": "_a1b2.example.com.", "type": "CNAME", "value": "_c3d4.xyz.acm-validations.aws."},
			map[string]any{"name": "_e5f6.www.example.com.", "type": "CNAME", "value": "_a7b8.xyz.acm-validations.aws."},
		},
		"hostedZoneId":   "Z0123456789ABCDEFGHIJ",
		"nameServers":    []any{NameServers[0], NameServers[1], NameServers[2], NameServers[3]},
		"dbEndpoint":     "bookstore.abc.eu-west-1.rds.amazonaws.com:3306",
		"dbSecretArn":    "[secret]",
		"efsId":          "fs-0123456789abcdef0",
		"imageRef":       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore@sha256:" + strings.Repeat("a", 64),
		"asgName":        "app-asg-1",
		"swarmManagerIp": "127.0.0.3",
		"swarmUrl":       "https://swarm." + Domain,
		"legacyUrl":      "https://legacy." + Domain,
	}
	return w
}

// Names are the names the stack serves.
func Names() []string {
	return []string{Domain, "www." + Domain, "swarm." + Domain, "legacy." + Domain}
}

// ParentRecords is com.'s data: example.com delegated to ns.
func ParentRecords(ns ...string) []string {
	recs := []string{"com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"}
	for _, n := range ns {
		recs = append(recs, "example.com. 172800 IN NS "+dns.Fqdn(n))
	}
	return recs
}

// ZoneRecords is the hosted zone as the stack creates it: alias records to
// the ALB for the apex, www and swarm, the monolith's A record, and the ACM
// validation CNAMEs.
func ZoneRecords() []string {
	recs := []string{"example.com. 900 IN SOA ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}
	for _, n := range NameServers {
		recs = append(recs, "example.com. 172800 IN NS "+n+".")
	}
	for _, n := range []string{Domain, "www." + Domain, "swarm." + Domain} {
		recs = append(recs, n+". 60 IN A 127.0.0.1", n+". 60 IN AAAA ::1")
	}
	return append(recs,
		"legacy.example.com. 300 IN A 127.0.0.1",
		"_a1b2.example.com. 300 IN CNAME _c3d4.xyz.acm-validations.aws.",
		"_e5f6.www.example.com. 300 IN CNAME _a7b8.xyz.acm-validations.aws.",
	)
}

// ResolverRecords is what a resolver that has caught up answers.
func ResolverRecords() []string {
	recs := []string{ALB + ". 60 IN A 127.0.0.1", ALB + ". 60 IN AAAA ::1"}
	for _, n := range NameServers {
		recs = append(recs, n+". 172800 IN A 127.0.0.1")
	}
	for _, n := range []string{Domain, "www." + Domain, "swarm." + Domain} {
		recs = append(recs, n+". 60 IN A 127.0.0.1", n+". 60 IN AAAA ::1")
	}
	return append(recs, "legacy.example.com. 300 IN A 127.0.0.1")
}

// Drop returns recs without the records owned by name (with trailing dot).
func Drop(recs []string, name string) []string {
	var out []string
	for _, r := range recs {
		if !strings.HasPrefix(r, name+" ") {
			out = append(out, r)
		}
	}
	return out
}

// Replace returns recs with every occurrence of old replaced by new.
func Replace(recs []string, old, new string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = strings.ReplaceAll(r, old, new)
	}
	return out
}

// Options points the verifier at this world's servers.
func (w *World) Options() check.Options {
	return check.Options{
		Resolvers:     []string{w.Resolver.Addr},
		ParentServers: []string{w.Parent.Addr},
		DNSPort:       w.Zone.Port,
		HTTPPort:      w.Web.HTTPPort,
		HTTPSPort:     w.Web.HTTPSPort,
		Roots:         w.CA.Pool,
		Now:           func() time.Time { return w.Now },
		Timeout:       20 * time.Second, // generous: a loaded CI machine under -race is slow
	}
}

// JSON is the stack output as the Pulumi CLI prints it.
func (w *World) JSON(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(w.Stack); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Outputs parses JSON.
func (w *World) Outputs(t testing.TB) stackout.Outputs {
	t.Helper()
	o, err := stackout.Parse(bytes.NewReader(w.JSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	return o
}
