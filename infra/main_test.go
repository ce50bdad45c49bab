package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bookstore-aws/bookstore/infra/config"
	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/infra/verify/stackout"
	"github.com/bookstore-aws/bookstore/internal/doctable"
)

// Type tokens of what the stack declares.
const (
	tVPC        = "aws:ec2/vpc:Vpc"
	tSubnet     = "aws:ec2/subnet:Subnet"
	tIGW        = "aws:ec2/internetGateway:InternetGateway"
	tRT         = "aws:ec2/routeTable:RouteTable"
	tRTA        = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	tEIP        = "aws:ec2/eip:Eip"
	tNAT        = "aws:ec2/natGateway:NatGateway"
	tSG         = "aws:ec2/securityGroup:SecurityGroup"
	tDB         = "aws:rds/instance:Instance"
	tDBSubnets  = "aws:rds/subnetGroup:SubnetGroup"
	tDBParams   = "aws:rds/parameterGroup:ParameterGroup"
	tFS         = "aws:efs/fileSystem:FileSystem"
	tMT         = "aws:efs/mountTarget:MountTarget"
	tAP         = "aws:efs/accessPoint:AccessPoint"
	tFSPolicy   = "aws:efs/fileSystemPolicy:FileSystemPolicy"
	tFSBackup   = "aws:efs/backupPolicy:BackupPolicy"
	tRepo       = "aws:ecr/repository:Repository"
	tLifecycle  = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	tImage      = "docker:index/image:Image"
	tALB        = "aws:lb/loadBalancer:LoadBalancer"
	tTG         = "aws:lb/targetGroup:TargetGroup"
	tListener   = "aws:lb/listener:Listener"
	tRule       = "aws:lb/listenerRule:ListenerRule"
	tTGA        = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
	tCert       = "aws:acm/certificate:Certificate"
	tCertValid  = "aws:acm/certificateValidation:CertificateValidation"
	tRecord     = "aws:route53/record:Record"
	tZone       = "aws:route53/zone:Zone"
	tRole       = "aws:iam/role:Role"
	tAttach     = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	tRolePolicy = "aws:iam/rolePolicy:RolePolicy"
	tProfile    = "aws:iam/instanceProfile:InstanceProfile"
	tLT         = "aws:ec2/launchTemplate:LaunchTemplate"
	tASG        = "aws:autoscaling/group:Group"
	tPolicy     = "aws:autoscaling/policy:Policy"
	tLogGroup   = "aws:cloudwatch/logGroup:LogGroup"
	tInstance   = "aws:ec2/instance:Instance"
	tParam      = "aws:ssm/parameter:Parameter"
	tTopic      = "aws:sns/topic:Topic"
	tSub        = "aws:sns/topicSubscription:TopicSubscription"
	tAlarm      = "aws:cloudwatch/metricAlarm:MetricAlarm"
)

var withDomain = map[string]string{"domain": "example.com"}

func ids(rs []*rec) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func names(rs []*rec) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func strs(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func decodeJSON(t *testing.T, s any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s.(string)), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return m
}

// ---- outputs ----

func TestOutputsAlwaysAllPresent(t *testing.T) {
	for name, cfg := range map[string]map[string]string{
		"no domain":        nil,
		"domain":           withDomain,
		"monolith":         {"domain": "example.com", "monolith": "true"},
		"create zone":      {"domain": "example.com", "createZone": "true"},
		"swarm workers":    {"swarmWorkers": "2"},
		"no swarm":         {"swarm": "false"},
		"no swarm, domain": {"domain": "example.com", "swarm": "false", "dbMultiAz": "false"},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustRun(t, cfg)
			if len(s.outputs) != len(Outputs) {
				t.Errorf("%d outputs, want %d: %v", len(s.outputs), len(Outputs), s.outputs)
			}
			for _, o := range Outputs {
				v, ok := s.outputs[o.Name]
				if !ok || v == nil {
					t.Errorf("output %s missing or null", o.Name)
				}
			}
			// What the stack prints is what the verifier accepts.
			b, err := json.Marshal(s.outputs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stackout.Parse(bytes.NewReader(b)); err != nil {
				t.Errorf("the verifier refuses these outputs: %v\n%s", err, b)
			}
		})
	}
}

// The stack exports what the verifier reads: the same keys.
func TestOutputsAreTheVerifiersKeys(t *testing.T) {
	var names []string
	for _, o := range Outputs {
		names = append(names, o.Name)
	}
	a, b := slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(stackout.Keys))
	if !slices.Equal(a, b) {
		t.Errorf("stack outputs %v, verifier keys %v", a, b)
	}
}

// docs/configuration.md's outputs table is what infra/internal/docgen renders
// from Outputs, every output with a description.
func TestOutputsTableIsCurrent(t *testing.T) {
	var defs [][2]string
	for _, o := range Outputs {
		if strings.TrimSpace(o.Value) == "" {
			t.Errorf("output %s has no description in Outputs", o.Name)
		}
		defs = append(defs, [2]string{o.Name, o.Value})
	}
	if err := doctable.Check(config.DocPage, "outputs", doctable.Definitions("output", "value", defs)); err != nil {
		t.Error(err)
	}
}

func TestOutputsWithoutDomain(t *testing.T) {
	s := mustRun(t, nil)
	alb := s.one(t, tALB, "bookstore")
	o := s.outputs
	if o["url"] != "http://"+alb.out("dnsName") || o["albDnsName"] != alb.out("dnsName") || o["albZoneId"] != albZone {
		t.Errorf("url %v albDnsName %v albZoneId %v", o["url"], o["albDnsName"], o["albZoneId"])
	}
	for _, k := range []string{"wwwUrl", "certificateArn", "hostedZoneId", "swarmUrl", "legacyUrl"} {
		if o[k] != "" {
			t.Errorf("%s = %q, want empty without a domain", k, o[k])
		}
	}
	for _, k := range []string{"validationRecords", "nameServers"} {
		if reflect.ValueOf(o[k]).Len() != 0 {
			t.Errorf("%s = %v, want empty list", k, o[k])
		}
	}
	db := s.one(t, tDB, "bookstore")
	if o["dbEndpoint"] != db.out("address") || !strings.HasSuffix(o["dbEndpoint"].(string), ".rds.amazonaws.com") {
		t.Errorf("dbEndpoint %v", o["dbEndpoint"])
	}
	if o["dbSecretArn"] != get(plain(db.State["masterUserSecrets"]), "0.secretArn") {
		t.Errorf("dbSecretArn %v", o["dbSecretArn"])
	}
	if o["efsId"] != s.one(t, tFS, "bookstore").ID {
		t.Errorf("efsId %v", o["efsId"])
	}
	repo := s.one(t, tRepo, "bookstore").out("repositoryUrl")
	if !regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "@sha256:[0-9a-f]{64}$").MatchString(o["imageRef"].(string)) {
		t.Errorf("imageRef %v is not %s@sha256:<digest>", o["imageRef"], repo)
	}
	if o["asgName"] != s.one(t, tASG, "bookstore-fleet").out("name") {
		t.Errorf("asgName %v", o["asgName"])
	}
	if o["swarmManagerIp"] != s.one(t, tEIP, "bookstore-swarm-manager").out("publicIp") {
		t.Errorf("swarmManagerIp %v", o["swarmManagerIp"])
	}
}

func TestOutputsWithDomain(t *testing.T) {
	s := mustRun(t, withDomain)
	o := s.outputs
	want := map[string]any{
		"url": "https://example.com", "wwwUrl": "https://www.example.com", "swarmUrl": "https://swarm.example.com",
		"hostedZoneId": lookedUpZone, "certificateArn": s.one(t, tCert, "bookstore").ID, "legacyUrl": "",
	}
	for k, v := range want {
		if o[k] != v {
			t.Errorf("%s = %v, want %v", k, o[k], v)
		}
	}
	if !reflect.DeepEqual(o["nameServers"], zoneNameServers) {
		t.Errorf("nameServers = %v", o["nameServers"])
	}
	recs := o["validationRecords"].([]map[string]string)
	if len(recs) != 3 {
		t.Fatalf("validationRecords = %v, want 3", recs)
	}
	for _, r := range recs {
		if !strings.HasPrefix(r["name"], "_") || r["type"] != "CNAME" || !strings.HasSuffix(r["value"], ".acm-validations.aws.") {
			t.Errorf("validation record %v", r)
		}
	}
}

// ---- network ----

func TestNetwork(t *testing.T) {
	s := mustRun(t, nil)
	vpc := s.one(t, tVPC, "bookstore")
	vpc.want(t, "cidrBlock", "10.0.0.0/16")
	vpc.want(t, "enableDnsSupport", true)
	vpc.want(t, "enableDnsHostnames", true)
	vpc.want(t, "assignGeneratedIpv6CidrBlock", true)

	wantSubnets := map[string]struct{ az, cidr, v6 string }{
		"bookstore-public-a":  {"eu-west-1a", "10.0.0.0/24", "2a05:d018:abc:de00::/64"},
		"bookstore-public-b":  {"eu-west-1b", "10.0.1.0/24", "2a05:d018:abc:de01::/64"},
		"bookstore-private-a": {"eu-west-1a", "10.0.16.0/20", ""},
		"bookstore-private-b": {"eu-west-1b", "10.0.32.0/20", ""},
	}
	if n := len(s.all(tSubnet)); n != len(wantSubnets) {
		t.Errorf("%d subnets, want %d (azCount 2)", n, len(wantSubnets))
	}
	for name, w := range wantSubnets {
		sub := s.one(t, tSubnet, name)
		sub.want(t, "vpcId", vpc.ID)
		sub.want(t, "availabilityZone", w.az)
		sub.want(t, "cidrBlock", w.cidr)
		if w.v6 != "" {
			sub.want(t, "ipv6CidrBlock", w.v6)
		}
		if sub.in("mapPublicIpOnLaunch") == true {
			t.Errorf("%s maps public IPs on launch", name)
		}
		if sub.State["availabilityZone"].StringValue() != w.az {
			t.Errorf("%s AZ output %v", name, sub.State["availabilityZone"])
		}
	}

	igw := s.one(t, tIGW, "bookstore")
	igw.want(t, "vpcId", vpc.ID)
	pub := s.one(t, tRT, "bookstore-public")
	pub.want(t, "routes.0.cidrBlock", "0.0.0.0/0")
	pub.want(t, "routes.0.gatewayId", igw.ID)
	pub.want(t, "routes.1.ipv6CidrBlock", "::/0")
	pub.want(t, "routes.1.gatewayId", igw.ID)

	nats := s.all(tNAT)
	if len(nats) != 1 {
		t.Fatalf("%d NAT gateways, want 1 (natGateways single)", len(nats))
	}
	nats[0].want(t, "subnetId", s.one(t, tSubnet, "bookstore-public-a").ID)
	nats[0].want(t, "allocationId", s.one(t, tEIP, "bookstore-nat-a").ID)
	if !nats[0].dependsOn(igw) {
		t.Error("the NAT gateway does not depend on the internet gateway")
	}
	for _, az := range []string{"a", "b"} {
		rt := s.one(t, tRT, "bookstore-private-"+az)
		rt.want(t, "routes.0.cidrBlock", "0.0.0.0/0")
		rt.want(t, "routes.0.natGatewayId", nats[0].ID)
		assoc := s.one(t, tRTA, "bookstore-private-"+az)
		assoc.want(t, "subnetId", s.one(t, tSubnet, "bookstore-private-"+az).ID)
		assoc.want(t, "routeTableId", rt.ID)
		if !assoc.Req.GetDeleteBeforeReplace() {
			t.Errorf("association %s: deleteBeforeReplace not set", assoc.Name)
		}
		pa := s.one(t, tRTA, "bookstore-public-"+az)
		pa.want(t, "routeTableId", pub.ID)
	}
}

func TestNATPerAZOverThreeAZs(t *testing.T) {
	s := mustRun(t, map[string]string{"azCount": "3", "natGateways": "perAz"})
	if n := len(s.all(tSubnet)); n != 6 {
		t.Errorf("%d subnets, want 6", n)
	}
	if n := len(s.all(tNAT)); n != 3 {
		t.Fatalf("%d NAT gateways, want 3", n)
	}
	for _, az := range []string{"a", "b", "c"} {
		nat := s.one(t, tNAT, "bookstore-"+az)
		nat.want(t, "subnetId", s.one(t, tSubnet, "bookstore-public-"+az).ID)
		// Each AZ's private subnets leave through their own AZ's NAT.
		s.one(t, tRT, "bookstore-private-"+az).want(t, "routes.0.natGatewayId", nat.ID)
	}
	if n := len(s.all(tMT)); n != 3 {
		t.Errorf("%d EFS mount targets, want 3", n)
	}
	if got := s.one(t, tDBSubnets, "bookstore").in("subnetIds"); len(got.([]any)) != 3 {
		t.Errorf("DB subnet group over %v", got)
	}
}

func TestTooFewAvailabilityZones(t *testing.T) {
	_, err := runStack(t, map[string]string{"azCount": "3"}, func(m *mocks) { m.azs = mockAZs[:2] })
	if err == nil || !strings.Contains(err.Error(), "bookstore:azCount") {
		t.Fatalf("err = %v, want one naming bookstore:azCount", err)
	}
}

// An internet-facing ALB created before the VPC's internet gateway fails with
// InvalidSubnet, and hosts booting before their subnet's routes exist cannot
// reach package mirrors, ECR or AWS APIs: each waits for its subnets' routing.
func TestResourcesWaitForTheirRoutes(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"})
	public := []*rec{s.one(t, tIGW, "bookstore"), s.one(t, tRT, "bookstore-public"),
		s.one(t, tRTA, "bookstore-public-a"), s.one(t, tRTA, "bookstore-public-b")}
	private := []*rec{s.one(t, tNAT, "bookstore-a"), s.one(t, tRT, "bookstore-private-a"), s.one(t, tRT, "bookstore-private-b"),
		s.one(t, tRTA, "bookstore-private-a"), s.one(t, tRTA, "bookstore-private-b")}
	for _, c := range []struct {
		r     *rec
		needs []*rec
	}{
		{s.one(t, tALB, "bookstore"), public},
		{s.one(t, tInstance, "bookstore-swarm-manager"), public},
		{s.one(t, tInstance, "bookstore-monolith"), public},
		{s.one(t, tASG, "bookstore-fleet"), private},
		{s.one(t, tASG, "bookstore-swarm-worker"), private},
	} {
		for _, d := range c.needs {
			if !c.r.dependsOn(d) {
				t.Errorf("%s %s does not depend on %s %s", c.r.Type, c.r.Name, d.Type, d.Name)
			}
		}
	}
}

type rule struct {
	proto    string
	from, to int
	cidrs    []string
	v6       []string
	sgs      []string
	self     bool
}

func rules(t *testing.T, sg *rec, dir string) []rule {
	t.Helper()
	var out []rule
	v, _ := sg.in(dir).([]any)
	for _, e := range v {
		m := e.(map[string]any)
		r := rule{proto: fmt.Sprint(m["protocol"]), from: int(m["fromPort"].(float64)), to: int(m["toPort"].(float64))}
		if c, ok := m["cidrBlocks"]; ok && c != nil {
			r.cidrs = strs(c)
		}
		if c, ok := m["ipv6CidrBlocks"]; ok && c != nil {
			r.v6 = strs(c)
		}
		if c, ok := m["securityGroups"]; ok && c != nil {
			r.sgs = strs(c)
		}
		r.self, _ = m["self"].(bool)
		out = append(out, r)
	}
	return out
}

func TestSecurityGroups(t *testing.T) {
	s := mustRun(t, withDomain)
	sg := func(n string) *rec { return s.one(t, tSG, "bookstore-"+n) }
	alb, app, sw, db, efs := sg("alb"), sg("app"), sg("swarm"), sg("db"), sg("efs")
	vpc := s.one(t, tVPC, "bookstore")
	for _, g := range []*rec{alb, app, sw, db, efs} {
		g.want(t, "vpcId", vpc.ID)
	}

	anyV4, anyV6 := []string{"0.0.0.0/0"}, []string{"::/0"}
	check := func(g *rec, want []rule) {
		t.Helper()
		got := rules(t, g, "ingress")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s ingress:\n got %+v\nwant %+v", g.Name, got, want)
		}
	}
	check(alb, []rule{{"tcp", 80, 80, anyV4, anyV6, nil, false}, {"tcp", 443, 443, anyV4, anyV6, nil, false}})
	check(app, []rule{{"tcp", 5000, 5000, nil, nil, []string{alb.ID}, false}})
	check(sw, []rule{
		{"tcp", 5000, 5000, nil, nil, []string{alb.ID}, false},
		{"tcp", 2377, 2377, nil, nil, nil, true},
		{"tcp", 7946, 7946, nil, nil, nil, true},
		{"udp", 7946, 7946, nil, nil, nil, true},
		{"udp", 4789, 4789, nil, nil, nil, true},
	})
	check(db, []rule{{"tcp", 3306, 3306, nil, nil, []string{app.ID, sw.ID}, false}})
	check(efs, []rule{{"tcp", 2049, 2049, nil, nil, []string{app.ID, sw.ID}, false}})

	// The ALB only talks to targets; the data stores talk to no one.
	if got := rules(t, alb, "egress"); !reflect.DeepEqual(got, []rule{{"tcp", 5000, 5000, []string{"10.0.0.0/16"}, nil, nil, false}}) {
		t.Errorf("alb egress %+v", got)
	}
	vpcCIDR := []string{"10.0.0.0/16"}
	hostOut := []rule{
		{"tcp", 443, 443, anyV4, anyV6, nil, false},
		{"tcp", 3306, 3306, vpcCIDR, nil, nil, false},
		{"tcp", 2049, 2049, vpcCIDR, nil, nil, false},
	}
	if got := rules(t, app, "egress"); !reflect.DeepEqual(got, hostOut) {
		t.Errorf("app egress:\n got %+v\nwant %+v", got, hostOut)
	}
	swarmOut := append(slices.Clone(hostOut),
		rule{"tcp", 2377, 2377, nil, nil, nil, true}, rule{"tcp", 7946, 7946, nil, nil, nil, true},
		rule{"udp", 7946, 7946, nil, nil, nil, true}, rule{"udp", 4789, 4789, nil, nil, nil, true})
	if got := rules(t, sw, "egress"); !reflect.DeepEqual(got, swarmOut) {
		t.Errorf("swarm egress:\n got %+v\nwant %+v", got, swarmOut)
	}
	for _, g := range []*rec{db, efs} {
		if e, ok := g.Inputs["egress"]; !ok || len(e.([]any)) != 0 {
			t.Errorf("%s egress = %v, want an explicit empty list", g.Name, e)
		}
	}
}

// EC2 accepts only these characters in a security group's description and
// in a rule's (EC2 API reference, SecurityGroup and IpRange); the provider
// checks it at preview, which mocks skip, so a stray apostrophe would pass
// every other test and fail the real preview.
var sgDescription = regexp.MustCompile(`^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$`)

func TestSecurityGroupDescriptionsAreAccepted(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"})
	n := 0
	for _, g := range s.all(tSG) {
		descs := []any{g.in("description")}
		for _, dir := range []string{"ingress", "egress"} {
			rs, _ := g.in(dir).([]any)
			for i := range rs {
				descs = append(descs, g.in(fmt.Sprintf("%s.%d.description", dir, i)))
			}
		}
		for _, d := range descs {
			if d == nil {
				continue
			}
			n++
			if !sgDescription.MatchString(d.(string)) {
				t.Errorf("%s: description %q has characters EC2 refuses", g.Name, d)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d descriptions seen", n)
	}
}

// No SSH in, and no group sends to more than the ports its hosts use.
func TestNoSSHAnywhere(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"})
	if len(s.all(tSG)) != 6 {
		t.Fatalf("%d security groups, want 6", len(s.all(tSG)))
	}
	for _, g := range s.all(tSG) {
		for _, r := range rules(t, g, "ingress") {
			if r.proto == "-1" || (r.from <= 22 && 22 <= r.to) {
				t.Errorf("%s admits port 22: %+v", g.Name, r)
			}
		}
		for _, r := range rules(t, g, "egress") {
			if r.proto == "-1" || r.from != r.to {
				t.Errorf("%s sends more than single ports: %+v", g.Name, r)
			}
		}
	}
	for _, k := range []string{tLT, tInstance} {
		for _, r := range s.all(k) {
			if _, ok := r.Inputs["keyName"]; ok {
				t.Errorf("%s %s has an SSH key pair", k, r.Name)
			}
		}
	}
}

// ---- database ----

func TestDatabase(t *testing.T) {
	s := mustRun(t, nil)
	db := s.one(t, tDB, "bookstore")
	for path, want := range map[string]any{
		// 8.4 LTS on standard support: 8.0 left it on 2026-07-31, and an unset
		// lifecycle enrols the instance in paid Extended Support.
		"engine": "mysql", "engineVersion": "8.4", "engineLifecycleSupport": "open-source-rds-extended-support-disabled",
		"allowMajorVersionUpgrade": true, "autoMinorVersionUpgrade": true, "multiAz": true, "storageEncrypted": true, "storageType": "gp3",
		"manageMasterUserPassword": true, "instanceClass": "db.t3.micro", "allocatedStorage": 20,
		"backupRetentionPeriod": 7, "deletionProtection": false, "skipFinalSnapshot": false,
		"publiclyAccessible": false, "applyImmediately": true, "dbName": "bookstore", "port": 3306,
	} {
		db.want(t, path, want)
	}
	if _, ok := db.Inputs["password"]; ok {
		t.Error("a master password is set: it must live only in Secrets Manager")
	}
	if got := strs(db.in("enabledCloudwatchLogsExports")); !sameSet(got, []string{"error", "slowquery"}) {
		t.Errorf("log exports %v", got)
	}
	if !regexp.MustCompile(`^bookstore-dev-final-\d{14}$`).MatchString(db.in("finalSnapshotIdentifier").(string)) {
		t.Errorf("finalSnapshotIdentifier %v", db.in("finalSnapshotIdentifier"))
	}
	if !db.ignores("finalSnapshotIdentifier") {
		t.Error("finalSnapshotIdentifier's timestamp is not in ignoreChanges: every run would be a diff")
	}
	if !db.ignores("engineLifecycleSupport") {
		t.Error("engineLifecycleSupport is not in ignoreChanges: RDS cannot change it on an existing instance, so older stacks would show a diff on every run")
	}
	db.want(t, "vpcSecurityGroupIds.0", s.one(t, tSG, "bookstore-db").ID)

	subnets := s.one(t, tDBSubnets, "bookstore")
	if got := strs(subnets.in("subnetIds")); !reflect.DeepEqual(got, []string{
		s.one(t, tSubnet, "bookstore-private-a").ID, s.one(t, tSubnet, "bookstore-private-b").ID,
	}) {
		t.Errorf("DB subnet group subnets %v, want the private subnets of 2 AZs", got)
	}
	db.want(t, "dbSubnetGroupName", subnets.out("name"))

	params := s.one(t, tDBParams, "bookstore")
	params.want(t, "family", "mysql8.4")
	db.want(t, "parameterGroupName", params.out("name"))
	got := map[string]string{}
	for _, p := range params.in("parameters").([]any) {
		got[fmt.Sprint(get(p, "name"))] = fmt.Sprint(get(p, "value"))
	}
	for k, v := range map[string]string{
		"character_set_server": "utf8mb4", "collation_server": "utf8mb4_0900_ai_ci",
		"character_set_client": "utf8mb4", "character_set_connection": "utf8mb4",
		"slow_query_log": "1", "log_output": "FILE", "require_secure_transport": "1",
	} {
		if got[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestDatabaseConfig(t *testing.T) {
	s := mustRun(t, map[string]string{"deletionProtection": "true", "skipFinalSnapshot": "true",
		"dbInstanceClass": "db.t4g.small", "dbAllocatedStorage": "50"})
	db := s.one(t, tDB, "bookstore")
	db.want(t, "deletionProtection", true)
	db.want(t, "skipFinalSnapshot", true)
	db.want(t, "instanceClass", "db.t4g.small")
	db.want(t, "allocatedStorage", 50)
	// 10% of 50 GiB, in bytes.
	s.one(t, tAlarm, "bookstore-db-storage").want(t, "threshold", 0.1*50*(1<<30))
}

// ---- storage ----

func TestStorage(t *testing.T) {
	s := mustRun(t, nil)
	fs := s.one(t, tFS, "bookstore")
	fs.want(t, "encrypted", true)
	mts := s.all(tMT)
	if len(mts) != 2 {
		t.Fatalf("%d mount targets, want one per private subnet (2)", len(mts))
	}
	var mtSubnets []string
	for _, mt := range mts {
		mt.want(t, "fileSystemId", fs.ID)
		mt.want(t, "securityGroups.0", s.one(t, tSG, "bookstore-efs").ID)
		mtSubnets = append(mtSubnets, mt.in("subnetId").(string))
		if !mt.Req.GetDeleteBeforeReplace() {
			t.Errorf("mount target %s: deleteBeforeReplace not set (one per AZ)", mt.Name)
		}
	}
	if !sameSet(mtSubnets, ids([]*rec{s.one(t, tSubnet, "bookstore-private-a"), s.one(t, tSubnet, "bookstore-private-b")})) {
		t.Errorf("mount targets in %v", mtSubnets)
	}

	ap := s.one(t, tAP, "bookstore")
	ap.want(t, "fileSystemId", fs.ID)
	ap.want(t, "posixUser.uid", 65532)
	ap.want(t, "posixUser.gid", 65532)
	ap.want(t, "rootDirectory.path", "/bookstore")
	ap.want(t, "rootDirectory.creationInfo.ownerUid", 65532)
	ap.want(t, "rootDirectory.creationInfo.ownerGid", 65532)
	ap.want(t, "rootDirectory.creationInfo.permissions", "0755")

	pol := s.one(t, tFSPolicy, "bookstore")
	pol.want(t, "fileSystemId", fs.ID)
	doc := decodeJSON(t, pol.in("policy"))
	stmts := doc["Statement"].([]any)
	var tls, apOnly bool
	for _, st := range stmts {
		if get(st, "Effect") != "Deny" {
			t.Errorf("the file system policy grants: %v", st)
		}
		if get(st, "Condition.Bool.aws:SecureTransport") == "false" && get(st, "Action") == "*" && get(st, "Resource") == fs.out("arn") {
			tls = true
		}
		if get(st, "Condition.StringNotEquals.elasticfilesystem:AccessPointArn") == ap.out("arn") {
			apOnly = true
		}
	}
	if !tls || !apOnly {
		t.Errorf("policy lacks the non-TLS deny (%v) or the access-point-only deny (%v): %v", tls, apOnly, doc)
	}
	backup := s.one(t, tFSBackup, "bookstore")
	backup.want(t, "fileSystemId", fs.ID)
	backup.want(t, "backupPolicy.status", "ENABLED")
}

// ---- image ----

func TestImage(t *testing.T) {
	s := mustRun(t, nil)
	repo := s.one(t, tRepo, "bookstore")
	repo.want(t, "imageScanningConfiguration.scanOnPush", true)
	lc := s.one(t, tLifecycle, "bookstore")
	lc.want(t, "repository", repo.out("name"))
	policy := decodeJSON(t, lc.in("policy"))
	if get(policy, "rules.0.selection.countType") != "imageCountMoreThan" ||
		get(policy, "rules.0.selection.countNumber") != float64(keepImages) ||
		get(policy, "rules.0.selection.tagStatus") != "any" || get(policy, "rules.0.action.type") != "expire" {
		t.Errorf("lifecycle policy %v", policy)
	}

	img := s.one(t, tImage, "bookstore")
	img.want(t, "build.context", "..")
	img.want(t, "build.dockerfile", "../Dockerfile")
	img.want(t, "build.platform", "linux/amd64")
	img.want(t, "imageName", repo.out("repositoryUrl")+":dev")
	img.want(t, "registry.server", repo.out("repositoryUrl"))
	img.want(t, "registry.username", "AWS")
	img.want(t, "registry.password", "ecr-token-do-not-log")
	if !img.SecretInputs["registry"] {
		t.Error("the ECR token reaches the image as plain text, not a secret")
	}
	if !slices.Contains(s.invokes, "aws:ecr/getAuthorizationToken:getAuthorizationToken") {
		t.Error("no ecr.GetAuthorizationToken")
	}
}

// ---- edge ----

func weights(t *testing.T, l *rec) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, g := range l.in("defaultActions.0.forward.targetGroups").([]any) {
		out[fmt.Sprint(get(g, "arn"))] = get(g, "weight").(float64)
	}
	return out
}

func TestEdgeWithoutDomain(t *testing.T) {
	s := mustRun(t, map[string]string{"swarmWeight": "25"})
	alb := s.one(t, tALB, "bookstore")
	alb.want(t, "loadBalancerType", "application")
	alb.want(t, "internal", false)
	alb.want(t, "dropInvalidHeaderFields", true)
	alb.want(t, "ipAddressType", "dualstack")
	alb.want(t, "securityGroups.0", s.one(t, tSG, "bookstore-alb").ID)
	if got := strs(alb.in("subnets")); !reflect.DeepEqual(got, ids([]*rec{s.one(t, tSubnet, "bookstore-public-a"), s.one(t, tSubnet, "bookstore-public-b")})) {
		t.Errorf("ALB subnets %v, want the public ones", got)
	}
	if n := len(s.all(tALB)); n != 1 {
		t.Errorf("%d load balancers", n)
	}
	for _, role := range []string{"app", "swarm"} {
		tg := s.one(t, tTG, "bookstore-"+role)
		tg.want(t, "port", 5000)
		tg.want(t, "protocol", "HTTP")
		tg.want(t, "targetType", "instance")
		tg.want(t, "deregistrationDelay", 30)
		tg.want(t, "healthCheck.path", "/healthz")
		tg.want(t, "healthCheck.matcher", "200")
		tg.want(t, "vpcId", s.one(t, tVPC, "bookstore").ID)
	}
	ls := s.all(tListener)
	if len(ls) != 1 {
		t.Fatalf("%d listeners, want only :80", len(ls))
	}
	l := ls[0]
	l.want(t, "port", 80)
	l.want(t, "protocol", "HTTP")
	l.want(t, "defaultActions.0.type", "forward")
	app, sw := s.one(t, tTG, "bookstore-app").out("arn"), s.one(t, tTG, "bookstore-swarm").out("arn")
	if w := weights(t, l); !reflect.DeepEqual(w, map[string]float64{app: 100, sw: 25}) {
		t.Errorf(":80 forward weights %v", w)
	}
	for _, typ := range []string{tCert, tCertValid, tRecord, tZone} {
		if n := len(s.all(typ)); n != 0 {
			t.Errorf("%d %s without a domain", n, typ)
		}
	}
	if rules := s.all(tRule); len(rules) != 1 || rules[0].Name != "bookstore-metrics" {
		t.Errorf("listener rules without a domain: %v, want only bookstore-metrics", names(rules))
	}
	wantMetricsHidden(t, s.one(t, tRule, "bookstore-metrics"), l)
	for _, inv := range s.invokes {
		if strings.HasPrefix(inv, "aws:route53") {
			t.Errorf("invoked %s without a domain", inv)
		}
	}
}

func TestEdgeWithDomain(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "appWeight": "80", "swarmWeight": "20"})
	alb := s.one(t, tALB, "bookstore")
	cert := s.one(t, tCert, "bookstore")
	cert.want(t, "domainName", "example.com")
	cert.want(t, "validationMethod", "DNS")
	if got := strs(cert.in("subjectAlternativeNames")); !reflect.DeepEqual(got, []string{"www.example.com", "swarm.example.com"}) {
		t.Errorf("SANs %v", got)
	}

	// One validation record per distinct name, each as ACM asked.
	dvo := plain(cert.State["domainValidationOptions"]).([]any)
	var fqdns []string
	for _, label := range []string{"apex", "www", "swarm"} {
		r := s.one(t, tRecord, "bookstore-validation-"+label)
		domain := "example.com"
		if label != "apex" {
			domain = label + ".example.com"
		}
		var want map[string]any
		for _, o := range dvo {
			if get(o, "domainName") == domain {
				want = o.(map[string]any)
			}
		}
		r.want(t, "zoneId", lookedUpZone)
		r.want(t, "name", want["resourceRecordName"])
		r.want(t, "type", "CNAME")
		r.want(t, "records.0", want["resourceRecordValue"])
		r.want(t, "allowOverwrite", true)
		r.want(t, "ttl", 60)
		if !r.Req.GetDeleteBeforeReplace() {
			t.Errorf("%s: deleteBeforeReplace not set", r.Name)
		}
		fqdns = append(fqdns, strings.TrimSuffix(want["resourceRecordName"].(string), "."))
	}
	cv := s.one(t, tCertValid, "bookstore")
	cv.want(t, "certificateArn", cert.ID)
	if got := strs(cv.in("validationRecordFqdns")); !sameSet(got, fqdns) {
		t.Errorf("validation fqdns %v, want %v", got, fqdns)
	}

	http := s.one(t, tListener, "bookstore-http")
	http.want(t, "loadBalancerArn", alb.out("arn"))
	http.want(t, "port", 80)
	http.want(t, "defaultActions.0.type", "redirect")
	http.want(t, "defaultActions.0.redirect.protocol", "HTTPS")
	http.want(t, "defaultActions.0.redirect.port", "443")
	http.want(t, "defaultActions.0.redirect.statusCode", "HTTP_301")

	https := s.one(t, tListener, "bookstore-https")
	https.want(t, "port", 443)
	https.want(t, "protocol", "HTTPS")
	https.want(t, "sslPolicy", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
	https.want(t, "certificateArn", cv.out("certificateArn"))
	if !https.dependsOn(cv) {
		t.Error(":443 does not wait for the certificate's validation")
	}
	app, sw := s.one(t, tTG, "bookstore-app"), s.one(t, tTG, "bookstore-swarm")
	if w := weights(t, https); !reflect.DeepEqual(w, map[string]float64{app.out("arn"): 80, sw.out("arn"): 20}) {
		t.Errorf(":443 forward weights %v", w)
	}
	for _, l := range []*rec{http, https} {
		if !l.Req.GetDeleteBeforeReplace() {
			t.Errorf("listener %s: deleteBeforeReplace not set (one listener per port)", l.Name)
		}
	}

	wantMetricsHidden(t, s.one(t, tRule, "bookstore-metrics"), https)
	rule := s.one(t, tRule, "bookstore-swarm")
	rule.want(t, "listenerArn", https.out("arn"))
	rule.want(t, "conditions.0.hostHeader.values.0", "swarm.example.com")
	rule.want(t, "actions.0.type", "forward")
	rule.want(t, "actions.0.targetGroupArn", sw.out("arn"))

	for _, label := range []string{"apex", "www", "swarm"} {
		name := "example.com"
		if label != "apex" {
			name = label + ".example.com"
		}
		for _, typ := range []string{"a", "aaaa"} {
			r := s.one(t, tRecord, "bookstore-"+label+"-"+typ)
			r.want(t, "zoneId", lookedUpZone)
			r.want(t, "name", name)
			r.want(t, "type", strings.ToUpper(typ))
			r.want(t, "aliases.0.name", alb.out("dnsName"))
			r.want(t, "aliases.0.zoneId", albZone)
			r.want(t, "aliases.0.evaluateTargetHealth", true)
			if !r.Req.GetDeleteBeforeReplace() {
				t.Errorf("%s: deleteBeforeReplace not set", r.Name)
			}
		}
	}
	if n := len(s.all(tRecord)); n != 9 {
		t.Errorf("%d records, want 3 validation + 6 aliases", n)
	}
	if n := len(s.all(tZone)); n != 0 {
		t.Errorf("created %d zones; it should have been looked up", n)
	}
}

// wantMetricsHidden checks that the forwarding listener answers /metrics with
// its own 404, before any other rule, so the internet never reaches it.
func wantMetricsHidden(t *testing.T, rule, listener *rec) {
	t.Helper()
	rule.want(t, "listenerArn", listener.out("arn"))
	rule.want(t, "priority", 1)
	if got := strs(rule.in("conditions.0.pathPattern.values")); !reflect.DeepEqual(got, []string{"/metrics", "/metrics/*"}) {
		t.Errorf("metrics rule paths %v", got)
	}
	rule.want(t, "actions.0.type", "fixed-response")
	rule.want(t, "actions.0.fixedResponse.statusCode", "404")
	if !rule.Req.GetDeleteBeforeReplace() {
		t.Error("metrics rule: deleteBeforeReplace not set (priorities are unique per listener)")
	}
}

// ACM may answer with one record for two names: the output lists it once and
// the validation waits for it once.
func TestSharedValidationRecord(t *testing.T) {
	s := mustRun(t, withDomain, func(m *mocks) { m.sharedValidation = true })
	recs := s.outputs["validationRecords"].([]map[string]string)
	if len(recs) != 2 {
		t.Errorf("validationRecords %v, want 2 distinct", recs)
	}
	apex, www := s.one(t, tRecord, "bookstore-validation-apex"), s.one(t, tRecord, "bookstore-validation-www")
	if apex.in("name") != www.in("name") {
		t.Fatalf("the mock did not share the record: %v %v", apex.in("name"), www.in("name"))
	}
	if apex.in("allowOverwrite") != true || www.in("allowOverwrite") != true {
		t.Error("shared records must allow overwrite")
	}
	if got := strs(s.one(t, tCertValid, "bookstore").in("validationRecordFqdns")); len(got) != 2 {
		t.Errorf("validation fqdns %v, want 2 distinct", got)
	}
}

func TestCreateZone(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "createZone": "true"})
	z := s.one(t, tZone, "bookstore")
	z.want(t, "name", "example.com")
	for _, r := range s.all(tRecord) {
		r.want(t, "zoneId", createdZone)
	}
	if s.outputs["hostedZoneId"] != createdZone || !reflect.DeepEqual(s.outputs["nameServers"], zoneNameServers) {
		t.Errorf("hostedZoneId %v nameServers %v", s.outputs["hostedZoneId"], s.outputs["nameServers"])
	}
	if slices.Contains(s.invokes, "aws:route53/getZone:getZone") {
		t.Error("looked a zone up although createZone is set")
	}
}

func TestHostedZoneIdOfParentZone(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "shop.example.com", "hostedZoneId": lookedUpZone})
	s.one(t, tRecord, "bookstore-apex-a").want(t, "name", "shop.example.com")
	s.one(t, tRecord, "bookstore-apex-a").want(t, "zoneId", lookedUpZone)
}

func TestZoneErrorsNameTheKey(t *testing.T) {
	_, err := runStack(t, map[string]string{"domain": "shop.example.org", "hostedZoneId": lookedUpZone})
	if err == nil || !strings.Contains(err.Error(), "bookstore:hostedZoneId") {
		t.Errorf("zone of another domain: err = %v", err)
	}
	_, err = runStack(t, map[string]string{"domain": "example.net"})
	if err == nil || !strings.Contains(err.Error(), "bookstore:domain") {
		t.Errorf("no zone for the domain: err = %v", err)
	}
}

// ---- fleet ----

func inlinePolicy(t *testing.T, s *stack, role string) map[string]any {
	t.Helper()
	return decodeJSON(t, s.one(t, tRolePolicy, role).in("policy"))
}

// noResource are the actions of hostrole.Base that take no resource, so "*"
// is their only possible Resource (AWS service authorization reference).
var noResource = map[string]bool{
	"ssm:UpdateInstanceInformation":    true,
	"ssmmessages:CreateControlChannel": true, "ssmmessages:CreateDataChannel": true,
	"ssmmessages:OpenControlChannel": true, "ssmmessages:OpenDataChannel": true,
	"ecr:GetAuthorizationToken": true,
}

// checkBaseGrants checks that role trusts EC2, has no managed policy (they
// grant account-wide), and holds hostrole.Base scoped to this stack's
// repository and to logGroup. It returns the role's statements by action.
func checkBaseGrants(t *testing.T, s *stack, role, logGroup string) map[string]map[string]any {
	t.Helper()
	r := s.one(t, tRole, role)
	trust := decodeJSON(t, r.in("assumeRolePolicy"))
	if get(trust, "Statement.0.Principal.Service") != "ec2.amazonaws.com" {
		t.Errorf("%s trust %v", role, trust)
	}
	for _, a := range s.all(tAttach) {
		if a.in("role") == r.out("name") {
			t.Errorf("%s has %v attached: AWS's managed policies grant account-wide", role, a.in("policyArn"))
		}
	}
	st := statements(t, inlinePolicy(t, s, role))
	repo := s.one(t, tRepo, "bookstore").out("arn")
	logs := s.one(t, tLogGroup, logGroup).out("arn") + ":*"
	want := map[string]string{
		"ecr:BatchGetImage": repo, "ecr:GetDownloadUrlForLayer": repo, "ecr:BatchCheckLayerAvailability": repo,
		"logs:CreateLogStream": logs, "logs:PutLogEvents": logs,
	}
	for a := range noResource {
		want[a] = "*"
	}
	for a, res := range want {
		if got := get(st[a], "Resource"); got != res {
			t.Errorf("%s: %s on %v, want %s", role, a, got, res)
		}
	}
	// Whatever boots with this role waits for its grants.
	pol, profile := s.one(t, tRolePolicy, role), s.one(t, tProfile, role)
	hosts := 0
	for _, h := range s.all(tInstance) {
		if h.in("iamInstanceProfile") == profile.out("name") {
			hosts++
			if !h.dependsOn(pol) {
				t.Errorf("instance %s may boot before its role's grants exist", h.Name)
			}
		}
	}
	for _, lt := range s.all(tLT) {
		if lt.in("iamInstanceProfile.arn") != profile.out("arn") {
			continue
		}
		for _, g := range s.all(tASG) {
			if g.in("launchTemplate.id") == lt.ID {
				hosts++
				if !g.dependsOn(pol) {
					t.Errorf("group %s may launch before its role's grants exist", g.Name)
				}
			}
		}
	}
	if hosts != 1 {
		t.Errorf("%d instances or groups use %s's profile, want 1", hosts, role)
	}
	return st
}

// statements returns Action -> statement of a policy, failing on any
// wildcard but the actions that take no resource.
func statements(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, st := range doc["Statement"].([]any) {
		m := st.(map[string]any)
		res := fmt.Sprint(m["Resource"])
		// A log group's streams are "<group ARN>:*": the one wildcard that scopes.
		streams := strings.Contains(res, ":log-group:") && strings.Count(res, "*") == 1 && strings.HasSuffix(res, ":*")
		for _, a := range strs(m["Action"]) {
			out[a] = m
			if m["Effect"] != "Allow" || strings.Contains(a, "*") || strings.Contains(res, "*") && !noResource[a] && !streams {
				t.Errorf("statement %v is not a scoped Allow", m)
			}
		}
	}
	return out
}

// rdsCAURL is eu-west-1's RDS CA bundle as boot.env carries it.
const rdsCAURL = "RDS_CA_URL='https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem'"

// userData is the cloud-config document a launch template (userData) or an
// instance (userDataBase64) carries: base64 of the gzip-compressed document,
// at most userdata.MaxBytes once decoded.
func userData(t *testing.T, r *rec) string {
	t.Helper()
	key := "userData"
	if r.Type == tInstance {
		key = "userDataBase64"
		if _, plain := r.Inputs["userData"]; plain {
			t.Errorf("%s has plain userData as well", r.Name)
		}
	}
	enc, _ := r.in(key).(string)
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("%s %s is not base64: %v", r.Name, key, err)
	}
	if len(b) > userdata.MaxBytes {
		t.Errorf("%s user data is %d bytes, over EC2's %d", r.Name, len(b), userdata.MaxBytes)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s user data is not gzip: %v", r.Name, err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s user data: %v", r.Name, err)
	}
	return string(doc)
}

func mustContain(t *testing.T, what, doc string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(doc, sub) {
			t.Errorf("%s lacks %q", what, sub)
		}
	}
}

func TestFleet(t *testing.T) {
	s := mustRun(t, map[string]string{"adminEmails": "owner@example.com"})
	fs, ap := s.one(t, tFS, "bookstore"), s.one(t, tAP, "bookstore")
	db := s.one(t, tDB, "bookstore")
	secret := s.outputs["dbSecretArn"].(string)

	st := checkBaseGrants(t, s, "bookstore-fleet", "bookstore-fleet")
	if len(st) != len(noResource)+5+3 {
		t.Errorf("fleet grants %v, want the base ones, GetSecretValue, ClientMount, ClientWrite", st)
	}
	if get(st["secretsmanager:GetSecretValue"], "Resource") != secret {
		t.Errorf("secret grant %v", st["secretsmanager:GetSecretValue"])
	}
	for _, a := range []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"} {
		if get(st[a], "Resource") != fs.out("arn") ||
			get(st[a], "Condition.StringEquals.elasticfilesystem:AccessPointArn") != ap.out("arn") {
			t.Errorf("%s grant %v", a, st[a])
		}
	}

	lt := s.one(t, tLT, "bookstore-fleet")
	lt.want(t, "imageId", amiFromSSM)
	lt.want(t, "instanceType", "t3.micro")
	lt.want(t, "iamInstanceProfile.arn", s.one(t, tProfile, "bookstore-fleet").out("arn"))
	lt.want(t, "vpcSecurityGroupIds.0", s.one(t, tSG, "bookstore-app").ID)
	lt.want(t, "metadataOptions.httpTokens", "required")
	lt.want(t, "metadataOptions.httpPutResponseHopLimit", 2)
	lt.want(t, "metadataOptions.httpEndpoint", "enabled")
	lt.want(t, "blockDeviceMappings.0.deviceName", "/dev/xvda")
	lt.want(t, "blockDeviceMappings.0.ebs.volumeType", "gp3")
	lt.want(t, "blockDeviceMappings.0.ebs.encrypted", "true")
	lt.want(t, "updateDefaultVersion", true)
	logs := s.one(t, tLogGroup, "bookstore-fleet")
	logs.want(t, "retentionInDays", 30)
	ud := userData(t, lt)
	mustContain(t, "fleet user data", ud, "#cloud-config", s.outputs["imageRef"].(string), secret, fs.ID, ap.ID,
		db.out("address"), logs.out("name"), "/mnt/bookstore", "/app/shared", "owner@example.com", "eu-west-1",
		// The container's environment (docs/architecture.md, the contract) and how it runs.
		"DB_HOST="+db.out("address"), "DB_NAME=bookstore", "DB_SECRET_ARN="+secret, "SHARED_DIR=/app/shared",
		"restart: always", "driver: awslogs", "amazon-efs-utils", "docker login",
		// Verified TLS to RDS: the region's CA bundle, fetched at boot, bound read-only.
		rdsCAURL, "DB_TLS_CA_FILE=/etc/bookstore/rds-ca.pem", `source: "/opt/bookstore/rds-ca.pem"`,
		`target: "/etc/bookstore/rds-ca.pem"`, "read_only: true")
	if strings.Contains(ud, ":latest") || strings.Contains(ud, ":dev\n") {
		t.Error("fleet user data refers to an image tag, not the digest")
	}

	asg := s.one(t, tASG, "bookstore-fleet")
	asg.want(t, "minSize", 1)
	asg.want(t, "maxSize", 3)
	if _, ok := asg.Inputs["desiredCapacity"]; ok {
		t.Error("desiredCapacity is set: a deploy would reset a scaled-out group")
	}
	if !asg.ignores("desiredCapacity") {
		t.Error("desiredCapacity not in ignoreChanges")
	}
	asg.want(t, "healthCheckType", "ELB")
	asg.want(t, "healthCheckGracePeriod", 300)
	asg.want(t, "launchTemplate.id", lt.ID)
	asg.want(t, "launchTemplate.version", fmt.Sprint(ltVersion))
	asg.want(t, "instanceRefresh.strategy", "Rolling")
	asg.want(t, "instanceRefresh.preferences.minHealthyPercentage", 100)
	asg.want(t, "targetGroupArns.0", s.one(t, tTG, "bookstore-app").out("arn"))
	if got := strs(asg.in("vpcZoneIdentifiers")); !reflect.DeepEqual(got, ids([]*rec{s.one(t, tSubnet, "bookstore-private-a"), s.one(t, tSubnet, "bookstore-private-b")})) {
		t.Errorf("ASG subnets %v, want the private ones", got)
	}
	if !slices.Contains(strs(asg.in("enabledMetrics")), "GroupDesiredCapacity") {
		t.Error("GroupDesiredCapacity not enabled: the at-max alarm would see nothing")
	}
	for _, mt := range s.all(tMT) {
		if !asg.dependsOn(mt) {
			t.Errorf("the ASG does not wait for mount target %s", mt.Name)
		}
	}

	pol := s.one(t, tPolicy, "bookstore-fleet-cpu")
	pol.want(t, "autoscalingGroupName", asg.out("name"))
	pol.want(t, "policyType", "TargetTrackingScaling")
	pol.want(t, "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType", "ASGAverageCPUUtilization")
	pol.want(t, "targetTrackingConfiguration.targetValue", 60)
}

func TestFleetConfig(t *testing.T) {
	s := mustRun(t, map[string]string{"minSize": "2", "maxSize": "6", "cpuTarget": "45",
		"instanceType": "m7i-flex.large", "amiId": "ami-0123456789abcdef0"})
	asg := s.one(t, tASG, "bookstore-fleet")
	asg.want(t, "minSize", 2)
	asg.want(t, "maxSize", 6)
	s.one(t, tPolicy, "bookstore-fleet-cpu").want(t, "targetTrackingConfiguration.targetValue", 45)
	lt := s.one(t, tLT, "bookstore-fleet")
	lt.want(t, "instanceType", "m7i-flex.large")
	lt.want(t, "imageId", "ami-0123456789abcdef0")
	s.one(t, tInstance, "bookstore-swarm-manager").want(t, "ami", "ami-0123456789abcdef0")
	if slices.Contains(s.invokes, "aws:ssm/getParameter:getParameter") {
		t.Error("looked up the AMI although amiId pins one")
	}
	s.one(t, tAlarm, "bookstore-asg-at-max").want(t, "threshold", 6)
}

// ---- swarm ----

func TestSwarmManager(t *testing.T) {
	s := mustRun(t, nil)
	param := s.one(t, tParam, "bookstore-swarm-join-token")
	param.want(t, "type", "SecureString")
	param.want(t, "value", "pending")
	if !param.ignores("value") {
		t.Error("the join token's value is not in ignoreChanges: a deploy would reset the manager's token")
	}

	image := checkImageParameter(t, s)

	st := checkBaseGrants(t, s, "bookstore-swarm-manager", "bookstore-swarm")
	if get(st["ssm:PutParameter"], "Resource") != param.out("arn") {
		t.Errorf("manager PutParameter grant %v", st["ssm:PutParameter"])
	}
	// Only the image parameter: the token is for workers to read.
	if got := resources(t, s, "bookstore-swarm-manager", "ssm:GetParameter"); !reflect.DeepEqual(got, []string{image.out("arn")}) {
		t.Errorf("manager GetParameter on %v, want only the image parameter %s", got, image.out("arn"))
	}
	if get(st["secretsmanager:GetSecretValue"], "Resource") != s.outputs["dbSecretArn"] {
		t.Error("the manager cannot read the DB secret its tasks need")
	}

	m := s.one(t, tInstance, "bookstore-swarm-manager")
	m.want(t, "ami", amiFromSSM)
	m.want(t, "subnetId", s.one(t, tSubnet, "bookstore-public-a").ID)
	m.want(t, "vpcSecurityGroupIds.0", s.one(t, tSG, "bookstore-swarm").ID)
	m.want(t, "iamInstanceProfile", s.one(t, tProfile, "bookstore-swarm-manager").out("name"))
	m.want(t, "metadataOptions.httpTokens", "required")
	m.want(t, "metadataOptions.httpPutResponseHopLimit", 2)
	m.want(t, "rootBlockDevice.encrypted", true)
	m.want(t, "rootBlockDevice.volumeType", "gp3")
	m.want(t, "userDataReplaceOnChange", true)
	if !m.ignores("ami") {
		t.Error("a new AMI would replace the manager: ami not in ignoreChanges")
	}
	for _, mt := range s.all(tMT) {
		if !m.dependsOn(mt) {
			t.Errorf("the manager does not wait for mount target %s", mt.Name)
		}
	}
	ud := userData(t, m)
	mustContain(t, "manager user data", ud, "#cloud-config", param.out("name"),
		s.outputs["dbSecretArn"].(string), s.outputs["efsId"].(string), s.one(t, tLogGroup, "bookstore-swarm").out("name"))
	noDigest(t, "manager user data", ud, s)
	// The renderer's parameter file (infra/userdata) carries the replicas.
	mustContain(t, "manager user data", ud, "REPLICAS='5'", "JOIN_TOKEN_PARAMETER='"+param.out("name")+"'",
		"IMAGE_PARAMETER='"+image.out("name")+"'", "IMAGE_REPOSITORY='"+s.one(t, tRepo, "bookstore").out("repositoryUrl")+"'",
		"bookstore-rollout.timer", "/opt/bookstore/bin/swarm-rollout.sh",
		"docker swarm init", "--with-registry-auth", "published=5000,target=5000",
		rdsCAURL, "DB_TLS_CA_FILE=/etc/bookstore/rds-ca.pem", "target=/etc/bookstore/rds-ca.pem,readonly")

	eip := s.one(t, tEIP, "bookstore-swarm-manager")
	eip.want(t, "instance", m.ID)
	eip.want(t, "domain", "vpc")
	tga := s.one(t, tTGA, "bookstore-swarm-manager")
	tga.want(t, "targetGroupArn", s.one(t, tTG, "bookstore-swarm").out("arn"))
	tga.want(t, "targetId", m.ID)
	tga.want(t, "port", 5000)
	if !tga.Req.GetDeleteBeforeReplace() {
		t.Error("target group attachment: deleteBeforeReplace not set")
	}
	if n := len(s.all(tASG)); n != 1 {
		t.Errorf("%d ASGs without swarm workers, want only the fleet", n)
	}
	if n := len(s.all(tRole)); n != 2 {
		t.Errorf("%d roles, want fleet and swarm manager", n)
	}
}

// checkImageParameter checks the parameter the swarm's hosts read their image
// from: a plain String holding the pushed digest, and returns it.
func checkImageParameter(t *testing.T, s *stack) *rec {
	t.Helper()
	p := s.one(t, tParam, "bookstore-swarm-image")
	p.want(t, "type", "String")
	p.want(t, "tier", "Standard")
	if _, ok := p.Inputs["value"]; ok || p.SecretInputs["insecureValue"] {
		t.Error("the image parameter's value is a secret; it is a public image reference, and previews should show it")
	}
	if v := p.in("insecureValue"); v != s.outputs["imageRef"] || !strings.Contains(fmt.Sprint(v), "@sha256:") {
		t.Errorf("image parameter value %v, want the imageRef output %v", v, s.outputs["imageRef"])
	}
	if p.ignores("value") {
		t.Error("the image parameter ignores value changes: deploys would never roll the swarm")
	}
	return p
}

// resources lists every Resource a role's inline policy grants action on.
func resources(t *testing.T, s *stack, role, action string) []string {
	t.Helper()
	var out []string
	for _, st := range inlinePolicy(t, s, role)["Statement"].([]any) {
		if slices.Contains(strs(get(st, "Action")), action) {
			out = append(out, fmt.Sprint(get(st, "Resource")))
		}
	}
	return out
}

// noDigest: the document pins no image, so a new one does not change it.
func noDigest(t *testing.T, what, doc string, s *stack) {
	t.Helper()
	if ref := s.outputs["imageRef"].(string); strings.Contains(doc, ref) || regexp.MustCompile(`sha256:[0-9a-f]{64}`).MatchString(doc) {
		t.Errorf("%s holds an image digest: every deploy would replace the host", what)
	}
}

// The point of the image parameter: a deploy that only pushes a new image
// changes the parameter and the fleet, never a swarm host's user data, so it
// replaces neither the manager nor the workers.
func TestSwarmUserDataIgnoresTheImage(t *testing.T) {
	cfg := map[string]string{"swarmWorkers": "1"}
	a := mustRun(t, cfg)
	b := mustRun(t, cfg, func(m *mocks) { m.imageSeed = "the next build" })
	if a.outputs["imageRef"] == b.outputs["imageRef"] {
		t.Fatal("the tweak did not change the image digest")
	}
	if userData(t, a.one(t, tLT, "bookstore-fleet")) == userData(t, b.one(t, tLT, "bookstore-fleet")) {
		t.Error("the fleet's user data ignores the image: the comparison below proves nothing")
	}
	for _, s := range []*stack{a, b} {
		if v := s.one(t, tParam, "bookstore-swarm-image").in("insecureValue"); v != s.outputs["imageRef"] {
			t.Errorf("image parameter %v, want %v", v, s.outputs["imageRef"])
		}
	}
	if a.one(t, tInstance, "bookstore-swarm-manager").in("userDataBase64") != b.one(t, tInstance, "bookstore-swarm-manager").in("userDataBase64") {
		t.Error("a new image changes the manager's user data, which replaces it (userDataReplaceOnChange)")
	}
	if userData(t, a.one(t, tLT, "bookstore-swarm-worker")) != userData(t, b.one(t, tLT, "bookstore-swarm-worker")) {
		t.Error("a new image changes the workers' user data, which refreshes them")
	}

	// In the preview of such a deploy the new digest is unknown; the swarm's
	// user data must not be, or the preview would show the manager replaced.
	pre, err := runStack(t, cfg, func(m *mocks) { m.preview, m.previewOnly = true, tImage })
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if got, known := pre.one(t, tLT, "bookstore-fleet").in("userData").(string); known && got != "<computed>" {
		t.Errorf("fleet user data in the preview is %.40v, want unknown: the mock did not hide the digest", got)
	}
	if got := pre.one(t, tInstance, "bookstore-swarm-manager").in("userDataBase64"); got != a.one(t, tInstance, "bookstore-swarm-manager").in("userDataBase64") {
		t.Errorf("manager user data in the preview is %.40v, want the same known document", got)
	}
	if got := pre.one(t, tLT, "bookstore-swarm-worker").in("userData"); got != a.one(t, tLT, "bookstore-swarm-worker").in("userData") {
		t.Errorf("worker user data in the preview is %.40v, want the same known document", got)
	}
}

func TestSwarmWorkers(t *testing.T) {
	s := mustRun(t, map[string]string{"swarmWorkers": "2", "swarmReplicas": "7"})
	param := s.one(t, tParam, "bookstore-swarm-join-token")
	m := s.one(t, tInstance, "bookstore-swarm-manager")

	image := checkImageParameter(t, s)

	st := checkBaseGrants(t, s, "bookstore-swarm-worker", "bookstore-swarm")
	if got, want := resources(t, s, "bookstore-swarm-worker", "ssm:GetParameter"), []string{param.out("arn"), image.out("arn")}; !sameSet(got, want) {
		t.Errorf("worker GetParameter on %v, want exactly %v", got, want)
	}
	if _, ok := st["ssm:PutParameter"]; ok {
		t.Error("workers may write the token")
	}

	lt := s.one(t, tLT, "bookstore-swarm-worker")
	lt.want(t, "metadataOptions.httpTokens", "required")
	lt.want(t, "blockDeviceMappings.0.ebs.encrypted", "true")
	lt.want(t, "iamInstanceProfile.arn", s.one(t, tProfile, "bookstore-swarm-worker").out("arn"))
	lt.want(t, "vpcSecurityGroupIds.0", s.one(t, tSG, "bookstore-swarm").ID)
	noDigest(t, "worker user data", userData(t, lt), s)
	mustContain(t, "worker user data", userData(t, lt), "#cloud-config", m.out("privateIp"), param.out("name"),
		"IMAGE_PARAMETER='"+image.out("name")+"'", s.outputs["efsId"].(string),
		// Tasks on a worker bind the bundle from the worker's own disk.
		rdsCAURL, `install_rds_ca "${RDS_CA_URL}" "${BOOKSTORE_DIR}/rds-ca.pem"`)

	asg := s.one(t, tASG, "bookstore-swarm-worker")
	asg.want(t, "minSize", 2)
	asg.want(t, "maxSize", 2)
	asg.want(t, "launchTemplate.version", fmt.Sprint(ltVersion))
	asg.want(t, "targetGroupArns.0", s.one(t, tTG, "bookstore-swarm").out("arn"))
	asg.want(t, "instanceRefresh.strategy", "Rolling")
	mustContain(t, "manager user data", userData(t, m), "REPLICAS='7'")
	mustContain(t, "worker user data", userData(t, lt), "MANAGER_ADDRESS='"+m.out("privateIp")+"'", "docker swarm join")
}

// ---- monolith ----

func TestMonolith(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "alertEmail": "ops@example.com"})
	sg := s.one(t, tSG, "bookstore-monolith")
	anyV4, anyV6 := []string{"0.0.0.0/0"}, []string{"::/0"}
	if got := rules(t, sg, "ingress"); !reflect.DeepEqual(got, []rule{
		{"tcp", 80, 80, anyV4, anyV6, nil, false}, {"tcp", 443, 443, anyV4, anyV6, nil, false},
	}) {
		t.Errorf("monolith ingress %+v", got)
	}
	if got := rules(t, sg, "egress"); !reflect.DeepEqual(got, []rule{{"tcp", 443, 443, anyV4, anyV6, nil, false}}) {
		t.Errorf("monolith egress %+v", got)
	}
	inst := s.one(t, tInstance, "bookstore-monolith")
	inst.want(t, "subnetId", s.one(t, tSubnet, "bookstore-public-a").ID)
	inst.want(t, "vpcSecurityGroupIds.0", sg.ID)
	inst.want(t, "metadataOptions.httpTokens", "required")
	inst.want(t, "rootBlockDevice.encrypted", true)
	if !inst.ignores("ami") || !inst.ignores("userDataBase64") {
		t.Error("a new AMI or image would replace the monolith and lose its local database")
	}
	mustContain(t, "monolith user data", userData(t, inst), "#cloud-config", "legacy.example.com",
		s.outputs["imageRef"].(string), "LETSENCRYPT_EMAIL='ops@example.com'", "certbot", "nginx")
	if ud := userData(t, inst); strings.Contains(ud, "DB_TLS_CA_FILE") || strings.Contains(ud, "RDS_CA_URL") {
		t.Error("the monolith's database is a local MySQL container: it gets no RDS CA bundle")
	}
	if st := checkBaseGrants(t, s, "bookstore-monolith", "bookstore-monolith"); len(st) != len(noResource)+5 {
		t.Errorf("the monolith's role has grants beyond the base ones: %v", st)
	}
	eip := s.one(t, tEIP, "bookstore-monolith")
	eip.want(t, "instance", inst.ID)
	rec := s.one(t, tRecord, "bookstore-monolith-legacy")
	rec.want(t, "zoneId", lookedUpZone)
	rec.want(t, "name", "legacy.example.com")
	rec.want(t, "type", "A")
	rec.want(t, "records.0", eip.out("publicIp"))
	if s.outputs["legacyUrl"] != "https://legacy.example.com" {
		t.Errorf("legacyUrl %v", s.outputs["legacyUrl"])
	}
	if n := len(s.all(tInstance)); n != 2 {
		t.Errorf("%d instances, want the swarm manager and the monolith", n)
	}
}

// ---- observability ----

func TestObservability(t *testing.T) {
	s := mustRun(t, nil)
	topic := s.one(t, tTopic, "bookstore-alarms")
	if n := len(s.all(tSub)); n != 0 {
		t.Errorf("%d subscriptions without alertEmail", n)
	}
	alb, db := s.one(t, tALB, "bookstore"), s.one(t, tDB, "bookstore")
	want := map[string]struct {
		ns, metric string
		dims       map[string]string
	}{
		"bookstore-alb-5xx":         {"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", map[string]string{"LoadBalancer": alb.out("arnSuffix")}},
		"bookstore-target-5xx":      {"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", map[string]string{"LoadBalancer": alb.out("arnSuffix")}},
		"bookstore-unhealthy-app":   {"AWS/ApplicationELB", "UnHealthyHostCount", map[string]string{"LoadBalancer": alb.out("arnSuffix"), "TargetGroup": s.one(t, tTG, "bookstore-app").out("arnSuffix")}},
		"bookstore-unhealthy-swarm": {"AWS/ApplicationELB", "UnHealthyHostCount", map[string]string{"LoadBalancer": alb.out("arnSuffix"), "TargetGroup": s.one(t, tTG, "bookstore-swarm").out("arnSuffix")}},
		"bookstore-db-cpu":          {"AWS/RDS", "CPUUtilization", map[string]string{"DBInstanceIdentifier": db.out("identifier")}},
		"bookstore-db-storage":      {"AWS/RDS", "FreeStorageSpace", map[string]string{"DBInstanceIdentifier": db.out("identifier")}},
		"bookstore-asg-at-max":      {"AWS/AutoScaling", "GroupDesiredCapacity", map[string]string{"AutoScalingGroupName": s.outputs["asgName"].(string)}},
	}
	if n := len(s.all(tAlarm)); n != len(want) {
		t.Errorf("%d alarms, want %d", n, len(want))
	}
	for name, w := range want {
		a := s.one(t, tAlarm, name)
		a.want(t, "namespace", w.ns)
		a.want(t, "metricName", w.metric)
		a.want(t, "alarmActions.0", topic.out("arn"))
		a.want(t, "okActions.0", topic.out("arn"))
		for k, v := range w.dims {
			a.want(t, "dimensions."+k, v)
		}
	}
	s.one(t, tAlarm, "bookstore-asg-at-max").want(t, "threshold", 3)
	s.one(t, tAlarm, "bookstore-db-storage").want(t, "threshold", 0.1*20*(1<<30))

	s = mustRun(t, map[string]string{"alertEmail": "ops@example.com"})
	sub := s.one(t, tSub, "bookstore-alarms-email")
	sub.want(t, "protocol", "email")
	sub.want(t, "endpoint", "ops@example.com")
	sub.want(t, "topic", s.one(t, tTopic, "bookstore-alarms").out("arn"))
}

// ---- environments ----

// withoutSwarm is every resource of a stack with a domain, no Swarm and no
// monolith, type by type: nothing of the Swarm's is left.
var withoutSwarm = map[string]int{
	tVPC: 1, tSubnet: 4, tIGW: 1, tRT: 3, tRTA: 4, tEIP: 1, tNAT: 1, tSG: 4,
	tDB: 1, tDBSubnets: 1, tDBParams: 1,
	tFS: 1, tMT: 2, tAP: 1, tFSPolicy: 1, tFSBackup: 1,
	tRepo: 1, tLifecycle: 1, tImage: 1,
	tALB: 1, tTG: 1, tListener: 2, tRule: 1, tCert: 1, tCertValid: 1, tRecord: 6,
	tRole: 1, tRolePolicy: 1, tProfile: 1, tLT: 1, tASG: 1, tPolicy: 1, tLogGroup: 1,
	tTopic: 1, tAlarm: 6,
	"bookstore:network:Network": 1, "bookstore:database:Database": 1, "bookstore:storage:Storage": 1,
	"bookstore:image:Image": 1, "bookstore:edge:Edge": 1, "bookstore:fleet:Fleet": 1,
	"bookstore:hostrole:Role": 1, "bookstore:observability:Observability": 1,
}

// swarmAdds is what the Swarm adds to that: the manager with its Elastic IP,
// target group attachment, role and log group, the two SSM parameters, its
// security group, the swarm target group and listener rule, swarm.<domain>
// (A, AAAA and the certificate's validation record) and its unhealthy-host alarm.
var swarmAdds = map[string]int{
	tInstance: 1, tEIP: 1, tTGA: 1, tParam: 2, tSG: 1, tTG: 1, tRule: 1, tRecord: 3,
	tRole: 1, tRolePolicy: 1, tProfile: 1, tLogGroup: 1, tAlarm: 1,
	"bookstore:hostrole:Role": 1, "bookstore:swarm:Swarm": 1,
}

func mergeKeys(a, b map[string]int) map[string]int {
	out := maps.Clone(a)
	for k := range b {
		out[k] += 0
	}
	return out
}

func typeCounts(s *stack) map[string]int {
	c := map[string]int{}
	for _, r := range s.recs {
		c[r.Type]++
	}
	return c
}

// A cheap dev stack and a resilient production one come from one program:
// swarm and dbMultiAz each change what they say and nothing else.
func TestEnvironments(t *testing.T) {
	for _, swarmOn := range []bool{true, false} {
		for _, multiAZ := range []bool{true, false} {
			name := fmt.Sprintf("swarm=%v,dbMultiAz=%v", swarmOn, multiAZ)
			t.Run(name, func(t *testing.T) {
				s := mustRun(t, map[string]string{"domain": "example.com",
					"swarm": fmt.Sprint(swarmOn), "dbMultiAz": fmt.Sprint(multiAZ)})
				want := maps.Clone(withoutSwarm)
				if swarmOn {
					for k, v := range swarmAdds {
						want[k] += v
					}
				}
				got := typeCounts(s)
				for _, k := range slices.Sorted(maps.Keys(mergeKeys(got, want))) {
					if got[k] != want[k] {
						t.Errorf("%s: %d declared, want %d", k, got[k], want[k])
					}
				}
				s.one(t, tDB, "bookstore").want(t, "multiAz", multiAZ)
				if swarmOn {
					return
				}
				for _, r := range s.recs {
					if strings.Contains(r.Name, "swarm") {
						t.Errorf("without a swarm: %s %s", r.Type, r.Name)
					}
				}
				if s.outputs["swarmManagerIp"] != "" || s.outputs["swarmUrl"] != "" {
					t.Errorf("swarmManagerIp %q swarmUrl %q, want empty", s.outputs["swarmManagerIp"], s.outputs["swarmUrl"])
				}
				// The HTTPS listener forwards to the app target group alone.
				app := s.one(t, tTG, "bookstore-app").out("arn")
				if w := weights(t, s.one(t, tListener, "bookstore-https")); !reflect.DeepEqual(w, map[string]float64{app: 100}) {
					t.Errorf(":443 forward weights %v, want the app target group alone", w)
				}
				if got := strs(s.one(t, tCert, "bookstore").in("subjectAlternativeNames")); !reflect.DeepEqual(got, []string{"www.example.com"}) {
					t.Errorf("certificate names %v, want no swarm.example.com", got)
				}
				// The data stores admit the app hosts alone.
				appSG := s.one(t, tSG, "bookstore-app").ID
				for _, g := range []string{"bookstore-db", "bookstore-efs"} {
					if got := strs(s.one(t, tSG, g).in("ingress.0.securityGroups")); !reflect.DeepEqual(got, []string{appSG}) {
						t.Errorf("%s admits %v, want only the app hosts' group", g, got)
					}
				}
				for _, a := range s.all(tAlarm) {
					if tg, ok := a.in("dimensions.TargetGroup").(string); ok && tg != s.one(t, tTG, "bookstore-app").out("arnSuffix") {
						t.Errorf("alarm %s watches target group %s", a.Name, tg)
					}
				}
			})
		}
	}
}

// The stacks shipped next to Pulumi.yaml: dev leaves out the Swarm and the
// standby database, prod keeps both and protects the database.
func TestShippedStacks(t *testing.T) {
	for stackName, want := range map[string]struct{ swarm, multiAZ, protected bool }{
		"dev":  {false, false, false},
		"prod": {true, true, true},
	} {
		t.Run(stackName, func(t *testing.T) {
			cfg := stackConfig(t, stackName)
			s := mustRun(t, cfg)
			if got := len(s.all("bookstore:swarm:Swarm")) == 1; got != want.swarm {
				t.Errorf("swarm declared %v, want %v", got, want.swarm)
			}
			db := s.one(t, tDB, "bookstore")
			db.want(t, "multiAz", want.multiAZ)
			db.want(t, "deletionProtection", want.protected)
		})
	}
}

// stackConfig reads the bookstore: keys of ../Pulumi.<name>.yaml, without
// the namespace; Pulumi hands every value over as a string.
func stackConfig(t *testing.T, name string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "Pulumi."+name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("Pulumi.%s.yaml: %v", name, err)
	}
	out := map[string]string{}
	for k, v := range doc.Config {
		if key, ok := strings.CutPrefix(k, "bookstore:"); ok {
			out[key] = fmt.Sprint(v)
		}
	}
	return out
}

// ---- whole-stack properties ----

// notTaggable are the AWS types with no tags property.
var notTaggable = map[string]bool{
	tRTA: true, tMT: true, tFSPolicy: true, tFSBackup: true, tLifecycle: true, tCertValid: true,
	tRecord: true, tAttach: true, tRolePolicy: true, tPolicy: true, tTGA: true, tSub: true,
}

func everyVariant(t *testing.T) []*stack {
	return []*stack{
		mustRun(t, nil),
		mustRun(t, map[string]string{"domain": "example.com", "createZone": "true", "monolith": "true",
			"swarmWorkers": "2", "alertEmail": "ops@example.com", "azCount": "3", "natGateways": "perAz"}),
		mustRun(t, map[string]string{"domain": "example.com", "swarm": "false", "dbMultiAz": "false"}),
	}
}

func TestEveryTaggableResourceIsTagged(t *testing.T) {
	for _, s := range everyVariant(t) {
		for _, r := range s.recs {
			if !r.Custom || !strings.HasPrefix(r.Type, "aws:") || notTaggable[r.Type] {
				continue
			}
			if r.Type == tASG {
				got := map[string]any{}
				for _, tag := range r.in("tags").([]any) {
					got[fmt.Sprint(get(tag, "key"))] = get(tag, "value")
					if get(tag, "propagateAtLaunch") != true {
						t.Errorf("ASG %s tag %v not propagated", r.Name, tag)
					}
				}
				if got["project"] != "bookstore" || got["stack"] != "dev" {
					t.Errorf("ASG %s tags %v", r.Name, got)
				}
				continue
			}
			if r.in("tags.project") != "bookstore" || r.in("tags.stack") != "dev" {
				t.Errorf("%s %s tags = %v", r.Type, r.Name, r.in("tags"))
			}
		}
	}
}

// Names are generated (a random suffix), so a replacement never collides with
// the resource it replaces and two stacks share an account.
func TestAutoNaming(t *testing.T) {
	named := map[string]string{
		tSG: "name", tDB: "identifier", tDBSubnets: "name", tDBParams: "name", tRepo: "name", tALB: "name",
		tTG: "name", tRole: "name", tProfile: "name", tLT: "name", tASG: "name", tLogGroup: "name",
		tParam: "name", tTopic: "name", tAlarm: "name", tRolePolicy: "name", tPolicy: "name",
	}
	for _, s := range everyVariant(t) {
		for _, r := range s.recs {
			if prop, ok := named[r.Type]; ok {
				if v, set := r.Inputs[prop]; set {
					t.Errorf("%s %s has a fixed %s %v", r.Type, r.Name, prop, v)
				}
				if _, set := r.Inputs[prop+"Prefix"]; set {
					t.Errorf("%s %s has a fixed %sPrefix", r.Type, r.Name, prop)
				}
			}
		}
	}
}

// Each resource belongs to the component of its concern; components sit under
// the stack.
func TestEveryResourceHasAComponentParent(t *testing.T) {
	wantParent := map[string]string{
		tVPC: "bookstore:network:Network", tSubnet: "bookstore:network:Network", tNAT: "bookstore:network:Network",
		tSG: "", tDB: "bookstore:database:Database", tFS: "bookstore:storage:Storage", tRepo: "bookstore:image:Image",
		tImage: "bookstore:image:Image", tALB: "bookstore:edge:Edge", tTG: "bookstore:edge:Edge",
		tListener: "bookstore:edge:Edge", tCert: "bookstore:edge:Edge", tZone: "bookstore:edge:Edge",
		tASG: "", tLT: "", tRole: "bookstore:hostrole:Role", tTopic: "bookstore:observability:Observability",
		tAlarm: "bookstore:observability:Observability", tParam: "bookstore:swarm:Swarm",
	}
	for _, s := range everyVariant(t) {
		for _, r := range s.recs {
			p := s.parentOf(r)
			if !r.Custom {
				if !strings.HasPrefix(r.Type, "bookstore:") {
					t.Errorf("component %s has type %s", r.Name, r.Type)
				}
				if p != nil && p.Type != "bookstore:fleet:Fleet" && p.Type != "bookstore:swarm:Swarm" && p.Type != "bookstore:monolith:Monolith" {
					t.Errorf("component %s %s under %s", r.Type, r.Name, p.Type)
				}
				continue
			}
			if p == nil || !strings.HasPrefix(p.Type, "bookstore:") {
				t.Errorf("%s %s has no component parent", r.Type, r.Name)
				continue
			}
			if w := wantParent[r.Type]; w != "" && p.Type != w {
				t.Errorf("%s %s is under %s, want %s", r.Type, r.Name, p.Type, w)
			}
		}
		// The ALB is declared in the edge and nowhere else.
		for _, r := range s.all(tALB) {
			if s.parentOf(r).Type != "bookstore:edge:Edge" {
				t.Errorf("an ALB outside the edge: %s", r.Name)
			}
		}
	}
}

// Every config error reaches `pulumi up` naming its key, before anything is declared.
func TestRunRejectsBadConfig(t *testing.T) {
	for key, cfg := range map[string]map[string]string{
		"minSize":      {"minSize": "5", "maxSize": "2"},
		"azCount":      {"azCount": "4"},
		"domain":       {"domain": "not a domain"},
		"swarmWeight":  {"swarmWeight": "0", "appWeight": "0"},
		"natGateways":  {"natGateways": "two"},
		"swarmWorkers": {"swarmWorkers": "-1"},
		"swarm":        {"swarm": "no"},
		"dbMultiAz":    {"dbMultiAz": "2"},
	} {
		s, err := runStack(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "bookstore:"+key) {
			t.Errorf("%v: err = %v, want one naming bookstore:%s", cfg, err, key)
		}
		if n := len(s.recs); n != 0 {
			t.Errorf("%v: %d resources declared despite bad config", cfg, n)
		}
	}
}

// The user data the stack renders is valid cloud-config by cloud-init's own
// validator (infra/userdata checks the scripts inside with shellcheck).
func TestRenderedUserDataPassesCloudInitSchema(t *testing.T) {
	ci, err := exec.LookPath("cloud-init")
	if err != nil {
		if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
			t.Fatal("cloud-init not found (apt-get install -y cloud-init); BOOKSTORE_TEST_STRICT=1 makes this a failure")
		}
		t.Skip("cloud-init not found: apt-get install -y cloud-init")
	}
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"})
	docs := map[string]string{
		"fleet":    userData(t, s.one(t, tLT, "bookstore-fleet")),
		"worker":   userData(t, s.one(t, tLT, "bookstore-swarm-worker")),
		"manager":  userData(t, s.one(t, tInstance, "bookstore-swarm-manager")),
		"monolith": userData(t, s.one(t, tInstance, "bookstore-monolith")),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), name+".yaml")
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(ci, "schema", "--config-file", path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
				t.Errorf("cloud-init schema rejected the %s user data: %v\n%s", name, err, out)
			}
		})
	}
}

// `pulumi preview` (as pull-request review runs it) knows no computed value: the
// program must declare the same resources without them.
func TestPreviewDeclaresTheSameResources(t *testing.T) {
	for _, cfg := range []map[string]string{
		{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"},
		{"domain": "example.com", "swarm": "false", "dbMultiAz": "false"}, // a dev stack
	} {
		full := mustRun(t, cfg)
		pre, err := runStack(t, cfg, func(m *mocks) { m.preview = true })
		if err != nil {
			t.Fatalf("%v: preview: %v", cfg, err)
		}
		if got, want := typeCounts(pre), typeCounts(full); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: preview declares %v\nan update declares %v", cfg, got, want)
		}
		if img := pre.one(t, tImage, "bookstore"); img.in("buildOnPreview") != false {
			t.Error("preview would need a Docker daemon: buildOnPreview is not false")
		}
	}
}

// Every host's user data is userdata.Gzip of its document, base64: the
// encoding whose bytes depend on the document alone (infra/userdata's
// TestGzipReference), so a new Go release replaces no host.
func TestUserDataIsTheFixedEncoding(t *testing.T) {
	s := mustRun(t, map[string]string{"domain": "example.com", "monolith": "true", "swarmWorkers": "1"})
	for _, r := range []*rec{s.one(t, tLT, "bookstore-fleet"), s.one(t, tLT, "bookstore-swarm-worker"),
		s.one(t, tInstance, "bookstore-swarm-manager"), s.one(t, tInstance, "bookstore-monolith")} {
		key := "userData"
		if r.Type == tInstance {
			key = "userDataBase64"
		}
		if got, want := r.in(key), base64.StdEncoding.EncodeToString(userdata.Gzip(userData(t, r))); got != want {
			t.Errorf("%s %s: %s is not userdata.Gzip of its document", r.Type, r.Name, key)
		}
	}
}
