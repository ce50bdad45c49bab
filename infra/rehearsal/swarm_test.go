package rehearsal

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// proxyImage is HAProxy from Debian on the debian:bookworm-slim stand-in,
// built with podman: no registry here to pull haproxy's own image from.
const proxyImage = "localhost/bookstore-rehearsal-haproxy:1"

const proxyContainerfile = `FROM docker.io/library/debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null && rm -rf /var/lib/apt/lists/*
`

func buildProxyImage(t *testing.T) {
	t.Helper()
	if _, err := containertest.Docker(context.Background(), "image", "inspect", proxyImage); err == nil {
		return
	}
	containertest.NeedPodman(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", "build", "--format", "docker", "-t", proxyImage, "-f", "-", t.TempDir())
	cmd.Stdin = strings.NewReader(proxyContainerfile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman build %s: %v\n%s", proxyImage, err, containertest.Tail(string(out), 20))
	}
	containertest.LoadIntoDocker(t, proxyImage)
}

// swarmProxyConfig puts HAProxy in front of the service's tasks, found through
// Docker's DNS (tasks.<service>, one A record a task: endpoint mode dnsrr),
// as the ALB is in front of the routing mesh on AWS: health-checked on
// /readyz every second, a request that could not connect retried on
// another task.
func swarmProxyConfig(service string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0 warning
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503
resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
    hold obsolete 0s
frontend web
    bind :8080
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    http-response set-header X-Served-By %%s
    default-server inter 1s fall 1 rise 2 check resolvers docker init-addr none
    server-template task 10 tasks.%s:5000
`, service)
}

// steadyLoad sends GET path through the proxy every interval until stopped (or
// limit passes) and counts what did not answer 200.
type steadyLoad struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	failures     []string
	servers      map[string]bool
	stop         chan struct{}
	done         chan struct{}
}

func startLoad(url string, interval, limit time.Duration) *steadyLoad {
	l := &steadyLoad{stop: make(chan struct{}), done: make(chan struct{}), servers: map[string]bool{}}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		deadline := time.After(limit)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			l.sent.Add(1)
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				l.mu.Lock()
				l.servers[resp.Header.Get("X-Served-By")] = true
				l.mu.Unlock()
			}
			if err != nil || resp.StatusCode != 200 {
				l.failed.Add(1)
				l.mu.Lock()
				if err != nil {
					l.failures = append(l.failures, err.Error())
				} else {
					l.failures = append(l.failures, resp.Status)
				}
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *steadyLoad) finish() (sent, failed int64, failures []string) {
	close(l.stop)
	<-l.done
	return l.sent.Load(), l.failed.Load(), l.failures
}

// derive builds a one-line variant of base with Docker's classic builder
// (no BuildKit frontend to fetch) and pushes it; it returns repo@sha256.
func derive(t *testing.T, c dockerClient, reg *registry, base, tag, instruction string) string {
	t.Helper()
	name := "localhost/bookstore-rehearsal-" + tag
	cmd := exec.Command("docker", "build", "-q", "-t", name, "-")
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader("FROM " + base + "\n" + instruction + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { containertest.Docker(context.Background(), "rmi", name) })
	return c.push(t, name, reg.Host, "bookstore", tag)
}

// states polls the service's UpdateStatus.State every 500 ms and records each
// value the engine prints, in order, until until returns true or limit.
func (h *swarmHost) watchStates(t *testing.T, limit time.Duration, until func(state string) bool) []string {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		st := h.inspect(t, "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}")
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if until(st) {
			return seen
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("service %s: update states %q, not done after %s", h.service, seen, limit)
	return nil
}

func TestRehearsalSwarm(t *testing.T) {
	t.Parallel() // about 6 minutes, mostly Swarm's update delay and monitor
	if os.Geteuid() != 0 {
		containertest.Missing(t, "the swarm rehearsal runs the manager's boot script as root, as cloud-init does")
	}
	requireTools(t, "openssl", "flock", "bash")
	image := rehearsalImage(t)
	buildProxyImage(t)
	ctx := context.Background()

	reg := startRegistry(t)
	pusher := newDockerClient(t)
	if err := pusher.login(ctx, reg.Host, reg.Password); err != nil {
		t.Fatal(err)
	}
	first := pusher.push(t, image, reg.Host, "bookstore", "first")

	// The engine is shared: a swarm this test makes, it leaves; one that
	// was there, it keeps.
	before, err := containertest.Docker(ctx, "info", "--format", "{{.Swarm.LocalNodeState}}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(before) != "active" {
		t.Cleanup(func() { containertest.Docker(context.Background(), "swarm", "leave", "--force") })
	}

	dbPass := containertest.RandomHex(12)
	h := newSwarmHost(t, reg, "")
	db := h.service + "-db"
	// The DATABASE_URL override names the database container on the overlay.
	dbURL := fmt.Sprintf("mysql://bookstore:%s@%s:3306/bookstore", dbPass, db)
	appEnv := strings.Replace(h.files["/opt/bookstore/app.env"], "DATABASE_URL=\n", "DATABASE_URL="+dbURL+"\n", 1)
	if err := os.WriteFile("/opt/bookstore/app.env", []byte(appEnv), 0o600); err != nil {
		t.Fatal(err)
	}
	h.setImage(t, first)
	h.setReplicas(t, 5)
	t.Cleanup(func() {
		for _, args := range [][]string{
			{"service", "rm", h.service}, {"rm", "-f", h.service + "-proxy"}, {"rm", "-f", "-v", db},
		} {
			containertest.Docker(context.Background(), args...)
		}
		// Tasks take a moment to go; the network waits for them.
		for i := 0; i < 30; i++ {
			if _, err := containertest.Docker(context.Background(), "network", "rm", h.network); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if t.Failed() {
			b, _ := os.ReadFile(h.journal)
			t.Logf("stub journal:\n%s", containertest.Tail(string(b), 40))
		}
	})

	// The boot runs as cloud-init would run it; the database joins the
	// overlay the boot makes as soon as it exists (tasks restart until then).
	start := time.Now()
	bootDone := make(chan error, 1)
	var bootOut string
	go func() {
		var err error
		bootOut, err = h.script(t, "swarm-manager-boot.sh", 8*time.Minute)
		bootDone <- err
	}()
	var bootErr error
	booting := true
	waitFor(t, 2*time.Minute, "the boot's overlay network "+h.network, func() error {
		if booting {
			select {
			case bootErr = <-bootDone:
				booting = false
				t.Fatalf("swarm-manager-boot.sh ended before making %s: %v\n%s", h.network, bootErr, bootOut)
			default:
			}
		}
		_, err := containertest.Docker(ctx, "network", "inspect", h.network)
		return err
	})
	if _, err := containertest.Docker(ctx, "run", "-d", "--name", db, "--network", h.network,
		"-e", "MYSQL_RANDOM_ROOT_PASSWORD=yes", "-e", "MYSQL_DATABASE=bookstore", "-e", "MYSQL_USER=bookstore", "-e", "MYSQL_PASSWORD="+dbPass,
		userdata.DefaultMySQLImage); err != nil {
		t.Fatal(err)
	}
	if err := <-bootDone; err != nil {
		t.Fatalf("swarm-manager-boot.sh: %v\n%s", err, bootOut)
	}
	if !strings.Contains(bootOut, "swarm manager boot: done, 5/5 tasks running") {
		t.Fatalf("the boot did not end with 5 running tasks:\n%s", bootOut)
	}
	booted := time.Since(start)
	if err := allOn(h.runningImages(t), first, 5); err != nil {
		t.Fatal(err)
	}
	pool := h.inspectSwarm(t)
	t.Logf("rehearsal: swarm manager boot %.0fs: 5/5 tasks of %s by digest, registry login forwarded (--with-registry-auth); %s",
		booted.Seconds(), first[strings.Index(first, "@")+1:][:19], pool)

	// Every task mounts the same covers directory and reads the same database.
	mounts, err := containertest.Docker(ctx, "service", "inspect", "--format", "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}>{{.Target}} {{end}}", h.service)
	if err != nil || !strings.Contains(mounts, "/mnt/bookstore>/app/shared") {
		t.Errorf("service mounts %q (%v), want /mnt/bookstore>/app/shared", mounts, err)
	}

	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(swarmProxyConfig(h.service)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	if _, err := containertest.Docker(ctx, "run", "-d", "--name", h.service+"-proxy", "--network", h.network,
		"-p", fmt.Sprintf("127.0.0.1:%d:8080", port), "-v", cfg+":/etc/haproxy/haproxy.cfg:ro",
		proxyImage, "haproxy", "-f", "/etc/haproxy/haproxy.cfg"); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, time.Minute, "the proxy in front of 5 tasks", func() error {
		l := startLoad(url, 20*time.Millisecond, 2*time.Second)
		time.Sleep(time.Second)
		sent, failed, _ := l.finish()
		if failed > 0 || len(l.servers) < 5 {
			return fmt.Errorf("%d/%d failed, %d tasks answered", failed, sent, len(l.servers))
		}
		return nil
	})

	// A deploy: the next build's digest in the parameter, then the timer's tick.
	second := derive(t, pusher, reg, image, "second", "ENV BOOKSTORE_REHEARSAL_BUILD=2")
	h.setImage(t, second)
	l := startLoad(url, 50*time.Millisecond, 8*time.Minute)
	start = time.Now()
	if out, err := h.script(t, "swarm-rollout.sh", 2*time.Minute); err != nil {
		t.Fatalf("swarm-rollout.sh: %v\n%s", err, out)
	}
	if order := h.inspect(t, "{{.Spec.UpdateConfig.Order}}"); order != "start-first" {
		t.Errorf("update order %q, want start-first", order)
	}
	deployStates := h.watchStates(t, 6*time.Minute, func(s string) bool { return s == "completed" || strings.HasPrefix(s, "rollback") })
	waitFor(t, time.Minute, "every task on the second digest", func() error { return allOn(h.runningImages(t), second, 5) })
	deployed := time.Since(start)
	time.Sleep(3 * time.Second) // the old tasks' drain
	sent, failed, failures := l.finish()
	if failed != 0 || deployStates[len(deployStates)-1] != "completed" {
		t.Errorf("deploy: states %q, %d of %d requests failed: %q", deployStates, failed, sent, failures)
	}
	t.Logf("rehearsal: swarm deploy %.0fs (start-first, states %q): 5/5 tasks on the new digest, %d requests through HAProxy, %d failed",
		deployed.Seconds(), deployStates, sent, failed)

	// A rollback: an image whose health check fails.
	bad := derive(t, pusher, reg, image, "unhealthy", `HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=2 CMD ["/app/bookstore", "healthcheck", "--rehearsal-fails"]`)
	h.setImage(t, bad)
	l = startLoad(url, 50*time.Millisecond, 10*time.Minute)
	start = time.Now()
	if out, err := h.script(t, "swarm-rollout.sh", 2*time.Minute); err != nil {
		t.Fatalf("swarm-rollout.sh (unhealthy image): %v\n%s", err, out)
	}
	rollbackStates := h.watchStates(t, 8*time.Minute, func(s string) bool { return s == "rollback_completed" || s == "completed" })
	rolledBack := time.Since(start)
	if rollbackStates[len(rollbackStates)-1] != "rollback_completed" {
		t.Fatalf("the unhealthy image: states %q, want Swarm to roll back by itself", rollbackStates)
	}
	if err := allOn(h.runningImages(t), second, 5); err != nil {
		t.Errorf("after the rollback: %v", err)
	}
	// The timer's next ticks: the rollback is noticed and remembered, and
	// the rejected image is not tried again.
	out, err := h.script(t, "swarm-rollout.sh", 2*time.Minute)
	rejected, _ := os.ReadFile("/var/lib/bookstore/rollout-rejected")
	detected := err == nil && strings.TrimSpace(string(rejected)) == bad && strings.Contains(out, "was rolled back (rollback_completed")
	if !detected {
		t.Errorf("the tick after the rollback: %v, rollout-rejected %q\n%s", err, rejected, out)
	}
	version := h.inspect(t, "{{.Version.Index}}")
	out, err = h.script(t, "swarm-rollout.sh", 2*time.Minute)
	retried := err != nil || strings.Contains(out, "rolling ") || h.inspect(t, "{{.Version.Index}}") != version
	if retried {
		t.Errorf("the second tick after the rollback touched the service: %v\n%s", err, out)
	}
	sent, failed, failures = l.finish()
	t.Logf("rehearsal: swarm rollback %.0fs (states %q): Swarm rolled back by itself; detected by swarm-rollout.sh %v, remembered %v, retried %v; %d requests, %d failed %q",
		rolledBack.Seconds(), rollbackStates, detected, strings.TrimSpace(string(rejected)) == bad, retried, sent, failed, distinctStrings(failures))

	// The next good digest rolls.
	third := derive(t, pusher, reg, image, "third", "ENV BOOKSTORE_REHEARSAL_BUILD=3")
	h.setImage(t, third)
	if out, err := h.script(t, "swarm-rollout.sh", 2*time.Minute); err != nil || !strings.Contains(out, "rolling ") {
		t.Fatalf("swarm-rollout.sh (the next good image): %v\n%s", err, out)
	}
	// Every task on it is enough here: the deploy above already waited out
	// the update monitor (60 s) for "completed".
	start = time.Now()
	waitFor(t, 5*time.Minute, "every task on the third digest", func() error { return allOn(h.runningImages(t), third, 5) })
	nextStates := []string{h.inspect(t, "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}")}
	if _, err := os.Stat("/var/lib/bookstore/rollout-rejected"); err == nil {
		t.Error("rollout-rejected still there after a new image rolled")
	}
	t.Logf("rehearsal: swarm next good digest on 5/5 tasks in %.0fs (state %q)", time.Since(start).Seconds(), nextStates)

	// `pulumi config set bookstore:swarmReplicas 3`, then `pulumi up`: the
	// parameter changes, no host does; the timer's tick scales the service,
	// after the update above if it is still under way.
	h.setReplicas(t, 3)
	l = startLoad(url, 50*time.Millisecond, 5*time.Minute)
	start = time.Now()
	out, err = h.script(t, "swarm-rollout.sh", 2*time.Minute)
	ticks, waited := 1, ""
	for err == nil && strings.Contains(out, "scaling after the update under way") {
		if got := h.inspect(t, "{{.Spec.Mode.Replicated.Replicas}}"); got != "5" {
			t.Fatalf("scaled to %s in the middle of an update", got)
		}
		waited = h.inspect(t, "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}")
		h.watchStates(t, 3*time.Minute, func(s string) bool { return s != "updating" && s != "rollback_started" })
		out, err = h.script(t, "swarm-rollout.sh", 2*time.Minute)
		ticks++
	}
	if err != nil || !strings.Contains(out, "scaled "+h.service+" from 5 to 3 replicas") {
		t.Fatalf("swarm-rollout.sh (3 replicas): %v\n%s", err, out)
	}
	if got := h.inspect(t, "{{.Spec.Mode.Replicated.Replicas}}"); got != "3" {
		t.Errorf("the service's replicas after the scale: %s, want 3", got)
	}
	waitFor(t, 2*time.Minute, "3 tasks on the third digest", func() error { return allOn(h.runningImages(t), third, 3) })
	scaled := time.Since(start)
	version = h.inspect(t, "{{.Version.Index}}")
	if out, err := h.script(t, "swarm-rollout.sh", 2*time.Minute); err != nil || strings.Contains(out, "scaled ") || h.inspect(t, "{{.Version.Index}}") != version {
		t.Errorf("the tick after the scale touched the service: %v\n%s", err, out)
	}
	sent, failed, failures = l.finish()
	t.Logf("rehearsal: swarm scaled 5 → 3 by swarm-rollout.sh in %.0fs (%d ticks, waited for update state %q): 3/3 tasks on the third digest; %d requests, %d failed %q",
		scaled.Seconds(), ticks, waited, sent, failed, distinctStrings(failures))
}

// inspectSwarm describes the swarm's address pool as the engine reports it.
func (h *swarmHost) inspectSwarm(t *testing.T) string {
	t.Helper()
	out, err := containertest.Docker(context.Background(), "info", "--format", "{{json .Swarm.Cluster.DefaultAddrPool}} /{{.Swarm.Cluster.SubnetSize}}")
	if err != nil {
		t.Fatal(err)
	}
	subnet, _ := containertest.Docker(context.Background(), "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", h.network)
	return fmt.Sprintf("address pool %s, overlay %s", strings.TrimSpace(out), strings.TrimSpace(subnet))
}

func distinctStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
