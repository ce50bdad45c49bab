package config

// Var documents one environment variable the service reads.
type Var struct {
	Name    string
	Default string // Markdown, as the table shows it; "" shows "(unset)"
	Meaning string // Markdown
}

// Vars is every variable FromEnv reads, in the order docs/service.md lists them;
// the table there is rendered from it by package envdoc (`go generate ./...`). A test checks that
// FromEnv reads exactly these names, so a new variable can't go undocumented.
var Vars = []Var{
	{"PORT", "`5000`", "TCP port for plain HTTP. TLS ends at the ALB or NGINX."},
	{"DATABASE_URL", "", "`mysql://USER:PASSWORD@host:3306/db`, the Flask original's `mysql+pymysql://USER:PASSWORD@host:3306/db`, " +
		"or a go-sql-driver DSN `USER:PASSWORD@tcp(host:3306)/db`. User and password are percent-decoded."},
	{"DB_HOST", "", "Instead of `DATABASE_URL`, with `DB_NAME` and `DB_SECRET_ARN`: the RDS endpoint's host name, without the port."},
	{"DB_PORT", "`3306`", "With `DB_HOST`: the database's port."},
	{"DB_NAME", "", "With `DB_HOST`: the database."},
	{"DB_SECRET_ARN", "", "With `DB_HOST`: the RDS-managed Secrets Manager secret (JSON `{\"username\",\"password\"}`), read with aws-sdk-go-v2 " +
		"in the ARN's own region, with credentials from the SDK's usual chain (on EC2: the instance role through IMDSv2)."},
	{"DB_TLS_CA_FILE", "", "With either of the above: a PEM bundle of CA certificates, read at start. Connections then require TLS 1.2+ " +
		"and verify the server's certificate against exactly this bundle, for the database's host name. A missing file, " +
		"one without certificates, a truncated one, or a `DATABASE_URL` with `tls=false`, `skip-verify`, `preferred` or a " +
		"unix socket stops the start. Unset with `DB_*`: TLS is used when the server offers it but not verified, and the " +
		"service logs a warning. On AWS it is the region's RDS bundle."},
	{"SHARED_DIR", "`/app/shared`; with the embedded engine, a new temporary directory", "An absolute path. Covers are written " +
		"to `$SHARED_DIR/covers/` and served from there. In AWS it is the EFS mount, so every instance sees every cover. " +
		"It must be writable by the service's user (uid 65532 in the image): at start the service creates `covers/` and " +
		"writes and removes a file there, and stops with an error naming `SHARED_DIR` if it can't. With the embedded " +
		"engine and `SHARED_DIR` unset, covers go to a temporary directory, named in the log's warning and removed at exit."},
	{"ADMIN_EMAILS", "", "Comma-separated addresses whose users may open `/admin/users`; case-insensitive, otherwise exact " +
		"(`ádmin@` is not `admin@`)."},
	{"LOG_LEVEL", "`info`", "`debug`, `info`, `warn` or `error`. Logs are JSON lines on stdout."},
	{"DRAIN_TIMEOUT", "`25s`", "A Go duration, at least 1 s and less than 30 s (the ALB's deregistration delay). " +
		"See [Shutdown](#operations)."},
	{"CURRENCY", "`EUR`", "The one currency every amount is in: an ISO 4217 code (`EUR`, `usd`; upper-cased), of a currency " +
		"in use today whose minor unit is a hundredth, since prices are kept in cents. Codes for funds, metals, testing or no " +
		"currency (`XXX`, `XTS`, `XAU`, `XDR`) and currencies with 0 or 3 decimals (`JPY`, `BHD`) stop the start. Amounts are " +
		"shown as `129.98 EUR`. It names the unit of the stored prices: set it once, before the store has any."},
}
