package userdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rolloutHost is swarm-rollout.sh as the manager gets it, run by bash under a
// scratch root, with aws, docker and logger replaced by stubs that read their
// answers from files and record how they were called.
type rolloutHost struct {
	t    *testing.T
	root string
}

const rolloutStubs = `
aws() { [[ -f "$ROOT/param" ]] || return 254; cat "$ROOT/param"; }
docker() {
	echo "docker $*" >>"$ROOT/docker.log"
	case "$1 $2" in
	"service inspect")
		[[ -f "$ROOT/image" ]] || return 1
		case "$4" in
		*ContainerSpec.Image*) cat "$ROOT/image" ;;
		*UpdateStatus.State*) cat "$ROOT/state" 2>/dev/null || true ;;
		esac ;;
	"service update")
		local a prev=
		for a in "$@"; do
			[[ $prev == --image ]] && printf '%s\n' "$a" >"$ROOT/image"
			prev=$a
		done ;;
	"login --username") cat >/dev/null ;;
	esac
}
logger() { echo "logger $*" >>"$ROOT/journal"; }
`

func newRolloutHost(t *testing.T) *rolloutHost {
	t.Helper()
	requireTool(t, "bash", "bash")
	requireTool(t, "flock", "util-linux")
	h := &rolloutHost{t: t, root: t.TempDir()}
	p := mustRender(t, renderers[1].render)
	for _, f := range p.Files {
		if !strings.HasPrefix(f.Path, "/opt/bookstore/") {
			continue
		}
		c := strings.NewReplacer("/opt/bookstore/", h.root+"/opt/bookstore/", "/var/lib/bookstore", h.root+"/var/lib/bookstore").Replace(f.Content)
		if f.Path == "/opt/bookstore/boot.env" {
			c = strings.Replace(c, "SWARM_LOCK='"+SwarmLock+"'", "SWARM_LOCK='"+h.root+"/lock'", 1)
		}
		dst := filepath.Join(h.root, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(c), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *rolloutHost) set(name, value string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.root, name), []byte(value+"\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *rolloutHost) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(h.root, name))
	return string(b)
}

// run runs the script once and returns its exit error and what it logged to
// the journal; the journal and docker's call log start empty each time.
func (h *rolloutHost) run() (string, error) {
	h.t.Helper()
	os.Remove(filepath.Join(h.root, "journal"))
	os.Remove(filepath.Join(h.root, "docker.log"))
	script := filepath.Join(h.root, "opt/bookstore/bin/swarm-rollout.sh")
	// The stubs are functions exported into the script; sourcing lib.sh does
	// not redefine them.
	prelude := "set -a; ROOT=" + shellQuote(h.root) + "; set +a; " + rolloutStubs + " export -f aws docker logger; "
	_, err := run(h.t, h.root, "bash", "-c", prelude+"exec bash "+shellQuote(script))
	return h.read("journal"), err
}

func TestSwarmRollout(t *testing.T) {
	old := testRepo + "@sha256:" + strings.Repeat("a", 64)
	next := testRepo + "@sha256:" + strings.Repeat("b", 64)
	h := newRolloutHost(t)

	h.set("param", old)
	if journal, err := h.run(); err != nil || journal == "" || strings.Contains(h.read("docker.log"), "service update") {
		t.Errorf("no service yet: err %v, journal %q, docker %q; want exit 0, a note, no update", err, journal, h.read("docker.log"))
	}

	// Swarm may keep a reference as repo:tag@digest: the same digest is no
	// change. The first run forwards registry credentials (none were yet);
	// the next is silent.
	h.set("image", testRepo+":dev@sha256:"+strings.Repeat("a", 64))
	forwarded := "docker service update --detach --with-registry-auth --no-resolve-image bookstore"
	if journal, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), forwarded) ||
		!strings.Contains(journal, "credentials forwarded") || h.read("image") != testRepo+":dev@sha256:"+strings.Repeat("a", 64)+"\n" {
		t.Errorf("up to date, credentials never forwarded: err %v, journal %q, docker %q; want them forwarded, the image unchanged", err, journal, h.read("docker.log"))
	}
	if journal, err := h.run(); err != nil || journal != "" || strings.Contains(h.read("docker.log"), "service update") {
		t.Errorf("up to date: err %v, journal %q, docker %q; want a silent exit 0", err, journal, h.read("docker.log"))
	}
	// Six hours on, the 12-hour credentials are forwarded again.
	stamp := filepath.Join(h.root, "var/lib/bookstore/rollout-auth-forwarded")
	sixHoursAgo := time.Now().Add(-6*time.Hour - time.Minute)
	if err := os.Chtimes(stamp, sixHoursAgo, sixHoursAgo); err != nil {
		t.Fatal(err)
	}
	if _, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), forwarded) {
		t.Errorf("credentials 6 h old: err %v, docker %q; want them forwarded again", err, h.read("docker.log"))
	}

	h.set("param", next)
	journal, err := h.run()
	if err != nil || !strings.Contains(h.read("docker.log"), "docker service update --detach --with-registry-auth --image "+next+" bookstore") {
		t.Errorf("new image: err %v, docker %q; want one update to %s", err, h.read("docker.log"), next)
	}
	if !strings.Contains(journal, "logger -t bookstore-rollout -p user.notice -- rolling bookstore from") {
		t.Errorf("the rollout is not in the journal under bookstore-rollout: %q", journal)
	}
	// The UpdateStatus.State values are the ones Docker Engine 20.10 printed
	// in TestRehearsalSwarm (infra/rehearsal): "updating", "completed",
	// "rollback_started", "rollback_completed".
	h.set("state", "updating")
	if _, err := h.run(); err != nil || strings.Contains(h.read("docker.log"), "service update") {
		t.Errorf("second run, update in progress: err %v, docker %q; want nothing done", err, h.read("docker.log"))
	}
	h.set("state", "completed")

	// Swarm rolled the new image back: not retried, reported once.
	third := testRepo + "@sha256:" + strings.Repeat("c", 64)
	h.set("param", third)
	if _, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), "--image "+third) {
		t.Fatalf("third image: err %v, docker %q", err, h.read("docker.log"))
	}
	h.set("image", next)
	// Run 0 lands while Swarm is still rolling back; run 2: a later update
	// (the credentials' forwarding) cleared Swarm's rollback status; the
	// rejected image is still not retried.
	for i, state := range []string{"rollback_started", "rollback_completed", ""} {
		h.set("state", state)
		journal, err := h.run()
		if err != nil || strings.Contains(h.read("docker.log"), "--image") {
			t.Errorf("rolled back, run %d: err %v, docker %q; want no new attempt", i, err, h.read("docker.log"))
		}
		if got := strings.Contains(journal, "-p user.err -- ERROR: "+third+" was rolled back"); got != (i == 0) {
			t.Errorf("rolled back, run %d: reported %v, want %v: %q", i, got, i == 0, journal)
		}
	}

	for _, bad := range []string{testRepo + ":latest", "registry.example.com/library/bookstore@sha256:" + strings.Repeat("d", 64), testRepo + "@sha256:" + strings.Repeat("D", 64)} {
		h.set("param", bad)
		journal, err := h.run()
		if err == nil || strings.Contains(h.read("docker.log"), "service update") || !strings.Contains(journal, "-p user.err -- ERROR: ") {
			t.Errorf("malformed %q: err %v, docker %q, journal %q; want an error logged and nothing changed", bad, err, h.read("docker.log"), journal)
		}
	}

	// Another holder of the lock (the boot script): this turn is skipped.
	h.set("param", third)
	h.set("state", "")
	_, err = run(t, h.root, "flock", filepath.Join(h.root, "lock"), "bash", "-c",
		"set -a; ROOT="+shellQuote(h.root)+"; set +a; "+rolloutStubs+" export -f aws docker logger; bash "+shellQuote(filepath.Join(h.root, "opt/bookstore/bin/swarm-rollout.sh")))
	if err != nil || h.read("docker.log") != "" {
		t.Errorf("lock held: err %v, docker %q; want exit 0 and no docker call", err, h.read("docker.log"))
	}
}
