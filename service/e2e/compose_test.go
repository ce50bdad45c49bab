package e2e

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bookstore-aws/bookstore/service/internal/config"
)

// serviceEnv is the service's environment contract (docs/architecture.md,
// "The contract between the parts"): a compose file may set only these. They
// are the variables config.Vars documents (config's tests check that FromEnv
// reads exactly those), plus AWS_REGION for the AWS SDK.
var serviceEnv = func() []string {
	names := []string{"AWS_REGION"}
	for _, v := range config.Vars {
		names = append(names, v.Name)
	}
	return names
}()

// loadCompose loads the root docker-compose.yml with compose-go, the loader of
// `docker compose` itself (schema validation, interpolation, normalization), with
// env as the only environment: neither the OS's nor a .env file leaks in.
func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeFile(t *testing.T) {
	password := randomHex(12)
	p, err := loadCompose(t, "MYSQL_PASSWORD="+password)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	if names := p.ServiceNames(); !slices.Equal(names, []string{"app", "db"}) {
		t.Fatalf("services %v, want [app db]", names)
	}
	app, db := p.Services["app"], p.Services["db"]

	// The database: MySQL 8.4 as on RDS, health-checked, data on a named volume.
	if db.Image != "mysql:8.4" {
		t.Errorf("db image %q, want mysql:8.4", db.Image)
	}
	if hc := db.HealthCheck; hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
		t.Errorf("db has no health check: %+v", hc)
	}
	if !hasNamedVolume(p, db, "/var/lib/mysql") {
		t.Errorf("db: no named volume at /var/lib/mysql: %+v", db.Volumes)
	}
	dbEnv := env(db)
	if dbEnv["MYSQL_PASSWORD"] != password {
		t.Errorf("db MYSQL_PASSWORD is not taken from the environment")
	}
	if _, ok := dbEnv["MYSQL_ROOT_PASSWORD"]; ok {
		t.Errorf("db sets MYSQL_ROOT_PASSWORD: a second secret to manage; use MYSQL_RANDOM_ROOT_PASSWORD")
	}

	// The app: built from the root Dockerfile, started once the database is healthy.
	if app.Build == nil || filepath.Clean(app.Build.Context) != repoRoot(t) || app.Build.Dockerfile != "Dockerfile" {
		t.Errorf("app build %+v, want the root Dockerfile", app.Build)
	}
	if dep, ok := app.DependsOn["db"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("app depends_on %+v, want db with condition service_healthy", app.DependsOn)
	}
	appEnv := env(app)
	for name := range appEnv {
		if !slices.Contains(serviceEnv, name) {
			t.Errorf("app sets %s, which is not in the service's environment contract %v", name, serviceEnv)
		}
	}
	port := appEnv["PORT"]
	if port == "" {
		port = "5000"
	}
	published := false
	for _, pc := range app.Ports {
		if strconv.Itoa(int(pc.Target)) == port && pc.Published == "5000" {
			published = true
		}
	}
	if !published {
		t.Errorf("app ports %+v: want container port %s published on 5000", app.Ports, port)
	}
	shared := appEnv["SHARED_DIR"]
	if shared == "" {
		shared = "/app/shared"
	}
	mounted := false
	for _, v := range app.Volumes {
		if v.Target == shared && (v.Type == types.VolumeTypeVolume || v.Type == types.VolumeTypeBind) {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("app volumes %+v: want a volume or bind at SHARED_DIR %s", app.Volumes, shared)
	}
	drain := 25 * time.Second // the service's default
	if d := appEnv["DRAIN_TIMEOUT"]; d != "" {
		if drain, err = time.ParseDuration(d); err != nil {
			t.Errorf("app DRAIN_TIMEOUT %q: %v", d, err)
		}
	}
	grace := 10 * time.Second // compose's default
	if app.StopGracePeriod != nil {
		grace = time.Duration(*app.StopGracePeriod)
	}
	if grace <= drain {
		t.Errorf("app stop_grace_period %s <= DRAIN_TIMEOUT %s: the engine would SIGKILL a draining service", grace, drain)
	}

	// DATABASE_URL points at the db service, as the user and database it creates.
	u, err := url.Parse(appEnv["DATABASE_URL"])
	if err != nil {
		t.Fatalf("app DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	if u.Scheme != "mysql" || u.Hostname() != "db" || (u.Port() != "" && u.Port() != "3306") ||
		u.User.Username() != dbEnv["MYSQL_USER"] || pw != password || strings.TrimPrefix(u.Path, "/") != dbEnv["MYSQL_DATABASE"] {
		t.Errorf("app DATABASE_URL %s does not match the db service (user %s, database %s, host db:3306)",
			u.Redacted(), dbEnv["MYSQL_USER"], dbEnv["MYSQL_DATABASE"])
	}
	// MySQL 8.4 accounts use caching_sha2_password: its first login goes over TLS.
	if tls := u.Query().Get("tls"); tls != "preferred" {
		t.Errorf("app DATABASE_URL tls=%q, want preferred", tls)
	}
}

// TestComposeNeedsPassword: with no MYSQL_PASSWORD the file must not load, and
// no use of the variable has a default, so no password is hidden in the file.
func TestComposeNeedsPassword(t *testing.T) {
	_, err := loadCompose(t)
	if err == nil || !strings.Contains(err.Error(), "MYSQL_PASSWORD") {
		t.Fatalf("loading docker-compose.yml without MYSQL_PASSWORD: err = %v, want an error naming MYSQL_PASSWORD", err)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	uses := regexp.MustCompile(`\$\{MYSQL_PASSWORD([^}]*)\}`).FindAllStringSubmatch(string(raw), -1)
	if len(uses) == 0 {
		t.Fatal("docker-compose.yml never uses ${MYSQL_PASSWORD}")
	}
	for _, u := range uses {
		if !strings.HasPrefix(u[1], ":?") {
			t.Errorf("%s: use ${MYSQL_PASSWORD:?message}, so it is required and has no default", u[0])
		}
	}
}

// TestComposeEnvIsReadByService: every variable docker-compose.yml gives the app
// is a string constant in the service's code, so a misspelt name fails here
// rather than being ignored at run time.
func TestComposeEnvIsReadByService(t *testing.T) {
	p, err := loadCompose(t, "MYSQL_PASSWORD=x")
	if err != nil {
		t.Fatal(err)
	}
	literals := serviceStringLiterals(t)
	for name := range env(p.Services["app"]) {
		if !literals[name] {
			t.Errorf("docker-compose.yml sets %s for the app, but no Go file under service/ mentions %q", name, name)
		}
	}
}

// serviceStringLiterals returns the string constants of the service's non-test
// Go files (this package aside).
func serviceStringLiterals(t *testing.T) map[string]bool {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "service")
	out := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "e2e" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

func hasNamedVolume(p *types.Project, s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == target {
			if _, declared := p.Volumes[v.Source]; declared {
				return true
			}
		}
	}
	return false
}

// TestComposeDBHealthcheck runs the db service's health check command, as the
// mysql image's shell would, against the test server: it must pass with the
// right user, password and database, and fail with a wrong password, so
// "healthy" means the app can log in.
func TestComposeDBHealthcheck(t *testing.T) {
	raw := os.Getenv("BOOKSTORE_TEST_DATABASE_URL")
	if raw == "" {
		missing(t, "BOOKSTORE_TEST_DATABASE_URL is not set: the health check needs a MariaDB/MySQL to ask (run .ci/run)")
	}
	mysqlClient, err := exec.LookPath("mysql")
	if err != nil {
		missing(t, "no mysql client: apt-get install mariadb-client (or run .ci/run)")
	}
	db, err := parseTestDB(raw)
	if err != nil {
		t.Fatal(err)
	}
	if db.cfg.Net != "tcp" || db.cfg.Addr != "127.0.0.1:3306" {
		t.Skipf("the health check asks 127.0.0.1:3306, and BOOKSTORE_TEST_DATABASE_URL names %s %s", db.cfg.Net, db.cfg.Addr)
	}
	p, err := loadCompose(t, "MYSQL_PASSWORD=x")
	if err != nil {
		t.Fatal(err)
	}
	test := p.Services["db"].HealthCheck.Test
	if len(test) != 2 || test[0] != "CMD-SHELL" {
		t.Fatalf("db healthcheck %q: want [CMD-SHELL, command]", test)
	}
	run := func(password string) error {
		cmd := exec.Command("sh", "-c", test[1])
		cmd.Env = append(os.Environ(), "MYSQL_USER="+db.cfg.User, "MYSQL_PASSWORD="+password, "MYSQL_DATABASE="+db.cfg.DBName,
			"PATH="+filepath.Dir(mysqlClient)+":/usr/bin:/bin")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := run(db.cfg.Passwd); err != nil {
		t.Errorf("health check %q fails against a live server: %v", test[1], err)
	}
	if err := run(db.cfg.Passwd + "-wrong"); err == nil {
		t.Errorf("health check %q passes with a wrong password", test[1])
	}
}
