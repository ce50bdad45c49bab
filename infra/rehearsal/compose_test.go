package rehearsal

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// monolithApp runs the rendered compose-monolith.yaml on the shared Docker
// engine under a unique project name.
type monolithApp struct {
	image   string // the locally built bookstore image
	project string
	dir     string // the project directory: compose.yaml and its env files
}

func runName(prefix string) string { return prefix + containertest.RandomHex(4) }

func (a *monolithApp) compose(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"compose", "--project-name", a.project,
		"--project-directory", a.dir, "-f", filepath.Join(a.dir, "compose.yaml"), "-f", filepath.Join(a.dir, "rehearsal.override.yaml")}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start brings the project up with the rehearsal's overrides (image, logging,
// host paths, port) and waits for the app to answer on 127.0.0.1:port. It
// returns a function that collects both containers' logs.
func (a *monolithApp) start(t *testing.T, root string, port int) func(*testing.T) string {
	t.Helper()
	a.dir = filepath.Join(root, "opt/bookstore")
	a.project = runName("swarm10mono")
	data := filepath.Join(root, "var/lib/bookstore")
	for _, d := range []string{"mysql", "shared"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o777); err != nil {
			t.Fatal(err)
		}
		// The stand-in's mysqld and the app (65532) write here.
		if err := os.Chmod(filepath.Join(data, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	// write_instance_env's file: the awslogs stream names interpolate it.
	if err := os.WriteFile(filepath.Join(a.dir, ".env"), []byte("INSTANCE_ID=i-0rehearsal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	override := fmt.Sprintf(`# The rehearsal's overrides of the rendered compose.yaml (see monolith_test.go).
services:
  mysql:
    logging: !override
      driver: json-file
    volumes: !override
      - %[1]s/mysql:/var/lib/mysql
  app:
    image: %[2]s
    logging: !override
      driver: json-file
    ports: !override
      - "127.0.0.1:%[3]d:5000"
    volumes: !override
      - %[1]s/shared:/app/shared
`, data, a.image, port)
	if err := os.WriteFile(filepath.Join(a.dir, "rehearsal.override.yaml"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := a.compose(t, "down", "--volumes", "--timeout", "5"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	start := time.Now()
	if out, err := a.compose(t, "up", "--detach", "--wait", "--wait-timeout", "180"); err != nil {
		logs, _ := a.compose(t, "logs", "--tail", "40")
		t.Fatalf("compose up: %v\n%s\n%s", err, out, logs)
	}
	waitFor(t, 30*time.Second, "the app on 127.0.0.1", func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz %s", resp.Status)
		}
		return nil
	})
	t.Logf("rehearsal: monolith compose project up and healthy in %.1fs", time.Since(start).Seconds())
	return func(t *testing.T) string {
		out, err := a.compose(t, "logs", "--no-color")
		if err != nil {
			t.Errorf("compose logs: %v", err)
		}
		return out
	}
}

// top is every process's command line inside the project's containers.
func (a *monolithApp) top(t *testing.T) string {
	t.Helper()
	out, err := a.compose(t, "top")
	if err != nil {
		t.Errorf("compose top: %v\n%s", err, out)
	}
	if !strings.Contains(out, "mysqld") && !strings.Contains(out, "mariadbd") {
		t.Errorf("compose top shows no database process: the ps check would prove nothing\n%s", out)
	}
	return out
}
