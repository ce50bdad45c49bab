package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// imageRef is the tag the tests build the root Dockerfile into: one per test
// binary, because podman's image store is shared by every checkout on the
// machine, and a fixed tag let another checkout's build replace this one's
// image between its build and its containers. TestMain removes it.
var imageRef = "localhost/bookstore:e2e-" + randomHex(6)

// podman runs podman with args and returns its stdout; the error carries stderr.
func podman(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, tail(stderr.String(), 40))
	}
	return stdout.String(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildTook time.Duration
)

// buildImage builds the root Dockerfile into imageRef once per test binary.
//
// The build runs with --network=none: its modules come from a file:// proxy made of
// the host's module cache, mounted read-only. `go list -deps` first makes the host
// cache hold every module the service's build needs (fetched the host's usual way).
// Layers and the Dockerfile's cache mounts persist in podman's storage, so a second
// build with an unchanged service takes seconds.
func buildImage(t testing.TB) {
	t.Helper()
	needPodman(t)
	root := repoRoot(t)
	buildOnce.Do(func() {
		start := time.Now()
		buildErr = build(root)
		buildTook = time.Since(start)
		if buildErr != nil {
			return
		}
		cleanups = append(cleanups, func() error {
			_, err := podman(context.Background(), "rmi", "--force", imageRef)
			return err
		})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func build(root string) error {
	if err := readBuildContext(root); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	list := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", "noembedded", "./service")
	list.Dir = root
	list.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := list.CombinedOutput(); err != nil {
		return fmt.Errorf("go list -deps ./service (fills the module cache the image build reads): %w\n%s", err, tail(string(out), 20))
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	proxyDir := filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")
	_, err = podman(ctx, "build",
		"--format", "docker", // OCI images drop HEALTHCHECK
		"--network", "none",
		"--volume", proxyDir+":/goproxy:ro",
		"--build-arg", "GOPROXY=file:///goproxy",
		"-t", imageRef,
		"-f", filepath.Join(root, "Dockerfile"),
		root)
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	return nil
}

// readBuildContext reads every file the image is built from. podman reads them
// in another process, which go test's result cache does not see; reading them
// here makes a change to any of them re-run this package instead of reporting
// a cached pass.
func readBuildContext(root string) error {
	for _, f := range []string{"Dockerfile", ".dockerignore", "go.mod", "go.sum"} {
		if _, err := os.ReadFile(filepath.Join(root, f)); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(root, "service"), func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "e2e":
			return filepath.SkipDir
		case d.Type().IsRegular():
			_, err = os.ReadFile(path)
		}
		return err
	})
}

// imageInfo is the part of `podman image inspect` the tests read.
type imageInfo struct {
	Size int64
	// Podman reports the HEALTHCHECK here; Docker inside Config.
	Healthcheck *struct{ Test []string }
	Config      struct {
		User         string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Entrypoint   []string
		Env          []string
		Healthcheck  *struct{ Test []string }
	}
}

func inspectImage(t testing.TB, ref string) imageInfo {
	t.Helper()
	out, err := podman(context.Background(), "image", "inspect", ref)
	if err != nil {
		t.Fatal(err)
	}
	var infos []imageInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("podman image inspect %s: %v (%d images)", ref, err, len(infos))
	}
	if infos[0].Healthcheck == nil {
		infos[0].Healthcheck = infos[0].Config.Healthcheck
	}
	return infos[0]
}

// container is one running instance of the image.
type container struct {
	ID     string
	Name   string
	URL    string // http://127.0.0.1:<port>
	Volume string // named volume at /app/shared
}

// runOptions are what differs between the tests' containers.
type runOptions struct {
	DatabaseURL string
	Drain       time.Duration // DRAIN_TIMEOUT
	AdminEmails string
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startContainer runs the image on the host's network namespace, so the container
// reaches MariaDB on 127.0.0.1 and is reached on 127.0.0.1:<port>: no traffic
// leaves loopback. /app/shared is a fresh named volume, which podman seeds from the
// image (owner 65532), as Docker does for docker-compose.yml's volume.
// The caller removes it with remove.
func startContainer(ctx context.Context, o runOptions) (*container, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &container{Name: "bookstore-e2e-" + randomHex(4), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	c.Volume = c.Name + "-shared"
	if _, err := podman(ctx, "volume", "create", c.Volume); err != nil {
		return nil, err
	}
	out, err := podman(ctx, "run", "-d", "--name", c.Name,
		"--network", "host",
		"--volume", c.Volume+":/app/shared",
		"--env", "PORT="+strconv.Itoa(port),
		"--env", "DATABASE_URL="+o.DatabaseURL,
		"--env", "SHARED_DIR=/app/shared",
		"--env", "ADMIN_EMAILS="+o.AdminEmails,
		"--env", "LOG_LEVEL=debug",
		"--env", "DRAIN_TIMEOUT="+o.Drain.String(),
		imageRef)
	if err != nil {
		podman(context.Background(), "rm", "-f", "-t", "0", c.Name)
		podman(context.Background(), "volume", "rm", "-f", c.Volume)
		return nil, err
	}
	c.ID = strings.TrimSpace(out)
	return c, nil
}

// waitReady polls GET /readyz until it answers 200, the container exits, or the
// timeout passes; the error then holds the container's last log lines.
func (c *container) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(c.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if state, _ := podman(context.Background(), "inspect", "-f", "{{.State.Status}}", c.ID); strings.TrimSpace(state) == "exited" {
			return fmt.Errorf("container exited before /readyz answered 200:\n%s", c.logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("GET /readyz not 200 after %s (last: %s):\n%s", timeout, last, c.logs())
}

func (c *container) logs() string {
	out, err := exec.Command("podman", "logs", "--tail", "60", c.ID).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(podman logs: %v)", err)
	}
	return string(out)
}

// remove stops and deletes the container and its volume.
func (c *container) remove() error {
	ctx := context.Background()
	_, err1 := podman(ctx, "rm", "-f", "-t", "0", c.ID)
	_, err2 := podman(ctx, "volume", "rm", "-f", c.Volume)
	return errors.Join(err1, err2)
}

// The store the flow and browser tests share: one container, one database.
var (
	storeOnce sync.Once
	store     *container
	storeErr  error
	cleanups  []func() error

	// sharedDBURL is the shared store's DATABASE_URL; other containers may reuse it.
	sharedDBURL string
)

// sharedStore starts, once per test binary, the container that the flow, user,
// health and browser tests use. TestMain removes it and drops its database.
func sharedStore(t testing.TB) *container {
	t.Helper()
	needDatabase(t)
	buildImage(t)
	storeOnce.Do(func() { store, storeErr = launchStore() })
	if storeErr != nil {
		t.Fatal(storeErr)
	}
	return store
}

func launchStore() (*container, error) {
	db, err := parseTestDB(os.Getenv("BOOKSTORE_TEST_DATABASE_URL"))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	dbURL, drop, err := db.createDatabase(ctx, "bookstore_test_e2e_"+randomHex(4))
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, drop)
	sharedDBURL = dbURL
	c, err := startContainer(ctx, runOptions{DatabaseURL: dbURL, Drain: 5 * time.Second, AdminEmails: adminEmail})
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, c.remove)
	if err := c.waitReady(90 * time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

// adminEmail is in the shared container's ADMIN_EMAILS.
const adminEmail = "admin@bookstore.test"

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i](); err != nil {
			fmt.Fprintln(os.Stderr, "e2e cleanup:", err)
		}
	}
	os.Exit(code)
}
