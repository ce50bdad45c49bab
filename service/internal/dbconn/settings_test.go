package dbconn

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// want is what the normalised DSN must hold; zero fields are not checked
// except that every DSN must have parseTime, utf8mb4 and timeouts.
type want struct {
	user, passwd, net, addr, db, collation, tls string
	noPasswd, noInterpolate                     bool
	timeout, readTimeout, writeTimeout          time.Duration
}

func TestSettingsFromEnvURL(t *testing.T) {
	tests := []struct {
		name, url string
		want      want
	}{
		{"mysql scheme", "mysql://user:pass@host:3306/db",
			want{user: "user", passwd: "pass", net: "tcp", addr: "host:3306", db: "db"}},
		{"sqlalchemy pymysql with charset", "mysql+pymysql://root:password@db:3306/bookstore?charset=utf8mb4",
			want{user: "root", passwd: "password", net: "tcp", addr: "db:3306", db: "bookstore"}},
		{"charset utf8 is covered by utf8mb4", "mysql+pymysql://root:password@db/bookstore?charset=utf8",
			want{user: "root", addr: "db:3306", collation: DefaultCollation}},
		{"scheme is case-insensitive", "MySQL://u:p@h/db", want{user: "u", addr: "h:3306"}},
		{"default port", "mysql://u:p@db.internal/shop", want{addr: "db.internal:3306", db: "shop"}},
		{"no password", "mysql://reader@h:3310/db", want{user: "reader", noPasswd: true, addr: "h:3310"}},
		{"percent-encoded reserved characters", "mysql://app%2Buser:p%40ss%3Aw%2Frd%23%3F%25%20x%26%3D@db.example:3307/shop",
			want{user: "app+user", passwd: "p@ss:w/rd#?% x&=", addr: "db.example:3307", db: "shop"}},
		{"plus in password is not a space", "mysql://u:a+b@h/db", want{passwd: "a+b"}},
		{"unescaped @ in password", "mysql://app:p@ss@h:3306/db", want{user: "app", passwd: "p@ss", addr: "h:3306"}},
		{"IPv6 host", "mysql://u:p@[::1]:3306/db", want{addr: "[::1]:3306"}},
		{"pymysql timeouts in seconds", "mysql+pymysql://u:p@h/db?connect_timeout=2&read_timeout=1.5",
			want{timeout: 2 * time.Second, readTimeout: 1500 * time.Millisecond, writeTimeout: DefaultWriteTimeout}},
		{"unix socket", "mysql+pymysql://u:p@localhost/db?unix_socket=/run/mysqld/mysqld.sock",
			want{net: "unix", addr: "/run/mysqld/mysqld.sock"}},
		{"tls", "mysql://u:p@h/db?tls=true", want{tls: "true"}},
		{"utf8mb4 collation kept", "mysql://u:p@h/db?collation=utf8mb4_bin", want{collation: "utf8mb4_bin"}},
		{"surrounding white space", "  mysql://u:p@h/db\n", want{user: "u", db: "db"}},
		{"go-sql-driver DSN", "user:pass@tcp(host:3306)/db?parseTime=true&loc=UTC",
			want{user: "user", passwd: "pass", net: "tcp", addr: "host:3306", db: "db"}},
		{"golang-migrate style", "mysql://user:pa@ss@tcp(host:3307)/db?multiStatements=true",
			want{user: "user", passwd: "pa@ss", net: "tcp", addr: "host:3307", db: "db"}},
		{"DSN without port", "user@tcp(host)/db", want{user: "user", addr: "host:3306"}},
		{"DSN with / @ : in password", "u:p@s/s:w@tcp(h:3306)/db", want{user: "u", passwd: "p@s/s:w", addr: "h:3306"}},
		{"DSN charset and collation", "u:p@tcp(h)/db?charset=utf8mb4&collation=utf8mb4_general_ci",
			want{collation: "utf8mb4_general_ci"}},
		{"DSN timeouts kept", "u:p@tcp(h)/db?timeout=1s&readTimeout=2s&writeTimeout=3s",
			want{timeout: time.Second, readTimeout: 2 * time.Second, writeTimeout: 3 * time.Second}},
		{"DSN interpolateParams=false kept", "u:p@tcp(h)/db?interpolateParams=false", want{noInterpolate: true}},
		{"DSN unix socket", "u:p@unix(/run/mysqld/mysqld.sock)/db", want{net: "unix", addr: "/run/mysqld/mysqld.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(env("DATABASE_URL", tt.url))
			if err != nil {
				t.Fatalf("SettingsFromEnv: %v", err)
			}
			if s.Mode != ModeURL {
				t.Fatalf("Mode = %v, want url", s.Mode)
			}
			cfg, err := mysql.ParseDSN(s.DSN)
			if err != nil {
				t.Fatalf("normalised DSN does not parse: %v", err)
			}
			checkConfig(t, cfg, tt.want)
		})
	}
}

func checkConfig(t *testing.T, cfg *mysql.Config, w want) {
	t.Helper()
	str := func(field, got, want string) {
		if want != "" && got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	str("User", cfg.User, w.user)
	str("Passwd", cfg.Passwd, w.passwd)
	if w.noPasswd && cfg.Passwd != "" {
		t.Errorf("Passwd = %q, want empty", cfg.Passwd)
	}
	str("Net", cfg.Net, w.net)
	str("Addr", cfg.Addr, w.addr)
	str("DBName", cfg.DBName, w.db)
	str("TLSConfig", cfg.TLSConfig, w.tls)
	if w.collation == "" {
		w.collation = DefaultCollation
	}
	str("Collation", cfg.Collation, w.collation)
	if cfg.InterpolateParams == w.noInterpolate {
		t.Errorf("InterpolateParams = %v, want %v", cfg.InterpolateParams, !w.noInterpolate)
	}
	if !cfg.ParseTime {
		t.Error("ParseTime = false, want true")
	}
	if !strings.Contains(cfg.FormatDSN(), "charset=utf8mb4") {
		t.Errorf("DSN %q lacks charset=utf8mb4", cfg.FormatDSN())
	}
	dur := func(field string, got, want, def time.Duration) {
		if want == 0 {
			want = def
		}
		if got != want {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	dur("Timeout", cfg.Timeout, w.timeout, DefaultDialTimeout)
	dur("ReadTimeout", cfg.ReadTimeout, w.readTimeout, DefaultReadTimeout)
	dur("WriteTimeout", cfg.WriteTimeout, w.writeTimeout, DefaultWriteTimeout)
}

func TestSettingsFromEnvSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c-AbCdEf"
	tests := []struct {
		name string
		env  func(string) string
		want Settings
	}{
		{"default port", env("DB_HOST", "db.abc.eu-west-1.rds.amazonaws.com", "DB_NAME", "bookstore", "DB_SECRET_ARN", arn),
			Settings{Mode: ModeSecret, Host: "db.abc.eu-west-1.rds.amazonaws.com", Port: 3306, Name: "bookstore", SecretARN: arn}},
		{"explicit port", env("DB_HOST", "10.0.3.7", "DB_PORT", "3307", "DB_NAME", "bookstore", "DB_SECRET_ARN", arn),
			Settings{Mode: ModeSecret, Host: "10.0.3.7", Port: 3307, Name: "bookstore", SecretARN: arn}},
		{"IPv6 host", env("DB_HOST", "[fd00::7]", "DB_NAME", "b", "DB_SECRET_ARN", arn),
			Settings{Mode: ModeSecret, Host: "fd00::7", Port: 3306, Name: "b", SecretARN: arn}},
		{"GovCloud partition", env("DB_HOST", "db", "DB_NAME", "b", "DB_SECRET_ARN", "arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:x"),
			Settings{Mode: ModeSecret, Host: "db", Port: 3306, Name: "b", SecretARN: "arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:x"}},
		{"nothing set", env(), Settings{Mode: ModeEmbedded}},
		{"only blanks", env("DATABASE_URL", " ", "DB_HOST", "\t"), Settings{Mode: ModeEmbedded}},
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
}

func TestSettingsFromEnvErrors(t *testing.T) {
	const (
		pw  = "Sup3rS3cr3tPw"
		arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
	)
	tests := []struct {
		name    string
		env     func(string) string
		wantVar string
		want    string // substring of the message
	}{
		{"unknown scheme", env("DATABASE_URL", "postgres://u:"+pw+"@h/db"), "DATABASE_URL", `unknown scheme "postgres"`},
		{"sqlalchemy other driver", env("DATABASE_URL", "mysql+mysqldb://u:"+pw+"@h/db"), "DATABASE_URL", "unknown scheme"},
		{"port out of range", env("DATABASE_URL", "mysql://u:"+pw+"@h:99999/db"), "DATABASE_URL", "port: must be a number from 1 to 65535"},
		{"port zero", env("DATABASE_URL", "mysql://u:"+pw+"@h:0/db"), "DATABASE_URL", "port"},
		{"port not a number", env("DATABASE_URL", "mysql://u:"+pw+"@h:abc/db"), "DATABASE_URL", "port is not a number"},
		{"host forgotten, password read as port", env("DATABASE_URL", "mysql://root:123456789/db"), "DATABASE_URL", "no user name"},
		{"no database", env("DATABASE_URL", "mysql://u:"+pw+"@h:3306"), "DATABASE_URL", "no database name"},
		{"empty database", env("DATABASE_URL", "mysql://u:"+pw+"@h:3306/"), "DATABASE_URL", "no database name"},
		{"database with slash", env("DATABASE_URL", "mysql://u:"+pw+"@h/a%2Fb"), "DATABASE_URL", "only letters"},
		{"two path segments", env("DATABASE_URL", "mysql://u:"+pw+"@h/a/b"), "DATABASE_URL", "only letters"},
		{"database name too long", env("DATABASE_URL", "mysql://u:"+pw+"@h/"+strings.Repeat("d", 65)), "DATABASE_URL", "64-character"},
		{"no user", env("DATABASE_URL", "mysql://h:3306/db"), "DATABASE_URL", "no user name"},
		{"no host", env("DATABASE_URL", "mysql://u:"+pw+"@/db"), "DATABASE_URL", "no host"},
		{"raw # in password", env("DATABASE_URL", "mysql://u:"+pw+"#x@h/db"), "DATABASE_URL", "%23"},
		{"raw / in password", env("DATABASE_URL", "mysql://u:"+pw+"/x@h/db"), "DATABASE_URL", "percent-encode"},
		{"raw space in password", env("DATABASE_URL", "mysql://u:a "+pw+"@h/db"), "DATABASE_URL", "percent-encode"},
		{"bad escape", env("DATABASE_URL", "mysql://u:"+pw+"%zz@h/db"), "DATABASE_URL", "% is not followed"},
		{"unsupported param", env("DATABASE_URL", "mysql+pymysql://u:"+pw+"@h/db?ssl_ca=/x.pem"), "DATABASE_URL", `"ssl_ca" is not supported`},
		{"repeated param", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?charset=utf8mb4&charset=utf8mb4"), "DATABASE_URL", "2 times"},
		{"negative timeout", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?connect_timeout=-1"), "DATABASE_URL", "connect_timeout"},
		{"timeout not a number", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?read_timeout=soon"), "DATABASE_URL", "read_timeout"},
		{"latin1 charset", env("DATABASE_URL", "mysql+pymysql://u:"+pw+"@h/db?charset=latin1"), "DATABASE_URL", "charset must be utf8mb4"},
		{"non-utf8mb4 collation", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?collation=latin1_swedish_ci"), "DATABASE_URL", "utf8mb4 collation"},
		{"bad tls", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?tls=maybe"), "DATABASE_URL", "tls must be"},
		{"relative socket", env("DATABASE_URL", "mysql://u:"+pw+"@h/db?unix_socket=mysqld.sock"), "DATABASE_URL", "absolute path"},
		{"user name with colon", env("DATABASE_URL", "mysql://a%3Ab:"+pw+"@h/db"), "DATABASE_URL", "must not contain ':'"},
		{"DSN without database", env("DATABASE_URL", "u:"+pw+"@tcp(h:3306)/"), "DATABASE_URL", "no database name"},
		{"DSN without slash", env("DATABASE_URL", "u:"+pw+"@tcp(h:3306)"), "DATABASE_URL", "missing the slash"},
		{"host:port only", env("DATABASE_URL", "localhost:3306"), "DATABASE_URL", "nor a go-sql-driver DSN"},
		{"DSN unterminated address", env("DATABASE_URL", "u:"+pw+"@tcp(h:3306/db"), "DATABASE_URL", "not terminated"},
		{"DSN without user", env("DATABASE_URL", "tcp(h:3306)/db"), "DATABASE_URL", "no user name"},
		{"DSN strict (driver panics)", env("DATABASE_URL", "u:"+pw+"@tcp(h)/db?strict=true"), "DATABASE_URL", "strict"},
		{"DSN parseTime=false", env("DATABASE_URL", "u:"+pw+"@tcp(h)/db?parseTime=false"), "DATABASE_URL", "parseTime must be true"},
		{"DSN bad duration", env("DATABASE_URL", "u:"+pw+"@tcp(h)/db?timeout=soon"), "DATABASE_URL", "parameter value is invalid"},
		{"DSN unknown network", env("DATABASE_URL", "u:"+pw+"@udp(h:3306)/db"), "DATABASE_URL", "network must be"},
		{"DSN latin1", env("DATABASE_URL", "u:"+pw+"@tcp(h)/db?charset=latin1"), "DATABASE_URL", "charset must be utf8mb4"},
		{"both modes", env("DATABASE_URL", "mysql://u:"+pw+"@h/db", "DB_HOST", "h"), "DATABASE_URL", "not both"},
		{"both modes via port only", env("DATABASE_URL", "mysql://u:"+pw+"@h/db", "DB_PORT", "3306"), "DATABASE_URL", "DB_PORT"},
		{"partial: host only", env("DB_HOST", "h"), "DB_NAME", "DB_HOST"},
		{"partial: no secret", env("DB_HOST", "h", "DB_NAME", "b"), "DB_SECRET_ARN", "needs all of"},
		{"partial: port only", env("DB_PORT", "3306"), "DB_HOST", "DB_PORT"},
		{"DB_PORT not a number", env("DB_HOST", "h", "DB_PORT", "mysql", "DB_NAME", "b", "DB_SECRET_ARN", arn), "DB_PORT", "1 to 65535"},
		{"DB_PORT too big", env("DB_HOST", "h", "DB_PORT", "70000", "DB_NAME", "b", "DB_SECRET_ARN", arn), "DB_PORT", "1 to 65535"},
		{"DB_HOST with port", env("DB_HOST", "db.example:3306", "DB_NAME", "b", "DB_SECRET_ARN", arn), "DB_HOST", "DB_PORT"},
		{"DB_HOST is a URL", env("DB_HOST", "mysql://db", "DB_NAME", "b", "DB_SECRET_ARN", arn), "DB_HOST", "not a host name"},
		{"DB_NAME bad characters", env("DB_HOST", "h", "DB_NAME", "book store", "DB_SECRET_ARN", arn), "DB_NAME", "only letters"},
		{"DB_SECRET_ARN not an ARN", env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", "rds!db-123"), "DB_SECRET_ARN", "not an ARN"},
		{"DB_SECRET_ARN other service", env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", "arn:aws:ssm:eu-west-1:1:parameter/db"), "DB_SECRET_ARN", "not a Secrets Manager secret"},
		{"DB_SECRET_ARN no region", env("DB_HOST", "h", "DB_NAME", "b", "DB_SECRET_ARN", "arn:aws:secretsmanager::1:secret:x"), "DB_SECRET_ARN", "no region"},
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
			if ee.Var != tt.wantVar {
				t.Errorf("Var = %q, want %q (%v)", ee.Var, tt.wantVar, err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantVar+": ") {
				t.Errorf("error %q does not start with the variable name", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			for _, secret := range []string{pw, "123456789"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q echoes the password", err)
				}
			}
			if s != (Settings{}) {
				t.Errorf("got %+v with the error, want zero Settings", s)
			}
		})
	}
}

func TestSettingsRedacted(t *testing.T) {
	const pw = "p@ss:w/rd"
	s, err := SettingsFromEnv(env("DATABASE_URL", "mysql://app:"+url.QueryEscape(pw)+"@db:3306/bookstore"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.DSN, pw) {
		t.Fatalf("DSN %q lacks the password; the test would prove nothing", s.DSN)
	}
	if got, want := s.String(), "url: app:***@tcp(db:3306)/bookstore"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("database", "settings", s)
	if strings.Contains(buf.String(), pw) || !strings.Contains(buf.String(), "app:***@tcp(db:3306)/bookstore") {
		t.Errorf("slog output %q: want the redacted form", buf.String())
	}

	sec := Settings{Mode: ModeSecret, Host: "db", Port: 3306, Name: "b", SecretARN: "arn:aws:secretsmanager:r:1:secret:x"}
	if got, want := sec.String(), "secret: db:3306/b (credentials from arn:aws:secretsmanager:r:1:secret:x)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Settings{}).String(); got != "embedded" {
		t.Errorf("embedded String() = %q", got)
	}
}

func TestOpenEmbeddedIsAnError(t *testing.T) {
	if db, err := Open(t.Context(), Settings{Mode: ModeEmbedded}, nil); err == nil || db != nil {
		t.Fatalf("Open(ModeEmbedded) = %v, %v; want an error", db, err)
	}
	if _, err := Open(t.Context(), Settings{Mode: ModeURL, DSN: "no slash"}, nil); err == nil {
		t.Fatal("Open with a malformed DSN succeeded")
	}
}

// Every wrong variable of the DB_* set is reported at once, each by name,
// whether the others are wrong, missing or fine; so is the CA bundle.
func TestSettingsFromEnvReportsEveryVariable(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
	tests := []struct {
		name string
		env  func(string) string
		want []string // "VAR: substring"
	}{
		{"three malformed", env("DB_HOST", "h", "DB_PORT", "x", "DB_NAME", "bad name!", "DB_SECRET_ARN", "nope"),
			[]string{"DB_PORT: must be a number", "DB_NAME: the database name may hold only", "DB_SECRET_ARN: \"nope\" is not an ARN"}},
		{"malformed and missing", env("DB_PORT", "x", "DB_NAME", "bad name!", "DB_SECRET_ARN", "nope"),
			[]string{"DB_HOST: is not set", "DB_PORT: must be", "DB_NAME: the database name", "DB_SECRET_ARN: \"nope\""}},
		{"all four malformed", env("DB_HOST", "mysql://db", "DB_PORT", "0", "DB_NAME", strings.Repeat("d", 65), "DB_SECRET_ARN", "arn:aws:ssm:eu-west-1:1:parameter/db"),
			[]string{"DB_HOST: \"mysql://db\"", "DB_PORT: must be", "DB_NAME: the database name is longer", "DB_SECRET_ARN: \"arn:aws:ssm"}},
		{"two missing", env("DB_HOST", "h"), []string{"DB_NAME: is not set", "DB_SECRET_ARN: is not set"}},
		{"bad DB_* and a missing CA file", env("DB_HOST", "h", "DB_PORT", "x", "DB_NAME", "b", "DB_SECRET_ARN", arn, "DB_TLS_CA_FILE", "/nonexistent/ca.pem"),
			[]string{"DB_PORT: must be", "DB_TLS_CA_FILE: open /nonexistent/ca.pem"}},
		{"bad DATABASE_URL and a missing CA file", env("DATABASE_URL", "postgres://u:p@h/db", "DB_TLS_CA_FILE", "/nonexistent/ca.pem"),
			[]string{"DATABASE_URL: unknown scheme", "DB_TLS_CA_FILE: open /nonexistent/ca.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(tt.env)
			if err == nil {
				t.Fatalf("no error; got %v", s)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d errors, want %d: %v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, w[:strings.Index(w, ":")+2]) && strings.Contains(l, w[strings.Index(w, ":")+2:])
				}
				if !found {
					t.Errorf("no error %q in:\n%v", w, err)
				}
			}
			if s != (Settings{}) {
				t.Errorf("got %+v with the error, want zero Settings", s)
			}
		})
	}
}
