package rehearsal

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// The registry's htpasswd access controller and filesystem storage
	// driver register themselves when imported.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// registryUser is the user name hosts log in to ECR with
// (`aws ecr get-login-password | docker login --username AWS`).
const registryUser = "AWS"

// registry is a real OCI registry (distribution v3) serving plain HTTP on
// 127.0.0.1, which Docker Engine accepts without TLS because its default
// insecure registries include 127.0.0.0/8. It stands in for ECR: every
// request needs the user registryUser and Password (htpasswd, bcrypt).
type registry struct {
	Host     string // "127.0.0.1:<port>", the registry part of an image reference
	Password string // random per run; what the aws stub's `ecr get-login-password` prints
}

// startRegistry runs a registry in this process until t ends, storing blobs
// in a temporary directory.
func startRegistry(t testing.TB) *registry {
	t.Helper()
	dir := t.TempDir()
	r := &registry{Password: containertest.RandomHex(16)}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(registryUser+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = ln.Addr().String()
	// The registry's own configuration format (version 0.1), as its
	// config.yml would say it.
	cfg, err := configuration.Parse(strings.NewReader(fmt.Sprintf(`
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
auth:
  htpasswd:
    realm: rehearsal
    path: %q
http:
  addr: %q
  secret: %q
`, filepath.Join(dir, "storage"), htpasswd, r.Host, containertest.RandomHex(16))))
	if err != nil {
		t.Fatalf("registry configuration: %v", err)
	}
	// The registry logs through logrus' standard logger; its lines go to a
	// file, shown when the test fails.
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logrus.SetOutput(logFile)
	logrus.SetLevel(logrus.WarnLevel)
	srv := &http.Server{Handler: handlers.NewApp(context.Background(), cfg), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("registry log:\n%s", containertest.Tail(string(b), 10))
			}
		}
	})
	return r
}

// dockerClient is a docker CLI with its own configuration directory (its
// own credential store), as a separate host would have.
type dockerClient struct {
	ConfigDir string // DOCKER_CONFIG
}

func newDockerClient(t testing.TB) dockerClient {
	t.Helper()
	return dockerClient{ConfigDir: t.TempDir()}
}

// run runs `docker --config ConfigDir args...` with stdin (may be "").
func (c dockerClient) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"--config", c.ConfigDir}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return containertest.Run(cmd)
}

// login is `docker login --username AWS --password-stdin HOST`, as hosts run
// it with the password from `aws ecr get-login-password`.
func (c dockerClient) login(ctx context.Context, host, password string) error {
	_, err := c.run(ctx, password, "login", "--username", registryUser, "--password-stdin", host)
	return err
}

// push tags the local image src as HOST/repository:tag, pushes it with c's
// credentials and returns what the image component hands hosts:
// "HOST/repository@sha256:<digest>" (pulumi-docker's RepoDigest). The tag and
// the digest reference are then removed from Docker's image store again, so
// a later pull by digest must ask the registry.
func (c dockerClient) push(t testing.TB, src, host, repository, tag string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := host + "/" + repository
	if _, err := containertest.Docker(ctx, "tag", src, name+":"+tag); err != nil {
		t.Fatal(err)
	}
	defer containertest.Docker(context.Background(), "rmi", name+":"+tag)
	if _, err := c.run(ctx, "", "push", "--quiet", name+":"+tag); err != nil {
		t.Fatal(err)
	}
	out, err := containertest.Docker(ctx, "image", "inspect", "--format", "{{json .RepoDigests}}", name+":"+tag)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	if err := json.Unmarshal([]byte(out), &digests); err != nil {
		t.Fatalf("docker image inspect RepoDigests %q: %v", out, err)
	}
	for _, d := range digests {
		if strings.HasPrefix(d, name+"@sha256:") {
			containertest.Docker(context.Background(), "rmi", d)
			return d
		}
	}
	t.Fatalf("pushed %s:%s, but its RepoDigests %q hold no %s@sha256:…", name, tag, digests, name)
	return ""
}

// errUnauthorized reports whether err is the registry refusing a client that
// has not logged in.
func errUnauthorized(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no basic auth credentials") || strings.Contains(s, "unauthorized") ||
		strings.Contains(s, "authentication required")
}

// rehearsalImage builds the service image with podman, loads it into Docker
// and returns its local name there.
func rehearsalImage(t testing.TB) string {
	t.Helper()
	containertest.NeedDocker(t, "")
	containertest.BuildImage(t)
	containertest.LoadIntoDocker(t, containertest.ImageRef)
	return containertest.ImageRef
}
