// Package dbconn turns the service's database environment into a *sql.DB.
//
// Three modes, chosen by which variables are set (docs/architecture.md, "The
// contract between the parts", row "database, one of"):
//   - DATABASE_URL: "mysql://", "mysql+pymysql://" (the Flask original's form) or a
//     go-sql-driver DSN;
//   - DB_HOST + DB_PORT + DB_NAME + DB_SECRET_ARN: credentials from the RDS-managed
//     secret in AWS Secrets Manager, re-read when MySQL rejects them (rotation);
//   - neither: ModeEmbedded; the caller starts the in-process engine.
//
// Every connection this package opens uses utf8mb4, parses DATETIME into
// time.Time (UTC) and has bounded dial, read and write timeouts, so a dead
// database fails a query instead of hanging it. With DB_TLS_CA_FILE, in
// either server mode, it also requires TLS and verifies the server's
// certificate against that bundle.
package dbconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Mode says where the credentials come from.
type Mode int

const (
	ModeEmbedded Mode = iota // no database configured
	ModeURL                  // DATABASE_URL
	ModeSecret               // DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN
)

// String returns "embedded", "url" or "secret", for logs.
func (m Mode) String() string {
	switch m {
	case ModeEmbedded:
		return "embedded"
	case ModeURL:
		return "url"
	case ModeSecret:
		return "secret"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Defaults applied to every connection unless DATABASE_URL sets them itself.
const (
	// DefaultPort is MySQL's registered port, used when DB_PORT or the URL's port is empty.
	DefaultPort = 3306
	// DefaultCollation is a utf8mb4 collation that both MySQL 8.4 (RDS) and
	// MariaDB know; MySQL's own default, utf8mb4_0900_ai_ci, is unknown to MariaDB.
	DefaultCollation = "utf8mb4_unicode_ci"
	// DefaultDialTimeout bounds the set-up of one connection: TCP connect,
	// handshake and login (DATABASE_URL's connect_timeout or timeout
	// replaces it).
	DefaultDialTimeout = 5 * time.Second
	// DefaultReadTimeout and DefaultWriteTimeout bound one network read or
	// write on an open connection: the backstop for a database that vanished
	// without closing its sockets when the caller's context has no deadline.
	// 30 s stays above golang-migrate's 10 s GET_LOCK wait.
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxOpenConns caps the pool. RDS sizes max_connections from
	// memory (about 60-85 on a 1 GiB db.t4g.micro) and the stack runs up to
	// ~8 service processes against one instance, so each keeps well under 1/8.
	DefaultMaxOpenConns = 10
	// DefaultConnMaxLifetime recycles connections so that a Multi-AZ failover
	// (new address behind the same DNS name) is picked up without a restart.
	DefaultConnMaxLifetime = 5 * time.Minute
)

// Settings is the parsed database environment.
//
// Settings holds the password in DSN (ModeURL): String and LogValue redact
// it, so logging a Settings value is safe.
type Settings struct {
	Mode      Mode
	DSN       string // ModeURL: normalised go-sql-driver DSN (includes the password)
	Host      string // ModeSecret: DB_HOST, a host name or IP address without port
	Port      int    // ModeSecret: DB_PORT, default 3306
	Name      string // ModeSecret: DB_NAME, the database (schema) name
	SecretARN string // ModeSecret: DB_SECRET_ARN

	// TLSCAFile is DB_TLS_CA_FILE (ModeURL or ModeSecret): the path of a PEM
	// bundle of the CA certificates that may sign the server's certificate,
	// such as RDS's regional bundle. Set, every connection requires TLS 1.2+
	// and verifies the server against exactly these CAs, with the database's
	// host as the server name. Empty, ModeSecret prefers TLS without
	// verifying it, and ModeURL does what DATABASE_URL's tls says.
	TLSCAFile string

	// MaxOpenConns caps the pool Open returns; 0 means DefaultMaxOpenConns.
	// Not read from the environment.
	MaxOpenConns int
}

// String describes s without the password, e.g.
// "url: bookstore:***@tcp(db:3306)/bookstore" or
// "secret: db:3306/bookstore (credentials from arn:aws:secretsmanager:...)",
// followed by ", TLS verified with /path/ca.pem" when TLSCAFile is set.
func (s Settings) String() string {
	if s.TLSCAFile != "" && s.Mode != ModeEmbedded {
		c := s
		c.TLSCAFile = ""
		return c.String() + ", TLS verified with " + s.TLSCAFile
	}
	switch s.Mode {
	case ModeURL:
		cfg, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			return "url: (unparsable DSN)"
		}
		pw := ""
		if cfg.Passwd != "" {
			pw = ":***"
		}
		return fmt.Sprintf("url: %s%s@%s(%s)/%s", cfg.User, pw, cfg.Net, cfg.Addr, cfg.DBName)
	case ModeSecret:
		return fmt.Sprintf("secret: %s/%s (credentials from %s)",
			net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), s.Name, s.SecretARN)
	}
	return s.Mode.String()
}

// LogValue implements slog.LogValuer so that slog never prints the DSN.
func (s Settings) LogValue() slog.Value {
	return slog.StringValue(s.String())
}

// EnvError reports a malformed or missing database environment variable.
// Reason never contains a password or any part of one.
type EnvError struct {
	Var    string // the variable that is wrong, e.g. "DATABASE_URL" or "DB_PORT"
	Reason string
}

func (e *EnvError) Error() string { return e.Var + ": " + e.Reason }

func envErr(name, format string, args ...any) error {
	return &EnvError{Var: name, Reason: fmt.Sprintf(format, args...)}
}

// SettingsFromEnv reads DATABASE_URL, DB_HOST, DB_PORT, DB_NAME, DB_SECRET_ARN
// and DB_TLS_CA_FILE through getenv (os.Getenv in production). An empty variable counts as unset;
// surrounding white space is ignored.
//
// Exactly one of DATABASE_URL or the DB_* set may be given; neither gives
// ModeEmbedded. DATABASE_URL takes one of
//
//	mysql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAMS]
//	mysql+pymysql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAMS]   (SQLAlchemy, the Flask original)
//	USER[:PASSWORD]@tcp(HOST:PORT)/DBNAME[?PARAMS]                (go-sql-driver DSN;
//	                                                              also after mysql://, as golang-migrate writes it)
//
// with user and password percent-encoded in the URL forms (RFC 3986) and
// PORT defaulting to 3306. The URL forms take the PyMySQL parameters charset
// (utf8mb4, or utf8/utf8mb3, which utf8mb4 covers), connect_timeout,
// read_timeout and write_timeout (seconds) and unix_socket, plus
// go-sql-driver's tls and collation; a DSN takes any go-sql-driver parameter.
// The result, in Settings.DSN, always has parseTime=true, utf8mb4 with a
// utf8mb4 collation (DefaultCollation unless given), interpolateParams (unless
// a DSN turns it off) and the Default*Timeout values unless given.
//
// The DB_* set needs DB_HOST (host name or IP address, no port), DB_NAME
// (MySQL's 64-character identifier limit) and DB_SECRET_ARN (a Secrets Manager
// secret ARN); DB_PORT defaults to 3306.
//
// DB_TLS_CA_FILE, with either mode, is the path of a PEM bundle of CA
// certificates (see Settings.TLSCAFile). It is read and parsed here, so a
// missing or unreadable file, one without certificates, with a block that is
// not a certificate or is cut short, or with only expired certificates,
// stops the start. So does a DATABASE_URL that contradicts it: a unix
// socket, or tls=false, skip-verify or preferred (tls=true is accepted:
// the bundle replaces the system roots). Set without a database, it is an
// error too.
//
// Errors are *EnvError naming the variable and what is wrong with it; they
// never echo a password. Every wrong variable is reported, joined with
// errors.Join (errors.As finds the first): DB_HOST, DB_PORT, DB_NAME and
// DB_SECRET_ARN are each checked even when another is wrong or missing, and
// DB_TLS_CA_FILE is read even when the database variables are wrong.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	url := get("DATABASE_URL")
	caFile := get("DB_TLS_CA_FILE")
	secretVars := []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN"}
	var set, missing []string
	for _, name := range secretVars {
		if get(name) != "" {
			set = append(set, name)
		} else if name != "DB_PORT" {
			missing = append(missing, name)
		}
	}

	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// failed reports errs, plus what is wrong with the CA bundle file
	// itself (its fit with the other variables can't be judged).
	failed := func() (Settings, error) {
		if caFile != "" {
			_, err := loadCABundle(caFile, time.Now())
			add(err)
		}
		return Settings{}, errors.Join(errs...)
	}

	switch {
	case url != "" && len(set) > 0:
		add(envErr("DATABASE_URL",
			"is set together with %s; set either DATABASE_URL or DB_HOST, DB_PORT, DB_NAME and DB_SECRET_ARN, not both",
			strings.Join(set, ", ")))
		return failed()
	case url != "":
		dsn, err := parseDatabaseURL(url)
		if err != nil {
			add(err)
			return failed()
		}
		return withCAFile(Settings{Mode: ModeURL, DSN: dsn}, caFile)
	case len(set) == 0:
		return withCAFile(Settings{Mode: ModeEmbedded}, caFile)
	}

	for _, name := range missing {
		add(envErr(name,
			"is not set, but %s is; the Secrets Manager mode needs all of DB_HOST, DB_NAME and DB_SECRET_ARN (DB_PORT defaults to %d)",
			strings.Join(set, ", "), DefaultPort))
	}
	s := Settings{Mode: ModeSecret, Port: DefaultPort}
	var err error
	if h := get("DB_HOST"); h != "" {
		s.Host, err = parseHost(h)
		add(err)
	}
	if p := get("DB_PORT"); p != "" {
		if s.Port, err = parsePort(p); err != nil {
			add(envErr("DB_PORT", "%v", err))
		}
	}
	if n := get("DB_NAME"); n != "" {
		if s.Name, err = checkDBName(n); err != nil {
			add(envErr("DB_NAME", "%v", err))
		}
	}
	if a := get("DB_SECRET_ARN"); a != "" {
		s.SecretARN, err = parseSecretARN(a)
		add(err)
	}
	if len(errs) > 0 {
		return failed()
	}
	return withCAFile(s, caFile)
}

// withCAFile returns s with TLSCAFile = path once checkCAFileFor accepts it;
// an empty path leaves s as it is.
func withCAFile(s Settings, path string) (Settings, error) {
	if path == "" {
		return s, nil
	}
	if err := checkCAFileFor(s, path); err != nil {
		return Settings{}, err
	}
	s.TLSCAFile = path
	return s, nil
}

// Open returns a pool for s (ModeURL or ModeSecret). It does not ping: the
// first query connects, and in ModeSecret it is also the first query that
// reads the secret.
//
// The pool holds at most s.MaxOpenConns (default DefaultMaxOpenConns)
// connections, as many idle, each recycled after DefaultConnMaxLifetime; the
// caller may change these with db.Set*.
//
// In ModeSecret the AWS configuration comes from the SDK's default chain
// (environment, shared files, IMDS); the region is the one in the secret's ARN,
// where the secret lives. AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL
// redirect the client (tests).
//
// With s.TLSCAFile, the bundle is read again and every connection requires
// TLS 1.2+ and a server certificate that chains to it and names the
// database's host (DB_HOST, or DATABASE_URL's host); a server without TLS, or
// with another certificate, is refused at connect time. Without it,
// ModeSecret connections prefer TLS (go-sql-driver "preferred": encrypted
// when the server offers it, the certificate not verified, since RDS's CA is
// not among the image's roots), and Open logs one warning saying so.
//
// logger may be nil. Open fails for ModeEmbedded, an unparsable DSN, a CA
// bundle that no longer loads, or an AWS configuration that cannot be loaded.
func Open(ctx context.Context, s Settings, logger *slog.Logger) (*sql.DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var connector driver.Connector
	switch s.Mode {
	case ModeURL:
		cfg, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			// The driver's messages never include the password field.
			return nil, fmt.Errorf("dbconn: parse DSN: %w", err)
		}
		cfg.Logger = driverLogger{logger}
		if s.TLSCAFile != "" {
			if err := useCABundle(cfg, s.TLSCAFile); err != nil {
				return nil, err
			}
		}
		if connector, err = newConnector(cfg); err != nil {
			return nil, fmt.Errorf("dbconn: %w", err)
		}
	case ModeSecret:
		c, err := newSecretConnector(ctx, s, logger)
		if err != nil {
			return nil, err
		}
		if s.TLSCAFile == "" {
			logger.Warn(noCAWarning, "db_host", s.Host)
		}
		connector = c
	case ModeEmbedded:
		return nil, errors.New("dbconn: ModeEmbedded has no server to open; the caller starts the embedded engine")
	default:
		return nil, fmt.Errorf("dbconn: unknown mode %d", int(s.Mode))
	}

	db := sql.OpenDB(connector)
	maxOpen := s.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenConns
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxLifetime(DefaultConnMaxLifetime)
	return db, nil
}

// newConnector is mysql.NewConnector with cfg.Timeout bounding the whole
// connection set-up, not only the TCP dial: a server that accepts but never
// completes the handshake (overloaded, half-failed over) would otherwise hold
// a caller without a deadline for ReadTimeout per packet.
func newConnector(cfg *mysql.Config) (driver.Connector, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return boundedConnector{Connector: c, timeout: cfg.Timeout}, nil
}

type boundedConnector struct {
	driver.Connector
	timeout time.Duration
}

func (b boundedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if b.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		// The driver stops watching ctx before Connect returns.
		defer cancel()
	}
	return b.Connector.Connect(ctx)
}

// driverLogger sends go-sql-driver's own messages (a connection closed under
// it, a bad packet) to slog, so they reach the JSON log instead of stderr.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) {
	d.l.Warn(strings.TrimSpace(fmt.Sprint(v...)), "component", "go-sql-driver/mysql")
}
