package dbconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/go-sql-driver/mysql"
)

// A password can end up anywhere when a URL is malformed (an unescaped "/" or
// "#" in it moves the rest into the path or fragment, a missing host turns it
// into the "port"), so errors about DATABASE_URL quote nothing taken from
// after the scheme, except query keys that look like identifiers.

const encodeHint = "percent-encode reserved characters in the user name and password (@ as %40, : as %3A, / as %2F, # as %23, ? as %3F, space as %20)"

var (
	schemeRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`) // RFC 3986, section 3.1
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	// RDS allows letters, digits and underscores in DBName; we also accept
	// "$" and "-", which MySQL allows in quoted identifiers and local setups use.
	dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)
	// golang-migrate's "mysql://user:pass@tcp(host:3306)/db": a DSN after the scheme.
	migrateStyleRE = regexp.MustCompile(`@(tcp|tcp4|tcp6|unix)\([^)]*\)/`)
	hostRE         = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)
)

// urlParams are the query parameters accepted in mysql:// and mysql+pymysql://
// URLs: PyMySQL's names as SQLAlchemy passes them (timeouts in seconds) and
// go-sql-driver's tls and collation.
var urlParams = []string{"charset", "collation", "connect_timeout", "read_timeout", "write_timeout", "tls", "unix_socket"}

// parseDatabaseURL accepts, and returns as a go-sql-driver DSN:
//
//	mysql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAMS]
//	mysql+pymysql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?PARAMS]   (SQLAlchemy, the Flask original)
//	USER[:PASSWORD]@NET(ADDR)/DBNAME[?PARAMS]                     (go-sql-driver)
//	mysql://USER[:PASSWORD]@NET(ADDR)/DBNAME[?PARAMS]             (golang-migrate's CLI)
//
// User and password in the URL forms are percent-decoded (RFC 3986). PORT
// defaults to 3306. PARAMS in the URL forms are urlParams; in a DSN, any
// go-sql-driver parameter. The result always has parseTime=true, a utf8mb4
// charset and collation, and the Default* timeouts unless given. It has
// interpolateParams=true unless a DSN says false: one round trip per query
// instead of prepare + execute (BenchmarkQueryArgs: a point query at 64
// goroutines takes about half the time); safe with utf8mb4, and the driver
// honours NO_BACKSLASH_ESCAPES.
func parseDatabaseURL(raw string) (string, error) {
	var (
		cfg *mysql.Config
		err error
	)
	if scheme, rest, ok := strings.Cut(raw, "://"); ok && schemeRE.MatchString(scheme) {
		switch strings.ToLower(scheme) {
		case "mysql":
			if migrateStyleRE.MatchString(rest) {
				// golang-migrate's CLI form: "mysql://" + a go-sql-driver DSN.
				cfg, err = parseDSNForm(rest)
			} else {
				cfg, err = parseURLForm(raw)
			}
		case "mysql+pymysql":
			cfg, err = parseURLForm(raw)
		default:
			return "", envErr("DATABASE_URL",
				"unknown scheme %q; use mysql://, mysql+pymysql:// or a go-sql-driver DSN (user:password@tcp(host:3306)/dbname)", scheme)
		}
	} else {
		cfg, err = parseDSNForm(raw)
	}
	if err != nil {
		return "", err
	}
	dsn := cfg.FormatDSN()
	// A DSN splits user from password at the first ':', so a user name with
	// ':' (legal in MySQL) does not survive the trip; refuse what does not.
	back, err := mysql.ParseDSN(dsn)
	if err != nil || back.User != cfg.User || back.Passwd != cfg.Passwd ||
		back.Net != cfg.Net || back.Addr != cfg.Addr || back.DBName != cfg.DBName {
		return "", envErr("DATABASE_URL", "the user name or password cannot be passed to go-sql-driver/mysql (a user name must not contain ':')")
	}
	return dsn, nil
}

func parseURLForm(raw string) (*mysql.Config, error) {
	if strings.Contains(raw, "#") {
		return nil, envErr("DATABASE_URL", "contains '#', which would cut the URL short; %s", encodeHint)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, envErr("DATABASE_URL", "is not a valid URL (%s); %s", urlErrorKind(err), encodeHint)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, envErr("DATABASE_URL", "has no user name (mysql://USER:PASSWORD@HOST:3306/DBNAME)")
	}
	cfg := mysql.NewConfig()
	cfg.InterpolateParams = true
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()

	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, envErr("DATABASE_URL", "has no database name (mysql://USER:PASSWORD@HOST:3306/DBNAME)")
	}
	if cfg.DBName, err = checkDBName(name); err != nil {
		return nil, envErr("DATABASE_URL", "path: %v", err)
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, envErr("DATABASE_URL", "has a malformed query string; %s", encodeHint)
	}
	var charset string
	socket := ""
	for key, values := range q {
		if len(values) != 1 {
			return nil, envErr("DATABASE_URL", "query parameter %s is given %d times", quoteKey(key), len(values))
		}
		v := values[0]
		switch key {
		case "charset":
			charset = v
		case "collation":
			cfg.Collation = v
		case "connect_timeout", "read_timeout", "write_timeout":
			d, err := parseSeconds(v)
			if err != nil {
				return nil, envErr("DATABASE_URL", "query parameter %s: %v", key, err)
			}
			switch key {
			case "connect_timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "tls":
			switch t := strings.ToLower(v); t {
			case "true", "false", "skip-verify", "preferred":
				cfg.TLSConfig = t
			default:
				return nil, envErr("DATABASE_URL", "query parameter tls must be true, false, skip-verify or preferred")
			}
		case "unix_socket":
			if !strings.HasPrefix(v, "/") {
				return nil, envErr("DATABASE_URL", "query parameter unix_socket must be an absolute path")
			}
			socket = v
		default:
			return nil, envErr("DATABASE_URL", "query parameter %s is not supported (supported: %s)",
				quoteKey(key), strings.Join(urlParams, ", "))
		}
	}

	if socket != "" {
		// PyMySQL ignores the host when unix_socket is given; so do we.
		cfg.Net, cfg.Addr = "unix", socket
	} else {
		host := u.Hostname()
		if host == "" {
			return nil, envErr("DATABASE_URL", "has no host (mysql://USER:PASSWORD@HOST:3306/DBNAME)")
		}
		port := DefaultPort
		if p := u.Port(); p != "" {
			if port, err = parsePort(p); err != nil {
				return nil, envErr("DATABASE_URL", "port: %v", err)
			}
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	}
	if err := normalise(cfg, charset, false); err != nil {
		return nil, err
	}
	return cfg, nil
}

// urlErrorKind names what net/url disliked, without its message: that
// message quotes the offending part of the URL, which may be the password.
func urlErrorKind(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid userinfo"):
		return "the user name or password has a character that must be percent-encoded"
	case strings.Contains(msg, "invalid port"):
		return "the port is not a number, or a password with a reserved character was read as host:port"
	case strings.Contains(msg, "invalid URL escape"):
		return "a % is not followed by two hex digits"
	case strings.Contains(msg, "control character"):
		return "it contains a control character"
	case strings.Contains(msg, "host"), strings.Contains(msg, "IP-literal"):
		return "the host is malformed"
	}
	return "malformed"
}

func parseDSNForm(raw string) (cfg *mysql.Config, err error) {
	params := dsnParams(raw)
	if _, ok := params["strict"]; ok {
		// go-sql-driver panics on it.
		return nil, envErr("DATABASE_URL", "DSN parameter strict was removed from go-sql-driver/mysql; drop it")
	}
	defer func() {
		if recover() != nil {
			cfg, err = nil, envErr("DATABASE_URL", "is not a valid go-sql-driver DSN")
		}
	}()
	cfg, err = mysql.ParseDSN(raw)
	if err != nil {
		reason := "is not a mysql:// URL nor a go-sql-driver DSN (user:password@tcp(host:3306)/dbname)"
		// These are the driver's fixed texts; others quote parts of the DSN.
		if msg := err.Error(); strings.HasPrefix(msg, "invalid DSN: ") {
			reason += ": " + strings.TrimPrefix(msg, "invalid DSN: ")
		} else {
			reason += ": a parameter value is invalid"
		}
		return nil, envErr("DATABASE_URL", "%s", reason)
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, envErr("DATABASE_URL", "DSN network must be tcp, tcp4, tcp6 or unix, as in user:password@tcp(host:3306)/dbname")
	}
	if cfg.User == "" {
		return nil, envErr("DATABASE_URL", "DSN has no user name (user:password@tcp(host:3306)/dbname)")
	}
	if cfg.DBName == "" {
		return nil, envErr("DATABASE_URL", "DSN has no database name (user:password@tcp(host:3306)/dbname)")
	}
	if _, err := checkDBName(cfg.DBName); err != nil {
		return nil, envErr("DATABASE_URL", "DSN database name: %v", err)
	}
	if v, ok := params["parseTime"]; ok && v != "true" && v != "1" {
		return nil, envErr("DATABASE_URL", "DSN parameter parseTime must be true: the store reads DATETIME columns as time.Time")
	}
	if _, ok := params["interpolateParams"]; !ok {
		cfg.InterpolateParams = true
	}
	charset, given := params["charset"]
	if given && charset == "" {
		return nil, envErr("DATABASE_URL", "DSN parameter charset is empty")
	}
	if err := normalise(cfg, charset, true); err != nil {
		return nil, err
	}
	return cfg, nil
}

// dsnParams returns the query parameters of a go-sql-driver DSN as the
// driver finds them: after the first '?' that follows the last '/'.
func dsnParams(dsn string) map[string]string {
	params := map[string]string{}
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return params
	}
	_, query, ok := strings.Cut(dsn[slash+1:], "?")
	if !ok {
		return params
	}
	for kv := range strings.SplitSeq(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			params[k] = v
		}
	}
	return params
}

// normalise applies what every connection of the service needs: utf8mb4,
// DATETIME as time.Time, and bounded timeouts (kept when the URL sets them).
// charset is the requested one ("" if none); it must be utf8mb4 or an alias
// that utf8mb4 covers (utf8, utf8mb3), since the store keeps any Unicode text.
func normalise(cfg *mysql.Config, charset string, dsn bool) error {
	for cs := range strings.SplitSeq(charset, ",") {
		switch strings.ToLower(cs) {
		case "", "utf8mb4", "utf8", "utf8mb3":
		default:
			what := "query parameter charset"
			if dsn {
				what = "DSN parameter charset"
			}
			return envErr("DATABASE_URL", "%s must be utf8mb4 (the store keeps any Unicode text)", what)
		}
	}
	collation := cfg.Collation
	if collation == "" {
		collation = DefaultCollation
	} else if !strings.HasPrefix(strings.ToLower(collation), "utf8mb4_") || !identifierRE.MatchString(collation) {
		return envErr("DATABASE_URL", "collation must be a utf8mb4 collation such as %s", DefaultCollation)
	}
	if err := cfg.Apply(mysql.Charset("utf8mb4", collation)); err != nil {
		return envErr("DATABASE_URL", "charset: %v", err)
	}
	cfg.ParseTime = true
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultDialTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	return nil
}

// parseSeconds reads a PyMySQL timeout: a positive number of seconds, at most
// one hour.
func parseSeconds(v string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 3600) {
		return 0, errors.New("must be a number of seconds greater than 0 and at most 3600")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parsePort checks a TCP port, 1-65535. Its error does not quote p, which
// may be a password read as a port.
func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("must be a number from 1 to 65535")
	}
	return n, nil
}

// checkDBName applies MySQL's identifier limit (64 characters) and a
// conservative character set; see dbNameRE.
func checkDBName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("the database name is empty")
	case len(name) > 64:
		return "", errors.New("the database name is longer than MySQL's 64-character limit")
	case !dbNameRE.MatchString(name):
		return "", errors.New("the database name may hold only letters, digits, _, $ and -")
	}
	return name, nil
}

// parseHost checks DB_HOST: a DNS name or an IP address, without scheme or port.
func parseHost(h string) (string, error) {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return ip.String(), nil
	}
	if len(h) <= 253 && hostRE.MatchString(h) { // RFC 1035's 253-octet limit
		return h, nil
	}
	if hp, port, err := net.SplitHostPort(h); err == nil && hp != "" {
		if _, err := strconv.Atoi(port); err == nil {
			return "", envErr("DB_HOST", "%q looks like host:port; put the host in DB_HOST and the port in DB_PORT", h)
		}
	}
	return "", envErr("DB_HOST", "%q is not a host name or IP address (e.g. mydb.abc123.eu-west-1.rds.amazonaws.com)", h)
}

// parseSecretARN checks DB_SECRET_ARN: an ARN of a Secrets Manager secret,
// arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME.
func parseSecretARN(s string) (string, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", envErr("DB_SECRET_ARN", "%q is not an ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)", s)
	}
	if a.Service != "secretsmanager" || !strings.HasPrefix(a.Resource, "secret:") || len(a.Resource) == len("secret:") {
		return "", envErr("DB_SECRET_ARN", "%q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)", s)
	}
	if a.Region == "" {
		return "", envErr("DB_SECRET_ARN", "%q has no region", s)
	}
	return s, nil
}

func quoteKey(k string) string {
	if identifierRE.MatchString(k) {
		return fmt.Sprintf("%q", k)
	}
	return "(unprintable name)"
}
