package dbconn

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/singleflight"
)

// Errors of ModeSecret connections, for errors.Is. Each comes wrapped with
// the secret's ARN and, where there is one, the underlying error.
var (
	// ErrSecretNotFound: Secrets Manager has no secret (or no AWSCURRENT
	// version) at DB_SECRET_ARN.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrSecretFormat: the secret is not the RDS form, a JSON object with
	// non-empty string "username" and "password".
	ErrSecretFormat = errors.New(`secret is not JSON with "username" and "password"`)
	// ErrAccessDenied: MySQL rejected the secret's credentials (error 1045)
	// even after the secret was read again.
	ErrAccessDenied = errors.New("database rejected the credentials from the secret")
)

const (
	// secretFetchTimeout bounds one read of the secret, SDK retries included.
	secretFetchTimeout = 10 * time.Second
	// minRefreshInterval spaces re-reads caused by access denied. During a
	// rotation the database may reject the password before the new one is
	// AWSCURRENT; without a floor every connection attempt would call
	// Secrets Manager. The first re-read after a good read is never delayed.
	minRefreshInterval = 5 * time.Second
	// erAccessDenied is MySQL's ER_ACCESS_DENIED_ERROR, returned for a bad
	// user name or password (MySQL and MariaDB alike).
	erAccessDenied = 1045
)

// secretGetter is the one Secrets Manager call used; *secretsmanager.Client.
type secretGetter interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// credentials is one read of the secret, with a connector that uses it.
type credentials struct {
	user      string
	versionID string
	readAt    time.Time
	connector driver.Connector
}

// secretConnector is a driver.Connector that takes the user and password
// from the RDS-managed secret. It caches them and, when MySQL answers 1045,
// reads the secret again once and retries: RDS rotates the master password
// without telling running clients, and existing connections stay valid.
// Concurrent reads share one GetSecretValue call (singleflight).
type secretConnector struct {
	arn    string
	base   *mysql.Config // everything but User and Passwd
	client secretGetter
	logger *slog.Logger
	now    func() time.Time

	group singleflight.Group

	mu          sync.Mutex
	creds       *credentials // nil until the first read
	lastRefresh time.Time    // last read caused by access denied
}

func newSecretConnector(ctx context.Context, s Settings, logger *slog.Logger) (*secretConnector, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a, err := arn.Parse(s.SecretARN)
	if err != nil {
		return nil, fmt.Errorf("dbconn: DB_SECRET_ARN: %w", err)
	}
	// The secret lives in the region its ARN names, whatever AWS_REGION says.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(a.Region))
	if err != nil {
		return nil, fmt.Errorf("dbconn: load AWS configuration: %w", err)
	}
	base, err := secretBaseConfig(s)
	if err != nil {
		return nil, err
	}
	base.Logger = driverLogger{logger}
	return &secretConnector{
		arn:    s.SecretARN,
		base:   base,
		client: secretsmanager.NewFromConfig(awsCfg),
		logger: logger,
		now:    time.Now,
	}, nil
}

// secretBaseConfig is the connection config of ModeSecret without
// credentials: verified TLS with s.TLSCAFile, else "preferred".
func secretBaseConfig(s Settings) (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	cfg.DBName = s.Name
	cfg.TLSConfig = "preferred"
	cfg.InterpolateParams = true // see parseDatabaseURL
	if err := normalise(cfg, "", false); err != nil {
		return nil, fmt.Errorf("dbconn: %w", err)
	}
	if s.TLSCAFile != "" {
		if err := useCABundle(cfg, s.TLSCAFile); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// Connect implements driver.Connector.
func (c *secretConnector) Connect(ctx context.Context) (driver.Conn, error) {
	creds, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := creds.connector.Connect(ctx)
	if !isAccessDenied(err) {
		return conn, err
	}
	fresh, rerr := c.refresh(ctx, creds)
	if rerr != nil {
		return nil, fmt.Errorf("dbconn: %w for user %q (secret %s), and reading the secret again failed: %w",
			ErrAccessDenied, creds.user, c.arn, rerr)
	}
	if fresh == creds {
		return nil, fmt.Errorf("dbconn: %w for user %q (secret %s, version %s, re-read %s ago): %w",
			ErrAccessDenied, creds.user, c.arn, creds.versionID, c.now().Sub(creds.readAt).Round(time.Millisecond), err)
	}
	conn, err = fresh.connector.Connect(ctx)
	if isAccessDenied(err) {
		return nil, fmt.Errorf("dbconn: %w for user %q even after reading secret %s again (version %s): %w",
			ErrAccessDenied, fresh.user, c.arn, fresh.versionID, err)
	}
	return conn, err
}

// Driver implements driver.Connector.
func (c *secretConnector) Driver() driver.Driver { return &mysql.MySQLDriver{} }

// current returns the cached credentials, reading the secret on first use.
func (c *secretConnector) current(ctx context.Context) (*credentials, error) {
	c.mu.Lock()
	creds := c.creds
	c.mu.Unlock()
	if creds != nil {
		return creds, nil
	}
	return c.read(ctx, nil)
}

// refresh reads the secret again because stale was rejected.
func (c *secretConnector) refresh(ctx context.Context, stale *credentials) (*credentials, error) {
	return c.read(ctx, stale)
}

// read runs one GetSecretValue for all concurrent callers and caches the
// result. stale is the credentials the caller already has (nil on first use):
// when another caller has replaced them meanwhile, read returns the newer ones
// without a call; when stale came from a refresh less than minRefreshInterval
// ago, it returns stale itself. The call is detached from ctx (one caller
// giving up must not fail the others) and bounded by secretFetchTimeout; each
// caller still stops waiting when its own ctx ends.
func (c *secretConnector) read(ctx context.Context, stale *credentials) (*credentials, error) {
	ch := c.group.DoChan("secret", func() (any, error) {
		c.mu.Lock()
		cur, last := c.creds, c.lastRefresh
		c.mu.Unlock()
		if cur != stale {
			return cur, nil
		}
		if stale != nil {
			if !last.IsZero() && c.now().Sub(last) < minRefreshInterval {
				return stale, nil
			}
			c.logger.Warn("database rejected the credentials; reading the secret again",
				"secret_arn", c.arn, "user", stale.user, "version_id", stale.versionID)
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), secretFetchTimeout)
		defer cancel()
		creds, err := c.fetch(fctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.creds = creds
		if stale != nil {
			c.lastRefresh = creds.readAt
		}
		c.mu.Unlock()
		c.logger.Info("read database credentials from Secrets Manager",
			"secret_arn", c.arn, "user", creds.user, "version_id", creds.versionID)
		return creds, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*credentials), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("dbconn: waiting for secret %s: %w", c.arn, ctx.Err())
	}
}

// rdsSecret is the JSON of an RDS-managed master user secret. Other keys
// (engine, host, port, dbname in secrets made by rotation templates) are
// ignored: DB_HOST, DB_PORT and DB_NAME say where to connect.
type rdsSecret struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// fetch reads and decodes the secret's AWSCURRENT version.
func (c *secretConnector) fetch(ctx context.Context) (*credentials, error) {
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.arn)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("dbconn: secret %s: %w: %w", c.arn, ErrSecretNotFound, err)
		}
		return nil, fmt.Errorf("dbconn: read secret %s: %w", c.arn, err)
	}
	version := aws.ToString(out.VersionId)
	if out.SecretString == nil {
		return nil, fmt.Errorf("dbconn: secret %s (version %s): %w: it holds binary data, not a string", c.arn, version, ErrSecretFormat)
	}
	var s rdsSecret
	// The decoder's messages quote no values; the secret is not echoed.
	if err := json.Unmarshal([]byte(*out.SecretString), &s); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("dbconn: secret %s (version %s): %w: invalid JSON at byte %d", c.arn, version, ErrSecretFormat, syn.Offset)
		}
		return nil, fmt.Errorf("dbconn: secret %s (version %s): %w: not a JSON object of strings", c.arn, version, ErrSecretFormat)
	}
	switch {
	case s.Username == nil || *s.Username == "":
		return nil, fmt.Errorf("dbconn: secret %s (version %s): %w: \"username\" is missing or empty", c.arn, version, ErrSecretFormat)
	case s.Password == nil || *s.Password == "":
		return nil, fmt.Errorf("dbconn: secret %s (version %s): %w: \"password\" is missing or empty", c.arn, version, ErrSecretFormat)
	}
	cfg := c.base.Clone()
	cfg.User, cfg.Passwd = *s.Username, *s.Password
	connector, err := newConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("dbconn: %w", err)
	}
	return &credentials{user: *s.Username, versionID: version, readAt: c.now(), connector: connector}, nil
}

func isAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == erAccessDenied
}
