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

// The stubs answer as Docker Engine 20.10 does: inspect's templates print
// the bare value ("5" for .Spec.Mode.Replicated.Replicas), and
// `docker service scale --detach NAME=N` prints "NAME scaled to N".
const rolloutStubs = `
aws() {
	local f=param
	[[ " $* " == *" --name ` + testReplicasParam + ` "* ]] && f=replicas-param
	[[ -f "$ROOT/$f" ]] || return 254
	cat "$ROOT/$f"
}
docker() {
	echo "docker $*" >>"$ROOT/docker.log"
	case "$1 $2" in
	"service inspect")
		[[ -f "$ROOT/image" ]] || return 1
		case "$4" in
		*ContainerSpec.Image*) cat "$ROOT/image" ;;
		*UpdateStatus.State*) cat "$ROOT/state" 2>/dev/null || true ;;
		*Replicated.Replicas*) cat "$ROOT/replicas" ;;
		esac ;;
	"service update")
		local a prev=
		for a in "$@"; do
			[[ $prev == --image ]] && printf '%s\n' "$a" >"$ROOT/image"
			[[ $prev == --replicas ]] && printf '%s\n' "$a" >"$ROOT/replicas"
			prev=$a
		done ;;
	"service scale")
		local target=${*: -1}
		printf '%s\n' "${target#*=}" >"$ROOT/replicas"
		echo "${target%%=*} scaled to ${target#*=}" ;;
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
	// The stack's default count, in the parameter and in the service.
	h.set("replicas-param", "5")
	h.set("replicas", "5")
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
	if err != nil || !strings.Contains(h.read("docker.log"), "docker service update --detach --with-registry-auth --image "+next+" --replicas 5 bookstore") {
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

// A new value of the replica count parameter (bookstore:swarmReplicas) scales
// the service on the next tick, never in the middle of an update or a
// rollback (a scale is an update: it would replace the spec Swarm rolls back
// to), and goes with a new image when both change. A malformed count changes
// nothing.
func TestSwarmRolloutScales(t *testing.T) {
	img := testRepo + "@sha256:" + strings.Repeat("a", 64)
	h := newRolloutHost(t)
	h.set("param", img)
	h.set("image", img)
	h.set("state", "completed")
	if _, err := h.run(); err != nil { // forwards credentials once, as TestSwarmRollout shows
		t.Fatal(err)
	}

	h.set("replicas-param", "3")
	journal, err := h.run()
	if err != nil || !strings.Contains(h.read("docker.log"), "docker service scale --detach bookstore=3") || h.read("replicas") != "3\n" {
		t.Errorf("5 → 3: err %v, docker %q; want one `docker service scale --detach bookstore=3`", err, h.read("docker.log"))
	}
	if !strings.Contains(journal, "-p user.notice -- scaled bookstore from 5 to 3 replicas") {
		t.Errorf("the scale is not in the journal: %q", journal)
	}
	if journal, err := h.run(); err != nil || journal != "" || h.read("docker.log") != strings.Join([]string{
		"docker service inspect --format {{.Spec.TaskTemplate.ContainerSpec.Image}} bookstore",
		"docker service inspect --format {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}} bookstore", ""}, "\n") {
		t.Errorf("scaled already: err %v, journal %q, docker %q; want a silent exit 0 after two reads", err, journal, h.read("docker.log"))
	}

	// An update or a rollback under way: wait, and say so; a paused one
	// needs a person.
	h.set("replicas-param", "7")
	for state, want := range map[string]string{
		"updating":         "-p user.notice -- bookstore has 3 replicas, " + testReplicasParam + " says 7: scaling after the update under way (updating)",
		"rollback_started": "scaling after the update under way (rollback_started)",
		"paused":           "-p user.err -- ERROR: bookstore's update is paused: not scaled from 3 to 7",
		"rollback_paused":  "-p user.err -- ERROR: bookstore's update is rollback_paused",
	} {
		h.set("state", state)
		journal, err := h.run()
		if err != nil || strings.Contains(h.read("docker.log"), "service scale") || strings.Contains(h.read("docker.log"), "service update") ||
			!strings.Contains(journal, want) {
			t.Errorf("state %s: err %v, docker %q, journal %q; want no scale and %q", state, err, h.read("docker.log"), journal, want)
		}
	}
	for _, state := range []string{"rollback_completed", ""} {
		h.set("replicas", "3")
		h.set("state", state)
		if _, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), "docker service scale --detach bookstore=7") {
			t.Errorf("state %q: err %v, docker %q; want the scale to 7", state, err, h.read("docker.log"))
		}
	}

	// A new image and a new count: one update carries both.
	next := testRepo + "@sha256:" + strings.Repeat("b", 64)
	h.set("param", next)
	h.set("replicas-param", "2")
	h.set("state", "completed")
	if _, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), "--image "+next+" --replicas 2 bookstore") ||
		strings.Contains(h.read("docker.log"), "service scale") || h.read("replicas") != "2\n" {
		t.Errorf("new image and count: err %v, docker %q; want one update with --image and --replicas 2", err, h.read("docker.log"))
	}

	// That update rolled back (image and count with it): the image is
	// remembered as rejected and the count set again in the same tick, since
	// nothing is under way any more.
	h.set("image", img)
	h.set("replicas", "7")
	h.set("state", "rollback_completed")
	journal, err = h.run()
	if err != nil || !strings.Contains(journal, next+" was rolled back") || !strings.Contains(h.read("docker.log"), "docker service scale --detach bookstore=2") ||
		strings.Contains(h.read("docker.log"), "--image") {
		t.Errorf("rolled back: err %v, journal %q, docker %q; want the rejection noted and a scale to 2", err, journal, h.read("docker.log"))
	}

	// Pulumi writes only 1-100 (infra/config); anything else is refused
	// before docker is asked anything.
	h.set("replicas", "2")
	for _, bad := range []string{"0", "101", "-1", "3.0", "03", "three", "", "5 6"} {
		h.set("replicas-param", bad)
		journal, err := h.run()
		if err == nil || h.read("docker.log") != "" || !strings.Contains(journal, "-p user.err -- ERROR: "+testReplicasParam+" holds '"+bad+"'") {
			t.Errorf("count %q: err %v, docker %q, journal %q; want an error naming the parameter and no docker call", bad, err, h.read("docker.log"), journal)
		}
	}
	h.set("replicas-param", "100")
	if _, err := h.run(); err != nil || !strings.Contains(h.read("docker.log"), "bookstore=100") {
		t.Errorf("count 100, the limit: err %v, docker %q; want a scale to 100", err, h.read("docker.log"))
	}
}
