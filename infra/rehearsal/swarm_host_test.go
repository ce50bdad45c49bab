package rehearsal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// The Swarm manager's boot, for real: the rendered swarm-manager-boot.sh runs
// on this machine against the shared Docker Engine, with stubs for what only
// AWS has. Docker resolves a service's bind mounts on the engine's host, so
// the script's own paths (/opt/bookstore, /mnt/bookstore, /var/lib/bookstore)
// are made on this machine for the run and removed after (emptied, when an
// empty one was there); a run refuses to start when one of them holds
// anything (another run, or a real host).
//
// Overrides, each made here (the README's "Rehearse locally" lists them):
//   - aws: `ssm get-parameter`/`put-parameter` read and write files,
//     `ecr get-login-password` prints the local registry's password;
//   - curl: IMDSv2 answers local-ipv4 127.0.0.1, the RDS CA bundle URL
//     answers a test CA certificate; any other URL goes to the real curl;
//   - mount -t efs (and mount.efs, which the boot checks for) is a no-op:
//     /mnt/bookstore is a plain directory;
//     systemctl is a no-op that records what it was asked (no systemd here);
//   - boot.env: IMAGE_REPOSITORY and ECR_REGISTRY name the local registry
//     (renders accept only ECR), SERVICE_NAME is unique per run;
//   - app.env: DATABASE_URL to the rehearsal's database instead of DB_HOST,
//     DB_PORT, DB_NAME, DB_SECRET_ARN and DB_TLS_CA_FILE (no Secrets Manager,
//     no RDS TLS);
//   - the manager is rendered with EndpointMode dnsrr, Publish none, Network
//     <run>-net and LogDriver json-file: no IPVS on this kernel, no
//     CloudWatch; the overlay is made by the test first, attachable, so the
//     database is on it before the first task starts;
//   - DOCKER_CONFIG is a temp dir, so the boot's `docker login` does not
//     touch this machine's root credentials.

// swarmVPCCIDR is network.VPCCIDR, the range the stack gives its VPC (not
// imported: infra/network links the pulumi-aws SDK). The rehearsal's swarm
// gets the address pool the manager would get on AWS.
const swarmVPCCIDR = "10.0.0.0/16"

var hostPaths = []string{"/opt/bookstore", "/mnt/bookstore", "/var/lib/bookstore"}

// swarmHost is this machine playing the manager.
type swarmHost struct {
	stubs   string            // directory first on the boot's PATH
	params  string            // the "parameter store": one file per parameter
	env     []string          // the boot's environment
	files   map[string]string // the rendered document's files
	service string
	network string
	journal string // the stubs' and the scripts' log
}

const stubAWS = `#!/bin/bash
# aws stub: SSM parameters are files in $REHEARSAL_PARAMS; ECR's password is $REHEARSAL_REGISTRY_PASSWORD.
set -euo pipefail
echo "aws $*" >>"$REHEARSAL_JOURNAL"
file() { printf '%s/%s' "$REHEARSAL_PARAMS" "${1//\//_}"; }
name= value=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	--name) name=${args[i + 1]} ;;
	--value) value=${args[i + 1]} ;;
	esac
done
case "$1 $2" in
"ssm get-parameter") [[ -f $(file "$name") ]] || { echo "ParameterNotFound: $name" >&2; exit 254; }; cat "$(file "$name")" ;;
"ssm put-parameter") [[ $value == file://* ]] || { echo "stub: --value must be file:// (never argv)" >&2; exit 2; }; cp "${value#file://}" "$(file "$name")" ;;
"ecr get-login-password") printf '%s\n' "$REHEARSAL_REGISTRY_PASSWORD" ;;
*) echo "aws stub: unexpected: $*" >&2; exit 2 ;;
esac
`

const stubCurl = `#!/bin/bash
# curl stub: IMDSv2 and the RDS CA bundle; anything else is the real curl.
out= url=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	-o) out=${args[i + 1]} ;;
	http*://*) url=${args[i]} ;;
	esac
done
echo "curl $url" >>"$REHEARSAL_JOURNAL"
case $url in
http://169.254.169.254/latest/api/token) echo rehearsal-token ;;
http://169.254.169.254/latest/meta-data/local-ipv4) echo 127.0.0.1 ;;
https://truststore.pki.rds.amazonaws.com/*) cp "$REHEARSAL_CA" "$out" ;;
*) exec /usr/bin/curl "$@" ;;
esac
`

const stubMount = `#!/bin/bash
# mount stub: EFS is a plain directory here; any other mount is the real one.
if [[ " $* " == *" -t efs "* ]]; then echo "mount $*" >>"$REHEARSAL_JOURNAL"; exit 0; fi
exec /usr/bin/mount "$@"
`

const stubSystemctl = `#!/bin/bash
# systemctl stub: no systemd here; the docker daemon already runs.
echo "systemctl $*" >>"$REHEARSAL_JOURNAL"
`

// newSwarmHost renders the manager's user data for a test stack, applies the
// overrides above and writes the files where the boot script reads them.
func newSwarmHost(t *testing.T, reg *registry, dbURL string) *swarmHost {
	t.Helper()
	// An empty directory may be there: the fleet rehearsal makes these
	// paths as mount points for its namespaces. It is emptied, not removed.
	made := map[string]bool{}
	for _, p := range hostPaths {
		entries, err := os.ReadDir(p)
		switch {
		case os.IsNotExist(err):
			made[p] = true
		case err != nil || len(entries) > 0:
			t.Fatalf("%s is not empty (%v): another swarm rehearsal is running, or this is a real host; the swarm rehearsal needs it for itself", p, err)
		}
	}
	t.Cleanup(func() {
		for _, p := range hostPaths {
			if made[p] {
				os.RemoveAll(p)
				continue
			}
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(p, e.Name()))
			}
		}
	})
	run := "r" + containertest.RandomHex(4)
	h := &swarmHost{service: "bookstore-" + run, network: "bookstore-" + run + "-net", stubs: t.TempDir(), params: t.TempDir()}
	h.journal = filepath.Join(h.stubs, "journal.log")
	rendered, err := userdata.RenderSwarmManager(userdata.SwarmManager{
		Service: userdata.Service{
			Region: "eu-west-1", DBHost: "bookstore.abc.eu-west-1.rds.amazonaws.com", DBPort: 3306, DBName: "bookstore",
			DBSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1", AdminEmails: []string{"owner@shop.test"},
			LogGroup: "/bookstore/rehearsal/swarm",
		},
		EFS:                userdata.EFS{FileSystemID: "fs-0123456789abcdef0", AccessPointID: "fsap-0123456789abcdef0"},
		JoinTokenParameter: "/bookstore/rehearsal/swarm-join-token",
		ImageParameter:     "/bookstore/rehearsal/swarm-image",
		ReplicasParameter:  "/bookstore/rehearsal/swarm-replicas",
		Repository:         "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore",
		VPCCIDR:            swarmVPCCIDR,
		EndpointMode:       "dnsrr", Publish: "none", Network: h.network, LogDriver: "json-file",
	})
	if err != nil {
		t.Fatal(err)
	}
	h.files = unpack(t, rendered, t.TempDir())
	bootEnv := replaceAll(t, "boot.env", h.files["/opt/bookstore/boot.env"],
		"IMAGE_REPOSITORY='123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore'", "IMAGE_REPOSITORY='"+reg.Host+"/bookstore'",
		"ECR_REGISTRY='123456789012.dkr.ecr.eu-west-1.amazonaws.com'", "ECR_REGISTRY='"+reg.Host+"'",
		"SERVICE_NAME='bookstore'", "SERVICE_NAME='"+h.service+"'")
	var app []string
	for _, line := range strings.Split(h.files["/opt/bookstore/app.env"], "\n") {
		if strings.HasPrefix(line, "DB_") {
			continue
		}
		app = append(app, line)
	}
	app = append(app, "DATABASE_URL="+dbURL, "")
	for path, content := range map[string]string{"/opt/bookstore/boot.env": bootEnv, "/opt/bookstore/app.env": strings.Join(app, "\n")} {
		h.files[path] = content
	}
	for path, content := range h.files {
		if !strings.HasPrefix(path, "/opt/bookstore/") {
			continue // systemd units: no systemd here
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("/mnt/bookstore", 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod("/mnt/bookstore", 0o777) // the tasks run as 65532
	ca := filepath.Join(h.stubs, "rds-ca.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", filepath.Join(h.stubs, "ca.key"), "-out", ca, "-days", "2", "-subj", "/CN=Rehearsal RDS CA").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	for name, content := range map[string]string{"aws": stubAWS, "curl": stubCurl, "mount": stubMount, "mount.efs": stubMount, "systemctl": stubSystemctl} {
		if err := os.WriteFile(filepath.Join(h.stubs, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.env = append(os.Environ(),
		"PATH="+h.stubs+":"+os.Getenv("PATH"),
		"DOCKER_CONFIG="+t.TempDir(),
		"REHEARSAL_PARAMS="+h.params, "REHEARSAL_JOURNAL="+h.journal, "REHEARSAL_CA="+ca,
		"REHEARSAL_REGISTRY_PASSWORD="+reg.Password)
	return h
}

// setReplicas writes n to the replica count parameter, as `pulumi up` does.
func (h *swarmHost) setReplicas(t *testing.T, n int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.params, "_bookstore_rehearsal_swarm-replicas"), []byte(fmt.Sprintln(n)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setImage writes ref to the image parameter, as `pulumi up` does.
func (h *swarmHost) setImage(t *testing.T, ref string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.params, "_bookstore_rehearsal_swarm-image"), []byte(ref+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// script runs one of the rendered scripts as root on this machine, as
// cloud-init (the boot) or bookstore-rollout.timer (the rollout) would.
func (h *swarmHost) script(t *testing.T, name string, limit time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "/opt/bookstore/bin/"+name)
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (h *swarmHost) inspect(t *testing.T, format string) string {
	t.Helper()
	out, err := containertest.Docker(context.Background(), "service", "inspect", "--format", format, h.service)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// tasks lists the running tasks' image references.
func (h *swarmHost) runningImages(t *testing.T) []string {
	t.Helper()
	out, err := containertest.Docker(context.Background(), "service", "ps", h.service,
		"--filter", "desired-state=running", "--no-trunc", "--format", "{{.CurrentState}}|{{.Image}}")
	if err != nil {
		t.Fatal(err)
	}
	var imgs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		state, img, _ := strings.Cut(l, "|")
		if strings.HasPrefix(state, "Running") {
			imgs = append(imgs, img)
		}
	}
	return imgs
}

func allOn(imgs []string, ref string, n int) error {
	if len(imgs) != n {
		return fmt.Errorf("%d running tasks, want %d", len(imgs), n)
	}
	for _, img := range imgs {
		if !strings.HasSuffix(img, ref[strings.Index(ref, "@"):]) {
			return fmt.Errorf("a task runs %s, want %s", img, ref)
		}
	}
	return nil
}
