package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The mock answers like AWS would: ids and ARNs in AWS's shapes, the subnet's AZ
// as asked, a launch template at version 3, ACM's validation options derived from
// the certificate's names, an ECR URL and an image digest. Everything registered
// is recorded with its inputs and options for the assertions.

const (
	account      = "123456789012"
	region       = "eu-west-1"
	amiFromSSM   = "ami-0a1b2c3d4e5f67890"
	albZone      = "Z32O12XQLNTSW2" // eu-west-1's ALB canonical hosted zone
	lookedUpZone = "Z0123456789ABCDEFGHIJ"
	createdZone  = "Z09876543210ZYXWVUTSR"
	ltVersion    = 3
)

var (
	mockAZs         = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}
	zoneNameServers = []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"}
)

// rec is one registered resource.
type rec struct {
	Type, Name, URN string
	ID              string // what the program sees as the resource's id
	Custom          bool
	Inputs          map[string]any // secrets unwrapped
	SecretInputs    map[string]bool
	State           resource.PropertyMap
	Req             *pulumirpc.RegisterResourceRequest
}

type mocks struct {
	mu      sync.Mutex
	recs    []*rec
	byURN   map[string]*rec
	invokes []string

	preview          bool     // answer like a preview: no ids, no computed outputs
	previewOnly      string   // with preview: only resources of this type are unknown, the rest known as if from state
	imageSeed        string   // varies the pushed image's digest, as a new build would
	nameSeed         string   // varies generated names and ids, as a new stack would
	sharedValidation bool     // ACM returns one record for apex and www
	zoneName         string   // the zone the getZone invoke finds
	azs              []string // what getAvailabilityZones returns
}

func newMocks() *mocks {
	return &mocks{byURN: map[string]*rec{}, zoneName: "example.com.", azs: mockAZs}
}

// seq numbers a resource by its type and name, not by when it registered:
// the order varies from run to run, and two runs of the program must get the
// same ids and names (TestSwarmUserDataIgnoresTheImage compares them).
func seq(typ, name string) int {
	h := fnv.New32a()
	h.Write([]byte(typ + "::" + name))
	return int(h.Sum32())
}

func hexID(n, width int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(n)))
	return hex.EncodeToString(sum[:])[:width]
}

func (m *mocks) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := seq(a.TypeToken, a.Name)
	if m.nameSeed != "" {
		n = seq(a.TypeToken, a.Name+"#"+m.nameSeed)
	}
	in := a.Inputs
	out := in.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	str := func(k string) string {
		v, ok := in[resource.PropertyKey(k)]
		if !ok {
			return ""
		}
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		if v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	autoName := fmt.Sprintf("%s-%s", a.Name, hexID(n, 7))
	arn := func(svc, res string) string { return fmt.Sprintf("arn:aws:%s:%s:%s:%s", svc, region, account, res) }
	id := fmt.Sprintf("%s-%d", a.Name, n)

	switch a.TypeToken {
	case "aws:ec2/vpc:Vpc":
		id = "vpc-" + hexID(n, 17)
		set("ipv6CidrBlock", "2a05:d018:abc:de00::/56")
		set("arn", arn("ec2", "vpc/"+id))
	case "aws:ec2/subnet:Subnet":
		id = "subnet-" + hexID(n, 17) // availabilityZone comes back as asked (copied inputs)
	case "aws:ec2/internetGateway:InternetGateway":
		id = "igw-" + hexID(n, 17)
	case "aws:ec2/routeTable:RouteTable":
		id = "rtb-" + hexID(n, 17)
	case "aws:ec2/routeTableAssociation:RouteTableAssociation":
		id = "rtbassoc-" + hexID(n, 17)
	case "aws:ec2/eip:Eip":
		id = "eipalloc-" + hexID(n, 17)
		set("publicIp", fmt.Sprintf("203.0.113.%d", n%250+1))
	case "aws:ec2/natGateway:NatGateway":
		id = "nat-" + hexID(n, 17)
	case "aws:ec2/securityGroup:SecurityGroup":
		id = "sg-" + hexID(n, 17)
		set("name", autoName)
	case "aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup":
		id = autoName
		set("name", autoName)
	case "aws:rds/instance:Instance":
		id = "db-" + strings.ToUpper(hexID(n, 26))
		ident := str("identifier") // as given, or generated
		if ident == "" {
			ident = autoName
		}
		set("identifier", ident)
		set("address", ident+".c9akciq32.eu-west-1.rds.amazonaws.com")
		set("endpoint", ident+".c9akciq32.eu-west-1.rds.amazonaws.com:3306")
		set("arn", arn("rds", "db:"+ident))
		set("masterUserSecrets", []any{map[string]any{
			"secretArn":    arn("secretsmanager", "secret:rds!db-3b7c2f9e-1a2b-4c3d-9e8f-0a1b2c3d4e5f-AbCdEf"),
			"secretStatus": "active",
			"kmsKeyId":     arn("kms", "key/0a1b2c3d"),
		}})
	case "aws:efs/fileSystem:FileSystem":
		id = "fs-" + hexID(n, 17)
		set("arn", arn("elasticfilesystem", "file-system/"+id))
	case "aws:efs/accessPoint:AccessPoint":
		id = "fsap-" + hexID(n, 17)
		set("arn", arn("elasticfilesystem", "access-point/"+id))
	case "aws:efs/mountTarget:MountTarget":
		id = "fsmt-" + hexID(n, 17)
	case "aws:ecr/repository:Repository":
		id = autoName
		set("name", autoName)
		set("registryId", account)
		set("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", account, region, autoName))
		set("arn", arn("ecr", "repository/"+autoName))
	case "docker:index/image:Image":
		repo, _, _ := strings.Cut(str("imageName"), ":")
		sum := sha256.Sum256([]byte(fmt.Sprint(n) + m.imageSeed))
		set("repoDigest", repo+"@sha256:"+hex.EncodeToString(sum[:]))
	case "aws:lb/loadBalancer:LoadBalancer":
		name := autoName
		set("name", name)
		set("arn", arn("elasticloadbalancing", "loadbalancer/app/"+name+"/50dc6c495c0c9188"))
		set("arnSuffix", "app/"+name+"/50dc6c495c0c9188")
		set("dnsName", name+"-1234567890.eu-west-1.elb.amazonaws.com")
		set("zoneId", albZone)
	case "aws:lb/targetGroup:TargetGroup":
		set("name", autoName)
		set("arn", arn("elasticloadbalancing", "targetgroup/"+autoName+"/"+hexID(n, 16)))
		set("arnSuffix", "targetgroup/"+autoName+"/"+hexID(n, 16))
		id = arn("elasticloadbalancing", "targetgroup/"+autoName+"/"+hexID(n, 16))
	case "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule":
		id = arn("elasticloadbalancing", "listener/app/"+hexID(n, 16))
		set("arn", id)
	case "aws:acm/certificate:Certificate":
		id = arn("acm", "certificate/"+hexID(n, 8)+"-"+hexID(n+1, 4)+"-"+hexID(n+2, 12))
		set("arn", id)
		set("domainValidationOptions", m.validationOptions(in))
	case "aws:acm/certificateValidation:CertificateValidation":
		set("certificateArn", str("certificateArn"))
	case "aws:route53/record:Record":
		set("fqdn", strings.TrimSuffix(str("name"), "."))
	case "aws:route53/zone:Zone":
		id = createdZone
		set("zoneId", createdZone)
		set("nameServers", anySlice(zoneNameServers))
	case "aws:iam/role:Role":
		set("name", autoName)
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", account, autoName))
		id = autoName
	case "aws:iam/instanceProfile:InstanceProfile":
		set("name", autoName)
		set("arn", fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", account, autoName))
		id = autoName
	case "aws:cloudwatch/logGroup:LogGroup":
		name := str("name") // as given, or generated
		if name == "" {
			name = autoName
		}
		set("name", name)
		set("arn", arn("logs", "log-group:"+name))
		id = name
	case "aws:ec2/launchTemplate:LaunchTemplate":
		id = "lt-" + hexID(n, 17)
		set("latestVersion", ltVersion)
		set("name", autoName)
	case "aws:autoscaling/group:Group":
		set("name", autoName)
		id = autoName
	case "aws:ec2/instance:Instance":
		id = "i-" + hexID(n, 17)
		set("privateIp", "10.0.0.10")
		set("publicIp", "198.51.100.7")
	case "aws:ssm/parameter:Parameter":
		set("name", autoName)
		set("arn", arn("ssm", "parameter/"+autoName))
		id = autoName
	case "aws:sns/topic:Topic":
		set("arn", arn("sns", autoName))
		id = arn("sns", autoName)
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		set("name", autoName)
	}

	if m.preview && a.Custom && (m.previewOnly == "" || m.previewOnly == a.TypeToken) {
		// The engine knows nothing a provider computes until it creates the resource.
		id, out = "", in.Copy()
	}
	r := &rec{Type: a.TypeToken, Name: a.Name, ID: id, Custom: a.Custom, Req: a.RegisterRPC, State: out,
		Inputs: map[string]any{}, SecretInputs: map[string]bool{}}
	for k, v := range in {
		r.Inputs[string(k)] = plain(v)
		if v.ContainsSecrets() {
			r.SecretInputs[string(k)] = true
		}
	}
	if a.RegisterRPC != nil {
		r.URN = mockURN(a.RegisterRPC.GetParent(), a.TypeToken, a.Name)
	}
	m.recs = append(m.recs, r)
	m.byURN[r.URN] = r
	return id, out, nil
}

// validationOptions answers like ACM: one CNAME per name, under that name.
func (m *mocks) validationOptions(in resource.PropertyMap) []any {
	names := []string{in["domainName"].StringValue()}
	if sans, ok := in["subjectAlternativeNames"]; ok {
		for _, v := range sans.ArrayValue() {
			names = append(names, v.StringValue())
		}
	}
	var out []any
	for _, n := range names {
		key := n
		if m.sharedValidation && strings.HasPrefix(n, "www.") {
			key = strings.TrimPrefix(n, "www.") // the record of the apex
		}
		h := sha256.Sum256([]byte(key))
		out = append(out, map[string]any{
			"domainName":          n,
			"resourceRecordName":  fmt.Sprintf("_%s.%s.", hex.EncodeToString(h[:16]), key),
			"resourceRecordType":  "CNAME",
			"resourceRecordValue": fmt.Sprintf("_%s.mhbtsbpdnt.acm-validations.aws.", hex.EncodeToString(h[16:])),
		})
	}
	return out
}

func mockURN(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN("dev", "bookstore", parentType, tokens.Type(typ), name))
}

func (m *mocks) Call(a pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, a.Token)
	m.mu.Unlock()
	arg := func(k string) string {
		if v, ok := a.Args[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	switch a.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		var ids []string
		for i := range m.azs {
			ids = append(ids, fmt.Sprintf("euw1-az%d", i+1))
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"names": anySlice(m.azs), "zoneIds": anySlice(ids), "id": region,
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws",
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": region, "endpoint": "ec2.eu-west-1.amazonaws.com", "description": "Europe (Ireland)", "id": region,
		}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": account, "arn": "arn:aws:iam::" + account + ":user/deployer", "userId": "AIDAEXAMPLE", "id": account,
		}), nil
	case "aws:ssm/getParameter:getParameter":
		if arg("name") != AL2023Parameter {
			return nil, fmt.Errorf("ParameterNotFound: %s", arg("name"))
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": AL2023Parameter, "type": "String", "value": amiFromSSM, "insecureValue": amiFromSSM,
			"arn": "arn:aws:ssm:eu-west-1::parameter" + AL2023Parameter, "version": 97, "id": AL2023Parameter,
		}), nil
	case "aws:route53/getZone:getZone":
		if id := arg("zoneId"); id != "" && id != lookedUpZone {
			return nil, fmt.Errorf("NoSuchHostedZone: %s", id)
		}
		if name := arg("name"); name != "" && strings.TrimSuffix(name, ".") != strings.TrimSuffix(m.zoneName, ".") {
			return nil, fmt.Errorf("no matching Route 53 Hosted Zone found")
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"zoneId": lookedUpZone, "id": lookedUpZone, "name": m.zoneName,
			"nameServers": anySlice(zoneNameServers), "privateZone": false,
			"arn": "arn:aws:route53:::hostedzone/" + lookedUpZone,
		}), nil
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"userName": "AWS", "password": "ecr-token-do-not-log",
			"authorizationToken": "QVdTOmVjci10b2tlbg==", "proxyEndpoint": "https://" + account + ".dkr.ecr.eu-west-1.amazonaws.com",
			"expiresAt": time.Now().Add(12 * time.Hour).UTC().Format(time.RFC3339), "id": account,
		}), nil
	}
	return nil, fmt.Errorf("mock: unexpected invoke %s", a.Token)
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// plain turns a property value into Go values, unwrapping secrets.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsComputed():
		return "<computed>"
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	}
	return fmt.Sprintf("<%v>", v)
}

// stack is one run of the program under the mocks.
type stack struct {
	*mocks
	outputs map[string]any
}

// runStack runs declare with config (keys without namespace) and returns what
// was registered and the resolved outputs.
func runStack(t *testing.T, cfg map[string]string, tweak ...func(*mocks)) (*stack, error) {
	t.Helper()
	m := newMocks()
	for _, f := range tweak {
		f(m)
	}
	s := &stack{mocks: m, outputs: map[string]any{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		return declare(ctx, func(name string, v pulumi.Input) {
			wg.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				mu.Lock()
				s.outputs[name] = x
				mu.Unlock()
				wg.Done()
				return x
			})
		})
	}, pulumi.WithMocks("bookstore", "dev", m), func(info *pulumi.RunInfo) {
		info.DryRun = m.preview
		info.Config = map[string]string{}
		for k, v := range cfg {
			info.Config["bookstore:"+k] = v
		}
	})
	if err != nil || m.preview {
		return s, err // in a preview, most outputs stay unknown: nothing to wait for
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stack outputs did not resolve")
	}
	return s, nil
}

func mustRun(t *testing.T, cfg map[string]string, tweak ...func(*mocks)) *stack {
	t.Helper()
	s, err := runStack(t, cfg, tweak...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return s
}

// all returns the resources of a type, in registration order.
func (s *stack) all(typ string) []*rec {
	var out []*rec
	for _, r := range s.recs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// one returns the resource of a type with a logical name.
func (s *stack) one(t *testing.T, typ, name string) *rec {
	t.Helper()
	for _, r := range s.recs {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	var names []string
	for _, r := range s.all(typ) {
		names = append(names, r.Name)
	}
	t.Fatalf("no %s named %q (have %v)", typ, name, names)
	return nil
}

// out returns a string output of a registered resource.
func (r *rec) out(k string) string {
	v, ok := r.State[resource.PropertyKey(k)]
	if !ok {
		return ""
	}
	p := plain(v)
	s, _ := p.(string)
	return s
}

// parentOf returns a resource's parent, nil for the stack itself.
func (s *stack) parentOf(r *rec) *rec { return s.byURN[r.Req.GetParent()] }

func (r *rec) dependsOn(o *rec) bool {
	for _, d := range r.Req.GetDependencies() {
		if d == o.URN {
			return true
		}
	}
	return false
}

func (r *rec) ignores(prop string) bool {
	for _, p := range r.Req.GetIgnoreChanges() {
		if p == prop {
			return true
		}
	}
	return false
}

// get walks a dotted path ("metadataOptions.httpTokens", "ingress.0.fromPort").
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func (r *rec) in(path string) any { return get(r.Inputs, path) }

// want asserts an input path equals a value (numbers compare as float64).
func (r *rec) want(t *testing.T, path string, want any) {
	t.Helper()
	got := r.in(path)
	switch w := want.(type) {
	case int:
		want = float64(w)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s %s: %s = %v, want %v", r.Type, r.Name, path, got, want)
	}
}
