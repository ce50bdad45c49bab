package rehearsal

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// renderMonolith renders the monolith's user data for a test stack and
// unpacks it under root (0755, so NGINX's workers can read the webroot).
func renderMonolith(t *testing.T, root string) (string, map[string]string) {
	t.Helper()
	// t.TempDir's parent is 0700 too: the workers (www-data) must traverse it.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rendered, err := userdata.RenderMonolith(userdata.Monolith{
		ImageRef:         "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore@sha256:" + strings.Repeat("ab", 32),
		Region:           "eu-west-1",
		Hostname:         monolithHost,
		AdminEmails:      []string{"owner@shop.test"},
		LetsEncryptEmail: "ops@shop.test",
		LogGroup:         "/bookstore/rehearsal/legacy",
	})
	if err != nil {
		t.Fatal(err)
	}
	return rendered, unpack(t, rendered, root)
}

// makeDBSecrets runs monolith-boot.sh's make_db_secrets with BOOKSTORE_DIR
// under root and returns what it logged and the passwords it made.
func makeDBSecrets(t *testing.T, root, script string) (string, []string) {
	t.Helper()
	dir := filepath.Join(root, "opt/bookstore")
	out, err := bash(t, nil, "log() { printf '%s\\n' \"$*\" >&2; }\nBOOKSTORE_DIR="+dir+"\n"+
		bashFunction(t, script, "make_db_secrets")+"make_db_secrets\n")
	if err != nil {
		t.Fatalf("make_db_secrets: %v\n%s", err, out)
	}
	env, err := os.ReadFile(filepath.Join(dir, "mysql.env"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, m := range regexp.MustCompile(`(?m)^MYSQL_(?:ROOT_)?PASSWORD=(.+)$`).FindAllStringSubmatch(string(env), -1) {
		secrets = append(secrets, m[1])
	}
	if len(secrets) != 2 || len(secrets[0]) < 32 || secrets[0] == secrets[1] {
		t.Fatalf("make_db_secrets wrote %d passwords, want 2 distinct of 48 hex digits", len(secrets))
	}
	for _, f := range []string{"mysql.env", "db.env"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", f, err, fi.Mode().Perm())
		}
	}
	return out, secrets
}

// leaks returns the places among named texts that hold any secret.
func leaks(secrets []string, texts map[string]string) []string {
	var out []string
	for name, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// processList is every process's command line on this machine: containers'
// included, they share the kernel.
func processList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ps", "-eww", "-o", "pid,args").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	return string(out)
}

// filesUnder concatenates every regular file below dir.
func filesUnder(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		return nil
	})
	return b.String()
}

func TestRehearsalMonolith(t *testing.T) {
	t.Parallel()
	requireTools(t, "nginx", "certbot")
	app := requireMonolithApp(t)
	root := t.TempDir()
	rendered, files := renderMonolith(t, root)
	script := files["/opt/bookstore/bin/monolith-boot.sh"]

	secretsLog, secrets := makeDBSecrets(t, root, script)
	appPort := freePort(t)
	appLogs := app.start(t, root, appPort)

	site := startNGINX(t, root, files)
	a := startACME(t, site.httpPort)
	a.AddA(t, monolithHost, "127.0.0.1")
	site.certbotWrapper(t, a)

	start := time.Now()
	out, err := site.obtain(t, script, "ops@shop.test")
	if err != nil {
		t.Fatalf("monolith-boot.sh's certbot call against Pebble: %v\n%s", err, out)
	}
	issued := time.Since(start)
	site.installSite(t, files, "tls.conf", appPort)
	site.nginx(t, "-t")
	site.nginx(t, "-s", "reload")

	waitFor(t, 10*time.Second, "NGINX on TLS", func() error { return tlsDial(site.httpsPort, a) })
	certs, chain := servedChain(t, site.httpsPort, a.Roots)
	if len(certs) < 2 || certs[0].Subject.CommonName != monolithHost && !contains(certs[0].DNSNames, monolithHost) {
		t.Errorf("NGINX served %s: want the leaf for %s and its intermediate (fullchain.pem)", chain, monolithHost)
	}

	resp, body := httpsGet(t, site.httpsPort, a.Roots, "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "· Bookstore</title>") {
		t.Errorf("GET https://%s/ through NGINX: %s, want the store's home page\n%.300s", monolithHost, resp.Status, body)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Error("no Strict-Transport-Security on HTTPS")
	}
	health, _ := httpsGet(t, site.httpsPort, a.Roots, "/healthz")
	if health.StatusCode != 200 {
		t.Errorf("GET /healthz through NGINX: %s", health.Status)
	}

	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/books?page=2", site.httpPort), nil)
	req.Host = monolithHost
	r, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if want := "https://" + monolithHost + "/books?page=2"; r.StatusCode != 301 || r.Header.Get("Location") != want {
		t.Errorf("GET http://%s/books?page=2: %s Location %q, want 301 to %s", monolithHost, r.Status, r.Header.Get("Location"), want)
	}

	start = time.Now()
	renew, err := bash(t, site.certbotEnv, "certbot renew --dry-run --no-random-sleep-on-renew")
	if err != nil || !strings.Contains(renew, "simulated renewals succeeded") {
		t.Errorf("certbot renew --dry-run: %v\n%s", err, renew)
	}
	renewed := time.Since(start)

	// The passwords stay on the instance: not in user data, not in any log
	// (the boot's, certbot's, NGINX's, the containers'), not in a command line.
	if l := leaks(secrets, map[string]string{
		"user data":      rendered,
		"boot log":       secretsLog + out + renew,
		"certbot logs":   filesUnder(t, filepath.Join(root, "var/log/letsencrypt")),
		"nginx logs":     filesUnder(t, filepath.Join(root, "var/log/nginx")),
		"container logs": appLogs(t),
		"ps":             processList(t),
		"container ps":   app.top(t),
	}); len(l) > 0 {
		t.Errorf("a generated MySQL password appears in: %v", l)
	}
	// The verifier against this monolith (the other names of the test zone
	// have no site: their rows fail, and are only counted).
	summary := checkMonolithRows(t, runVerify(t, a, site))
	t.Logf("rehearsal: monolith verify: %s; authoritative, tls, redirect and health rows for %s pass", summary, monolithHost)
	t.Logf("rehearsal: monolith certificate for %s issued by Pebble %s in %.1fs over HTTP-01 (webroot), renew --dry-run %.1fs",
		monolithHost, PebbleVersion, issued.Seconds(), renewed.Seconds())
	t.Logf("rehearsal: monolith chain served by NGINX: %s", chain)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// tlsDial: NGINX answers HTTPS for the site with a certificate Pebble's root
// verifies (after a reload, the old workers may answer for a moment).
func tlsDial(port int, a *acme) error {
	resp, err := (&http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(a.Roots, monolithHost)}}).
		Get(fmt.Sprintf("https://127.0.0.1:%d/healthz", port))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
