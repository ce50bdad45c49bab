// Package lbspec holds what the stack's Application Load Balancer does, as
// plain values: its listeners' TLS policy, redirect and fixed 404, the target
// groups' health check and deregistration delay, and the weighted forward
// between the app and swarm target groups. Package edge declares the ALB from
// these; the rehearsal (infra/rehearsal) configures a local HAProxy from the
// same values, so a change here changes both. It imports no Pulumi SDK.
package lbspec

import (
	"fmt"
	"time"
)

// TargetPort is the port targets are registered on: the service's PORT (the
// README's contract).
const TargetPort = 5000

// HealthCheck is a target group's health check (AWS ELBv2 TargetGroup
// HealthCheck*). A target becomes healthy after HealthyThreshold consecutive
// passes and unhealthy after UnhealthyThreshold consecutive failures; a check
// fails when no answer matching Matcher arrives within Timeout.
type HealthCheck struct {
	Protocol           string        // "HTTP"
	Path               string        // request path of the check
	Matcher            string        // HTTP status codes that pass, e.g. "200"
	Interval           time.Duration // between checks of one target (ALB: 5-300 s)
	Timeout            time.Duration // per check (ALB: 2-120 s, less than Interval)
	HealthyThreshold   int           // consecutive passes (ALB: 2-10)
	UnhealthyThreshold int           // consecutive failures (ALB: 2-10)
}

// TargetHealthCheck is the check of both target groups. It asks for liveness
// (/healthz), not readiness (/readyz): the ASG acts on ELB health, and a
// database outage must not replace every host.
//
// The ALB retries nothing: a request routed to a target that died fails (502)
// until the check marks it unhealthy. So the check is as fast as the ALB
// allows (5 s, 2 failures: a 9 s window, against 35 s at 15 s and 3). The
// rehearsal measured the difference: every request sent to a killed instance
// inside the window failed. Checks of /healthz cost the targets nothing.
var TargetHealthCheck = HealthCheck{
	Protocol:           "HTTP",
	Path:               "/healthz",
	Matcher:            "200",
	Interval:           5 * time.Second,
	Timeout:            4 * time.Second,
	HealthyThreshold:   2,
	UnhealthyThreshold: 2,
}

// DetectionWindow is the longest a target that stopped answering keeps
// getting requests: UnhealthyThreshold checks, the last of which waits
// Timeout.
func (h HealthCheck) DetectionWindow() time.Duration {
	return time.Duration(h.UnhealthyThreshold-1)*h.Interval + h.Timeout
}

// DeregistrationDelay is how long a deregistered target keeps its in-flight
// requests before the ALB closes them. It outlasts the service's
// DRAIN_TIMEOUT (25 s), the README's contract.
const DeregistrationDelay = 30 * time.Second

// IdleTimeout is the ALB's connection idle timeout.
const IdleTimeout = 60 * time.Second

// TLSPolicy is an ELB security policy: the protocol versions and ciphers an
// HTTPS listener negotiates.
type TLSPolicy struct {
	Name      string
	Protocols []string // "TLSv1.2", "TLSv1.3"
	// Ciphers are the TLS 1.2 cipher suites in OpenSSL's names, in the
	// policy's order of preference; CipherSuites the TLS 1.3 ones (IANA names,
	// as OpenSSL's -ciphersuites takes them).
	Ciphers      []string
	CipherSuites []string
}

// SSLPolicy is the HTTPS listener's security policy: TLS 1.3, and TLS 1.2
// with ECDHE key exchange and AES-GCM only ("Res"), so every connection has
// forward secrecy; the plain TLS13-1-2 policy still offers RSA key exchange
// (AES128-GCM-SHA256...). It was the console's default before the
// post-quantum policies. The ciphers are those AWS lists for the policy
// ("Security policies for your Application Load Balancer").
var SSLPolicy = TLSPolicy{
	Name:      "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
	Protocols: []string{"TLSv1.2", "TLSv1.3"},
	Ciphers: []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256",
		"ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-RSA-AES256-GCM-SHA384",
	},
	CipherSuites: []string{
		"TLS_AES_128_GCM_SHA256",
		"TLS_AES_256_GCM_SHA384",
		"TLS_CHACHA20_POLY1305_SHA256",
	},
}

// Redirect is what the :80 listener answers once there is a domain (and so
// an HTTPS listener): a permanent redirect to the same URL on https, port 443.
var Redirect = struct {
	Protocol   string // "HTTPS"
	Port       int
	StatusCode int
}{"HTTPS", 443, 301}

// Listener rule priorities: lower is evaluated first, unique per listener.
const (
	// MetricsRulePriority comes first: the service's /metrics is for
	// scrapers inside the VPC, never the internet, whatever the host name.
	MetricsRulePriority = 1
	// SwarmRulePriority sends swarm.<domain> to the swarm target group alone.
	SwarmRulePriority = 10
)

// PrivatePaths are answered with PrivateResponse by the load balancer itself
// (ALB path patterns: "*" matches any characters).
var PrivatePaths = []string{"/metrics", "/metrics/*"}

// PrivateResponse is the fixed response for PrivatePaths.
var PrivateResponse = struct {
	StatusCode  int
	ContentType string
	Body        string
}{404, "text/plain", "404 page not found\n"}

// The target groups' roles, as edge names them.
const (
	AppTargetGroup   = "app"   // the Auto Scaling group's instances
	SwarmTargetGroup = "swarm" // the Docker Swarm's hosts
)

// WeightedTargetGroup is one target group of a weighted forward action.
type WeightedTargetGroup struct {
	Role   string // AppTargetGroup or SwarmTargetGroup
	Weight int    // 0-999; the group gets Weight/sum of the requests
}

// MaxWeight is the highest forward weight the ALB accepts (ELBv2 limit).
const MaxWeight = 999

// Forward returns the default forward action's target groups for the
// configured weights (bookstore:appWeight and bookstore:swarmWeight): the app
// group, and the swarm group when the stack has a Swarm (bookstore:swarm).
// Errors: a weight outside 0-MaxWeight, a swarm weight without a Swarm, or no
// group with a weight above 0 (nothing to forward to).
func Forward(appWeight, swarmWeight int, swarm bool) ([]WeightedTargetGroup, error) {
	for _, w := range []int{appWeight, swarmWeight} {
		if w < 0 || w > MaxWeight {
			return nil, fmt.Errorf("lbspec: forward weight %d outside 0-%d", w, MaxWeight)
		}
	}
	groups := []WeightedTargetGroup{{AppTargetGroup, appWeight}}
	switch {
	case swarm:
		groups = append(groups, WeightedTargetGroup{SwarmTargetGroup, swarmWeight})
	case swarmWeight > 0:
		return nil, fmt.Errorf("lbspec: swarm weight %d without a swarm target group", swarmWeight)
	}
	if appWeight == 0 && swarmWeight == 0 {
		return nil, fmt.Errorf("lbspec: every forward weight is 0: the listener would forward to nothing")
	}
	return groups, nil
}
