package main

// The components' pure helpers, tested here so the aws SDK is linked into one
// test binary only.

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"

	"github.com/bookstore-aws/bookstore/infra/database"
	"github.com/bookstore-aws/bookstore/infra/edge"
	"github.com/bookstore-aws/bookstore/infra/host"
	"github.com/bookstore-aws/bookstore/infra/image"
	"github.com/bookstore-aws/bookstore/infra/network"
)

func TestIPv6Subnet(t *testing.T) {
	for _, c := range []struct {
		block string
		i     int
		want  string
	}{
		{"2a05:d018:abc:de00::/56", 0, "2a05:d018:abc:de00::/64"},
		{"2a05:d018:abc:de00::/56", 2, "2a05:d018:abc:de02::/64"},
		{"2a05:d018:abc:de00::/56", 255, "2a05:d018:abc:deff::/64"},
		{"", 1, ""}, // unknown during preview
	} {
		got, err := network.IPv6Subnet(c.block, c.i)
		if err != nil || got != c.want {
			t.Errorf("IPv6Subnet(%q, %d) = %q, %v; want %q", c.block, c.i, got, err, c.want)
		}
	}
	for _, c := range []struct {
		block string
		i     int
	}{{"10.0.0.0/16", 0}, {"2a05:d018:abc::/48", 0}, {"2a05:d018:abc:de00::/56", 256}, {"nonsense", 0}} {
		if got, err := network.IPv6Subnet(c.block, c.i); err == nil {
			t.Errorf("IPv6Subnet(%q, %d) = %q, want an error", c.block, c.i, got)
		}
	}
}

func TestIdentifier(t *testing.T) {
	for prefix, want := range map[string]string{
		"bookstore-dev":         "bookstore-dev-db",
		"bookstore-my_stack.v2": "bookstore-my-stack-v2-db", // stacks allow _ and .
		"Bookstore--PROD-":      "bookstore-prod-db",
		"2024-stack":            "db-2024-stack-db", // a letter first
		"":                      "db-db",
	} {
		if got := database.Identifier(prefix); got != want {
			t.Errorf("Identifier(%q) = %q, want %q", prefix, got, want)
		}
	}
	for _, prefix := range []string{strings.Repeat("a", 100), strings.Repeat("ab-", 40)} {
		got := database.Identifier(prefix)
		if len(got) > database.MaxIdentifier || strings.Contains(got, "--") || !strings.HasSuffix(got, "-db") {
			t.Errorf("Identifier(%d chars) = %q (%d chars)", len(prefix), got, len(got))
		}
	}
}

func TestFinalSnapshotID(t *testing.T) {
	id := database.Identifier(strings.Repeat("a", 100))
	a := database.FinalSnapshotID(id, database.Incarnation(id, "bookstore-1a2b3c4"))
	if !regexp.MustCompile(`^a+-db-final-[0-9a-f]{10}$`).MatchString(a) || len(a) > 255 {
		t.Errorf("FinalSnapshotID = %q (%d chars)", a, len(a))
	}
	if b := database.FinalSnapshotID(id, database.Incarnation(id, "bookstore-1a2b3c4")); b != a {
		t.Errorf("the same instance gets %q and %q", a, b)
	}
	// Another stack (a new subnet group), or another identifier: another name.
	for _, other := range []string{
		database.Incarnation(id, "bookstore-9z8y7x6"), database.Incarnation("other-db", "bookstore-1a2b3c4"),
	} {
		if b := database.FinalSnapshotID(id, other); b == a {
			t.Errorf("incarnation %q gets the snapshot name of another: %q", other, b)
		}
	}
}

func TestBurstable(t *testing.T) {
	for typ, want := range map[string]bool{
		"t2.micro": true, "t3.micro": true, "t3a.small": true, "t4g.nano": true, "t3.2xlarge": true,
		"m5.large": false, "m7i-flex.large": false, "c6i.xlarge": false, "t1.micro": false, "t3": false, "": false,
	} {
		if got := host.Burstable(typ); got != want {
			t.Errorf("Burstable(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestValidationNames(t *testing.T) {
	if got := edge.ValidationNames(edge.Names("example.com", true)); !reflect.DeepEqual(got,
		[]string{"example.com", "www.example.com", "swarm.example.com"}) {
		t.Errorf("got %v", got)
	}
	if got := edge.Names("example.com", false); !reflect.DeepEqual(got, []string{"example.com", "www.example.com"}) {
		t.Errorf("without a swarm: got %v", got)
	}
	// ACM validates *.x with x's record.
	if got := edge.ValidationNames([]string{"example.com", "*.example.com", "www.example.com"}); !reflect.DeepEqual(got,
		[]string{"example.com", "www.example.com"}) {
		t.Errorf("wildcard: got %v", got)
	}
}

func TestValidationRecordsDistinctAndSorted(t *testing.T) {
	s := func(v string) *string { return &v }
	got := edge.Records([]acm.CertificateDomainValidationOption{
		{DomainName: s("www.example.com"), ResourceRecordName: s("_b.www.example.com."), ResourceRecordType: s("CNAME"), ResourceRecordValue: s("_y.acm-validations.aws.")},
		{DomainName: s("example.com"), ResourceRecordName: s("_a.example.com."), ResourceRecordType: s("CNAME"), ResourceRecordValue: s("_x.acm-validations.aws.")},
		{DomainName: s("*.example.com"), ResourceRecordName: s("_a.example.com."), ResourceRecordType: s("CNAME"), ResourceRecordValue: s("_x.acm-validations.aws.")},
		{DomainName: s("pending.example.com")}, // not yet issued by ACM
	})
	want := []map[string]string{
		{"name": "_a.example.com.", "type": "CNAME", "value": "_x.acm-validations.aws."},
		{"name": "_b.www.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestLifecyclePolicyNeedsOneImage(t *testing.T) {
	if _, err := image.LifecyclePolicy(0); err == nil {
		t.Error("keeping 0 images accepted: it would expire the running one")
	}
}
