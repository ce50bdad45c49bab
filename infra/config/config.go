// Package config reads and validates every `bookstore:` stack setting in one place.
//
// Keys lists each key with its Pulumi.yaml type, default and description; Parse turns
// raw strings (as Pulumi hands them over) into a Config or an error naming every bad
// key. Nothing else in infra/ reads configuration: the components get plain values
// in their Args.
package config

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the project name and so the prefix of every key ("bookstore:domain").
const Namespace = "bookstore"

// NAT gateway layouts accepted by natGateways.
const (
	NATSingle = "single" // one NAT gateway, in the first public subnet (cheaper, one AZ's egress)
	NATPerAZ  = "perAz"  // one per AZ, so losing an AZ keeps egress in the others
)

// Key describes one config key as Pulumi.yaml declares it.
type Key struct {
	Name        string // without the namespace, e.g. "azCount"
	Type        string // Pulumi.yaml type: string, integer or boolean
	Default     string // the default as Pulumi.yaml spells it ("" for none)
	Description string
}

// Keys is every key the program reads, in the order docs/configuration.md lists them.
// Pulumi.yaml must declare exactly these with the same types and defaults
// (config_test.go checks it).
var Keys = []Key{
	{"domain", "string", "", "The shop's name: a registered domain or a subdomain of one, `example.com` or `shop.example.com`. The stack also answers at `www.`, `swarm.` and (with `monolith`) `legacy.` in front of it. Empty: HTTP only on the ALB's DNS name, with no ACM certificate or Route 53 records."},
	{"hostedZoneId", "string", "", "The Route 53 public hosted zone to write records to: the domain's own zone or a parent of it. Empty: the zone is looked up by `domain` (or created with `createZone`)."},
	{"createZone", "boolean", "false", "Create the hosted zone for `domain` and export its name servers for delegation."},
	{"azCount", "integer", "2", "Availability Zones to spread over: 2 or 3."},
	{"natGateways", "string", NATSingle, "NAT gateways for the private subnets: `single` (one, cheaper) or `perAz` (one per AZ, survives an AZ outage)."},
	{"instanceType", "string", "t3.micro", "EC2 instance type of the ASG, Swarm and monolith hosts. Must be x86_64, because the image is `linux/amd64`."},
	{"amiId", "string", "", "Pin an AMI id. Empty: the latest Amazon Linux 2023 (x86_64), from SSM's public parameter."},
	{"minSize", "integer", "1", "Minimum instances in the ASG."},
	{"maxSize", "integer", "3", "Maximum instances in the ASG."},
	{"cpuTarget", "integer", "60", "The ASG's average CPU utilization, in percent, that target tracking keeps."},
	{"dbInstanceClass", "string", "db.t3.micro", "RDS instance class."},
	{"dbAllocatedStorage", "integer", "20", "RDS storage in GiB: gp3, 20 to 65536."},
	{"dbMultiAz", "boolean", "true", "RDS Multi-AZ: a standby in a second AZ takes over in a minute or two. `false` is one instance, about half the database's price: for dev stacks."},
	{"deletionProtection", "boolean", "false", "RDS deletion protection; set it to true for production."},
	{"skipFinalSnapshot", "boolean", "false", "Destroy the database without a final snapshot. Its data is lost."},
	{"swarm", "boolean", "true", "Deploy the Docker Swarm scenario: manager, workers, the swarm target group and listener rule, `swarm.<domain>` and its alarm. `false` declares no Swarm resource at all; `swarmManagerIp` and `swarmUrl` are then `\"\"`."},
	{"swarmReplicas", "integer", "5", "Replicas of the bookstore service in the Docker Swarm."},
	{"swarmWorkers", "integer", "0", "Swarm worker instances (an ASG) besides the manager."},
	{"swarmWeight", "integer", "0", "ALB forward weight of the swarm target group, 0 to 999."},
	{"appWeight", "integer", "100", "ALB forward weight of the ASG's target group, 0 to 999."},
	{"monolith", "boolean", "false", "Also deploy the single-instance NGINX + Let's Encrypt scenario at `legacy.<domain>`."},
	{"alertEmail", "string", "", "E-mail subscribed to the alarm topic, and the Let's Encrypt contact. Empty: no subscription."},
	{"adminEmails", "string", "", "Comma-separated e-mails of the bookstore's admins (`ADMIN_EMAILS`)."},
}

// Config is the validated configuration of one stack.
type Config struct {
	Project string // Pulumi project name
	Stack   string // Pulumi stack name

	Domain       string // lower-case apex, no trailing dot; "" for HTTP only
	HostedZoneID string // "" to look up or create
	CreateZone   bool

	AZCount     int    // 2 or 3
	NATGateways string // NATSingle or NATPerAZ

	InstanceType string
	AMIID        string // "" for the SSM public parameter
	MinSize      int
	MaxSize      int
	CPUTarget    int // percent

	DBInstanceClass    string
	DBAllocatedStorage int // GiB
	DBMultiAZ          bool
	DeletionProtection bool
	SkipFinalSnapshot  bool

	Swarm         bool // false: no Swarm resources; SwarmWorkers and SwarmWeight must be 0
	SwarmReplicas int
	SwarmWorkers  int
	SwarmWeight   int
	AppWeight     int

	Monolith    bool
	AlertEmail  string
	AdminEmails []string
}

// Tags returns the tags every taggable resource carries.
func (c Config) Tags() map[string]string {
	return map[string]string{"project": c.Project, "stack": c.Stack}
}

// Load reads the `bookstore:` keys of the running stack and validates them.
func Load(ctx *pulumi.Context) (Config, error) {
	return Parse(ctx.Project(), ctx.Stack(), func(key string) (string, bool) {
		return ctx.GetConfig(Namespace + ":" + key)
	})
}

// KeyError is a bad value of one key.
type KeyError struct {
	Key    string // without namespace
	Value  string // as given
	Reason string
}

func (e *KeyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s:%s: %s", Namespace, e.Key, e.Reason)
	}
	return fmt.Sprintf("%s:%s: %q %s", Namespace, e.Key, e.Value, e.Reason)
}

// Parse validates raw values. get returns a key's value and whether it is set; an
// unset key takes its default from Keys. The error joins one *KeyError per bad key
// (errors.As finds the first), so a user fixes them all in one round.
func Parse(project, stack string, get func(key string) (string, bool)) (Config, error) {
	p := parser{get: get}
	c := Config{Project: project, Stack: stack}

	c.Domain = p.domain("domain")
	c.HostedZoneID = p.match("hostedZoneId", hostedZoneRE, "is not a Route 53 hosted zone id (Z followed by capitals and digits)")
	c.CreateZone = p.boolean("createZone")
	c.AZCount = p.intRange("azCount", 2, 3)
	c.NATGateways = p.oneOf("natGateways", NATSingle, NATPerAZ)
	c.InstanceType = p.instanceType("instanceType")
	c.AMIID = p.match("amiId", amiRE, "is not an AMI id (ami- and 8 or 17 hex digits)")
	c.MinSize = p.intRange("minSize", 0, maxASGSize)
	c.MaxSize = p.intRange("maxSize", 1, maxASGSize)
	c.CPUTarget = p.intRange("cpuTarget", 1, 100)
	c.DBInstanceClass = p.match("dbInstanceClass", dbClassRE, "is not an RDS instance class (db.<family>.<size>)")
	c.DBAllocatedStorage = p.intRange("dbAllocatedStorage", 20, 65536) // RDS MySQL gp3 limits, GiB
	c.DBMultiAZ = p.boolean("dbMultiAz")
	c.DeletionProtection = p.boolean("deletionProtection")
	c.SkipFinalSnapshot = p.boolean("skipFinalSnapshot")
	c.Swarm = p.boolean("swarm")
	c.SwarmReplicas = p.intRange("swarmReplicas", 1, 100)
	c.SwarmWorkers = p.intRange("swarmWorkers", 0, maxASGSize)
	c.SwarmWeight = p.intRange("swarmWeight", 0, 999) // ALB weighted forward: 0-999
	c.AppWeight = p.intRange("appWeight", 0, 999)
	c.Monolith = p.boolean("monolith")
	c.AlertEmail = p.email("alertEmail")
	c.AdminEmails = p.emails("adminEmails")

	// Rules across keys, only when each side parsed.
	if p.ok("minSize", "maxSize") && c.MinSize > c.MaxSize {
		p.fail("minSize", strconv.Itoa(c.MinSize), fmt.Sprintf("is greater than %s:maxSize (%d)", Namespace, c.MaxSize))
	}
	if p.ok("swarmWeight", "appWeight") && c.SwarmWeight == 0 && c.AppWeight == 0 {
		p.fail("swarmWeight", "", fmt.Sprintf("and %s:appWeight are both 0: the ALB would forward to nothing", Namespace))
	}
	if p.ok("swarm") && !c.Swarm {
		// Without a Swarm these would configure nothing: say so rather than
		// deploy something other than what was asked for.
		if p.ok("swarmWorkers") && c.SwarmWorkers > 0 {
			p.fail("swarmWorkers", strconv.Itoa(c.SwarmWorkers), fmt.Sprintf("is set but %s:swarm is false", Namespace))
		}
		if p.ok("swarmWeight") && c.SwarmWeight > 0 {
			p.fail("swarmWeight", strconv.Itoa(c.SwarmWeight), fmt.Sprintf("is set but %s:swarm is false: there is no swarm target group", Namespace))
		}
	}
	if p.ok("domain") && c.Domain == "" {
		if c.HostedZoneID != "" {
			p.fail("hostedZoneId", c.HostedZoneID, "is set but bookstore:domain is empty")
		}
		if c.CreateZone {
			p.fail("createZone", "", "is true but bookstore:domain is empty")
		}
		if c.Monolith {
			p.fail("monolith", "", "needs bookstore:domain: Let's Encrypt issues for legacy.<domain>")
		}
	}
	if c.CreateZone && c.HostedZoneID != "" {
		p.fail("createZone", "", "and bookstore:hostedZoneId are both set: use one zone or create one")
	}
	if len(p.errs) > 0 {
		return Config{}, errors.Join(p.errs...)
	}
	return c, nil
}

// maxASGSize bounds instance counts; far above this stack's use, it catches typos.
const maxASGSize = 100

var (
	hostedZoneRE = regexp.MustCompile(`^Z[0-9A-Z]{1,31}$`)
	amiRE        = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	dbClassRE    = regexp.MustCompile(`^db\.[a-z0-9-]+\.[a-z0-9]+$`)
	// instanceTypeRE: family (letters, generation digit, attributes) "." size.
	instanceTypeRE = regexp.MustCompile(`^([a-z]+)([0-9]+)([a-z0-9-]*)\.[a-z0-9-]+$`)
	labelRE        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

type parser struct {
	get  func(string) (string, bool)
	errs []error
	bad  map[string]bool
}

func (p *parser) raw(key string) string {
	if v, ok := p.get(key); ok {
		return strings.TrimSpace(v)
	}
	for _, k := range Keys {
		if k.Name == key {
			return k.Default
		}
	}
	panic("config: undeclared key " + key) // a programming error, caught by the tests
}

func (p *parser) fail(key, value, reason string) {
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[key] = true
	p.errs = append(p.errs, &KeyError{Key: key, Value: value, Reason: reason})
}

// ok reports whether none of keys has failed.
func (p *parser) ok(keys ...string) bool {
	for _, k := range keys {
		if p.bad[k] {
			return false
		}
	}
	return true
}

func (p *parser) boolean(key string) bool {
	v := p.raw(key)
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "is not a boolean (true or false)")
	}
	return b
}

func (p *parser) intRange(key string, lo, hi int) int {
	v := p.raw(key)
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		p.fail(key, v, "is not an integer")
	case n < 0 && lo >= 0:
		p.fail(key, v, "is negative")
	case n < lo || n > hi:
		p.fail(key, v, fmt.Sprintf("is outside %d to %d", lo, hi))
	}
	return n
}

func (p *parser) oneOf(key string, allowed ...string) string {
	v := p.raw(key)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(key, v, "is not one of "+strings.Join(allowed, ", "))
	return v
}

func (p *parser) match(key string, re *regexp.Regexp, reason string) string {
	v := p.raw(key)
	if v != "" && !re.MatchString(v) {
		p.fail(key, v, reason)
	}
	return v
}

// instanceType accepts x86_64 types only: the image is built for linux/amd64, so a
// Graviton type (a "g" after the generation digit: t4g, m7g, c7gn) could not run it.
func (p *parser) instanceType(key string) string {
	v := p.raw(key)
	m := instanceTypeRE.FindStringSubmatch(v)
	switch {
	case m == nil:
		p.fail(key, v, "is not an EC2 instance type (<family>.<size>, e.g. t3.micro)")
	case strings.Contains(m[3], "g"):
		p.fail(key, v, "is a Graviton (arm64) type; the image is built for linux/amd64")
	}
	return v
}

// domain validates an apex domain: host-name labels (RFC 1123: letters, digits,
// inner hyphens, 1-63 chars), at least two labels, a non-numeric TLD, and room for
// the longest name the stack derives from it ("legacy." + domain <= 253 chars,
// RFC 1035's limit).
func (p *parser) domain(key string) string {
	v := p.raw(key)
	if v == "" {
		return ""
	}
	d := strings.TrimSuffix(strings.ToLower(v), ".")
	labels := strings.Split(d, ".")
	switch {
	case strings.Contains(d, "://") || strings.ContainsAny(d, "/:@ "):
		p.fail(key, v, "must be a bare domain name like example.com, without scheme, port or path")
	case len(labels) < 2:
		p.fail(key, v, "needs at least two labels, like example.com")
	case len("legacy.")+len(d) > 253:
		p.fail(key, v, "is too long: derived names like legacy.<domain> must fit in 253 characters")
	default:
		for _, l := range labels {
			if !labelRE.MatchString(l) {
				p.fail(key, v, fmt.Sprintf("has an invalid label %q (letters, digits and inner hyphens, 1 to 63 characters)", l))
				return d
			}
		}
		if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
			p.fail(key, v, "ends in a numeric label; an IP address is not a domain")
		}
	}
	return d
}

func (p *parser) email(key string) string {
	v := p.raw(key)
	if v == "" {
		return ""
	}
	if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
		p.fail(key, v, "is not a bare e-mail address like ops@example.com")
	}
	return v
}

func (p *parser) emails(key string) []string {
	v := p.raw(key)
	out := []string{}
	if v == "" {
		return out
	}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			p.fail(key, v, fmt.Sprintf("has %q, which is not a bare e-mail address", e))
			continue
		}
		out = append(out, e)
	}
	return out
}
