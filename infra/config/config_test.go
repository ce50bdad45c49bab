package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bookstore-aws/bookstore/internal/doctable"
)

func parse(t *testing.T, set map[string]string) (Config, error) {
	t.Helper()
	return Parse("bookstore", "dev", func(k string) (string, bool) {
		v, ok := set[k]
		return v, ok
	})
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Project: "bookstore", Stack: "dev",
		AZCount: 2, NATGateways: NATSingle, InstanceType: "t3.micro",
		MinSize: 1, MaxSize: 3, CPUTarget: 60,
		DBInstanceClass: "db.t3.micro", DBAllocatedStorage: 20, DBMultiAZ: true,
		Swarm: true, SwarmReplicas: 5, SwarmWorkers: 0, SwarmWeight: 0, AppWeight: 100,
		AdminEmails: []string{},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if got := c.Tags(); !reflect.DeepEqual(got, map[string]string{"project": "bookstore", "stack": "dev"}) {
		t.Errorf("Tags() = %v", got)
	}
}

func TestFullConfig(t *testing.T) {
	c, err := parse(t, map[string]string{
		"domain": "Shop.Example.COM.", "createZone": "true", "azCount": "3", "natGateways": "perAz",
		"instanceType": "m7i-flex.large", "amiId": "ami-0123456789abcdef0", "minSize": "2", "maxSize": "6",
		"cpuTarget": "45", "dbInstanceClass": "db.t4g.small", "dbAllocatedStorage": "100",
		"deletionProtection": "true", "skipFinalSnapshot": "true", "dbMultiAz": "false", "swarmReplicas": "3", "swarmWorkers": "2",
		"swarmWeight": "10", "appWeight": "90", "monolith": "true", "alertEmail": "ops@example.com",
		"adminEmails": "a@example.com, b@example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "shop.example.com" {
		t.Errorf("domain not normalized: %q", c.Domain)
	}
	if !c.CreateZone || c.AZCount != 3 || c.NATGateways != NATPerAZ || c.MinSize != 2 || c.MaxSize != 6 ||
		c.CPUTarget != 45 || c.DBAllocatedStorage != 100 || c.DBMultiAZ || !c.Swarm || !c.DeletionProtection || !c.SkipFinalSnapshot ||
		c.SwarmReplicas != 3 || c.SwarmWorkers != 2 || c.SwarmWeight != 10 || c.AppWeight != 90 || !c.Monolith ||
		c.AMIID != "ami-0123456789abcdef0" || c.InstanceType != "m7i-flex.large" || c.DBInstanceClass != "db.t4g.small" {
		t.Errorf("parsed %+v", c)
	}
	if !reflect.DeepEqual(c.AdminEmails, []string{"a@example.com", "b@example.org"}) {
		t.Errorf("adminEmails = %q", c.AdminEmails)
	}
}

// One case per kind of bad value; each must fail naming its key.
func TestBadConfig(t *testing.T) {
	cases := []struct {
		name   string
		set    map[string]string
		key    string // the key the error must name
		reason string // a fragment of the reason
	}{
		{"minSize > maxSize", map[string]string{"minSize": "4", "maxSize": "3"}, "minSize", "greater than bookstore:maxSize (3)"},
		{"azCount 1", map[string]string{"azCount": "1"}, "azCount", "outside 2 to 3"},
		{"azCount 4", map[string]string{"azCount": "4"}, "azCount", "outside 2 to 3"},
		{"azCount not a number", map[string]string{"azCount": "two"}, "azCount", "not an integer"},
		{"domain with scheme", map[string]string{"domain": "https://example.com"}, "domain", "bare domain"},
		{"domain one label", map[string]string{"domain": "localhost"}, "domain", "two labels"},
		{"domain bad label", map[string]string{"domain": "exa_mple.com"}, "domain", "invalid label"},
		{"domain leading hyphen", map[string]string{"domain": "-shop.example.com"}, "domain", "invalid label"},
		{"domain empty label", map[string]string{"domain": "shop..com"}, "domain", "invalid label"},
		{"domain label too long", map[string]string{"domain": strings.Repeat("a", 64) + ".com"}, "domain", "invalid label"},
		{"domain too long", map[string]string{"domain": strings.Repeat(strings.Repeat("a", 60)+".", 4) + "com"}, "domain", "too long"},
		{"domain is an IP", map[string]string{"domain": "192.0.2.1"}, "domain", "numeric"},
		{"both weights 0", map[string]string{"swarmWeight": "0", "appWeight": "0"}, "swarmWeight", "both 0"},
		{"weight over ALB max", map[string]string{"swarmWeight": "1000"}, "swarmWeight", "outside 0 to 999"},
		{"unknown natGateways", map[string]string{"natGateways": "perAZ"}, "natGateways", "not one of single, perAz"},
		{"negative minSize", map[string]string{"minSize": "-1"}, "minSize", "negative"},
		{"negative maxSize", map[string]string{"maxSize": "-2"}, "maxSize", "negative"},
		{"negative swarmWorkers", map[string]string{"swarmWorkers": "-1"}, "swarmWorkers", "negative"},
		{"negative swarmReplicas", map[string]string{"swarmReplicas": "-5"}, "swarmReplicas", "negative"},
		{"zero swarmReplicas", map[string]string{"swarmReplicas": "0"}, "swarmReplicas", "outside 1 to 100"},
		{"negative swarmWeight", map[string]string{"swarmWeight": "-1"}, "swarmWeight", "negative"},
		{"maxSize 0", map[string]string{"maxSize": "0", "minSize": "0"}, "maxSize", "outside 1 to 100"},
		{"cpuTarget over 100", map[string]string{"cpuTarget": "150"}, "cpuTarget", "outside 1 to 100"},
		{"dbAllocatedStorage below RDS minimum", map[string]string{"dbAllocatedStorage": "10"}, "dbAllocatedStorage", "outside 20 to 65536"},
		{"bad boolean", map[string]string{"createZone": "yes"}, "createZone", "not a boolean"},
		{"bad instanceType", map[string]string{"instanceType": "t3micro"}, "instanceType", "not an EC2 instance type"},
		{"Graviton instanceType", map[string]string{"instanceType": "t4g.micro"}, "instanceType", "Graviton"},
		{"bad amiId", map[string]string{"amiId": "ami-123"}, "amiId", "not an AMI id"},
		{"bad dbInstanceClass", map[string]string{"dbInstanceClass": "t3.micro"}, "dbInstanceClass", "not an RDS instance class"},
		{"bad hostedZoneId", map[string]string{"domain": "example.com", "hostedZoneId": "z123"}, "hostedZoneId", "not a Route 53 hosted zone id"},
		{"hostedZoneId without domain", map[string]string{"hostedZoneId": "Z0123456789ABC"}, "hostedZoneId", "domain is empty"},
		{"createZone without domain", map[string]string{"createZone": "true"}, "createZone", "domain is empty"},
		{"createZone with hostedZoneId", map[string]string{"domain": "example.com", "createZone": "true", "hostedZoneId": "Z0123456789ABC"}, "createZone", "both set"},
		{"monolith without domain", map[string]string{"monolith": "true"}, "monolith", "needs bookstore:domain"},
		{"bad swarm", map[string]string{"swarm": "off"}, "swarm", "not a boolean"},
		{"bad dbMultiAz", map[string]string{"dbMultiAz": "single"}, "dbMultiAz", "not a boolean"},
		{"swarmWorkers without swarm", map[string]string{"swarm": "false", "swarmWorkers": "2"}, "swarmWorkers", "bookstore:swarm is false"},
		{"swarmWeight without swarm", map[string]string{"swarm": "false", "swarmWeight": "10"}, "swarmWeight", "no swarm target group"},
		{"no swarm, appWeight 0", map[string]string{"swarm": "false", "appWeight": "0"}, "swarmWeight", "both 0"},
		{"bad alertEmail", map[string]string{"alertEmail": "Ops <ops@example.com>"}, "alertEmail", "bare e-mail"},
		{"bad adminEmails", map[string]string{"adminEmails": "a@example.com,not-an-email"}, "adminEmails", `"not-an-email"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.set)
			if err == nil {
				t.Fatal("accepted")
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %v is not a *KeyError", err)
			}
			if ke.Key != tc.key {
				t.Errorf("error names key %q, want %q (%v)", ke.Key, tc.key, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "bookstore:"+tc.key) || !strings.Contains(msg, tc.reason) {
				t.Errorf("error %q should name bookstore:%s and say %q", msg, tc.key, tc.reason)
			}
		})
	}
}

// A dev stack: no Swarm, a single-AZ database.
func TestDevStackConfig(t *testing.T) {
	c, err := parse(t, map[string]string{"swarm": "false", "dbMultiAz": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Swarm || c.DBMultiAZ {
		t.Errorf("parsed %+v", c)
	}
}

// All bad keys are reported at once, not only the first.
func TestBadConfigReportsEveryKey(t *testing.T) {
	_, err := parse(t, map[string]string{"azCount": "9", "natGateways": "none", "minSize": "-1"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, k := range []string{"bookstore:azCount", "bookstore:natGateways", "bookstore:minSize"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("%q missing from %q", k, err)
		}
	}
}

// Pulumi.yaml declares exactly Keys, each with the code's type, description and default.
func TestPulumiYAMLMatchesCode(t *testing.T) {
	raw, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Name    string `yaml:"name"`
		Runtime string `yaml:"runtime"`
		Main    string `yaml:"main"`
		Config  map[string]struct {
			Type        string    `yaml:"type"`
			Description string    `yaml:"description"`
			Default     yaml.Node `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	if project.Name != Namespace || project.Runtime != "go" || project.Main != "infra/" {
		t.Errorf("Pulumi.yaml: name %q runtime %q main %q", project.Name, project.Runtime, project.Main)
	}
	declared := map[string]bool{}
	for _, k := range Keys {
		declared[k.Name] = true
		y, ok := project.Config[k.Name]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", k.Name)
			continue
		}
		if y.Type != k.Type {
			t.Errorf("%s: Pulumi.yaml type %q, code %q", k.Name, y.Type, k.Type)
		}
		// One description: docs/configuration.md's table is rendered from Keys.
		if k.Description == "" {
			t.Errorf("%s: no description in Keys", k.Name)
		}
		if y.Description != k.Description {
			t.Errorf("%s: Pulumi.yaml description differs from Keys':\n yaml: %s\n code: %s", k.Name, y.Description, k.Description)
		}
		if y.Default.Kind != yaml.ScalarNode {
			t.Errorf("%s: Pulumi.yaml declares no default", k.Name)
		} else if y.Default.Value != k.Default {
			t.Errorf("%s: Pulumi.yaml default %q, code %q", k.Name, y.Default.Value, k.Default)
		}
	}
	for name := range project.Config {
		if !declared[name] {
			t.Errorf("Pulumi.yaml declares %s, which the code does not read", name)
		}
	}
	// The defaults as Pulumi hands them over parse to the same Config as no config at all.
	fromYAML, err := Parse("bookstore", "dev", func(k string) (string, bool) {
		y, ok := project.Config[k]
		return y.Default.Value, ok
	})
	if err != nil {
		t.Fatalf("Pulumi.yaml defaults do not parse: %v", err)
	}
	fromCode, _ := Parse("bookstore", "dev", func(string) (string, bool) { return "", false })
	if !reflect.DeepEqual(fromYAML, fromCode) {
		t.Errorf("Pulumi.yaml defaults give %+v, code defaults %+v", fromYAML, fromCode)
	}
}

// Every declared key is read by Parse (and Parse panics on an undeclared one).
func TestEveryKeyIsRead(t *testing.T) {
	read := map[string]bool{}
	_, err := Parse("p", "s", func(k string) (string, bool) { read[k] = true; return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !read[k.Name] {
			t.Errorf("key %s is declared but never read", k.Name)
		}
	}
}

// docs/configuration.md's configuration table is DocTable: every key of Keys.
func TestConfigTableIsCurrent(t *testing.T) {
	if err := doctable.Check(DocPage, DocTableName, DocTable()); err != nil {
		t.Error(err)
	}
}
