package dbconn

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MaxCABundleBytes caps DB_TLS_CA_FILE. RDS's global bundle, every region's
// CAs in one file, is about 160 KB; a region's bundle about 6 KB.
const MaxCABundleBytes = 1 << 20

// caBundle is a parsed DB_TLS_CA_FILE.
type caBundle struct {
	pool   *x509.CertPool
	digest [sha256.Size]byte // of the file's bytes
}

// loadCABundle reads path, a PEM file of one or more CERTIFICATE blocks (as
// AWS publishes the RDS bundles), and returns them as a pool. Text around
// the blocks is ignored. Errors, each an *EnvError for DB_TLS_CA_FILE: the
// file is missing, unreadable, not a regular file or over MaxCABundleBytes;
// it holds no certificate; a block is not a CERTIFICATE (a private key, say)
// or does not parse as X.509; a block is cut short (a truncated download);
// every certificate in it has expired (now is the clock to compare with).
// The messages quote no bytes of the file.
func loadCABundle(path string, now time.Time) (*caBundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, envErr("DB_TLS_CA_FILE", "%v", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, envErr("DB_TLS_CA_FILE", "%v", err)
	} else if !fi.Mode().IsRegular() {
		return nil, envErr("DB_TLS_CA_FILE", "%s is not a regular file (want a PEM bundle of CA certificates)", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxCABundleBytes+1))
	if err != nil {
		return nil, envErr("DB_TLS_CA_FILE", "read %s: %v", path, err)
	}
	if len(data) > MaxCABundleBytes {
		return nil, envErr("DB_TLS_CA_FILE", "%s is larger than %d bytes; a CA bundle is a few KB", path, MaxCABundleBytes)
	}

	pool := x509.NewCertPool()
	var n, current int
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			// The type is a PEM label ("RSA PRIVATE KEY"), never key material.
			return nil, envErr("DB_TLS_CA_FILE", "%s: PEM block %d is %.40q, not a CERTIFICATE", path, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, envErr("DB_TLS_CA_FILE", "%s: certificate %d does not parse: %v", path, n, err)
		}
		if now.Before(cert.NotAfter) {
			current++
		}
		pool.AddCert(cert)
	}
	// pem.Decode skips a block it cannot decode, and everything after it.
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, envErr("DB_TLS_CA_FILE", "%s: PEM block %d is malformed or cut short (a truncated download?)", path, n+1)
	}
	if n == 0 {
		return nil, envErr("DB_TLS_CA_FILE", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	if current == 0 {
		return nil, envErr("DB_TLS_CA_FILE", "%s: all %d certificates have expired", path, n)
	}
	return &caBundle{pool: pool, digest: sha256.Sum256(data)}, nil
}

// useCABundle makes cfg require TLS 1.2 or later and verify the server's
// certificate against the bundle at path only (not the system roots), for
// the host in cfg.Addr (a TCP "host:port"). The tls.Config is registered
// with mysql.RegisterTLSConfig under a name derived from the bundle and the
// host, so registering it again (a second Open, a re-read secret) is
// idempotent and two databases never share one. Errors: those of
// loadCABundle, or an address with no host.
func useCABundle(cfg *mysql.Config, path string) error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("dbconn: DB_TLS_CA_FILE needs a TCP host to verify, not %s address %q", cfg.Net, cfg.Addr)
	}
	b, err := loadCABundle(path, time.Now())
	if err != nil {
		return fmt.Errorf("dbconn: %w", err)
	}
	sum := sha256.Sum256(append(b.digest[:], host...))
	name := "bookstore-ca-" + hex.EncodeToString(sum[:8])
	if err := mysql.RegisterTLSConfig(name, &tls.Config{
		RootCAs:    b.pool,
		ServerName: host,
		MinVersion: tls.VersionTLS12,
	}); err != nil {
		return fmt.Errorf("dbconn: register TLS config: %w", err)
	}
	cfg.TLSConfig = name
	cfg.TLS = nil // set by ParseDSN for tls=true; it would win over TLSConfig
	cfg.AllowFallbackToPlaintext = false
	return nil
}

// checkCAFileFor validates DB_TLS_CA_FILE against the mode it is used with:
// the bundle must load (loadCABundle), and a DATABASE_URL must connect over
// TCP and ask for no weaker tls= than verified TLS (absent or "true").
func checkCAFileFor(s Settings, path string) error {
	switch s.Mode {
	case ModeEmbedded:
		return envErr("DB_TLS_CA_FILE", "is set, but no database is: set DATABASE_URL, or DB_HOST, DB_NAME and DB_SECRET_ARN, too")
	case ModeURL:
		cfg, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			return envErr("DATABASE_URL", "does not parse after normalising")
		}
		if cfg.Net == "unix" {
			return envErr("DB_TLS_CA_FILE", "is set, but DATABASE_URL connects through a unix socket, which has no host name to verify; use a TCP address or unset DB_TLS_CA_FILE")
		}
		switch cfg.TLSConfig {
		case "", "true":
		case "false", "skip-verify", "preferred":
			return envErr("DB_TLS_CA_FILE", "is set, but DATABASE_URL has tls=%s, which does not verify the server; remove tls from DATABASE_URL (DB_TLS_CA_FILE requires TLS and verifies the server against the bundle)", cfg.TLSConfig)
		default:
			return envErr("DB_TLS_CA_FILE", "is set, but DATABASE_URL names its own TLS configuration; remove tls from DATABASE_URL")
		}
	}
	_, err := loadCABundle(path, time.Now())
	return err
}

// noCAWarning is logged once by Open in ModeSecret without DB_TLS_CA_FILE.
const noCAWarning = "DB_TLS_CA_FILE is not set: the database connection is encrypted when the server offers TLS, but the server's certificate is NOT verified"
