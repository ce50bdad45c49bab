package dbconn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// testCA is a throw-away certificate authority made with crypto/x509.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte // the CA certificate, PEM
}

func newTestCA(t testing.TB, name string, notAfter time.Time) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate and its key, both PEM, for the names
// given (DNS names, or IP addresses when they parse as one).
func (ca *testCA) issue(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	tlsTestPW  = "Sup3rS3cr3tPw"
	tlsTestARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c-AbCdEf"
)

func TestSettingsFromEnvCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "Test Root CA", time.Now().Add(24*time.Hour))
	old := newTestCA(t, "Expired Root CA", time.Now().Add(-time.Hour))
	other := newTestCA(t, "Test Root CA 2", time.Now().Add(24*time.Hour))
	one := writeFile(t, dir, "one.pem", ca.pem)
	// As RDS publishes them: several CAs in one file. Text between blocks
	// (as in Mozilla's bundle) is not a block, and one expired CA among
	// current ones is normal during a CA rotation.
	bundle := writeFile(t, dir, "bundle.pem", bytes.Join([][]byte{[]byte("# Test Root CA\n"), ca.pem, []byte("\n# expired\n"), old.pem, other.pem}, nil))

	tests := []struct {
		name string
		env  func(string) string
		want Settings
	}{
		{"secret mode", env("DB_HOST", "db.abc.eu-west-1.rds.amazonaws.com", "DB_NAME", "bookstore", "DB_SECRET_ARN", tlsTestARN, "DB_TLS_CA_FILE", bundle),
			Settings{Mode: ModeSecret, Host: "db.abc.eu-west-1.rds.amazonaws.com", Port: 3306, Name: "bookstore", SecretARN: tlsTestARN, TLSCAFile: bundle}},
		{"secret mode, surrounding white space", env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", tlsTestARN, "DB_TLS_CA_FILE", " "+one+"\n"),
			Settings{Mode: ModeSecret, Host: "h", Port: 3306, Name: "b", SecretARN: tlsTestARN, TLSCAFile: one}},
		{"secret mode, unset", env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", tlsTestARN, "DB_TLS_CA_FILE", " "),
			Settings{Mode: ModeSecret, Host: "h", Port: 3306, Name: "b", SecretARN: tlsTestARN}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SettingsFromEnv(tt.env)
			if err != nil {
				t.Fatalf("SettingsFromEnv: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	// DATABASE_URL, every form, with no tls or tls=true.
	for _, url := range []string{
		"mysql://u:" + tlsTestPW + "@db.example:3306/shop",
		"mysql+pymysql://u:" + tlsTestPW + "@db.example/shop?charset=utf8mb4",
		"mysql://u:" + tlsTestPW + "@db.example/shop?tls=true",
		"u:" + tlsTestPW + "@tcp(db.example:3306)/shop",
		"u:" + tlsTestPW + "@tcp(db.example:3306)/shop?tls=true",
	} {
		s, err := SettingsFromEnv(env("DATABASE_URL", url, "DB_TLS_CA_FILE", bundle))
		if err != nil {
			t.Errorf("%q with DB_TLS_CA_FILE: %v", url, err)
			continue
		}
		if s.Mode != ModeURL || s.TLSCAFile != bundle {
			t.Errorf("%q: got %+v, want ModeURL with TLSCAFile %s", url, s, bundle)
		}
		if got := s.String(); !strings.HasSuffix(got, ", TLS verified with "+bundle) || strings.Contains(got, tlsTestPW) {
			t.Errorf("String() = %q", got)
		}
	}
}

func TestSettingsFromEnvCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "Test Root CA", time.Now().Add(24*time.Hour))
	good := writeFile(t, dir, "good.pem", ca.pem)
	_, keyPEM := ca.issue(t, "db.example")
	expired := newTestCA(t, "Expired Root CA", time.Now().Add(-time.Hour))
	unreadable := writeFile(t, dir, "unreadable.pem", ca.pem)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"missing":   filepath.Join(dir, "nope.pem"),
		"directory": dir,
		"empty":     writeFile(t, dir, "empty.pem", nil),
		"html":      writeFile(t, dir, "error.html", []byte("<html><body>403 Forbidden</body></html>\n")),
		"DER":       writeFile(t, dir, "ca.der", ca.cert.Raw),
		"key":       writeFile(t, dir, "key.pem", keyPEM),
		"cert+key":  writeFile(t, dir, "certkey.pem", append(append([]byte{}, ca.pem...), keyPEM...)),
		"garbage": writeFile(t, dir, "garbage.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
			Bytes: []byte("not DER at all")})),
		"truncated": writeFile(t, dir, "truncated.pem", append(append([]byte{}, ca.pem...), ca.pem[:len(ca.pem)/2]...)),
		"expired":   writeFile(t, dir, "expired.pem", expired.pem),
		"too large": writeFile(t, dir, "large.pem", append(bytes.Repeat([]byte("#\n"), MaxCABundleBytes/2), ca.pem...)),
	}
	secret := func(file string) func(string) string {
		return env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", tlsTestARN, "DB_TLS_CA_FILE", file)
	}
	url := func(u, file string) func(string) string { return env("DATABASE_URL", u, "DB_TLS_CA_FILE", file) }
	const u = "mysql://u:" + tlsTestPW + "@db.example:3306/shop"
	tests := []struct {
		name    string
		env     func(string) string
		wantVar string
		want    string
	}{
		{"missing file", secret(files["missing"]), "DB_TLS_CA_FILE", "no such file"},
		{"missing file, URL mode", url(u, files["missing"]), "DB_TLS_CA_FILE", "no such file"},
		{"a directory", secret(files["directory"]), "DB_TLS_CA_FILE", "not a regular file"},
		{"empty file", secret(files["empty"]), "DB_TLS_CA_FILE", "holds no PEM certificate"},
		{"an HTML error page", secret(files["html"]), "DB_TLS_CA_FILE", "holds no PEM certificate"},
		{"DER, not PEM", secret(files["DER"]), "DB_TLS_CA_FILE", "holds no PEM certificate"},
		{"a private key", secret(files["key"]), "DB_TLS_CA_FILE", `PEM block 1 is "PRIVATE KEY", not a CERTIFICATE`},
		{"a certificate and a key", url(u, files["cert+key"]), "DB_TLS_CA_FILE", `PEM block 2 is "PRIVATE KEY"`},
		{"a block that is not X.509", secret(files["garbage"]), "DB_TLS_CA_FILE", "certificate 1 does not parse"},
		{"a truncated bundle", secret(files["truncated"]), "DB_TLS_CA_FILE", "PEM block 2 is malformed or cut short"},
		{"only expired certificates", secret(files["expired"]), "DB_TLS_CA_FILE", "all 1 certificates have expired"},
		{"too large", secret(files["too large"]), "DB_TLS_CA_FILE", "larger than 1048576 bytes"},
		{"tls=false", url(u+"?tls=false", good), "DB_TLS_CA_FILE", "tls=false"},
		{"tls=skip-verify", url(u+"?tls=skip-verify", good), "DB_TLS_CA_FILE", "tls=skip-verify, which does not verify"},
		{"tls=preferred", url(u+"?tls=preferred", good), "DB_TLS_CA_FILE", "tls=preferred"},
		{"DSN tls=skip-verify", url("u:"+tlsTestPW+"@tcp(db.example)/shop?tls=skip-verify", good), "DB_TLS_CA_FILE", "tls=skip-verify"},
		{"DSN tls=0", url("u:"+tlsTestPW+"@tcp(db.example)/shop?tls=0", good), "DB_TLS_CA_FILE", "tls=false"},
		{"unix socket", url("mysql+pymysql://u:"+tlsTestPW+"@localhost/shop?unix_socket=/run/mysqld/mysqld.sock", good), "DB_TLS_CA_FILE", "unix socket"},
		{"DSN unix socket", url("u:"+tlsTestPW+"@unix(/run/mysqld/mysqld.sock)/shop", good), "DB_TLS_CA_FILE", "unix socket"},
		{"no database", env("DB_TLS_CA_FILE", good), "DB_TLS_CA_FILE", "no database is"},
		{"bad URL wins", url("mysql://u:"+tlsTestPW+"@h:0/db", files["missing"]), "DATABASE_URL", "port"},
	}
	if os.Geteuid() != 0 { // root reads a mode-000 file
		tests = append(tests, struct {
			name    string
			env     func(string) string
			wantVar string
			want    string
		}{"unreadable", secret(unreadable), "DB_TLS_CA_FILE", "permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(tt.env)
			if err == nil {
				t.Fatalf("no error; got %v", s)
			}
			var ee *EnvError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is %T, want *EnvError", err, err)
			}
			if ee.Var != tt.wantVar || !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Errorf("error %q: want it about %s", err, tt.wantVar)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tlsTestPW) {
				t.Errorf("error %q echoes the password", err)
			}
			if strings.Contains(err.Error(), "MII") {
				t.Errorf("error %q quotes the file's contents", err)
			}
			if s != (Settings{}) {
				t.Errorf("got %+v with the error, want zero Settings", s)
			}
		})
	}
}

// Open warns once, at start, in the Secrets Manager mode without a bundle,
// and not with one; a bundle gone between the check and Open is an error.
func TestOpenCAFileWarningAndReload(t *testing.T) {
	newFakeSecretsManager(t, testRegion)
	ca := newTestCA(t, "Test Root CA", time.Now().Add(24*time.Hour))
	path := writeFile(t, t.TempDir(), "ca.pem", ca.pem)
	base := Settings{Mode: ModeSecret, Host: "db.example", Port: 3306, Name: "b", SecretARN: testARN}

	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	db, err := Open(t.Context(), base, logger)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n := strings.Count(logs.String(), "DB_TLS_CA_FILE is not set"); n != 1 {
		t.Errorf("warned %d times without DB_TLS_CA_FILE, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "NOT verified") {
		t.Errorf("warning: %s", logs.String())
	}

	logs = syncBuffer{}
	logger = slog.New(slog.NewJSONHandler(&logs, nil))
	withCA := base
	withCA.TLSCAFile = path
	db, err = Open(t.Context(), withCA, logger)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if strings.Contains(logs.String(), "DB_TLS_CA_FILE") {
		t.Errorf("warned with DB_TLS_CA_FILE set: %s", logs.String())
	}

	url, err := SettingsFromEnv(env("DATABASE_URL", "mysql://u:"+tlsTestPW+"@db.example/shop", "DB_TLS_CA_FILE", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Settings{withCA, url} {
		_, err := Open(t.Context(), s, nil)
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Var != "DB_TLS_CA_FILE" || strings.Contains(err.Error(), tlsTestPW) {
			t.Errorf("Open(%v) with the bundle removed: %v, want a DB_TLS_CA_FILE error", s.Mode, err)
		}
	}
}

// The registered configuration is what the driver uses: TLS 1.2+, the
// bundle's roots, the database's host as server name, no plaintext fallback.
func TestUseCABundleRegistersConfig(t *testing.T) {
	ca := newTestCA(t, "Test Root CA", time.Now().Add(24*time.Hour))
	path := writeFile(t, t.TempDir(), "ca.pem", ca.pem)
	names := map[string]bool{}
	for _, dsn := range []string{
		"u:p@tcp(db-a.example:3306)/x?tls=true",
		"u:p@tcp(db-b.example:3306)/x",
		"u:p@tcp([fd00::7]:3306)/x",
	} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := useCABundle(cfg, path); err != nil {
			t.Fatal(err)
		}
		names[cfg.TLSConfig] = true
		// The driver resolves the name as Open's connector does.
		back, err := mysql.ParseDSN(cfg.FormatDSN())
		if err != nil {
			t.Fatalf("%s: the registered name does not resolve: %v", dsn, err)
		}
		host, _, _ := net.SplitHostPort(cfg.Addr)
		switch tc := back.TLS; {
		case tc == nil:
			t.Errorf("%s: no TLS config", dsn)
		case tc.ServerName != host || tc.InsecureSkipVerify || tc.MinVersion != 0x0303 || back.AllowFallbackToPlaintext:
			t.Errorf("%s: ServerName %q InsecureSkipVerify %v MinVersion %#x fallback %v", dsn, tc.ServerName, tc.InsecureSkipVerify, tc.MinVersion, back.AllowFallbackToPlaintext)
		case !tc.RootCAs.Equal(func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(ca.cert); return p }()):
			t.Errorf("%s: RootCAs are not exactly the bundle", dsn)
		}
	}
	if len(names) != 3 {
		t.Errorf("three hosts share TLS config names %v", names)
	}
}
