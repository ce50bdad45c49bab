package userdata

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A case breaks one parameter and names the field the error must report.
type badCase struct {
	field  string
	mutate func()
}

func expectFieldError(t *testing.T, name string, want string, render func() (string, error)) {
	t.Helper()
	out, err := render()
	if err == nil {
		t.Errorf("%s: rendered %d bytes, want an error naming %s", name, len(out), want)
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%s: error %q is not a *FieldError", name, err)
		return
	}
	if fe.Field != want {
		t.Errorf("%s: error names %q, want %q (%v)", name, fe.Field, want, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: message %q does not name %s", name, err, want)
	}
	if out != "" {
		t.Errorf("%s: a document came back with the error", name)
	}
}

// serviceCases break each Service field of *s; prefix is its path.
func serviceCases(s *Service, prefix string) []badCase {
	f := func(name string) string { return prefix + "." + name }
	return []badCase{
		{f("ImageRef"), func() { s.ImageRef = "" }},
		{f("ImageRef"), func() { s.ImageRef = testRegistry + "/bookstore:latest" }},
		{f("ImageRef"), func() { s.ImageRef = testRegistry + "/bookstore:v1@" + testDigest[:20] }},
		{f("ImageRef"), func() { s.ImageRef = testRegistry + "/bookstore@sha256:" + strings.ToUpper(testDigest[7:]) }},
		{f("ImageRef"), func() { s.ImageRef = "bookstore@" + testDigest }},
		{f("ImageRef"), func() { s.ImageRef = "registry.example.com/library/bookstore@" + testDigest }},
		{f("ImageRef"), func() { s.ImageRef = testRegistry + "/Bookstore@" + testDigest }},
		{f("Region"), func() { s.Region = "" }},
		{f("Region"), func() { s.Region = "EU-WEST-1" }},
		{f("Region"), func() { s.Region = "euwest1" }},
		{f("DBHost"), func() { s.DBHost = "" }},
		{f("DBHost"), func() { s.DBHost = "localhost" }},
		{f("DBHost"), func() { s.DBHost = "db-.example.com" }},
		{f("DBHost"), func() { s.DBHost = "10.0.0.5" }},
		{f("DBHost"), func() { s.DBHost = strings.Repeat("a", 64) + ".example.com" }},
		{f("DBHost"), func() { s.DBHost = "db.example.com:3306" }},
		{f("DBPort"), func() { s.DBPort = 0 }},
		{f("DBPort"), func() { s.DBPort = 65536 }},
		{f("DBName"), func() { s.DBName = "" }},
		{f("DBName"), func() { s.DBName = "1books" }},
		{f("DBName"), func() { s.DBName = "book-store" }},
		{f("DBName"), func() { s.DBName = strings.Repeat("b", 65) }},
		{f("DBSecretARN"), func() { s.DBSecretARN = "" }},
		{f("DBSecretARN"), func() { s.DBSecretARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/x" }},
		{f("DBSecretARN"), func() { s.DBSecretARN = "rds!db-123" }},
		{f("AdminEmails[1]"), func() { s.AdminEmails = []string{"a@example.com", "not-an-address"} }},
		{f("AdminEmails[0]"), func() { s.AdminEmails = []string{"a@localhost"} }},
		{f("AdminEmails[0]"), func() { s.AdminEmails = []string{".a@example.com"} }},
		{f("AdminEmails[0]"), func() { s.AdminEmails = []string{"a,b@example.com"} }},
		{f("AdminEmails[0]"), func() { s.AdminEmails = []string{""} }},
		{f("LogGroup"), func() { s.LogGroup = "" }},
		{f("LogGroup"), func() { s.LogGroup = "bookstore:app" }},
		{f("LogGroup"), func() { s.LogGroup = strings.Repeat("g", 513) }},
		{f("LogLevel"), func() { s.LogLevel = "verbose" }},
		{f("LogLevel"), func() { s.LogLevel = "INFO" }},
	}
}

func efsCases(e *EFS) []badCase {
	return []badCase{
		{"EFS.FileSystemID", func() { e.FileSystemID = "" }},
		{"EFS.FileSystemID", func() { e.FileSystemID = "fs-123" }},
		{"EFS.FileSystemID", func() { e.FileSystemID = "fsap-0123456789abcdef0" }},
		{"EFS.AccessPointID", func() { e.AccessPointID = "" }},
		{"EFS.AccessPointID", func() { e.AccessPointID = "fs-0123456789abcdef0" }},
	}
}

func ssmCases(field string, v *string) []badCase {
	return []badCase{
		{field, func() { *v = "" }},
		{field, func() { *v = "/bookstore//token" }},
		{field, func() { *v = "/aws/bookstore/token" }},
		{field, func() { *v = "ssm-token" }},
		{field, func() { *v = "/" + strings.Repeat("p", 1011) }},
	}
}

// repositoryCases: the ECR repository URL, without tag or digest.
func repositoryCases(v *string) []badCase {
	return []badCase{
		{"Repository", func() { *v = "" }},
		{"Repository", func() { *v = testImage }},
		{"Repository", func() { *v = testRepo + ":latest" }},
		{"Repository", func() { *v = "registry.example.com/library/bookstore" }},
		{"Repository", func() { *v = testRegistry }},
		{"Repository", func() { *v = testRegistry + "/Bookstore" }},
	}
}

func TestRenderFleetRejects(t *testing.T) {
	var p Fleet
	cases := append(serviceCases(&p.Service, "Service"), efsCases(&p.EFS)...)
	for i, c := range cases {
		p = validFleet()
		c.mutate()
		expectFieldError(t, fmt.Sprintf("%s case %d", c.field, i), c.field, func() (string, error) { return RenderFleet(p) })
	}
}

func TestRenderSwarmManagerRejects(t *testing.T) {
	var p SwarmManager
	var cases []badCase
	for _, c := range serviceCases(&p.Service, "Service") {
		if c.field != "Service.ImageRef" { // the manager takes none: see below
			cases = append(cases, c)
		}
	}
	cases = append(cases, efsCases(&p.EFS)...)
	cases = append(cases, ssmCases("JoinTokenParameter", &p.JoinTokenParameter)...)
	cases = append(cases, ssmCases("ImageParameter", &p.ImageParameter)...)
	cases = append(cases, repositoryCases(&p.Repository)...)
	cases = append(cases,
		// An image in the manager's user data would replace it on every deploy.
		badCase{"Service.ImageRef", func() { p.Service.ImageRef = testImage }},
		badCase{"Replicas", func() { p.Replicas = 0 }},
		badCase{"Replicas", func() { p.Replicas = -1 }},
		badCase{"Replicas", func() { p.Replicas = MaxReplicas + 1 }},
	)
	for i, c := range cases {
		p = validManager()
		c.mutate()
		expectFieldError(t, fmt.Sprintf("%s case %d", c.field, i), c.field, func() (string, error) { return RenderSwarmManager(p) })
	}
}

func TestRenderSwarmWorkerRejects(t *testing.T) {
	var p SwarmWorker
	cases := append(efsCases(&p.EFS), ssmCases("JoinTokenParameter", &p.JoinTokenParameter)...)
	cases = append(cases, ssmCases("ImageParameter", &p.ImageParameter)...)
	cases = append(cases, repositoryCases(&p.Repository)...)
	cases = append(cases,
		badCase{"Region", func() { p.Region = "mars-1" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "manager.internal" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "fd00::1" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "0.0.0.0" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "127.0.0.1" }},
		badCase{"ManagerAddress", func() { p.ManagerAddress = "10.0.0.300" }},
	)
	for i, c := range cases {
		p = validWorker()
		c.mutate()
		expectFieldError(t, fmt.Sprintf("%s case %d", c.field, i), c.field, func() (string, error) { return RenderSwarmWorker(p) })
	}
}

func TestRenderMonolithRejects(t *testing.T) {
	var p Monolith
	cases := []badCase{
		{"ImageRef", func() { p.ImageRef = "bookstore:latest" }},
		{"Region", func() { p.Region = "" }},
		{"Hostname", func() { p.Hostname = "" }},
		{"Hostname", func() { p.Hostname = "legacy" }},
		{"Hostname", func() { p.Hostname = "legacy_site.example.com" }},
		{"Hostname", func() { p.Hostname = "*.example.com" }},
		{"Hostname", func() { p.Hostname = "legacy.example.com." }},
		{"Hostname", func() { p.Hostname = "203.0.113.10" }},
		{"Hostname", func() { p.Hostname = strings.Repeat("abcdefghi.", 26) + "com" }},
		{"AdminEmails[0]", func() { p.AdminEmails = []string{"root"} }},
		{"LetsEncryptEmail", func() { p.LetsEncryptEmail = "certs at example.com" }},
		{"LogGroup", func() { p.LogGroup = "" }},
		{"LogLevel", func() { p.LogLevel = "trace" }},
		{"MySQLImage", func() { p.MySQLImage = "MySQL:8.4" }},
		{"MySQLImage", func() { p.MySQLImage = "mysql:8.4 --privileged" }},
		{"MySQLImage", func() { p.MySQLImage = "mysql@sha256:abc" }},
	}
	for i, c := range cases {
		p = validMonolith()
		c.mutate()
		expectFieldError(t, fmt.Sprintf("%s case %d", c.field, i), c.field, func() (string, error) { return RenderMonolith(p) })
	}
}

// hostile values try to break out of each context a parameter lands in:
// YAML (quotes, newline, document markers), shell ($(), backquotes, ';'),
// compose (${VAR}), env files (newline, '#'), systemd and nginx (';', '{').
var hostile = []string{
	`x'; reboot; echo '`,
	`x"; reboot; echo "`,
	"$(reboot)",
	"`reboot`",
	"${HOME}",
	"x\nruncmd: [[reboot]]",
	"x\r\n- path: /etc/sudoers",
	"x #comment",
	"x\\",
	"x y",
	"x;reboot",
	"x{}",
	"x\x00y",
	"--- !!python/object/apply:os.system ['reboot']",
}

// Every string parameter of every renderer refuses every hostile value, with
// the parameter's name in the error.
func TestHostileValuesAreRejected(t *testing.T) {
	type field struct {
		name   string
		set    func(string)
		render func() (string, error)
	}
	var f Fleet
	var m SwarmManager
	var w SwarmWorker
	var mono Monolith
	reset := func() { f, m, w, mono = validFleet(), validManager(), validWorker(), validMonolith() }
	fleet := func() (string, error) { return RenderFleet(f) }
	mgr := func() (string, error) { return RenderSwarmManager(m) }
	wrk := func() (string, error) { return RenderSwarmWorker(w) }
	mon := func() (string, error) { return RenderMonolith(mono) }
	fields := []field{
		{"Service.ImageRef", func(v string) { f.Service.ImageRef = testRegistry + "/bookstore@" + testDigest + v }, fleet},
		{"Service.ImageRef", func(v string) { f.Service.ImageRef = testRegistry + "/book" + v + "@" + testDigest }, fleet},
		{"Service.Region", func(v string) { f.Service.Region = "eu-west-1" + v }, fleet},
		{"Service.DBHost", func(v string) { f.Service.DBHost = "db.example.com" + v }, fleet},
		{"Service.DBName", func(v string) { f.Service.DBName = "bookstore" + v }, fleet},
		{"Service.DBSecretARN", func(v string) { f.Service.DBSecretARN = testSecret + v }, fleet},
		{"Service.AdminEmails[0]", func(v string) { f.Service.AdminEmails = []string{"a" + v + "@example.com"} }, fleet},
		{"Service.AdminEmails[0]", func(v string) { f.Service.AdminEmails = []string{"a@example.com" + v} }, fleet},
		{"Service.LogGroup", func(v string) { f.Service.LogGroup = "/bookstore" + v }, fleet},
		{"Service.LogLevel", func(v string) { f.Service.LogLevel = "info" + v }, fleet},
		{"EFS.FileSystemID", func(v string) { f.EFS.FileSystemID = "fs-0123456789abcdef0" + v }, fleet},
		{"EFS.AccessPointID", func(v string) { f.EFS.AccessPointID = "fsap-0123456789abcdef0" + v }, fleet},
		{"Service.LogGroup", func(v string) { m.Service.LogGroup = v }, mgr},
		{"JoinTokenParameter", func(v string) { m.JoinTokenParameter = testParam + v }, mgr},
		{"ImageParameter", func(v string) { m.ImageParameter = testImageParam + v }, mgr},
		{"Repository", func(v string) { m.Repository = testRepo + v }, mgr},
		{"Region", func(v string) { w.Region = v + "eu-west-1" }, wrk},
		{"ImageParameter", func(v string) { w.ImageParameter = v + testImageParam }, wrk},
		{"Repository", func(v string) { w.Repository = v + testRepo }, wrk},
		{"ManagerAddress", func(v string) { w.ManagerAddress = "10.0.0.17" + v }, wrk},
		{"JoinTokenParameter", func(v string) { w.JoinTokenParameter = v }, wrk},
		{"EFS.FileSystemID", func(v string) { w.EFS.FileSystemID = v }, wrk},
		{"ImageRef", func(v string) { mono.ImageRef = testImage + v }, mon},
		{"Region", func(v string) { mono.Region = "eu-west-1" + v }, mon},
		{"Hostname", func(v string) { mono.Hostname = "legacy.example.com" + v }, mon},
		{"AdminEmails[0]", func(v string) { mono.AdminEmails = []string{v} }, mon},
		{"LetsEncryptEmail", func(v string) { mono.LetsEncryptEmail = "certs@example.com" + v }, mon},
		{"LogGroup", func(v string) { mono.LogGroup = "/legacy" + v }, mon},
		{"LogLevel", func(v string) { mono.LogLevel = v }, mon},
		{"MySQLImage", func(v string) { mono.MySQLImage = "mysql:8.4" + v }, mon},
	}
	for _, fd := range fields {
		for _, v := range hostile {
			reset()
			fd.set(v)
			expectFieldError(t, fd.name+"="+v, fd.name, fd.render)
		}
	}
}

func TestFieldErrorMessage(t *testing.T) {
	f := validFleet()
	f.Service.Region = "nowhere"
	_, err := RenderFleet(f)
	const want = `userdata: Service.Region: "nowhere" is not an AWS region name like eu-west-1`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	f = validFleet()
	f.Service.DBHost = strings.Repeat("x", 500)
	_, err = RenderFleet(f)
	if err == nil || len(err.Error()) > 250 {
		t.Errorf("a long bad value should be clipped in the message: %v", err)
	}
}
