package rehearsal

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// monolithOutputs are stack outputs for a stack on the test zone shop.test
// whose only live site is the monolith at legacy.shop.test; the other keys
// hold values of the right shape that nothing here serves.
func monolithOutputs() map[string]any {
	return map[string]any{
		"url": "https://shop.test", "wwwUrl": "https://www.shop.test",
		"albDnsName":        "bookstore-alb-1234567890.eu-west-1.elb.amazonaws.com",
		"albZoneId":         "Z32O12XQLNTSW2",
		"certificateArn":    "arn:aws:acm:eu-west-1:123456789012:certificate/1f2e3d4c",
		"validationRecords": []any{},
		"hostedZoneId":      "Z0123456789ABCDEFGHIJ",
		"nameServers":       []any{"ns-1.shop.test", "ns-2.shop.test"},
		"dbEndpoint":        "bookstore.abc.eu-west-1.rds.amazonaws.com:3306",
		"dbSecretArn":       "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1",
		"efsId":             "fs-0123456789abcdef0",
		"imageRef":          "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore@sha256:" + strings.Repeat("ab", 32),
		"asgName":           "app-asg-1",
		"swarmManagerIp":    "",
		"swarmUrl":          "",
		"legacyUrl":         "https://" + monolithHost,
	}
}

type verifyRow struct {
	Check, Name, Status, Seen string
}

// runVerify builds infra/verify and runs it as a person would against the
// monolith: challtestsrv as the recursive resolver, zoneServer as the
// parent's and the zone's name servers (every name answers 127.0.0.1),
// Pebble's root as the only trust root, NGINX's ports. It returns the
// report's rows.
func runVerify(t *testing.T, a *acme, site *monolithSite) []verifyRow {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "verify")
	build := exec.Command("go", "build", "-o", bin, "./infra/verify")
	build.Dir = containertest.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./infra/verify: %v\n%s", err, out)
	}
	outputs, _ := json.Marshal(monolithOutputs())
	roots := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(roots, a.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "outputs.json")
	if err := os.WriteFile(f, outputs, 0o644); err != nil {
		t.Fatal(err)
	}
	zone := zoneServer(t, "shop.test", []string{"ns-1.shop.test", "ns-2.shop.test"})
	_, dnsPort, _ := strings.Cut(zone, ":")
	cmd := exec.Command(bin, "-f", f, "--json", "--timeout", "5s",
		"--resolver", a.DNS, "--parent-server", zone, "--dns-port", dnsPort, "--roots", roots,
		"--http-port", strconv.Itoa(site.httpPort), "--https-port", strconv.Itoa(site.httpsPort))
	out, err := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 && code != 3 {
		t.Fatalf("verify: exit %d (%v)\n%s", code, err, out)
	}
	var rep struct {
		Checks []verifyRow `json:"checks"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	return rep.Checks
}

// checkMonolithRows: the verifier's authoritative, TLS, redirect and health rows for the
// monolith's name pass against real NGINX; it returns a summary of every row.
func checkMonolithRows(t *testing.T, rows []verifyRow) string {
	t.Helper()
	want := map[string]bool{"authoritative": false, "tls": false, "redirect": false, "health": false}
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		if !strings.Contains(r.Name, monolithHost) {
			continue
		}
		if _, ok := want[r.Check]; !ok {
			continue
		}
		want[r.Check] = true
		if r.Status != "pass" {
			t.Errorf("verify's %s row for %s: %s (%s)", r.Check, r.Name, r.Status, r.Seen)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("verify reported no %s row for %s", k, monolithHost)
		}
	}
	if t.Failed() {
		for _, r := range rows {
			t.Logf("verify row: %-13s %-45s %-7s %s", r.Check, r.Name, r.Status, r.Seen)
		}
	}
	return fmt.Sprintf("%d rows: %d pass, %d fail, %d pending", len(rows), counts["pass"], counts["fail"], counts["pending"])
}
