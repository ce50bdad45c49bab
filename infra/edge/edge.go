// Package edge declares everything between the internet and the hosts: the
// Application Load Balancer, its target groups (app for the ASG, swarm for the Docker
// Swarm when the stack has one) and listeners, and, when a domain is set, the ACM certificate with its DNS
// validation and the Route 53 hosted zone and alias records. The ALB is declared
// here and nowhere else.
package edge

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/edge/lbspec"
	"github.com/bookstore-aws/bookstore/infra/tags"
)

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
		IdleTimeout:             pulumi.Int(int(lbspec.IdleTimeout / time.Second)),
		Tags:                    tags.Named(args.Tags, args.NamePrefix),
	}, parent, pulumi.DependsOn(args.DependsOn))
	if err != nil {
		return nil, err
	}
	e.AlbArnSuffix, e.AlbDNSName, e.AlbZoneID = alb.ArnSuffix, alb.DnsName, alb.ZoneId

	hc := lbspec.TargetHealthCheck
	tg := func(role string) (TargetGroup, pulumi.StringOutput, error) {
		g, err := lb.NewTargetGroup(ctx, name+"-"+role, &lb.TargetGroupArgs{
			VpcId:               args.VpcID,
			TargetType:          pulumi.String("instance"),
			Port:                pulumi.Int(lbspec.TargetPort),
			Protocol:            pulumi.String("HTTP"),
			DeregistrationDelay: pulumi.Int(int(lbspec.DeregistrationDelay / time.Second)),
			HealthCheck: lb.TargetGroupHealthCheckArgs{
				Enabled:            pulumi.Bool(true),
				Protocol:           pulumi.String(hc.Protocol),
				Port:               pulumi.String("traffic-port"),
				Path:               pulumi.String(hc.Path),
				Matcher:            pulumi.String(hc.Matcher),
				Interval:           pulumi.Int(int(hc.Interval / time.Second)),
				Timeout:            pulumi.Int(int(hc.Timeout / time.Second)),
				HealthyThreshold:   pulumi.Int(hc.HealthyThreshold),
				UnhealthyThreshold: pulumi.Int(hc.UnhealthyThreshold),
			},
			Tags: tags.Named(args.Tags, args.NamePrefix+"-"+role),
		}, parent)
		if err != nil {
			return TargetGroup{}, pulumi.StringOutput{}, err
		}
		return TargetGroup{Arn: g.Arn, ArnSuffix: g.ArnSuffix}, g.Arn, nil
	}
	var appArn, swarmArn pulumi.StringOutput
	if e.AppTargetGroup, appArn, err = tg(lbspec.AppTargetGroup); err != nil {
		return nil, err
	}
	if args.Swarm {
		if e.SwarmTarget, swarmArn, err = tg(lbspec.SwarmTargetGroup); err != nil {
			return nil, err
		}
	} else {
		empty := pulumi.String("").ToStringOutput()
		e.SwarmTarget = TargetGroup{Arn: empty, ArnSuffix: empty}
	}
	forward, err := lbspec.Forward(args.AppWeight, args.SwarmWeight, args.Swarm)
	if err != nil {
		return nil, err
	}
	arns := map[string]pulumi.StringOutput{lbspec.AppTargetGroup: appArn, lbspec.SwarmTargetGroup: swarmArn}
	var groups lb.ListenerDefaultActionForwardTargetGroupArray
	for _, g := range forward {
		groups = append(groups, lb.ListenerDefaultActionForwardTargetGroupArgs{Arn: arns[g.Role], Weight: pulumi.Int(g.Weight)})
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
				Protocol:   pulumi.String(lbspec.Redirect.Protocol),
				Port:       pulumi.String(strconv.Itoa(lbspec.Redirect.Port)),
				StatusCode: pulumi.String(fmt.Sprintf("HTTP_%d", lbspec.Redirect.StatusCode)),
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
		SslPolicy:       pulumi.String(lbspec.SSLPolicy.Name),
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
			Priority:    pulumi.Int(lbspec.SwarmRulePriority),
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

// hidePrivatePaths makes the forwarding listener answer lbspec.PrivatePaths with a 404
// of its own, so they never reach a target.
func hidePrivatePaths(ctx *pulumi.Context, name string, listener pulumi.StringInput, t map[string]string, parent pulumi.ResourceOption) error {
	_, err := lb.NewListenerRule(ctx, name+"-metrics", &lb.ListenerRuleArgs{
		ListenerArn: listener,
		Priority:    pulumi.Int(lbspec.MetricsRulePriority),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{Values: pulumi.ToStringArray(lbspec.PrivatePaths)},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type: pulumi.String("fixed-response"),
			FixedResponse: lb.ListenerRuleActionFixedResponseArgs{
				ContentType: pulumi.String(lbspec.PrivateResponse.ContentType),
				StatusCode:  pulumi.String(strconv.Itoa(lbspec.PrivateResponse.StatusCode)),
				MessageBody: pulumi.String(lbspec.PrivateResponse.Body),
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
