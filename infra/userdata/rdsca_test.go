package userdata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testCertPEM is a self-signed CA certificate, PEM, made with crypto/x509.
func testCertPEM(t *testing.T, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func testKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// install_rds_ca, run by bash with the real curl and openssl against a
// loopback HTTPS server: a bundle of certificates is installed 0644 in one
// piece; anything else (an error page, a truncated or mixed file, HTTP
// errors, plain HTTP) stops the boot and leaves the previous file as it was.
func TestInstallRDSCA(t *testing.T) {
	bash := requireTool(t, "bash", "bash")
	requireTool(t, "curl", "curl")
	requireTool(t, "openssl", "openssl")

	ca1, ca2 := testCertPEM(t, "Test RDS Root CA"), testCertPEM(t, "Test RDS eu-west-1 CA")
	bodies := map[string]string{
		"/good.pem":      "Test RDS Root CA\n" + ca1 + "\nTest RDS eu-west-1 CA\n" + ca2,
		"/html.pem":      "<html><body><h1>403 Forbidden</h1></body></html>\n",
		"/empty.pem":     "",
		"/truncated.pem": ca1 + ca2[:len(ca2)/2],
		"/withkey.pem":   ca1 + testKeyPEM(t),
		"/garbage.pem":   ca1 + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	}
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("plain HTTP was requested: %s", r.URL)
		w.Write([]byte(bodies["/good.pem"]))
	}))
	defer plain.Close()

	dir := t.TempDir()
	serverCA := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(serverCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, helper := filepath.Join(dir, "lib.sh"), filepath.Join(dir, "rdsca.sh")
	for path, name := range map[string]string{lib: "scripts/lib.sh", helper: "scripts/rdsca.sh"} {
		if err := os.WriteFile(path, []byte(static(name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	install := func(t *testing.T, url, dest string) (string, error) {
		t.Helper()
		t.Setenv("CURL_CA_BUNDLE", serverCA) // curl trusts the loopback server, as hosts trust AWS's
		return run(t, "", bash, "-c", `set -Eeuo pipefail; RETRY_FIRST_DELAY=0; . "$1"; . "$2"; logger() { :; }; trap 'on_error $?' ERR; install_rds_ca "$3" "$4"`,
			"_", lib, helper, url, dest)
	}

	t.Run("a bundle is installed", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "bookstore", "rds-ca.pem")
		out, err := install(t, srv.URL+"/good.pem", dest)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got, err := os.ReadFile(dest)
		if err != nil || string(got) != bodies["/good.pem"] {
			t.Fatalf("installed %q, %v; want the bundle as served", got, err)
		}
		if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644: the container's user 65532 reads it", fi.Mode().Perm())
		}
		if !strings.Contains(out, "RDS CA bundle: 2 certificates in "+dest) {
			t.Errorf("log: %s", out)
		}
	})

	for _, c := range []struct{ name, path, want string }{
		{"an error page", "/html.pem", "is not a PEM bundle of certificates (0 PEM blocks, 0 certificates parsed)"},
		{"an empty file", "/empty.pem", "(0 PEM blocks"},
		{"a truncated bundle", "/truncated.pem", "(2 PEM blocks, 0 certificates parsed)"},
		{"a private key among certificates", "/withkey.pem", "(2 PEM blocks, 1 certificates parsed)"},
		{"a block that is not X.509", "/garbage.pem", "(2 PEM blocks, 0 certificates parsed)"},
		{"HTTP 404, retried 6 times", "/missing.pem", "giving up: download " + srv.URL + "/missing.pem failed 6 times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			dest := filepath.Join(d, "rds-ca.pem")
			if err := os.WriteFile(dest, []byte(ca1), 0o644); err != nil {
				t.Fatal(err)
			}
			before := hits.Load()
			out, err := install(t, srv.URL+c.path, dest)
			if err == nil || !strings.Contains(out, "FATAL: ") || !strings.Contains(out, c.want) {
				t.Fatalf("err=%v, output:\n%s\nwant a FATAL line with %q", err, out, c.want)
			}
			if got, _ := os.ReadFile(dest); string(got) != ca1 {
				t.Errorf("the previous bundle was replaced: %q", got)
			}
			if entries, _ := os.ReadDir(d); len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}
			if c.path == "/missing.pem" && hits.Load()-before != 6 {
				t.Errorf("%d requests, want 6", hits.Load()-before)
			}
		})
	}

	t.Run("plain HTTP is refused", func(t *testing.T) {
		out, err := install(t, plain.URL+"/good.pem", filepath.Join(t.TempDir(), "rds-ca.pem"))
		if err == nil || !strings.Contains(out, "could not download the RDS CA bundle") {
			t.Fatalf("err=%v, output:\n%s", err, out)
		}
	})
}
