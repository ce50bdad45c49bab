package dbconn

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// marker is put between every two characters of the fuzzed password and at
// both ends. Nothing else in the input or in any message contains it, so an
// error holding it has echoed at least one password character, wherever a
// malformed URL moved the password to.
const marker = "§"

func markPassword(p string) string {
	var b strings.Builder
	b.WriteString(marker)
	for _, r := range p {
		b.WriteRune(r)
		b.WriteString(marker)
	}
	return b.String()
}

// FuzzSettingsFromEnv: the parser never panics, never quotes any part of a
// password in an error, and decodes percent-encoded credentials exactly.
func FuzzSettingsFromEnv(f *testing.F) {
	f.Add("user", "pass", "host", "3306", "db", "charset=utf8mb4", uint8(0))
	f.Add("app", "p@ss:w/rd#?%", "db.example", "3307", "shop", "", uint8(1))
	f.Add("root", "123456", "", "", "db", "", uint8(2))
	f.Add("u", "a/b", "h", "1", "d", "strict=true", uint8(3))
	f.Add("u", "x", "h", "99999", "", "ssl_ca=/a", uint8(2))
	f.Add("u", "pw", "tcp(h", "", "db", "timeout=x", uint8(3))
	f.Add("mysql://u:p@h/d", "", "", "", "", "", uint8(4))
	f.Add("u:p@tcp(h)/d?strict=1", "", "", "", "", "", uint8(4))
	f.Fuzz(func(t *testing.T, user, pass, host, port, db, query string, form uint8) {
		clean := func(s string) string {
			for strings.Contains(s, marker) { // "\xc2§\xa7" leaves a new one behind
				s = strings.ReplaceAll(s, marker, "")
			}
			return s
		}
		user, host, port, db, query = clean(user), clean(host), clean(port), clean(db), clean(query)
		pw := markPassword(pass)
		hostport := host
		if port != "" {
			hostport += ":" + port
		}
		var raw string
		checkLeak := true
		switch form % 5 {
		case 0, 1: // well-formed: credentials percent-encoded
			scheme := []string{"mysql", "mysql+pymysql"}[form%5]
			u := url.URL{Scheme: scheme, User: url.UserPassword(user, pw), Host: hostport, Path: "/" + db, RawQuery: query}
			raw = u.String()
		case 2: // pasted by hand, nothing encoded
			raw = "mysql://" + user + ":" + pw + "@" + hostport + "/" + db + "?" + query
		case 3:
			raw = user + ":" + pw + "@tcp(" + hostport + ")/" + db + "?" + query
		case 4: // anything at all; only "no panic" applies
			raw, checkLeak = user, false
		}
		s, err := SettingsFromEnv(env("DATABASE_URL", raw))
		if err != nil {
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Var != "DATABASE_URL" {
				t.Fatalf("error %v (%T) does not name DATABASE_URL", err, err)
			}
			if checkLeak && strings.Contains(err.Error(), marker) {
				t.Fatalf("error quotes part of the password %q: %v", pw, err)
			}
			return
		}
		if s.Mode != ModeURL && strings.TrimSpace(raw) != "" {
			t.Fatalf("Mode = %v for a non-empty DATABASE_URL", s.Mode)
		}
		if s.Mode == ModeEmbedded {
			return
		}
		cfg, err := mysql.ParseDSN(s.DSN)
		if err != nil {
			t.Fatalf("normalised DSN %q does not parse: %v", s.DSN, err)
		}
		if !cfg.ParseTime || cfg.DBName == "" || cfg.User == "" || cfg.Timeout == 0 || cfg.ReadTimeout == 0 {
			t.Fatalf("normalised DSN %q lacks what every connection needs", s.DSN)
		}
		if checkLeak && strings.Contains(s.String(), marker) {
			t.Fatalf("String() shows the password: %s", s)
		}
		if form%5 <= 1 && strings.TrimSpace(user) == user {
			if cfg.Passwd != pw || cfg.User != user {
				t.Fatalf("credentials %q/%q came back as %q/%q", user, pw, cfg.User, cfg.Passwd)
			}
		}
	})
}

// FuzzSecretEnv: the DB_* set never panics and always names a variable.
func FuzzSecretEnv(f *testing.F) {
	f.Add("db.example", "3306", "bookstore", "arn:aws:secretsmanager:eu-west-1:1:secret:x")
	f.Add("db:3306", "", "b", "x")
	f.Add("", "0", "", "")
	f.Fuzz(func(t *testing.T, host, port, name, arn string) {
		s, err := SettingsFromEnv(env("DB_HOST", host, "DB_PORT", port, "DB_NAME", name, "DB_SECRET_ARN", arn))
		if err != nil {
			var ee *EnvError
			if !errors.As(err, &ee) || !strings.HasPrefix(ee.Var, "DB_") {
				t.Fatalf("error %v does not name a DB_ variable", err)
			}
			return
		}
		if s.Mode == ModeSecret && (s.Host == "" || s.Name == "" || s.Port < 1 || s.Port > 65535 || s.SecretARN == "") {
			t.Fatalf("incomplete ModeSecret settings %+v", s)
		}
	})
}
