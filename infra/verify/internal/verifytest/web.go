package verifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a test certificate authority: a root and one intermediate, as a
// public CA serves them. Pool trusts the root only.
type CA struct {
	Pool      *x509.CertPool
	root      *x509.Certificate
	rootKey   *ecdsa.PrivateKey
	inter     *x509.Certificate
	interKey  *ecdsa.PrivateKey
	interDER  []byte
	notBefore time.Time
}

// RootPEM is the root certificate, PEM-encoded, as a --roots file holds it.
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// NewCA makes a CA valid from a day before now for ten years.
func NewCA(t testing.TB, now time.Time) *CA {
	t.Helper()
	ca := &CA{notBefore: now.Add(-24 * time.Hour)}
	var rootDER []byte
	ca.rootKey, rootDER = makeCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Verify Test Root"},
		NotBefore:             ca.notBefore,
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, nil)
	ca.root = parse(t, rootDER)
	ca.interKey, ca.interDER = makeCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Verify Test Intermediate"},
		NotBefore:             ca.notBefore,
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, ca.root, ca.rootKey)
	ca.inter = parse(t, ca.interDER)
	ca.Pool = x509.NewCertPool()
	ca.Pool.AddCert(ca.root)
	return ca
}

// Issue returns a server certificate for names, valid until notAfter, with
// the intermediate in its chain.
func (ca *CA) Issue(t testing.TB, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	key, der := makeCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		DNSNames:    names,
		NotBefore:   ca.notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, ca.interKey)
	return tls.Certificate{Certificate: [][]byte{der, ca.interDER}, PrivateKey: key, Leaf: parse(t, der)}
}

var serial atomic.Int64

func makeCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func parse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Web plays the load balancer: HTTPS on one port with a certificate chosen
// by the test, and plain HTTP on another that redirects to HTTPS like the
// ALB's :80 listener. Both serve every host name.
type Web struct {
	HTTPSPort, HTTPPort int

	cert  atomic.Pointer[tls.Certificate]
	ready atomic.Int32
	plain atomic.Pointer[http.Handler]

	mu   sync.Mutex
	snis []string
}

// NewWeb starts both servers with cert; they stop when the test ends.
func NewWeb(t testing.TB, cert tls.Certificate) *Web {
	t.Helper()
	w := &Web{}
	w.SetCert(cert)
	w.ready.Store(http.StatusOK)
	w.SetPlain(http.HandlerFunc(Redirect))

	quiet := log.New(io.Discard, "", 0) // handshakes the tests make fail on purpose
	tlsSrv := httptest.NewUnstartedServer(w.Health())
	tlsSrv.Config.ErrorLog = quiet
	tlsSrv.TLS = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		w.mu.Lock()
		w.snis = append(w.snis, h.ServerName)
		w.mu.Unlock()
		return w.cert.Load(), nil
	}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	w.HTTPSPort = port(t, tlsSrv.Listener.Addr())

	plainSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		(*w.plain.Load()).ServeHTTP(rw, r)
	}))
	plainSrv.Config.ErrorLog = quiet
	plainSrv.Start()
	t.Cleanup(plainSrv.Close)
	w.HTTPPort = port(t, plainSrv.Listener.Addr())
	return w
}

func port(t testing.TB, a net.Addr) int {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// SetCert changes the certificate served on HTTPS.
func (w *Web) SetCert(c tls.Certificate) { w.cert.Store(&c) }

// SetReady sets the status /readyz answers.
func (w *Web) SetReady(status int) { w.ready.Store(int32(status)) }

// SetPlain changes the handler of the plain HTTP port.
func (w *Web) SetPlain(h http.Handler) { w.plain.Store(&h) }

// SNIs returns the server names clients asked for in TLS handshakes, sorted.
func (w *Web) SNIs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.snis)
	slices.Sort(out)
	return slices.Compact(out)
}

// Health serves the service's /healthz (always 200) and /readyz (the status
// set by SetReady).
func (w *Web) Health() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(rw, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		status := int(w.ready.Load())
		rw.WriteHeader(status)
		if status != http.StatusOK {
			_, _ = io.WriteString(rw, "database: dial tcp 10.0.3.17:3306: connect: connection refused\n")
			return
		}
		_, _ = io.WriteString(rw, "ok\n")
	})
	return mux
}

// Redirect answers like the ALB's :80 listener: 301 to https on the same
// host and path.
func Redirect(rw http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	http.Redirect(rw, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
}
