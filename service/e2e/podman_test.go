package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

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
	out, err := containertest.Podman(context.Background(), "image", "inspect", ref)
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

// startContainer runs the image on the host's network namespace, so the container
// reaches MariaDB on 127.0.0.1 and is reached on 127.0.0.1:<port>: no traffic
// leaves loopback. /app/shared is a fresh named volume, which podman seeds from the
// image (owner 65532), as Docker does for docker-compose.yml's volume.
// The caller removes it with remove.
func startContainer(ctx context.Context, o runOptions) (*container, error) {
	port, err := containertest.FreePort()
	if err != nil {
		return nil, err
	}
	c := &container{Name: "bookstore-e2e-" + containertest.RandomHex(4), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	c.Volume = c.Name + "-shared"
	if _, err := containertest.Podman(ctx, "volume", "create", c.Volume); err != nil {
		return nil, err
	}
	out, err := containertest.Podman(ctx, "run", "-d", "--name", c.Name,
		"--network", "host",
		"--volume", c.Volume+":/app/shared",
		"--env", "PORT="+strconv.Itoa(port),
		"--env", "DATABASE_URL="+o.DatabaseURL,
		"--env", "SHARED_DIR=/app/shared",
		"--env", "ADMIN_EMAILS="+o.AdminEmails,
		"--env", "LOG_LEVEL=debug",
		"--env", "DRAIN_TIMEOUT="+o.Drain.String(),
		containertest.ImageRef)
	if err != nil {
		containertest.Podman(context.Background(), "rm", "-f", "-t", "0", c.Name)
		containertest.Podman(context.Background(), "volume", "rm", "-f", c.Volume)
		return nil, err
	}
	c.ID = strings.TrimSpace(out)
	return c, nil
}

// waitReady polls GET /readyz until it answers 200, the container exits, or the
// timeout passes; the error then holds the container's last log lines.
func (c *container) waitReady(timeout time.Duration) error {
	exited := func() error {
		if state, _ := containertest.Podman(context.Background(), "inspect", "-f", "{{.State.Status}}", c.ID); strings.TrimSpace(state) == "exited" {
			return fmt.Errorf("container exited before /readyz answered 200")
		}
		return nil
	}
	if err := containertest.WaitReady(context.Background(), c.URL, timeout, 250*time.Millisecond, exited); err != nil {
		return fmt.Errorf("%w:\n%s", err, c.logs())
	}
	return nil
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
	_, err1 := containertest.Podman(ctx, "rm", "-f", "-t", "0", c.ID)
	_, err2 := containertest.Podman(ctx, "volume", "rm", "-f", c.Volume)
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
	containertest.BuildImage(t)
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
	dbURL, drop, err := db.createDatabase(ctx, "bookstore_test_e2e_"+containertest.RandomHex(4))
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
