package userdata

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	testDigest     = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testRegistry   = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	testImage      = testRegistry + "/bookstore-image-1a2b3c@" + testDigest
	testSecret     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0f6d4b1d-1234-4c5e-9abc-0123456789ab-AbCdEf"
	testParam      = "/bookstore/dev/swarm-join-token"
	testImageParam = "bookstore-swarm-image-4d5e6f7"
	testRepo       = testRegistry + "/bookstore-image-1a2b3c"
)

func validService() Service {
	return Service{
		ImageRef:    testImage,
		Region:      "eu-west-1",
		DBHost:      "bookstore-db.c9akciq32.eu-west-1.rds.amazonaws.com",
		DBPort:      3306,
		DBName:      "bookstore",
		DBSecretARN: testSecret,
		AdminEmails: []string{"admin@example.com", "ops+books@example.org"},
		LogGroup:    "/bookstore/dev/app",
		LogLevel:    "warn",
	}
}

func validEFS() EFS {
	return EFS{FileSystemID: "fs-0123456789abcdef0", AccessPointID: "fsap-0fedcba9876543210"}
}

func validFleet() Fleet { return Fleet{Service: validService(), EFS: validEFS()} }

// managerService is validService without the image, which the manager reads
// from its parameter.
func managerService() Service {
	s := validService()
	s.ImageRef = ""
	return s
}

func validManager() SwarmManager {
	return SwarmManager{Service: managerService(), EFS: validEFS(), Replicas: 5, JoinTokenParameter: testParam,
		ImageParameter: testImageParam, Repository: testRepo}
}

func validWorker() SwarmWorker {
	return SwarmWorker{Region: "eu-west-1", ImageParameter: testImageParam, Repository: testRepo, EFS: validEFS(),
		ManagerAddress: "10.0.0.17", JoinTokenParameter: testParam}
}

func validMonolith() Monolith {
	return Monolith{
		ImageRef:         testImage,
		Region:           "eu-west-1",
		Hostname:         "legacy.example.com",
		AdminEmails:      []string{"admin@example.com"},
		LetsEncryptEmail: "certs@example.com",
		LogGroup:         "/bookstore/dev/legacy",
	}
}

// renderers lets every tool test run over the four documents.
var renderers = []struct {
	name   string
	render func() (string, error)
}{
	{"fleet", func() (string, error) { return RenderFleet(validFleet()) }},
	{"swarm-manager", func() (string, error) { return RenderSwarmManager(validManager()) }},
	{"swarm-worker", func() (string, error) { return RenderSwarmWorker(validWorker()) }},
	{"monolith", func() (string, error) { return RenderMonolith(validMonolith()) }},
}

type writeFile struct {
	Path        string `yaml:"path"`
	Owner       string `yaml:"owner"`
	Permissions string `yaml:"permissions"`
	Content     string `yaml:"content"`
}

type parsed struct {
	raw      string
	Packages []string    `yaml:"packages"`
	Files    []writeFile `yaml:"write_files"`
	Runcmd   []any       `yaml:"runcmd"`
}

func mustRender(t *testing.T, render func() (string, error)) parsed {
	t.Helper()
	out, err := render()
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if !strings.HasPrefix(out, "#cloud-config\n") {
		t.Fatalf("document does not start with #cloud-config:\n%.200s", out)
	}
	if n := len(Gzip(out)); n > MaxBytes {
		t.Fatalf("document is %d bytes gzip-compressed, over %d", n, MaxBytes)
	}
	p := parsed{raw: out}
	if err := yaml.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("rendered document is not YAML: %v", err)
	}
	return p
}

func (p parsed) file(t *testing.T, path string) writeFile {
	t.Helper()
	for _, f := range p.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no write_files entry %s (have %v)", path, p.paths())
	return writeFile{}
}

func (p parsed) has(path string) bool { return slices.Contains(p.paths(), path) }

func (p parsed) paths() []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Path)
	}
	return out
}

// envMap reads docker's env-file format: KEY=value lines, # comments.
func envMap(t *testing.T, content string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(content, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env line %q has no '='", line)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("env key %s set twice", k)
		}
		m[k] = v
	}
	return m
}

// sourceBootEnv lets bash itself read boot.env, so the test sees exactly what
// the boot scripts will see.
func sourceBootEnv(t *testing.T, content string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "boot.env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// set -a exports what boot.env assigns; env -i leaves little else.
	cmd := exec.Command("env", "-i", "bash", "--norc", "--noprofile", "-c", `set -eua; . "$1"; set +a; unset PWD SHLVL OLDPWD _; env -0`, "_", path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash could not source boot.env: %v\n%s", err, content)
	}
	m := map[string]string{}
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		k, v, _ := strings.Cut(rec, "=")
		m[k] = v
	}
	return m
}

// requiredBootVars lists the ${VAR:?} checks at the top of a boot script:
// the parameters it cannot run without.
func requiredBootVars(script string) []string {
	var vars []string
	for _, m := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*):\?\}`).FindAllStringSubmatch(script, -1) {
		vars = append(vars, m[1])
	}
	return vars
}

// checkBootWiring proves the document is self-contained: runcmd runs a
// written, executable boot script without a shell; every helper it sources
// is written too; boot.env defines every parameter the script requires.
func checkBootWiring(t *testing.T, p parsed, boot string) map[string]string {
	t.Helper()
	want := []any{[]any{boot}}
	if !reflect.DeepEqual(p.Runcmd, want) {
		t.Fatalf("runcmd = %#v, want %#v", p.Runcmd, want)
	}
	script := p.file(t, boot)
	if script.Permissions != "0755" || script.Owner != "root:root" {
		t.Errorf("%s: permissions %s owner %s, want 0755 root:root", boot, script.Permissions, script.Owner)
	}
	if !strings.HasPrefix(script.Content, "#!/bin/bash\nset -Eeuo pipefail") && !strings.Contains(script.Content, "\nset -Eeuo pipefail\n") {
		t.Errorf("%s does not run with set -Eeuo pipefail", boot)
	}
	for _, m := range regexp.MustCompile(`(?m)^\. (/\S+)$`).FindAllStringSubmatch(script.Content, -1) {
		if !p.has(m[1]) {
			t.Errorf("%s sources %s, which the document does not write", boot, m[1])
		}
	}
	env := p.file(t, "/opt/bookstore/boot.env")
	if env.Permissions != "0600" {
		t.Errorf("boot.env permissions %s, want 0600", env.Permissions)
	}
	vars := sourceBootEnv(t, env.Content)
	required := requiredBootVars(script.Content)
	if len(required) == 0 {
		t.Fatalf("%s checks no parameters", boot)
	}
	for _, v := range required {
		if vars[v] == "" {
			t.Errorf("%s requires %s, which boot.env does not set", boot, v)
		}
	}
	return vars
}

func checkAppEnv(t *testing.T, p parsed, s Service) {
	t.Helper()
	f := p.file(t, "/opt/bookstore/app.env")
	if f.Permissions != "0600" {
		t.Errorf("app.env permissions %s, want 0600", f.Permissions)
	}
	want := map[string]string{
		"PORT":          "5000",
		"DB_HOST":       s.DBHost,
		"DB_PORT":       "3306",
		"DB_NAME":       s.DBName,
		"DB_SECRET_ARN": s.DBSecretARN,
		"SHARED_DIR":    "/app/shared",
		"ADMIN_EMAILS":  "admin@example.com,ops+books@example.org",
		"LOG_LEVEL":     s.LogLevel,
		"AWS_REGION":    s.Region,
		// The bundle the boot script installs, as the container sees it.
		"DB_TLS_CA_FILE": "/etc/bookstore/rds-ca.pem",
	}
	if got := envMap(t, f.Content); !reflect.DeepEqual(got, want) {
		t.Errorf("app.env = %v\nwant %v", got, want)
	}
}

// leaks lists what in a document looks like a tag or a credential. User
// data is readable by anyone allowed ec2:DescribeInstanceAttribute.
var leaks = []*regexp.Regexp{
	regexp.MustCompile(`bookstore-image-1a2b3c:`),       // our image by tag
	regexp.MustCompile(`:latest\b`),                     // any image by the latest tag
	regexp.MustCompile(`SWMTKN-1-[A-Za-z0-9]`),          // a swarm join token
	regexp.MustCompile(`MYSQL_\w*PASSWORD=[^%$\s]`),     // a MySQL password written out
	regexp.MustCompile(`mysql://[^:/\s]+:[^%@\s]+@`),    // a database URL with a literal password
	regexp.MustCompile(`AKIA[0-9A-Z]{16}`),              // an access key id
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY`), // a private key
}

func findLeaks(raw string) []string {
	var found []string
	for _, re := range leaks {
		if loc := re.FindStringIndex(raw); loc != nil {
			found = append(found, raw[max(0, loc[0]-30):min(len(raw), loc[1]+30)])
		}
	}
	return found
}

func noTagNoSecret(t *testing.T, p parsed) {
	t.Helper()
	for _, l := range findLeaks(p.raw) {
		t.Errorf("document leaks: %q", l)
	}
}

func TestFindLeaksCatchesEachKind(t *testing.T) {
	for _, bad := range []string{
		"image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore-image-1a2b3c:v1",
		"image: mysql:latest",
		"TOKEN=SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
		"MYSQL_ROOT_PASSWORD=hunter2",
		"DATABASE_URL=mysql://bookstore:hunter2@mysql:3306/bookstore",
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"-----BEGIN RSA PRIVATE KEY-----",
	} {
		if len(findLeaks(bad)) == 0 {
			t.Errorf("findLeaks missed %q", bad)
		}
	}
	if l := findLeaks(`printf 'DATABASE_URL=mysql://bookstore:%s@mysql:3306/bookstore' "${app}"`); len(l) != 0 {
		t.Errorf("a format string is not a leak: %q", l)
	}
}

func composeDoc(t *testing.T, p parsed) map[string]any {
	t.Helper()
	var c map[string]any
	if err := yaml.Unmarshal([]byte(p.file(t, "/opt/bookstore/compose.yaml").Content), &c); err != nil {
		t.Fatalf("compose.yaml is not YAML: %v", err)
	}
	return c
}

// dig walks nested maps and lists: dig(c, "services", "app", "ports", 0).
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not a map", path, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: %v is not a list with index %d", path, v, k)
			}
			v = l[k]
		}
	}
	return v
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestRenderFleet(t *testing.T) {
	p := mustRender(t, renderers[0].render)
	eq(t, "packages", p.Packages, []string{"docker", "amazon-efs-utils", "openssl"})
	vars := checkBootWiring(t, p, "/opt/bookstore/bin/fleet-boot.sh")
	eq(t, "IMAGE_REF", vars["IMAGE_REF"], testImage)
	eq(t, "ECR_REGISTRY", vars["ECR_REGISTRY"], testRegistry)
	eq(t, "ECR_REGION", vars["ECR_REGION"], "eu-west-1")
	eq(t, "EFS_ID", vars["EFS_ID"], "fs-0123456789abcdef0")
	eq(t, "EFS_ACCESS_POINT", vars["EFS_ACCESS_POINT"], "fsap-0fedcba9876543210")
	eq(t, "COMPOSE_SHA256", vars["COMPOSE_SHA256"], ComposeSHA256)
	eq(t, "RDS_CA_URL", vars["RDS_CA_URL"], euWest1Bundle)
	checkAppEnv(t, p, validService())
	checkRDSCA(t, p, "/opt/bookstore/bin/fleet-boot.sh", "start_unit bookstore.service")
	noTagNoSecret(t, p)

	c := composeDoc(t, p)
	app := dig(t, c, "services", "app")
	eq(t, "image", dig(t, app, "image"), testImage)
	eq(t, "restart", dig(t, app, "restart"), "always")
	eq(t, "env_file", dig(t, app, "env_file"), []any{"app.env"})
	eq(t, "ports", dig(t, app, "ports"), []any{"5000:5000"})
	eq(t, "volume", dig(t, app, "volumes", 0), map[string]any{
		"type": "bind", "source": "/mnt/bookstore", "target": "/app/shared",
		"bind": map[string]any{"create_host_path": false},
	})
	eq(t, "CA bundle volume", dig(t, app, "volumes", 1), map[string]any{
		"type": "bind", "source": "/opt/bookstore/rds-ca.pem", "target": "/etc/bookstore/rds-ca.pem", "read_only": true,
		"bind": map[string]any{"create_host_path": false},
	})
	eq(t, "healthcheck", dig(t, app, "healthcheck", "test"), []any{"CMD", "/app/bookstore", "healthcheck"})
	eq(t, "log driver", dig(t, app, "logging", "driver"), "awslogs")
	eq(t, "log options", dig(t, app, "logging", "options"), map[string]any{
		"awslogs-region": "eu-west-1",
		"awslogs-group":  "/bookstore/dev/app",
		"awslogs-stream": "fleet/${INSTANCE_ID:?INSTANCE_ID missing from /opt/bookstore/.env}",
	})

	unit := p.file(t, "/etc/systemd/system/bookstore.service").Content
	for _, want := range []string{"RequiresMountsFor=/mnt/bookstore", "Requires=docker.service", "WantedBy=multi-user.target", "docker compose --project-directory /opt/bookstore up"} {
		if !strings.Contains(unit, want) {
			t.Errorf("bookstore.service lacks %q", want)
		}
	}
	if !strings.Contains(p.file(t, "/etc/systemd/system/docker.service.d/10-bookstore-efs.conf").Content, "RequiresMountsFor=/mnt/bookstore") {
		t.Error("docker does not wait for the EFS mount")
	}
	efs := p.file(t, "/opt/bookstore/bin/efs.sh").Content
	for _, want := range []string{`mount -t efs -o "tls,iam,accesspoint=${ap}"`, "_netdev,tls,iam,accesspoint=", "retry 15"} {
		if !strings.Contains(efs, want) {
			t.Errorf("efs.sh lacks %q", want)
		}
	}
}

const euWest1Bundle = "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem"

// checkRDSCA: the boot script installs the RDS CA bundle, with the helper the
// document writes, at the path containers bind, ahead of the step named by
// before (the one that starts the service or lets the node take tasks).
func checkRDSCA(t *testing.T, p parsed, boot, before string) {
	t.Helper()
	script := p.file(t, boot).Content
	install := strings.Index(script, `install_rds_ca "${RDS_CA_URL}" "${BOOKSTORE_DIR}/rds-ca.pem"`)
	start := strings.Index(script, before)
	if install < 0 || start < 0 || install > start {
		t.Errorf("%s: install_rds_ca at %d, %q at %d: want the bundle installed first", boot, install, before, start)
	}
	if !strings.Contains(script, "\n. /opt/bookstore/bin/rdsca.sh\n") || !p.has("/opt/bookstore/bin/rdsca.sh") {
		t.Errorf("%s does not source rdsca.sh, or the document does not write it", boot)
	}
	if RDSCAHostPath != "/opt/bookstore/rds-ca.pem" || RDSCAContainerPath != "/etc/bookstore/rds-ca.pem" {
		t.Errorf("RDSCAHostPath %s, RDSCAContainerPath %s: the scripts spell them /opt/bookstore/rds-ca.pem and /etc/bookstore/rds-ca.pem", RDSCAHostPath, RDSCAContainerPath)
	}
}

// The addresses AWS documents per partition ("Certificate bundles for
// specific AWS Regions", Amazon RDS User Guide).
func TestRDSCABundleURL(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":      euWest1Bundle,
		"us-east-1":      "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
		"ap-southeast-4": "https://truststore.pki.rds.amazonaws.com/ap-southeast-4/ap-southeast-4-bundle.pem",
		"us-gov-west-1":  "https://truststore.pki.us-gov-west-1.rds.amazonaws.com/us-gov-west-1/us-gov-west-1-bundle.pem",
		"us-gov-east-1":  "https://truststore.pki.us-gov-west-1.rds.amazonaws.com/us-gov-east-1/us-gov-east-1-bundle.pem",
		"cn-north-1":     "https://rds-truststore.s3.cn-north-1.amazonaws.com.cn/cn-north-1/cn-north-1-bundle.pem",
		"cn-northwest-1": "https://rds-truststore.s3.cn-north-1.amazonaws.com.cn/cn-northwest-1/cn-northwest-1-bundle.pem",
	} {
		if got := RDSCABundleURL(region); got != want {
			t.Errorf("RDSCABundleURL(%q) = %q, want %q", region, got, want)
		}
	}
}

// noImage: a swarm document names the image parameter and the repository,
// never an image, so a new image leaves it byte for byte the same.
func noImage(t *testing.T, p parsed, vars map[string]string) {
	t.Helper()
	eq(t, "IMAGE_PARAMETER", vars["IMAGE_PARAMETER"], testImageParam)
	eq(t, "IMAGE_REPOSITORY", vars["IMAGE_REPOSITORY"], testRepo)
	eq(t, "ECR_REGISTRY", vars["ECR_REGISTRY"], testRegistry)
	eq(t, "ECR_REGION", vars["ECR_REGION"], "eu-west-1")
	if _, ok := vars["IMAGE_REF"]; ok || strings.Contains(p.raw, testDigest) || regexp.MustCompile(`sha256:[0-9a-f]{64}`).MatchString(p.raw) {
		t.Error("the document holds an image digest: every new image would replace the host")
	}
}

func TestRenderSwarmManager(t *testing.T) {
	p := mustRender(t, renderers[1].render)
	eq(t, "packages", p.Packages, []string{"docker", "amazon-efs-utils", "openssl"})
	vars := checkBootWiring(t, p, "/opt/bookstore/bin/swarm-manager-boot.sh")
	noImage(t, p, vars)
	eq(t, "REPLICAS", vars["REPLICAS"], "5")
	eq(t, "JOIN_TOKEN_PARAMETER", vars["JOIN_TOKEN_PARAMETER"], testParam)
	eq(t, "LOG_GROUP", vars["LOG_GROUP"], "/bookstore/dev/app")
	eq(t, "REGION", vars["REGION"], "eu-west-1")
	eq(t, "SERVICE_NAME", vars["SERVICE_NAME"], "bookstore")
	eq(t, "RDS_CA_URL", vars["RDS_CA_URL"], euWest1Bundle)
	checkAppEnv(t, p, validService())
	checkRDSCA(t, p, "/opt/bookstore/bin/swarm-manager-boot.sh", `docker service create`)
	noTagNoSecret(t, p)
	if p.has("/opt/bookstore/compose.yaml") {
		t.Error("the manager runs a swarm service, not compose")
	}
	script := p.file(t, "/opt/bookstore/bin/swarm-manager-boot.sh").Content
	for _, want := range []string{
		`docker swarm init --advertise-addr "${private_ip}"`,
		`imds local-ipv4`,
		`--type SecureString --overwrite --value "file://${file}"`,
		`IMAGE_REF=$(image_from_parameter) || exit 1`,
		`pull_image "${IMAGE_REF}"`,
		`docker service create "${common[@]}"`,
		`docker service update "${common[@]}"`,
		`docker service inspect "${SERVICE_NAME}"`,
		`--with-registry-auth`,
		`--replicas "${REPLICAS}"`,
		`--publish published=5000,target=5000`,
		`--env-file "${BOOKSTORE_DIR}/app.env"`,
		`--mount "type=bind,source=${EFS_MOUNT},target=/app/shared"`,
		`ca_mount="type=bind,source=${BOOKSTORE_DIR}/rds-ca.pem,target=/etc/bookstore/rds-ca.pem,readonly"`,
		`--mount "${ca_mount}"`,
		`--mount-add "${ca_mount}"`,
		`--log-driver awslogs`,
		`--update-order start-first`,
		`--update-failure-action rollback`,
		`--rollback-parallelism 1`,
		"exec 9>\"${SWARM_LOCK}\"\nflock 9\n",
		`systemctl enable --now bookstore-rollout.timer`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("swarm-manager-boot.sh lacks %q", want)
		}
	}
	// The lock is taken before anything else happens, the timer started only
	// once the service exists.
	if lock, first := strings.Index(script, "flock 9"), strings.Index(script, "mount_efs "); lock < 0 || lock > first {
		t.Error("the boot script takes the rollout lock after it starts working")
	}
	if timer, create := strings.Index(script, "enable --now bookstore-rollout.timer"), strings.Index(script, "docker service create"); timer < create {
		t.Error("the rollout timer starts before the service is created")
	}

	rollout := p.file(t, "/opt/bookstore/bin/swarm-rollout.sh")
	eq(t, "swarm-rollout.sh mode", rollout.Permissions, "0755")
	for _, want := range []string{
		". /opt/bookstore/bin/lib.sh\n", ". /opt/bookstore/bin/image.sh\n", ". /opt/bookstore/boot.env\n",
		"LOG_TAG=bookstore-rollout",
		`flock --nonblock 9 || exit 0`,
		`{{.Spec.TaskTemplate.ContainerSpec.Image}}`,
		`docker service update --detach --with-registry-auth --image "${want}" "${SERVICE_NAME}"`,
	} {
		if !strings.Contains(rollout.Content, want) {
			t.Errorf("swarm-rollout.sh lacks %q", want)
		}
	}
	for _, v := range requiredBootVars(rollout.Content) {
		if vars[v] == "" {
			t.Errorf("swarm-rollout.sh requires %s, which boot.env does not set", v)
		}
	}
	if !strings.Contains(p.file(t, "/opt/bookstore/bin/lib.sh").Content, "logger -t \"${LOG_TAG}\"") {
		t.Error("lib.sh's log does not tag journal lines with LOG_TAG")
	}

	unit := p.file(t, "/etc/systemd/system/bookstore-rollout.service").Content
	for _, want := range []string{"Type=oneshot", "ExecStart=/opt/bookstore/bin/swarm-rollout.sh", "After=docker.service"} {
		if !strings.Contains(unit, want) {
			t.Errorf("bookstore-rollout.service lacks %q", want)
		}
	}
	timer := p.file(t, "/etc/systemd/system/bookstore-rollout.timer").Content
	for _, want := range []string{"OnActiveSec=60s", "OnUnitActiveSec=60s", "RandomizedDelaySec=", "WantedBy=timers.target"} {
		if !strings.Contains(timer, want) {
			t.Errorf("bookstore-rollout.timer lacks %q", want)
		}
	}
}

func TestRenderSwarmWorker(t *testing.T) {
	p := mustRender(t, renderers[2].render)
	eq(t, "packages", p.Packages, []string{"docker", "amazon-efs-utils", "openssl"})
	vars := checkBootWiring(t, p, "/opt/bookstore/bin/swarm-worker-boot.sh")
	noImage(t, p, vars)
	eq(t, "MANAGER_ADDRESS", vars["MANAGER_ADDRESS"], "10.0.0.17")
	eq(t, "JOIN_TOKEN_PARAMETER", vars["JOIN_TOKEN_PARAMETER"], testParam)
	eq(t, "RDS_CA_URL", vars["RDS_CA_URL"], euWest1Bundle)
	checkRDSCA(t, p, "/opt/bookstore/bin/swarm-worker-boot.sh", `retry 40 "join the swarm`)
	noTagNoSecret(t, p)
	if p.has("/opt/bookstore/app.env") {
		t.Error("a worker gets its tasks' environment from the manager; it should not hold app.env")
	}
	if p.has("/opt/bookstore/bin/swarm-rollout.sh") || p.has("/etc/systemd/system/bookstore-rollout.timer") {
		t.Error("only the manager rolls the service out")
	}
	script := p.file(t, "/opt/bookstore/bin/swarm-worker-boot.sh").Content
	for _, want := range []string{
		`IMAGE_REF=$(image_from_parameter) || exit 1`,
		`pull_image "${IMAGE_REF}"`,
		`--with-decryption`,
		`[[ ${TOKEN} == SWMTKN-1-* ]]`,
		`docker swarm join --token "${TOKEN}" "${MANAGER_ADDRESS}:2377"`,
		`RETRY_MAX_DELAY=30 retry 40 "join the swarm`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("swarm-worker-boot.sh lacks %q", want)
		}
	}
	// A replaced manager's token replaces the old one only once it has booted:
	// the token is read inside each join attempt, not once before them.
	join := script[strings.Index(script, "join_swarm() {"):]
	join = join[:strings.Index(join, "\n}\n")]
	if !strings.Contains(join, "read_token") {
		t.Error("join_swarm does not re-read the token on each attempt")
	}
	if strings.Contains(script, `retry 40 "read the join token`) {
		t.Error("the token is still read once, before the join attempts")
	}
}

func TestRenderMonolith(t *testing.T) {
	p := mustRender(t, renderers[3].render)
	eq(t, "packages", p.Packages, []string{"docker", "nginx", "certbot"})
	vars := checkBootWiring(t, p, "/opt/bookstore/bin/monolith-boot.sh")
	eq(t, "SITE_HOSTNAME", vars["SITE_HOSTNAME"], "legacy.example.com")
	eq(t, "LETSENCRYPT_EMAIL", vars["LETSENCRYPT_EMAIL"], "certs@example.com")
	eq(t, "MYSQL_IMAGE", vars["MYSQL_IMAGE"], DefaultMySQLImage)
	noTagNoSecret(t, p)
	if p.has("/opt/bookstore/bin/rdsca.sh") || vars["RDS_CA_URL"] != "" {
		t.Error("the monolith's database is a local container, not RDS: it needs no RDS CA bundle")
	}
	for _, path := range []string{"/opt/bookstore/mysql.env", "/opt/bookstore/db.env"} {
		if p.has(path) {
			t.Errorf("%s holds passwords and must be made on the instance, not in user data", path)
		}
	}
	// MySQL 8.4's caching_sha2_password: the app's first login goes over TLS
	// (dbconn's TestCachingSHA2PasswordOverTLS logs in that way).
	if boot := p.file(t, "/opt/bookstore/bin/monolith-boot.sh").Content; !strings.Contains(boot, "@mysql:3306/bookstore?tls=preferred") {
		t.Error("the monolith's DATABASE_URL does not ask for TLS: MySQL 8.4's first login would need the server's RSA key")
	}
	eq(t, "app.env", envMap(t, p.file(t, "/opt/bookstore/app.env").Content), map[string]string{
		"PORT": "5000", "SHARED_DIR": "/app/shared", "ADMIN_EMAILS": "admin@example.com", "LOG_LEVEL": "info", "AWS_REGION": "eu-west-1",
	})

	c := composeDoc(t, p)
	eq(t, "mysql image", dig(t, c, "services", "mysql", "image"), "mysql:8.4")
	eq(t, "mysql env", dig(t, c, "services", "mysql", "env_file"), []any{"mysql.env"})
	eq(t, "app image", dig(t, c, "services", "app", "image"), testImage)
	eq(t, "app env", dig(t, c, "services", "app", "env_file"), []any{"app.env", "db.env"})
	eq(t, "app ports", dig(t, c, "services", "app", "ports"), []any{"127.0.0.1:5000:5000"})
	eq(t, "app restart", dig(t, c, "services", "app", "restart"), "always")
	eq(t, "app waits for mysql", dig(t, c, "services", "app", "depends_on", "mysql", "condition"), "service_healthy")
	eq(t, "healthcheck", dig(t, c, "services", "app", "healthcheck", "test"), []any{"CMD", "/app/bookstore", "healthcheck"})
	if p.file(t, "/etc/systemd/system/bookstore.service").Content == "" || strings.Contains(p.raw, "RequiresMountsFor") {
		t.Error("the monolith has no EFS: its unit must not wait for /mnt/bookstore")
	}

	http := p.file(t, "/opt/bookstore/nginx/http.conf").Content
	for _, want := range []string{"listen 80 default_server;", "server_name legacy.example.com;", "location ^~ /.well-known/acme-challenge/", "return 301 https://$server_name$request_uri;"} {
		if !strings.Contains(http, want) {
			t.Errorf("http.conf lacks %q", want)
		}
	}
	tls := p.file(t, "/opt/bookstore/nginx/tls.conf").Content
	for _, want := range []string{"listen 443 ssl default_server;", "server_name legacy.example.com;", "ssl_protocols TLSv1.2 TLSv1.3;", "proxy_pass http://127.0.0.1:5000;", "/etc/letsencrypt/live/bookstore/fullchain.pem"} {
		if !strings.Contains(tls, want) {
			t.Errorf("tls.conf lacks %q", want)
		}
	}
	hook := p.file(t, "/etc/letsencrypt/renewal-hooks/deploy/reload-nginx.sh")
	eq(t, "renewal hook mode", hook.Permissions, "0755")
	script := p.file(t, "/opt/bookstore/bin/monolith-boot.sh").Content
	for _, want := range []string{"openssl rand -hex 24", "umask 077", "certbot certonly", "--webroot", "systemctl enable --now certbot-renew.timer", `--email "${LETSENCRYPT_EMAIL}"`} {
		if !strings.Contains(script, want) {
			t.Errorf("monolith-boot.sh lacks %q", want)
		}
	}
}

func TestRenderMonolithDefaultsAndOptions(t *testing.T) {
	m := validMonolith()
	m.LetsEncryptEmail = ""
	m.Hostname = "Legacy.Example.COM"
	m.MySQLImage = "mysql:8.4.7@" + testDigest
	m.LogLevel = "debug"
	p := mustRender(t, func() (string, error) { return RenderMonolith(m) })
	vars := sourceBootEnv(t, p.file(t, "/opt/bookstore/boot.env").Content)
	eq(t, "LETSENCRYPT_EMAIL", vars["LETSENCRYPT_EMAIL"], "")
	eq(t, "SITE_HOSTNAME lower-cased", vars["SITE_HOSTNAME"], "legacy.example.com")
	eq(t, "mysql image", dig(t, composeDoc(t, p), "services", "mysql", "image"), m.MySQLImage)
	eq(t, "LOG_LEVEL", envMap(t, p.file(t, "/opt/bookstore/app.env").Content)["LOG_LEVEL"], "debug")
}

func TestEmptyOptionalsRender(t *testing.T) {
	f := validFleet()
	f.Service.AdminEmails = nil
	f.Service.LogLevel = ""
	p := mustRender(t, func() (string, error) { return RenderFleet(f) })
	env := envMap(t, p.file(t, "/opt/bookstore/app.env").Content)
	eq(t, "ADMIN_EMAILS", env["ADMIN_EMAILS"], "")
	eq(t, "LOG_LEVEL default", env["LOG_LEVEL"], "info")
}

func TestMaxBytes(t *testing.T) {
	// Long but plausible values still fit.
	m := validMonolith()
	m.Hostname = "legacy." + strings.Repeat("a", 50) + ".bookstore-example-company.co.uk"
	m.LogGroup = "/" + strings.Repeat("bookstore-production/", 6) + "legacy"
	m.AdminEmails = []string{"first.admin@example.com", "second.admin@example.com", "third.admin@example.com"}
	if _, err := RenderMonolith(m); err != nil {
		t.Fatalf("plausible long monolith params: %v", err)
	}

	// The limit applies to the compressed document: a plain one well over
	// 16 KiB that compresses under it is fine; random addresses, which
	// don't compress, are not.
	f := validFleet()
	for i := 0; i < 800; i++ {
		f.Service.AdminEmails = append(f.Service.AdminEmails, "someone.who.administers@example.com")
	}
	out, err := RenderFleet(f)
	if err != nil || len(out) <= MaxBytes || len(Gzip(out)) > MaxBytes {
		t.Fatalf("800 identical addresses: %v; plain %d bytes, compressed %d", err, len(out), len(Gzip(out)))
	}
	f = validFleet()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 800; i++ {
		f.Service.AdminEmails = append(f.Service.AdminEmails, fmt.Sprintf("%016x%016x@example.com", rng.Uint64(), rng.Uint64()))
	}
	out, err = RenderFleet(f)
	if err == nil {
		t.Fatalf("a document of %d bytes, %d compressed, was returned", len(out), len(Gzip(out)))
	}
	if !strings.Contains(err.Error(), "gzip-compressed") || !strings.Contains(err.Error(), "16384-byte user data limit") {
		t.Errorf("error %q does not name the limit and the compression", err)
	}
}

// The Pulumi components call the renderers inside Apply on every preview;
// this measures one render, including the YAML read-back.
func BenchmarkRender(b *testing.B) {
	for _, r := range renderers {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.render(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
