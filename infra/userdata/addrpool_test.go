package userdata

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Swarm's own default pool is 10.0.0.0/8: what the manager got before
// --default-addr-pool, and what collides with the stack's VPC.
var swarmDefaultPool = netip.MustParsePrefix("10.0.0.0/8")

func TestSwarmAddressPoolIsDisjoint(t *testing.T) {
	for _, vpc := range []string{"10.0.0.0/16", "10.200.0.0/16", "10.0.0.0/9", "172.31.0.0/16", "192.168.0.0/16", "100.64.0.0/16", "10.0.5.7/16"} {
		got, err := SwarmAddressPool(vpc)
		if err != nil {
			t.Errorf("SwarmAddressPool(%q): %v", vpc, err)
			continue
		}
		pool := netip.MustParsePrefix(got)
		for _, taken := range append([]netip.Prefix{netip.MustParsePrefix(vpc).Masked()}, dockerBridges...) {
			if pool.Overlaps(taken) {
				t.Errorf("SwarmAddressPool(%q) = %s, overlapping %s", vpc, pool, taken)
			}
		}
		if pool.Bits() > SwarmPoolMaskLength {
			t.Errorf("pool %s is smaller than one /%d network", pool, SwarmPoolMaskLength)
		}
	}
}

func TestSwarmAddressPoolRefuses(t *testing.T) {
	for vpc, want := range map[string]string{
		"":                 "not an IPv4 prefix",
		"10.0.0.0":         "not an IPv4 prefix",
		"2001:db8::/56":    "not an IPv4 prefix",
		"172.16.0.0/12":    "overlaps Docker's bridge 172.17.0.0/16",
		"172.18.4.0/24":    "overlaps Docker's bridge 172.18.0.0/16",
		"0.0.0.0/0":        "overlaps Docker's bridge",
		"10.0.0.0/8":       "", // every 10.x candidate is taken, but another range is left
		"192.168.200.0/24": "",
		"10.200.0.0/15":    "",
	} {
		got, err := SwarmAddressPool(vpc)
		switch {
		case want == "" && err != nil:
			t.Errorf("SwarmAddressPool(%q): %v", vpc, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("SwarmAddressPool(%q) = %q, %v; want an error with %q", vpc, got, err, want)
		}
	}
}

// The rendered boot script hands the pool to `docker swarm init`: the pool
// in boot.env is disjoint from the VPC it was rendered for, and not Swarm's
// default.
func TestRenderSwarmManagerAddressPool(t *testing.T) {
	for _, vpc := range []string{"10.0.0.0/16", "10.200.0.0/16"} {
		m := validManager()
		m.VPCCIDR = vpc
		p := mustRender(t, func() (string, error) { return RenderSwarmManager(m) })
		vars := sourceBootEnv(t, p.file(t, "/opt/bookstore/boot.env").Content)
		pool, err := netip.ParsePrefix(vars["SWARM_ADDR_POOL"])
		if err != nil {
			t.Fatalf("SWARM_ADDR_POOL %q: %v", vars["SWARM_ADDR_POOL"], err)
		}
		if pool.Overlaps(netip.MustParsePrefix(vpc)) || pool == swarmDefaultPool {
			t.Errorf("VPC %s: pool %s", vpc, pool)
		}
	}
	m := validManager()
	m.VPCCIDR = "172.17.0.0/16"
	_, err := RenderSwarmManager(m)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "VPCCIDR" {
		t.Errorf("a VPC on docker0's range: %v, want a FieldError for VPCCIDR", err)
	}
}

func TestRenderSwarmManagerReach(t *testing.T) {
	m := validManager()
	m.EndpointMode, m.Publish, m.Network, m.LogDriver = "dnsrr", "none", "rehearsal-net", "json-file"
	p := mustRender(t, func() (string, error) { return RenderSwarmManager(m) })
	vars := sourceBootEnv(t, p.file(t, "/opt/bookstore/boot.env").Content)
	for k, want := range map[string]string{"SWARM_ENDPOINT_MODE": "dnsrr", "SWARM_PUBLISH": "none", "SWARM_NETWORK": "rehearsal-net", "SWARM_LOG_DRIVER": "json-file"} {
		eq(t, k, vars[k], want)
	}
	for _, c := range []struct {
		field string
		set   func(*SwarmManager)
	}{
		{"EndpointMode", func(m *SwarmManager) { m.EndpointMode = "ipvs" }},
		{"Publish", func(m *SwarmManager) { m.Publish = "host" }},
		{"Publish", func(m *SwarmManager) { m.EndpointMode = "dnsrr" }}, // ingress needs a VIP
		{"Network", func(m *SwarmManager) { m.Network = "net work" }},
		{"Network", func(m *SwarmManager) { m.Network = "-net" }},
		{"LogDriver", func(m *SwarmManager) { m.LogDriver = "syslog" }},
	} {
		m := validManager()
		c.set(&m)
		_, err := RenderSwarmManager(m)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want a FieldError for %s", m, err, c.field)
		}
	}
}
