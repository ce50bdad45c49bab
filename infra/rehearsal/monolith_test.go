package rehearsal

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// The monolith (the original's single instance) on real parts: the rendered
// NGINX configs served by Debian's nginx, a certificate obtained by
// monolith-boot.sh's own certbot call from Pebble over HTTP-01, and the
// rendered compose file running the app against the mysql:8.4 stand-in (userdata.DefaultMySQLImage).
//
// What differs from an instance, each an override made here and nowhere
// else (the README's "Rehearse locally" lists them):
//   - files live under a temp dir instead of /, and NGINX listens on
//     127.0.0.1 on free high ports instead of 80 and 443 (rewritten in the
//     rendered site configs), as `user www-data` (Debian) instead of nginx;
//   - certbot gets --server (Pebble), its own config/work/logs dirs, and
//     REQUESTS_CA_BUNDLE (Pebble's minica) through a wrapper on PATH; the
//     flags monolith-boot.sh passes are its own;
//   - compose: the app's image is the locally built one, logging is
//     json-file (no CloudWatch), the host paths are the temp dir's, the app
//     port is a free one;
//   - DNS for the site's name is pebble-challtestsrv, answering 127.0.0.1.

const monolithHost = "legacy.shop.test"

// doc is a rendered cloud-config: only what the rehearsal reads.
type doc struct {
	WriteFiles []struct {
		Path    string `yaml:"path"`
		Content string `yaml:"content"`
	} `yaml:"write_files"`
	RunCmd [][]string `yaml:"runcmd"`
}

// unpack writes every file of a rendered document under root and returns
// their contents by path.
func unpack(t *testing.T, rendered, root string) map[string]string {
	t.Helper()
	var d doc
	if err := yaml.Unmarshal([]byte(rendered), &d); err != nil {
		t.Fatalf("rendered user data is not YAML: %v", err)
	}
	files := map[string]string{}
	for _, f := range d.WriteFiles {
		p := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o755); err != nil {
			t.Fatal(err)
		}
		files[f.Path] = f.Content
	}
	return files
}

// bashFunction returns the definition of function name in script, for a
// test to call it alone.
func bashFunction(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?ms)^` + regexp.QuoteMeta(name) + `\(\) \{\n.*?^\}\n`).FindString(script)
	if m == "" {
		t.Fatalf("the boot script has no function %s", name)
	}
	return m
}

// replaceAll applies old→new pairs to s, failing the test when an old is
// missing: the rendered file changed and the override with it must.
func replaceAll(t *testing.T, what, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s no longer holds %q: update the rehearsal's override", what, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// noFollow shows a redirect instead of following it.
var noFollow = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func tlsConfig(roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

func bash(t *testing.T, env []string, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// monolithSite is NGINX serving the rendered configs, and certbot beside it.
type monolithSite struct {
	root, conf, pid     string
	httpPort, httpsPort int
	certbotEnv          []string // PATH with the certbot wrapper first, REQUESTS_CA_BUNDLE
	certbotDir          string   // --config-dir: live/bookstore/ holds the certificate
}

func (s *monolithSite) nginx(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("nginx", append([]string{"-c", s.conf}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx %v: %v\n%s", args, err, out)
	}
}

// installSite copies a rendered site config where nginx.conf includes it,
// with the rehearsal's ports and paths, as monolith-boot.sh installs it.
func (s *monolithSite) installSite(t *testing.T, files map[string]string, name string, appPort int) {
	t.Helper()
	conf := files["/opt/bookstore/nginx/"+name]
	var out string
	switch name {
	case "http.conf":
		out = replaceAll(t, name, conf,
			"    listen 80 default_server;\n", fmt.Sprintf("    listen 127.0.0.1:%d default_server;\n", s.httpPort),
			"    listen [::]:80 default_server;\n", "",
			"root /var/www/letsencrypt;", "root "+s.root+"/var/www/letsencrypt;")
	case "tls.conf":
		out = replaceAll(t, name, conf,
			"    listen 443 ssl default_server;\n", fmt.Sprintf("    listen 127.0.0.1:%d ssl default_server;\n", s.httpsPort),
			"    listen [::]:443 ssl default_server;\n", "",
			"/etc/letsencrypt/live/bookstore/", s.certbotDir+"/live/bookstore/",
			fmt.Sprintf("proxy_pass http://127.0.0.1:%d;", userdata.ServicePort), fmt.Sprintf("proxy_pass http://127.0.0.1:%d;", appPort))
	}
	if err := os.WriteFile(filepath.Join(s.root, "etc/nginx/bookstore", name), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startNGINX writes the rendered nginx.conf with the rehearsal's paths and
// starts nginx (a process of this test's, stopped at the end).
func startNGINX(t *testing.T, root string, files map[string]string) *monolithSite {
	t.Helper()
	s := &monolithSite{root: root, httpPort: freePort(t), httpsPort: freePort(t),
		conf: filepath.Join(root, "etc/nginx/nginx.conf"), pid: filepath.Join(root, "run/nginx.pid")}
	for _, d := range []string{"etc/nginx/bookstore", "run", "var/log/nginx", "var/www/letsencrypt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := replaceAll(t, "nginx.conf", files["/opt/bookstore/nginx/nginx.conf"],
		"user nginx;", "user www-data;",
		"error_log /var/log/nginx/error.log", "error_log "+root+"/var/log/nginx/error.log",
		"pid /run/nginx.pid;", "pid "+s.pid+";",
		"access_log /var/log/nginx/access.log;", "access_log "+root+"/var/log/nginx/access.log;",
		"include /etc/nginx/bookstore/*.conf;", "include "+root+"/etc/nginx/bookstore/*.conf;")
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.installSite(t, files, "http.conf", 0)
	s.nginx(t, "-t")
	s.nginx(t)
	t.Cleanup(func() {
		// Only the master this test started: its pid file.
		if b, err := os.ReadFile(s.pid); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Signal(os.Interrupt)
				}
			}
		}
	})
	waitFor(t, 10*time.Second, "nginx on :"+strconv.Itoa(s.httpPort), func() error {
		resp, err := noFollow.Get(fmt.Sprintf("http://127.0.0.1:%d/", s.httpPort))
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return s
}

// certbotWrapper puts a `certbot` first on PATH that runs Debian's with the
// rehearsal's server and directories, so the boot script's own call runs.
func (s *monolithSite) certbotWrapper(t *testing.T, a *acme) {
	t.Helper()
	bin := filepath.Join(s.root, "rehearsal-bin")
	s.certbotDir = filepath.Join(s.root, "etc/letsencrypt")
	real, err := exec.LookPath("certbot")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/bash\nexec %q --server %q --config-dir %q --work-dir %q --logs-dir %q \"$@\"\n",
		real, a.DirURL, s.certbotDir, filepath.Join(s.root, "var/lib/letsencrypt"), filepath.Join(s.root, "var/log/letsencrypt"))
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "certbot"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	s.certbotEnv = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "REQUESTS_CA_BUNDLE=" + a.CAFile}
}

// obtain runs monolith-boot.sh's obtain_certificate as the boot does.
func (s *monolithSite) obtain(t *testing.T, script, email string) (string, error) {
	t.Helper()
	env := append([]string{
		"WEBROOT=" + filepath.Join(s.root, "var/www/letsencrypt"),
		"SITE_HOSTNAME=" + monolithHost, "LETSENCRYPT_EMAIL=" + email,
	}, s.certbotEnv...)
	return bash(t, env, bashFunction(t, script, "obtain_certificate")+"obtain_certificate\n")
}

// servedChain dials NGINX's TLS port as a browser would name the site,
// verifying against roots, and describes the chain it was given.
func servedChain(t *testing.T, port int, roots *x509.CertPool) ([]*x509.Certificate, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), tlsConfig(roots, monolithHost))
	if err != nil {
		t.Fatalf("TLS to NGINX as %s, trusting Pebble's root: %v", monolithHost, err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	var parts []string
	for _, c := range st.PeerCertificates {
		parts = append(parts, fmt.Sprintf("%q (issuer %q, %s, until %s)", c.Subject.CommonName+strings.Join(c.DNSNames, ","),
			c.Issuer.CommonName, x509.PublicKeyAlgorithm(c.PublicKeyAlgorithm), c.NotAfter.UTC().Format("2006-01-02")))
	}
	root := st.VerifiedChains[0][len(st.VerifiedChains[0])-1]
	return st.PeerCertificates, fmt.Sprintf("%s %s -> root %q", tls.VersionName(st.Version), strings.Join(parts, " -> "), root.Subject.CommonName)
}

// httpsGet fetches path from NGINX's TLS port as https://monolithHost.
func httpsGet(t *testing.T, port int, roots *x509.CertPool, path string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tlsConfig(roots, monolithHost)}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d%s", port, path), nil)
	req.Host = monolithHost
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET https://%s%s through NGINX: %v", monolithHost, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
