package dbconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// PermanentError is a failure to connect that waiting will not cure: the
// configuration must change. Var names the variable to fix.
type PermanentError struct {
	Var    string // e.g. "DATABASE_URL", "DB_NAME", "DB_SECRET_ARN", "DB_TLS_CA_FILE"
	Reason string // what is wrong, for people
	Err    error  // the error that shows it (MySQL's, or this package's)
}

func (e *PermanentError) Error() string { return e.Var + ": " + e.Reason + ": " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// transientMySQL are the MySQL and MariaDB server errors that a connection
// may get while the server is starting, stopping, failing over or
// overloaded; they pass by themselves. 2002-2013 are libmysqlclient's
// numbers, which proxies (RDS Proxy, ProxySQL) may pass on.
var transientMySQL = map[uint16]bool{
	1040: true, // ER_CON_COUNT_ERROR: too many connections
	1053: true, // ER_SERVER_SHUTDOWN: shutdown in progress
	1152: true, // ER_ABORTING_CONNECTION
	1158: true, // ER_NET_READ_ERROR
	1159: true, // ER_NET_READ_INTERRUPTED
	1160: true, // ER_NET_ERROR_ON_WRITE
	1161: true, // ER_NET_WRITE_INTERRUPTED
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1927: true, // ER_CONNECTION_KILLED (MariaDB)
	2002: true, // CR_CONNECTION_ERROR
	2003: true, // CR_CONN_HOST_ERROR: can't connect
	2006: true, // CR_SERVER_GONE_ERROR
	2013: true, // CR_SERVER_LOST: lost connection
	3032: true, // ER_SERVER_OFFLINE_MODE (MySQL 8.0)
}

// Permanent reports whether err, returned while connecting to the database
// of s (directly or wrapped), will come back however long one waits. It
// returns a *PermanentError naming the variable to fix, or nil for errors
// that may pass: a refused or timed-out connection, a server that is
// starting or overloaded, a failing DNS lookup (in compose and Swarm a
// service's name resolves only while it runs), and any error from AWS
// other than ErrSecretNotFound (IAM changes take a while to apply).
//
// Permanent are: MySQL rejecting the user name or password (1045, and
// ErrAccessDenied after the secret was read again), the user's rights on
// the database (1044), an unknown database (1049), a host not allowed to
// connect (1130) and any other MySQL server error at login that is not in
// the transient list; ErrSecretNotFound and ErrSecretFormat; and a server
// whose TLS certificate does not verify or that offers no TLS when it is
// required. The messages quote MySQL's and this package's errors, which
// hold user and host names but never a password.
func Permanent(s Settings, err error) *PermanentError {
	// pick names the variable by mode: the URL holds everything in ModeURL.
	pick := func(secretVar string) string {
		if s.Mode == ModeSecret {
			return secretVar
		}
		return "DATABASE_URL"
	}
	var (
		me  *mysql.MySQLError
		cve *tls.CertificateVerificationError
		unk x509.UnknownAuthorityError
		hn  x509.HostnameError
		inv x509.CertificateInvalidError
	)
	var tlsErr error
	switch {
	case errors.As(err, &cve):
		tlsErr = cve
	case errors.As(err, &unk):
		tlsErr = unk
	case errors.As(err, &hn):
		tlsErr = hn
	case errors.As(err, &inv):
		tlsErr = inv
	}
	switch {
	case errors.Is(err, ErrSecretNotFound):
		return &PermanentError{"DB_SECRET_ARN", "Secrets Manager has no such secret (or no AWSCURRENT version of it)", wrapperOf(err, ErrSecretNotFound)}
	case errors.Is(err, ErrSecretFormat):
		return &PermanentError{"DB_SECRET_ARN", "the secret is not an RDS-managed secret", wrapperOf(err, ErrSecretFormat)}
	case errors.Is(err, ErrAccessDenied):
		return &PermanentError{"DB_SECRET_ARN", "the database rejects the user name and password in the secret, even after reading it again", wrapperOf(err, ErrAccessDenied)}
	case tlsErr != nil:
		v := "DATABASE_URL"
		if s.TLSCAFile != "" {
			v = "DB_TLS_CA_FILE"
		}
		return &PermanentError{v, "the database's TLS certificate does not verify", tlsErr}
	case errors.Is(err, mysql.ErrNoTLS):
		return &PermanentError{"DB_TLS_CA_FILE", "TLS is required, but the database does not offer it", mysql.ErrNoTLS}
	case !errors.As(err, &me) || transientMySQL[me.Number]:
		return nil
	}
	switch me.Number {
	case 1045:
		return &PermanentError{pick("DB_SECRET_ARN"), "the database rejects the user name or password", me}
	case 1044:
		return &PermanentError{pick("DB_NAME"), "the user may not use this database (grant it, or name another)", me}
	case 1049:
		return &PermanentError{pick("DB_NAME"), "the database does not exist (create it, or name another)", me}
	case 1130:
		return &PermanentError{pick("DB_HOST"), "the database does not let this host connect as this user", me}
	}
	return &PermanentError{pick("DB_HOST"), fmt.Sprintf("the database refused the connection (MySQL error %d)", me.Number), me}
}

// wrapperOf returns the error in err's tree that wraps target itself: it
// holds this package's context (ARN, user, version) without the wrappers
// its callers added, such as "migrate: store: database unavailable". It
// returns err if there is none.
func wrapperOf(err, target error) error {
	var walk func(e error) error
	walk = func(e error) error {
		var next []error
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			next = []error{u.Unwrap()}
		case interface{ Unwrap() []error }:
			next = u.Unwrap()
		}
		for _, n := range next {
			if n == target {
				return e
			}
			if w := walk(n); w != nil {
				return w
			}
		}
		return nil
	}
	if w := walk(err); w != nil {
		return w
	}
	return err
}
