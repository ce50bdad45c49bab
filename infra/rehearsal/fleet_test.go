package rehearsal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// The test stack's AWS-side names. The rendered files name the ECR registry
// of this account and region; the rehearsal points them at the local registry.
const (
	testAccount   = "123456789012"
	testRegion    = "eu-west-1"
	testRepo      = "bookstore"
	dbHostName    = "db.rehearsal.test" // the database's name on the shared network and in its certificate
	dbName        = "bookstore"
	dbUser        = "bookstore"
	composePlugin = "/usr/local/lib/docker/cli-plugins/docker-compose"
)

// Overrides lists every place the fleet rehearsal departs from what the
// stack renders, and why: each has no local equivalent.
var Overrides = []string{
	"ECR -> the local registry: IMAGE_REF and ECR_REGISTRY in boot.env, and the app's image in compose.override.yaml, name 127.0.0.1:<port>/" + testRepo + " with the same digest",
	"aws CLI -> stub: `aws ecr get-login-password` prints the local registry's password (docker login is real)",
	"mount -t efs -> stub: bind-mounts the shared host directory standing in for EFS (uid 65532); mount.efs present for the boot script's check",
	"dnf -> stub (cloud-init's packages step is not run; the machine's packages are used)",
	"curl -> stub for IMDSv2 (token, instance id) and the RDS CA bundle URL (answered with the test CA); any other URL fails",
	"systemctl -> stub: runs bookstore.service's own ExecStart/ExecStop lines in its WorkingDirectory",
	"COMPOSE_SHA256 in boot.env -> the digest of the locally built compose v" + userdata.ComposeVersion + " plugin (the release binary cannot be downloaded here)",
	"compose.override.yaml: logging awslogs -> local driver",
	"compose.override.yaml: Secrets Manager -> DATABASE_URL (DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN emptied; DB_TLS_CA_FILE kept)",
	"compose.override.yaml: /mnt/bookstore -> the shared host directory; /opt/bookstore/rds-ca.pem -> the instance's file at its host path (dockerd resolves binds outside the instance's mount namespace)",
	"compose.override.yaml: port 5000 published on 127.0.0.1:<free port> (two instances share one host); the app also joins the database's network",
	"COMPOSE_PROJECT_NAME per instance (the file's name: bookstore would make both instances one project); DOCKER_CONFIG per instance (each host its own credentials)",
}

// fleet is one run's backing services and instances.
type fleet struct {
	t        testing.TB
	run      string // prefix of every Docker object this run creates
	dir      string
	reg      *registry
	localRef string // 127.0.0.1:<port>/bookstore@sha256:…
	ecrRef   string // the same digest in the ECR form the renderer takes
	ca       *testCA
	caFile   string
	efs      string // the shared directory standing in for EFS
	network  string
	dbURL    string
	userData string
}

// newFleet pushes the image, starts the database and renders the fleet user
// data for a test stack. Everything it creates is removed when t ends.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	containertest.NeedDocker(t, userdata.ComposeVersion)
	if _, err := exec.LookPath("unshare"); err != nil {
		containertest.Missing(t, "unshare (util-linux) not found: the instances boot in mount namespaces of their own")
	}
	if os.Geteuid() != 0 {
		containertest.Missing(t, "the fleet rehearsal runs as root: each instance boots in its own mount namespace, as the boot script runs as root")
	}
	src := rehearsalImage(t)
	f := &fleet{t: t, run: "rh" + containertest.RandomHex(4), dir: t.TempDir()}
	f.reg = startRegistry(t)
	stack := newDockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := stack.login(ctx, f.reg.Host, f.reg.Password); err != nil {
		t.Fatal(err)
	}
	f.localRef = stack.push(t, src, f.reg.Host, testRepo, f.run)
	// The instances' pulls leave this reference in Docker's image store.
	f.cleanup("image", "rm", f.localRef)
	digest := strings.TrimPrefix(f.localRef, f.reg.Host+"/"+testRepo+"@")
	f.ecrRef = fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", testAccount, testRegion, testRepo, digest)

	f.ca = newTestCA(t)
	f.caFile = filepath.Join(f.dir, "ca.pem")
	if err := os.WriteFile(f.caFile, f.ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	f.efs = filepath.Join(f.dir, "efs")
	if err := os.Mkdir(f.efs, 0o755); err != nil {
		t.Fatal(err)
	}
	// The EFS access point's POSIX user: the image's nonroot.
	if err := os.Chown(f.efs, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	f.startDatabase(ctx)

	doc, err := userdata.RenderFleet(userdata.Fleet{
		Service: userdata.Service{
			ImageRef:    f.ecrRef,
			Region:      testRegion,
			DBHost:      dbHostName,
			DBPort:      3306,
			DBName:      dbName,
			DBSecretARN: "arn:aws:secretsmanager:" + testRegion + ":" + testAccount + ":secret:rds!db-rehearsal-AbCdEf",
			AdminEmails: []string{"admin@rehearsal.test"},
			LogGroup:    "/bookstore/rehearsal/app",
			LogLevel:    "info",
		},
		EFS: userdata.EFS{FileSystemID: "fs-0123456789abcdef0", AccessPointID: "fsap-0123456789abcdef0"},
	})
	if err != nil {
		t.Fatalf("render the fleet user data: %v", err)
	}
	f.userData = doc
	return f
}

// docker runs the docker CLI, failing t on an error.
func (f *fleet) docker(ctx context.Context, args ...string) string {
	f.t.Helper()
	out, err := containertest.Docker(ctx, args...)
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// cleanup registers a removal that runs when t ends, logging (not failing
// on) an error: the object may already be gone.
func (f *fleet) cleanup(args ...string) {
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := containertest.Docker(ctx, args...); err != nil {
			f.t.Logf("cleanup: %v", err)
		}
	})
}

// dbImage is the stand-in for RDS MySQL 8.4 (MariaDB, see
// container-env.sh); the 8.0 tag is the same image on machines whose
// Docker has not loaded the 8.4 tag yet.
func dbImage(ctx context.Context) (string, error) {
	for _, ref := range []string{"mysql:8.4", "mysql:8.0"} {
		if _, err := containertest.Docker(ctx, "image", "inspect", ref); err == nil {
			return ref, nil
		}
	}
	return "", fmt.Errorf("neither mysql:8.4 nor mysql:8.0 is in Docker: run ../shared/tools/container-env.sh --docker")
}

// startDatabase runs the database on a network of its own, reachable as
// dbHostName, with TLS required and a certificate from the test CA.
func (f *fleet) startDatabase(ctx context.Context) {
	t := f.t
	img, err := dbImage(ctx)
	if err != nil {
		containertest.Missing(t, err.Error())
	}
	certs := filepath.Join(f.dir, "db-certs")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	f.ca.issue(t, certs, dbHostName)
	if err := os.WriteFile(filepath.Join(certs, "ca.pem"), f.ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	f.network = f.run + "-rds"
	f.docker(ctx, "network", "create", f.network)
	f.cleanup("network", "rm", f.network)
	password := containertest.RandomHex(16)
	name := f.run + "-db"
	f.docker(ctx, "run", "-d", "--name", name, "--network", f.network, "--network-alias", dbHostName,
		"--volume", certs+":/etc/mysql/tls:ro",
		"--env", "MYSQL_DATABASE="+dbName, "--env", "MYSQL_USER="+dbUser, "--env", "MYSQL_PASSWORD="+password,
		"--env", "MYSQL_RANDOM_ROOT_PASSWORD=yes",
		img,
		"--ssl-ca=/etc/mysql/tls/ca.pem", "--ssl-cert=/etc/mysql/tls/cert.pem", "--ssl-key=/etc/mysql/tls/key.pem",
		"--require-secure-transport=ON")
	f.cleanup("rm", "-f", "-v", name)
	deadline := time.Now().Add(90 * time.Second)
	for {
		// The socket counts as secure transport; TCP without TLS would not.
		_, err := containertest.Docker(ctx, "exec", name, "mysql", "--protocol=socket", "-u"+dbUser, "-p"+password, "-e", "SELECT 1", dbName)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := containertest.Docker(ctx, "logs", "--tail", "30", name)
			t.Fatalf("database %s not ready after 90s: %v\n%s", name, err, logs)
		}
		time.Sleep(time.Second)
	}
	f.dbURL = (&url.URL{Scheme: "mysql", User: url.UserPassword(dbUser, password), Host: dbHostName + ":3306", Path: "/" + dbName}).String()
}

// instance is one fleet "host": a directory holding what the user data
// writes, booted by fleet-boot.sh in a mount namespace where that directory
// is /opt/bookstore, run as the compose project Name.
type instance struct {
	Name   string // compose project, "<run>-<label>"
	ID     string // what the IMDS stub reports as instance-id
	Root   string
	Port   int // the app's port on 127.0.0.1
	Booted time.Duration
}

// URL is the instance's own address, bypassing the balancer.
func (i *instance) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", i.Port) }

// cloudConfig is the part of a #cloud-config document the rehearsal reads.
type cloudConfig struct {
	WriteFiles []struct {
		Path        string `yaml:"path"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	Runcmd [][]string `yaml:"runcmd"`
}

// launch writes the user data's files for a new instance, applies the
// overrides and runs its boot script; the instance is healthy (compose's
// --wait) when it returns.
func (f *fleet) launch(ctx context.Context, label string) (*instance, error) {
	i := &instance{Name: f.run + "-" + label, ID: "i-0" + containertest.RandomHex(8)[:16], Root: filepath.Join(f.dir, label)}
	port, err := containertest.FreePort()
	if err != nil {
		return nil, err
	}
	i.Port = port
	var doc cloudConfig
	if err := yaml.Unmarshal([]byte(f.userData), &doc); err != nil {
		return nil, fmt.Errorf("user data: %w", err)
	}
	if len(doc.Runcmd) != 1 || len(doc.Runcmd[0]) != 1 {
		return nil, fmt.Errorf("user data runcmd %q: want one boot script", doc.Runcmd)
	}
	for _, wf := range doc.WriteFiles {
		mode, err := parseMode(wf.Permissions)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", wf.Path, err)
		}
		p := filepath.Join(i.Root, wf.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(wf.Content), mode); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(i.Root, "opt/bookstore")
	pluginSum, err := fileSHA256(composePlugin)
	if err != nil {
		return nil, fmt.Errorf("the compose plugin the instances use: %w", err)
	}
	if err := setBootEnv(filepath.Join(dir, "boot.env"), map[string]string{
		"IMAGE_REF":      f.localRef,
		"ECR_REGISTRY":   f.reg.Host,
		"COMPOSE_SHA256": pluginSum,
	}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.override.yaml"), []byte(f.override(i)), 0o644); err != nil {
		return nil, err
	}
	start := time.Now()
	out, err := f.onHost(ctx, i, doc.Runcmd[0][0])
	i.Booted = time.Since(start)
	if err != nil {
		// What the engine saw: the health checks' last answers and the
		// service's last lines.
		health, _ := containertest.Docker(context.Background(), "inspect", "--format", "{{json .State.Health}}", i.Name+"-app-1")
		logs, _ := containertest.Docker(context.Background(), "compose", "--project-name", i.Name, "logs", "--tail", "20")
		return i, fmt.Errorf("boot of %s: %w\n%s\nhealth: %s\nlogs:\n%s", i.Name, err, containertest.Tail(out, 40), health, logs)
	}
	return i, nil
}

// onHost runs command on instance i (testdata/host.sh) and returns its
// combined output.
func (f *fleet) onHost(ctx context.Context, i *instance, command ...string) (string, error) {
	hostSh, err := filepath.Abs("testdata/host.sh")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, hostSh, append([]string{i.Root}, command...)...)
	cmd.Env = append(os.Environ(),
		"REHEARSAL_ROOT="+i.Root,
		"REHEARSAL_REGISTRY_PASSWORD="+f.reg.Password,
		"REHEARSAL_EFS_DIR="+f.efs,
		"REHEARSAL_INSTANCE_ID="+i.ID,
		"REHEARSAL_RDS_CA="+f.caFile,
		"COMPOSE_PROJECT_NAME="+i.Name,
		"DOCKER_CONFIG="+filepath.Join(i.Root, "root/.docker"),
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// terminate stops instance i as its shutdown would: systemd stops
// bookstore.service, whose ExecStop is `docker compose down` (SIGTERM, then
// stop_grace_period). It returns how long that took.
func (f *fleet) terminate(ctx context.Context, i *instance) (time.Duration, error) {
	start := time.Now()
	out, err := f.onHost(ctx, i, "systemctl", "stop", "bookstore.service")
	if err != nil {
		return time.Since(start), fmt.Errorf("stop %s: %w\n%s", i.Name, err, containertest.Tail(out, 20))
	}
	return time.Since(start), nil
}

// remove deletes whatever is left of instance i (a cleanup).
func (f *fleet) remove(i *instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := containertest.Docker(ctx, "compose", "--project-name", i.Name, "down", "--volumes", "--remove-orphans", "--timeout", "1"); err != nil {
		f.t.Logf("cleanup of %s: %v", i.Name, err)
	}
}

// override is instance i's compose.override.yaml, which compose reads after
// compose.yaml from the project directory: each entry is one of Overrides.
func (f *fleet) override(i *instance) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`# The rehearsal's overrides (infra/rehearsal, Overrides): only what has no local equivalent.
services:
  app:
    image: %s
    environment:
      DATABASE_URL: %s
      DB_HOST: ""
      DB_PORT: ""
      DB_NAME: ""
      DB_SECRET_ARN: ""
    ports: !override
      - %s
    volumes: !override
      - type: bind
        source: %s
        target: %s
        bind:
          create_host_path: false
      - type: bind
        source: %s
        target: %s
        read_only: true
        bind:
          create_host_path: false
    networks:
      - default
      - rds
    logging: !override
      driver: local
networks:
  rds:
    external: true
    name: %s
`, q(f.localRef), q(strings.ReplaceAll(f.dbURL, "$", "$$")), q(fmt.Sprintf("127.0.0.1:%d:%d", i.Port, userdata.ServicePort)),
		q(f.efs), q(userdata.ContainerSharedDir),
		q(filepath.Join(i.Root, strings.TrimPrefix(userdata.RDSCAHostPath, "/"))), q(userdata.RDSCAContainerPath),
		q(f.network))
}

var bootEnvLine = regexp.MustCompile(`^([A-Z_][A-Z0-9_]*)=`)

// setBootEnv replaces the values of keys in the bash-quoted boot.env; a key
// the file does not set is an error (the renderer changed).
func setBootEnv(path string, values map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	seen := map[string]bool{}
	for n, l := range lines {
		if m := bootEnvLine.FindStringSubmatch(l); m != nil {
			if v, ok := values[m[1]]; ok {
				lines[n] = m[1] + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'"
				seen[m[1]] = true
			}
		}
	}
	for k := range values {
		if !seen[k] {
			return fmt.Errorf("%s sets no %s", path, k)
		}
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600)
}

func parseMode(s string) (os.FileMode, error) {
	var m uint32
	if _, err := fmt.Sscanf(s, "%o", &m); err != nil || m > 0o777 {
		return 0, fmt.Errorf("permissions %q", s)
	}
	return os.FileMode(m), nil
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
