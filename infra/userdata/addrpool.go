package userdata

import (
	"fmt"
	"net/netip"
)

// Swarm address pools. Without --default-addr-pool, `docker swarm init` takes
// the ingress network and every overlay from 10.0.0.0/8 in /24s, starting at
// 10.0.0.0/24: inside a 10.0.0.0/16 VPC. Docker's embedded DNS then forwards a
// task's queries to the VPC resolver (the VPC's base + 2) through the task's
// own namespace, where that address is routed into the overlay, and RDS or
// Secrets Manager never resolve (moby/moby#27399, #24220, #34841).

// SwarmPoolMaskLength is the prefix length of each overlay network Swarm
// carves out of the pool (--default-addr-pool-mask-length): /24, 254
// addresses a network, as Swarm's own default.
const SwarmPoolMaskLength = 24

// dockerBridges are the networks every Docker host has before Swarm starts:
// the default bridge docker0 (172.17.0.0/16) and docker_gwbridge, which
// `docker swarm init` creates from the next free local range (172.18.0.0/16
// on a fresh host). A pool or VPC overlapping them shadows routes the same way.
var dockerBridges = []netip.Prefix{
	netip.MustParsePrefix("172.17.0.0/16"),
	netip.MustParsePrefix("172.18.0.0/16"),
}

// swarmPoolCandidates are tried in order; the first disjoint from the VPC and
// from dockerBridges is the pool. Each is a /16: 256 overlays of /24.
var swarmPoolCandidates = []netip.Prefix{
	netip.MustParsePrefix("10.200.0.0/16"),
	netip.MustParsePrefix("10.201.0.0/16"),
	netip.MustParsePrefix("172.30.0.0/16"),
	netip.MustParsePrefix("192.168.200.0/21"),
}

// SwarmAddressPool returns the --default-addr-pool for a swarm whose nodes
// live in the VPC vpcCIDR (an IPv4 prefix such as "10.0.0.0/16"): the first
// candidate that overlaps neither the VPC nor Docker's default bridges
// (172.17.0.0/16, 172.18.0.0/16). Errors: vpcCIDR not an IPv4 prefix; a VPC
// that overlaps Docker's bridges itself (then docker0 would shadow VPC
// addresses on every host); no candidate left.
func SwarmAddressPool(vpcCIDR string) (string, error) {
	vpc, err := netip.ParsePrefix(vpcCIDR)
	if err != nil || !vpc.Addr().Is4() {
		return "", fmt.Errorf("VPC CIDR %q is not an IPv4 prefix such as 10.0.0.0/16", vpcCIDR)
	}
	vpc = vpc.Masked()
	for _, b := range dockerBridges {
		if vpc.Overlaps(b) {
			return "", fmt.Errorf("VPC CIDR %s overlaps Docker's bridge %s: every Docker host would route those VPC addresses to its bridge", vpc, b)
		}
	}
	for _, c := range swarmPoolCandidates {
		if !c.Overlaps(vpc) {
			return c.String(), nil
		}
	}
	return "", fmt.Errorf("VPC CIDR %s overlaps every candidate Swarm address pool %v", vpc, swarmPoolCandidates)
}
