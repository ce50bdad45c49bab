package main

// The components' pure helpers, tested here so the aws SDK is linked into one
// test binary only.

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"

	"github.com/bookstore-aws/bookstore/infra/database"
	"github.com/bookstore-aws/bookstore/infra/edge"
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

func TestFinalSnapshotID(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	for prefix, want := range map[string]string{
		"bookstore-dev":         "bookstore-dev-final-20260304040607",
		"bookstore-my_stack.v2": "bookstore-my-stack-v2-final-20260304040607", // stacks allow _ and .
		"Bookstore--PROD-":      "bookstore-prod-final-20260304040607",
		"2024-stack":            "db-2024-stack-final-20260304040607", // a letter first
		"":                      "db-final-20260304040607",
	} {
		if got := database.FinalSnapshotID(prefix, at); got != want {
			t.Errorf("FinalSnapshotID(%q) = %q, want %q", prefix, got, want)
		}
	}
	long := database.FinalSnapshotID(strings.Repeat("a-", 200), at)
	if len(long) > 255 || strings.Contains(long, "--") {
		t.Errorf("long prefix gives %q (%d chars)", long, len(long))
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
