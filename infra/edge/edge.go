// Package edge declares everything between the internet and the hosts: the
// Application Load Balancer, its target groups (app for the ASG, swarm for the Docker
// Swarm when the stack has one) and listeners, and, when a domain is set, the ACM certificate with its DNS
// validation and the Route 53 hosted zone and alias records. The ALB is declared
// here and nowhere else.
package edge

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// Fixed by the contract (docs/architecture.md, "The contract between the parts"): the service
// port, its liveness path, and a deregistration delay longer than the service's
// DRAIN_TIMEOUT (25 s). Targets are checked for liveness, not readiness (/readyz):
// the ASG acts on ELB health, and a database outage must not replace every host.
const (
	TargetPort          = 5000
	HealthCheckPath     = "/healthz"
	DeregistrationDelay = 30 // seconds
	// SSLPolicy allows TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM ciphers
	// only ("Res"), so every connection has forward secrecy; the plain
	// TLS13-1-2 policy still offers RSA key exchange (AES128-GCM-SHA256...).
	// It was the console's default before the post-quantum policies.
	SSLPolicy = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
	// SwarmRulePriority is the listener rule sending swarm.<domain> to the swarm
	// target group alone.
	SwarmRulePriority = 10
	// MetricsRulePriority comes first: the service's /metrics is for scrapers
	// inside the VPC, never the internet, whatever the host name.
	MetricsRulePriority = 1
)

// PrivatePaths are answered 404 by the load balancer itself.
var PrivatePaths = []string{"/metrics", "/metrics/*"}

// Args configures the edge.
type Args struct {
	Domain       string // apex; "" serves plain HTTP on the ALB's DNS name
	HostedZoneID string // use this zone (it may be a parent of Domain); "" looks Domain up
	CreateZone   bool   // create a zone for Domain instead of looking it up

	VpcID           pulumi.StringInput
	SubnetIDs       pulumi.StringArrayInput // public, one per AZ
	SecurityGroupID pulumi.StringInput      // the ALB's
	AppWeight       int                     // forward weight of the app target group, 0-999
	SwarmWeight     int                     // forward weight of the swarm target group, 0-999
	// Swarm declares the swarm target group, its listener rule and the name
	// swarm.<domain>. Without it the listeners forward to the app target
	// group alone, and SwarmTarget and SwarmURL are empty.
	Swarm bool
	// DependsOn holds back the ALB until these exist: the network's
	// PublicRouting (an internet-facing ALB needs the VPC's internet gateway).
	DependsOn []pulumi.Resource

	NamePrefix string
	Tags       map[string]string
}

// ValidationRecord is one DNS record ACM asked for.
type ValidationRecord struct {
	Name  string // e.g. "_3f2a....example.com."
	Type  string // "CNAME"
	Value string // e.g. "_9c1b....acm-validations.aws."
}

// Edge is the load balancer and the names in front of it. With no domain the
// string outputs about names are "" and the lists empty.
type Edge struct {
	pulumi.ResourceState

	AlbArnSuffix   pulumi.StringOutput // CloudWatch LoadBalancer dimension
	AlbDNSName     pulumi.StringOutput
	AlbZoneID      pulumi.StringOutput // the ALB's canonical hosted zone, for aliases
	AppTargetGroup TargetGroup
	SwarmTarget    TargetGroup // zero without Args.Swarm

	URL               pulumi.StringOutput // https://<domain>, or http://<ALB DNS name>
	WWWURL            pulumi.StringOutput // https://www.<domain>
	SwarmURL          pulumi.StringOutput // https://swarm.<domain>: the swarm target group alone; "" without a domain or a swarm
	CertificateArn    pulumi.StringOutput // the validated certificate
	ValidationRecords pulumi.StringMapArrayOutput
	HostedZoneID      pulumi.StringOutput
	NameServers       pulumi.StringArrayOutput // delegate the domain to these
}

// TargetGroup is what hosts register into.
type TargetGroup struct {
	Arn       pulumi.StringOutput
	ArnSuffix pulumi.StringOutput // CloudWatch TargetGroup dimension
}

// Names returns the names the certificate covers and Route 53 points at the
// ALB: the domain, www.<domain>, and swarm.<domain> when swarm is true.
func Names(domain string, swarm bool) []string {
	names := []string{domain, "www." + domain}
	if swarm {
		names = append(names, SwarmName(domain))
	}
	return names
}

// SwarmName is the name that reaches the swarm target group alone.
func SwarmName(domain string) string { return "swarm." + domain }

// New declares the edge.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Edge, error) {
	e := &Edge{}
	if err := ctx.RegisterComponentResource("bookstore:edge:Edge", name, e, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(e)

	alb, err := lb.NewLoadBalancer(ctx, name, &lb.LoadBalancerArgs{
		LoadBalancerType:        pulumi.String("application"),
		Internal:                pulumi.Bool(false),
		IpAddressType:           pulumi.String("dualstack"), // AAAA records answer too
		Subnets:                 args.SubnetIDs,
		SecurityGroups:          pulumi.StringArray{args.SecurityGroupID},
		DropInvalidHeaderFields: pulumi.Bool(true), // no request smuggling via malformed headers
		EnableHttp2:             pulumi.Bool(true),
		IdleTimeout:             pulumi.Int(60),
		Tags:                    tags.Named(args.Tags, args.NamePrefix),
	}, parent, pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	e.AlbArnSuffix, e.AlbDNSName, e.AlbZoneID = alb.ArnSuffix, alb.DnsName, alb.ZoneId

	tg := func(role string) (TargetGroup, pulumi.StringOutput, error) {
		g, err := lb.NewTargetGroup(ctx, name+"-"+role, &lb.TargetGroupArgs{
			VpcId:               args.VpcID,
			TargetType:          pulumi.String("instance"),
			Port:                pulumi.Int(TargetPort),
			Protocol:            pulumi.String("HTTP"),
			DeregistrationDelay: pulumi.Int(DeregistrationDelay),
			HealthCheck: lb.TargetGroupHealthCheckArgs{
				Enabled:            pulumi.Bool(true),
				Protocol:           pulumi.String("HTTP"),
				Port:               pulumi.String("traffic-port"),
				Path:               pulumi.String(HealthCheckPath),
				Matcher:            pulumi.String("200"),
				Interval:           pulumi.Int(15),
				Timeout:            pulumi.Int(5),
				HealthyThreshold:   pulumi.Int(2),
				UnhealthyThreshold: pulumi.Int(3),
			},
			Tags: tags.Named(args.Tags, args.NamePrefix+"-"+role),
		}, parent)
		if err != nil {
			return TargetGroup{}, pulumi.StringOutput{}, err
		}
		return TargetGroup{Arn: g.Arn, ArnSuffix: g.ArnSuffix}, g.Arn, nil
	}
	var appArn, swarmArn pulumi.StringOutput
	if e.AppTargetGroup, appArn, err = tg("app"); err != nil {
		return nil, err
	}
	groups := lb.ListenerDefaultActionForwardTargetGroupArray{
		lb.ListenerDefaultActionForwardTargetGroupArgs{Arn: appArn, Weight: pulumi.Int(args.AppWeight)},
	}
	if args.Swarm {
		if e.SwarmTarget, swarmArn, err = tg("swarm"); err != nil {
			return nil, err
		}
		groups = append(groups, lb.ListenerDefaultActionForwardTargetGroupArgs{Arn: swarmArn, Weight: pulumi.Int(args.SwarmWeight)})
	} else {
		empty := pulumi.String("").ToStringOutput()
		e.SwarmTarget = TargetGroup{Arn: empty, ArnSuffix: empty}
	}
	weighted := lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
		Type:    pulumi.String("forward"),
		Forward: lb.ListenerDefaultActionForwardArgs{TargetGroups: groups},
	}}
	// A port has one listener: a replacement must go first.
	listenerOpts := []pulumi.ResourceOption{parent, pulumi.DeleteBeforeReplace(true)}

	if args.Domain == "" {
		http, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn,
			Port:            pulumi.Int(80),
			Protocol:        pulumi.String("HTTP"),
			DefaultActions:  weighted,
			Tags:            tags.Of(args.Tags),
		}, listenerOpts...)
		if err != nil {
			return nil, err
		}
		if err := hidePrivatePaths(ctx, name, http.Arn, args.Tags, parent); err != nil {
			return nil, err
		}
		e.URL = pulumi.Sprintf("http://%s", alb.DnsName)
		empty := pulumi.String("").ToStringOutput()
		e.WWWURL, e.SwarmURL, e.CertificateArn, e.HostedZoneID = empty, empty, empty, empty
		e.ValidationRecords = pulumi.StringMapArray{}.ToStringMapArrayOutput()
		e.NameServers = pulumi.StringArray{}.ToStringArrayOutput()
		return e, e.register(ctx)
	}

	zoneID, err := e.zone(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	names := Names(args.Domain, args.Swarm)

	cert, err := acm.NewCertificate(ctx, name, &acm.CertificateArgs{
		DomainName:              pulumi.String(names[0]),
		SubjectAlternativeNames: pulumi.ToStringArray(names[1:]),
		ValidationMethod:        pulumi.String("DNS"),
		KeyAlgorithm:            pulumi.String("RSA_2048"),
		Tags:                    tags.Named(args.Tags, args.NamePrefix),
	}, parent)
	if err != nil {
		return nil, err
	}
	var fqdns pulumi.StringArray
	for _, n := range ValidationNames(names) {
		field := func(f func(ValidationRecord) string) pulumi.StringOutput {
			return cert.DomainValidationOptions.ApplyT(func(opts []acm.CertificateDomainValidationOption) (string, error) {
				r, err := pick(opts, n)
				return f(r), err
			}).(pulumi.StringOutput)
		}
		rec, err := route53.NewRecord(ctx, fmt.Sprintf("%s-validation-%s", name, label(n, args.Domain)), &route53.RecordArgs{
			ZoneId:  zoneID,
			Name:    field(func(r ValidationRecord) string { return r.Name }),
			Type:    field(func(r ValidationRecord) string { return r.Type }),
			Records: pulumi.StringArray{field(func(r ValidationRecord) string { return r.Value })},
			Ttl:     pulumi.Int(60),
			// A record left by an earlier certificate for the same name holds the same
			// value (ACM derives it from the account and name): take it over.
			AllowOverwrite: pulumi.Bool(true),
		}, parent, pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, err
		}
		fqdns = append(fqdns, rec.Fqdn)
	}
	validation, err := acm.NewCertificateValidation(ctx, name, &acm.CertificateValidationArgs{
		CertificateArn: cert.Arn,
		ValidationRecordFqdns: fqdns.ToStringArrayOutput().ApplyT(func(f []string) []string {
			return distinct(f)
		}).(pulumi.StringArrayOutput),
	}, parent)
	if err != nil {
		return nil, err
	}
	e.CertificateArn = validation.CertificateArn
	e.ValidationRecords = cert.DomainValidationOptions.ApplyT(func(opts []acm.CertificateDomainValidationOption) []map[string]string {
		return Records(opts)
	}).(pulumi.StringMapArrayOutput)

	if _, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(80),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: lb.ListenerDefaultActionRedirectArgs{
				Protocol: pulumi.String("HTTPS"), Port: pulumi.String("443"), StatusCode: pulumi.String("HTTP_301"),
			},
		}},
		Tags: tags.Of(args.Tags),
	}, listenerOpts...); err != nil {
		return nil, err
	}
	https, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(443),
		Protocol:        pulumi.String("HTTPS"),
		SslPolicy:       pulumi.String(SSLPolicy),
		CertificateArn:  validation.CertificateArn, // only once DNS validation completed
		DefaultActions:  weighted,
		Tags:            tags.Of(args.Tags),
	}, listenerOpts...)
	if err != nil {
		return nil, err
	}
	if err := hidePrivatePaths(ctx, name, https.Arn, args.Tags, parent); err != nil {
		return nil, err
	}
	e.SwarmURL = pulumi.String("").ToStringOutput()
	if args.Swarm {
		if _, err := lb.NewListenerRule(ctx, name+"-swarm", &lb.ListenerRuleArgs{
			ListenerArn: https.Arn,
			Priority:    pulumi.Int(SwarmRulePriority),
			Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
				HostHeader: lb.ListenerRuleConditionHostHeaderArgs{Values: pulumi.StringArray{pulumi.String(SwarmName(args.Domain))}},
			}},
			Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
				Type: pulumi.String("forward"), TargetGroupArn: swarmArn,
			}},
			Tags: tags.Of(args.Tags),
		}, parent, pulumi.DeleteBeforeReplace(true)); err != nil { // priorities are unique per listener
			return nil, err
		}
		e.SwarmURL = pulumi.String("https://" + SwarmName(args.Domain)).ToStringOutput()
	}

	for _, n := range names {
		for _, typ := range []string{"A", "AAAA"} {
			if _, err := route53.NewRecord(ctx, fmt.Sprintf("%s-%s-%s", name, label(n, args.Domain), strings.ToLower(typ)), &route53.RecordArgs{
				ZoneId: zoneID,
				Name:   pulumi.String(n),
				Type:   pulumi.String(typ),
				Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
					Name: alb.DnsName, ZoneId: alb.ZoneId, EvaluateTargetHealth: pulumi.Bool(true),
				}},
			}, parent, pulumi.DeleteBeforeReplace(true)); err != nil { // the name is fixed
				return nil, err
			}
		}
	}
	e.URL = pulumi.String("https://" + names[0]).ToStringOutput()
	e.WWWURL = pulumi.String("https://" + names[1]).ToStringOutput()
	return e, e.register(ctx)
}

// hidePrivatePaths makes the forwarding listener answer PrivatePaths with a 404
// of its own, so they never reach a target.
func hidePrivatePaths(ctx *pulumi.Context, name string, listener pulumi.StringInput, t map[string]string, parent pulumi.ResourceOption) error {
	_, err := lb.NewListenerRule(ctx, name+"-metrics", &lb.ListenerRuleArgs{
		ListenerArn: listener,
		Priority:    pulumi.Int(MetricsRulePriority),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{Values: pulumi.ToStringArray(PrivatePaths)},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type: pulumi.String("fixed-response"),
			FixedResponse: lb.ListenerRuleActionFixedResponseArgs{
				ContentType: pulumi.String("text/plain"),
				StatusCode:  pulumi.String("404"),
				MessageBody: pulumi.String("404 page not found\n"),
			},
		}},
		Tags: tags.Of(t),
	}, parent, pulumi.DeleteBeforeReplace(true)) // priorities are unique per listener
	return err
}

func (e *Edge) register(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(e, pulumi.Map{
		"albDnsName":     e.AlbDNSName,
		"url":            e.URL,
		"certificateArn": e.CertificateArn,
	})
}

// zone finds, or creates, the public hosted zone for the domain and sets
// HostedZoneID and NameServers.
func (e *Edge) zone(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if args.CreateZone {
		z, err := route53.NewZone(ctx, name, &route53.ZoneArgs{
			Name:    pulumi.String(args.Domain),
			Comment: pulumi.String("bookstore " + args.NamePrefix),
			Tags:    tags.Of(args.Tags),
		}, parent)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		e.HostedZoneID, e.NameServers = z.ZoneId, z.NameServers
		return z.ZoneId, nil
	}
	lookup := &route53.LookupZoneArgs{PrivateZone: pulumi.BoolRef(false)}
	if args.HostedZoneID != "" {
		lookup.ZoneId = pulumi.StringRef(args.HostedZoneID)
	} else {
		lookup.Name = pulumi.StringRef(args.Domain)
	}
	z, err := route53.LookupZone(ctx, lookup, pulumi.Parent(e))
	if err != nil {
		if args.HostedZoneID != "" {
			return pulumi.StringOutput{}, fmt.Errorf("bookstore:hostedZoneId: %q: %w", args.HostedZoneID, err)
		}
		return pulumi.StringOutput{}, fmt.Errorf("bookstore:domain: no public hosted zone %q in this account "+
			"(create one, set bookstore:hostedZoneId, or set bookstore:createZone true): %w", args.Domain, err)
	}
	zoneName := strings.TrimSuffix(z.Name, ".")
	if args.Domain != zoneName && !strings.HasSuffix(args.Domain, "."+zoneName) {
		return pulumi.StringOutput{}, fmt.Errorf("bookstore:hostedZoneId: %q is the zone of %q, which does not contain bookstore:domain %q",
			args.HostedZoneID, zoneName, args.Domain)
	}
	e.HostedZoneID = pulumi.String(z.ZoneId).ToStringOutput()
	e.NameServers = pulumi.ToStringArray(z.NameServers).ToStringArrayOutput()
	return e.HostedZoneID, nil
}

// ValidationNames returns the certificate names that need a validation record of
// their own: ACM gives "*.x" the same record as "x", so those count once.
func ValidationNames(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "*.")
		if !seen[base] {
			seen[base] = true
			out = append(out, n)
		}
	}
	return out
}

// pick returns the validation record ACM asked for domain.
func pick(opts []acm.CertificateDomainValidationOption, domain string) (ValidationRecord, error) {
	for _, o := range opts {
		if o.DomainName != nil && *o.DomainName == domain && o.ResourceRecordName != nil {
			return ValidationRecord{Name: *o.ResourceRecordName, Type: deref(o.ResourceRecordType), Value: deref(o.ResourceRecordValue)}, nil
		}
	}
	return ValidationRecord{}, fmt.Errorf("edge: ACM returned no validation record for %s", domain)
}

// Records returns the distinct validation records (by record name), sorted by name:
// names sharing a record (a wildcard and its base) list it once.
func Records(opts []acm.CertificateDomainValidationOption) []map[string]string {
	byName := map[string]map[string]string{}
	for _, o := range opts {
		if o.ResourceRecordName == nil {
			continue
		}
		byName[*o.ResourceRecordName] = map[string]string{
			"name": *o.ResourceRecordName, "type": deref(o.ResourceRecordType), "value": deref(o.ResourceRecordValue),
		}
	}
	out := make([]map[string]string, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"] < out[j]["name"] })
	return out
}

func distinct(s []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// label names a record's resource: "apex" for the domain itself, else its first label.
func label(name, domain string) string {
	if name == domain {
		return "apex"
	}
	return strings.TrimPrefix(strings.TrimSuffix(name, "."+domain), "*.")
}
