package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// composeProject runs `docker compose` on the root docker-compose.yml as
// the README does, under a project name of its own, with an override that
// only renames the preloaded image and moves the published port (the
// engine is shared; 5000 may be taken).
type composeProject struct {
	t        testing.TB
	name     string
	root     string
	override string
	env      []string
}

func (p *composeProject) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"compose", "--project-name", p.name, "--project-directory", p.root,
		"-f", filepath.Join(p.root, "docker-compose.yml"), "-f", p.override}, args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	cmd.Env = append(os.Environ(), p.env...)
	return containertest.Run(cmd)
}

// TestRehearsalComposeReadme brings up the README's `docker compose up -d`
// with the image preloaded, and checks: /readyz 200, a book added with a
// cover that is served, `docker compose stop` exiting 0 with the app
// exiting 0 within stop_grace_period, the data kept across down and up, and
// the volumes gone after down -v.
func TestRehearsalComposeReadme(t *testing.T) {
	t.Parallel() // the package runs past go test's 10 min default one test after another
	containertest.NeedDocker(t, "")
	src := rehearsalImage(t)
	if _, err := dbImage(context.Background()); err != nil {
		containertest.Missing(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := "rh" + containertest.RandomHex(4)
	image := "bookstore-rehearsal-" + run + ":local"
	if _, err := containertest.Docker(ctx, "tag", src, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { containertest.Docker(context.Background(), "rmi", image) })
	port, err := containertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	override := filepath.Join(t.TempDir(), "compose.override.yaml")
	if err := os.WriteFile(override, []byte(fmt.Sprintf(`# The rehearsal's override: the preloaded image under a name of this run, and a free port.
services:
  app:
    image: %q
    ports: !override
      - "127.0.0.1:%d:5000"
`, image, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &composeProject{t: t, name: run + "-compose", root: containertest.RepoRoot(t), override: override,
		env: []string{"MYSQL_PASSWORD=" + containertest.RandomHex(24)}}
	t.Cleanup(func() {
		if _, err := p.run(context.Background(), "down", "--volumes", "--timeout", "1"); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})

	var cfg struct {
		Services map[string]struct {
			StopGracePeriod string `json:"stop_grace_period"`
		} `json:"services"`
	}
	out, err := p.run(ctx, "config", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	grace := 10 * time.Second // compose's default
	if g := cfg.Services["app"].StopGracePeriod; g != "" {
		if grace, err = time.ParseDuration(g); err != nil {
			t.Fatalf("stop_grace_period %q: %v", g, err)
		}
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	up := func() time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := p.run(ctx, "up", "-d"); err != nil {
			t.Fatal(err)
		}
		if err := containertest.WaitReady(ctx, base, 3*time.Minute, 500*time.Millisecond, nil); err != nil {
			logs, _ := p.run(context.Background(), "logs", "--tail", "30")
			t.Fatalf("%v\n%s", err, logs)
		}
		return time.Since(start)
	}
	firstUp := up()

	cover := containertest.CoverPNG(t)
	seller := newShopper(base, nil, "")
	if err := seller.signUp("Compose Seller", "compose-"+run+"@rehearsal.test", "rehearsal compose password"); err != nil {
		t.Fatal(err)
	}
	title := "Compose Book " + run
	if _, err := seller.addBook(title, 5, cover); err != nil {
		t.Fatal(err)
	}
	checkCatalogCover(t, base, title, cover)

	// docker compose stop: SIGTERM, the drain, exit 0 before stop_grace_period.
	app, err := p.run(ctx, "ps", "--quiet", "app")
	if err != nil {
		t.Fatal(err)
	}
	app = strings.TrimSpace(app)
	start := time.Now()
	_, stopErr := p.run(ctx, "stop")
	stopped := time.Since(start)
	code, err := containertest.Docker(ctx, "inspect", "--format", "{{.State.ExitCode}}", app)
	if err != nil {
		t.Fatal(err)
	}
	if stopErr != nil {
		t.Errorf("docker compose stop: %v", stopErr)
	}
	if c, _ := strconv.Atoi(strings.TrimSpace(code)); c != 0 || stopped >= grace {
		t.Errorf("docker compose stop took %s and the app exited %s; want exit 0 within stop_grace_period %s (137 is the engine's SIGKILL)", stopped, strings.TrimSpace(code), grace)
	}

	// down, up: the named volumes keep the database and the covers.
	if _, err := p.run(ctx, "down"); err != nil {
		t.Fatal(err)
	}
	secondUp := up()
	checkCatalogCover(t, base, title, cover)

	// down -v: the volumes, and with them the data, are gone.
	if _, err := p.run(ctx, "down", "--volumes"); err != nil {
		t.Fatal(err)
	}
	vols, err := containertest.Docker(ctx, "volume", "ls", "--quiet", "--filter", "label=com.docker.compose.project="+p.name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(vols) != "" {
		t.Errorf("after down -v, volumes of %s remain: %s", p.name, vols)
	}
	t.Logf("rehearsal: compose (README): first up to /readyz 200 %s, stop %s (exit %s, stop_grace_period %s), up again %s, book and cover kept, volumes removed by down -v",
		firstUp.Round(time.Second), stopped.Round(time.Millisecond), strings.TrimSpace(code), grace, secondUp.Round(time.Second))
}

// checkCatalogCover requires the catalog at base to list title with a
// cover that serves exactly cover.
func checkCatalogCover(t *testing.T, base, title string, cover []byte) {
	t.Helper()
	s := newShopper(base, nil, "")
	catalog, err := s.get("/book/catalog")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(catalog.Body, title) {
		t.Fatalf("the catalog does not list %q", title)
	}
	src := coverURL(catalog.Body)
	r, err := s.get(src)
	if src == "" || err != nil || r.Status != http.StatusOK || !bytes.Equal([]byte(r.Body), cover) {
		t.Errorf("cover %q: %d %v (%d bytes), want the %d bytes uploaded", src, r.Status, err, len(r.Body), len(cover))
	}
}
