package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/service/internal/config"
)

// TestInstanceEnvMatchesService renders the user data of the hosts that run the
// image and checks that the container environment they write uses only the
// service's variables, as docker-compose.yml does: the two compose files (local
// and on the instances) must agree on the names.
func TestInstanceEnvMatchesService(t *testing.T) {
	hosts := renderedHosts()
	literals := serviceStringLiterals(t)
	for host, render := range hosts {
		doc, err := render()
		if err != nil {
			t.Fatalf("%s: render: %v", host, err)
		}
		names := containerEnvNames(t, host, doc)
		t.Logf("%s: app.env sets %v", host, names)
		if !slices.Contains(names, "PORT") || !slices.Contains(names, "SHARED_DIR") {
			t.Errorf("%s: app.env sets %v; want at least PORT and SHARED_DIR", host, names)
		}
		// The hosts that reach RDS verify its certificate; the monolith's
		// database is a local container.
		if rds := host != "monolith"; slices.Contains(names, "DB_TLS_CA_FILE") != rds {
			t.Errorf("%s: app.env sets %v; DB_TLS_CA_FILE wanted: %v", host, names, rds)
		}
		for _, name := range names {
			if !slices.Contains(serviceEnv, name) {
				t.Errorf("%s: the container gets %s, which is not in the service's environment contract %v", host, name, serviceEnv)
			}
			// AWS_REGION is read by the AWS SDK, not by the service's own code.
			if name != "AWS_REGION" && !literals[name] {
				t.Errorf("%s: the container gets %s, but no Go file under service/ mentions %q", host, name, name)
			}
		}
	}
}

// containerEnvNames returns the variable names of the env file the cloud-config
// doc writes for the app container (a write_files entry named app.env).
func containerEnvNames(t *testing.T, host, doc string) []string {
	t.Helper()
	var names []string
	for line := range strings.Lines(writtenFile(t, host, doc, "/app.env")) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: app.env line %q is not KEY=value", host, line)
		}
		names = append(names, name)
	}
	return names
}

// writtenFile returns the content of the write_files entry of the cloud-config
// doc whose path ends in suffix; the test fails when there is none.
func writtenFile(t *testing.T, host, doc, suffix string) string {
	t.Helper()
	var cfg struct {
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatalf("%s: user data is not YAML: %v", host, err)
	}
	for _, f := range cfg.WriteFiles {
		if strings.HasSuffix(f.Path, suffix) {
			return f.Content
		}
	}
	t.Fatalf("%s: the user data writes no %s", host, suffix)
	return ""
}

// renderedHosts renders the user data of every host that runs the image, for a
// test stack.
func renderedHosts() map[string]func() (string, error) {
	const image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	svc := userdata.Service{
		ImageRef: image, Region: "eu-west-1",
		DBHost: "bookstore.abcdefghij.eu-west-1.rds.amazonaws.com", DBPort: 3306, DBName: "bookstore",
		DBSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0f6d4b1d-1234-4c5e-9abc-0123456789ab-AbCdEf",
		AdminEmails: []string{"admin@example.com"}, LogGroup: "/bookstore/dev/app", LogLevel: "info",
	}
	efs := userdata.EFS{FileSystemID: "fs-0123456789abcdef0", AccessPointID: "fsap-0fedcba9876543210"}
	return map[string]func() (string, error){
		"fleet": func() (string, error) { return userdata.RenderFleet(userdata.Fleet{Service: svc, EFS: efs}) },
		"swarm manager": func() (string, error) {
			noImage := svc
			noImage.ImageRef = "" // the manager reads it from ImageParameter
			return userdata.RenderSwarmManager(userdata.SwarmManager{Service: noImage, EFS: efs, ReplicasParameter: "/bookstore/dev/swarm-replicas", VPCCIDR: "10.0.0.0/16",
				JoinTokenParameter: "/bookstore/dev/swarm-join-token", ImageParameter: "/bookstore/dev/swarm-image",
				Repository: strings.Split(image, "@")[0]})
		},
		"monolith": func() (string, error) {
			return userdata.RenderMonolith(userdata.Monolith{ImageRef: image, Region: "eu-west-1", Hostname: "legacy.example.com",
				AdminEmails: []string{"admin@example.com"}, LogGroup: "/bookstore/dev/legacy"})
		},
	}
}

// TestHealthcheckStartCoversTheDatabaseWait: the app answers /healthz only once
// it serves, after waiting up to config.StartupDBWait for the database. A
// compose health check whose start period is shorter marks a container that is
// still waiting unhealthy, and `docker compose up --wait` (the hosts' boot)
// fails on it: a host booting while RDS fails over would die. Every compose
// file that runs the image must give the app at least that long.
func TestHealthcheckStartCoversTheDatabaseWait(t *testing.T) {
	p, err := loadCompose(t, "MYSQL_PASSWORD=x")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{}
	if hc := p.Services["app"].HealthCheck; hc != nil && hc.StartPeriod != nil {
		checks["docker-compose.yml"] = time.Duration(*hc.StartPeriod).String()
	} else {
		checks["docker-compose.yml"] = ""
	}
	for host, render := range renderedHosts() {
		doc, err := render()
		if err != nil {
			t.Fatalf("%s: render: %v", host, err)
		}
		if !strings.Contains(doc, "compose.yaml") {
			continue // the swarm runs a service, not compose
		}
		var compose struct {
			Services map[string]struct {
				Healthcheck struct {
					StartPeriod string `yaml:"start_period"`
				} `yaml:"healthcheck"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(writtenFile(t, host, doc, "/compose.yaml")), &compose); err != nil {
			t.Fatalf("%s: compose.yaml: %v", host, err)
		}
		checks[host] = compose.Services["app"].Healthcheck.StartPeriod
	}
	if len(checks) < 3 {
		t.Fatalf("checked %v; want the root compose file, the fleet's and the monolith's", checks)
	}
	for where, period := range checks {
		d, err := time.ParseDuration(period)
		if err != nil || d < config.StartupDBWait {
			t.Errorf("%s: the app's health check start_period is %q; want at least %s (config.StartupDBWait)", where, period, config.StartupDBWait)
		}
	}
}
