package userdata

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// FieldError reports a parameter that cannot be rendered safely. Field is the
// parameter's path in the params struct, e.g. "Service.ImageRef".
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("userdata: %s: %s", e.Field, e.Problem)
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// repoPath is a repository name per the OCI distribution spec.
const repoPath = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*`

// Patterns come from the AWS APIs that issue the values; each is anchored and
// admits no quote, space, '$', backslash or newline, so nothing downstream
// (YAML, shell, compose, env files) ever has to escape them.
var (
	// ECR private registry host: <account>.dkr.ecr.<region>.amazonaws.com(.cn).
	ecrRegistryRE = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})\.amazonaws\.com(?:\.cn)?$`)
	// Repository name per the OCI distribution spec, then the digest.
	repoDigestRE = regexp.MustCompile(`^([^/@]+)/(` + repoPath + `)@sha256:[0-9a-f]{64}$`)
	// The same without the digest: an ECR repository URL.
	repositoryRE = regexp.MustCompile(`^([^/@]+)/(` + repoPath + `)$`)
	// Any image reference for the third-party MySQL image: [host[:port]/]path[:tag][@sha256:digest].
	imageRefRE = regexp.MustCompile(`^(?:[a-z0-9.-]+(?::[0-9]{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$`)
	// EFS API patterns for file system and access point ids.
	fsIDRE = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)
	apIDRE = regexp.MustCompile(`^fsap-[0-9a-f]{8,40}$`)
	// Secrets Manager ARN; RDS-managed secrets are named "rds!db-<uuid>".
	secretARNRE = regexp.MustCompile(`^arn:aws(?:-cn|-us-gov)?:secretsmanager:[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]{1,512}$`)
	// RDS DBName for MySQL: a letter, then letters, digits, underscores; 64 max.
	dbNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	// CloudWatch Logs log group name.
	logGroupRE = regexp.MustCompile(`^[A-Za-z0-9._/#-]{1,512}$`)
	// SSM parameter name: letters, digits, . _ - and / for hierarchies.
	ssmNameRE = regexp.MustCompile(`^/?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$`)
	// A narrower local part than RFC 5322 allows: these addresses travel in
	// env files, which have no escaping at all.
	emailLocalRE = regexp.MustCompile(`^[A-Za-z0-9._%+-]{1,64}$`)
	hostLabelRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// checkImageRef splits a digest reference "<host>/<repo>@sha256:<hex>" and
// returns the ECR registry host and the region it is in.
func checkImageRef(field, ref string) (registry, region string, err error) {
	if ref == "" {
		return "", "", fieldErr(field, "is empty; want <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>")
	}
	m := repoDigestRE.FindStringSubmatch(ref)
	if m == nil {
		return "", "", fieldErr(field, "%q is not <registry>/<repository>@sha256:<64 lowercase hex> (instances run the pushed digest, never a tag)", clip(ref))
	}
	r := ecrRegistryRE.FindStringSubmatch(m[1])
	if r == nil {
		return "", "", fieldErr(field, "registry %q is not a private ECR registry <account>.dkr.ecr.<region>.amazonaws.com", clip(m[1]))
	}
	return m[1], r[1], nil
}

// checkRepository checks an ECR repository URL "<registry>/<repo>" (no tag,
// no digest) and returns the registry host and the region it is in.
func checkRepository(field, url string) (registry, region string, err error) {
	m := repositoryRE.FindStringSubmatch(url)
	if m == nil {
		return "", "", fieldErr(field, "%q is not an ECR repository URL <account>.dkr.ecr.<region>.amazonaws.com/<repository>", clip(url))
	}
	r := ecrRegistryRE.FindStringSubmatch(m[1])
	if r == nil {
		return "", "", fieldErr(field, "registry %q is not a private ECR registry <account>.dkr.ecr.<region>.amazonaws.com", clip(m[1]))
	}
	return m[1], r[1], nil
}

func checkRegion(field, v string) error {
	if !regionRE.MatchString(v) {
		return fieldErr(field, "%q is not an AWS region name like eu-west-1", clip(v))
	}
	return nil
}

func checkEFS(field string, e EFS) error {
	if !fsIDRE.MatchString(e.FileSystemID) {
		return fieldErr(field+".FileSystemID", "%q is not an EFS file system id (fs- and 8-40 hex digits)", clip(e.FileSystemID))
	}
	if !apIDRE.MatchString(e.AccessPointID) {
		return fieldErr(field+".AccessPointID", "%q is not an EFS access point id (fsap- and 8-40 hex digits)", clip(e.AccessPointID))
	}
	return nil
}

// checkHostname applies RFC 1123 (section 2.1): dot-separated labels of
// letters, digits and inner hyphens, 63 bytes per label, 253 in all. Two
// labels at least, and an all-numeric last label is refused so an IPv4
// address is not taken for a name.
func checkHostname(field, v string) error {
	if len(v) == 0 || len(v) > 253 {
		return fieldErr(field, "%q must be a DNS name of 1-253 characters", clip(v))
	}
	labels := strings.Split(v, ".")
	if len(labels) < 2 {
		return fieldErr(field, "%q must be a fully qualified name (at least two labels)", clip(v))
	}
	for _, l := range labels {
		if !hostLabelRE.MatchString(l) {
			return fieldErr(field, "%q is not an RFC 1123 host name: label %q must be 1-63 letters, digits or inner hyphens", clip(v), clip(l))
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fieldErr(field, "%q ends in a numeric label; want a host name, not an address", clip(v))
	}
	return nil
}

func checkEmail(field, v string) error {
	local, domain, ok := strings.Cut(v, "@")
	if !ok || !emailLocalRE.MatchString(local) || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return fieldErr(field, "%q is not an address local@domain whose local part uses only letters, digits and . _ %% + -", clip(v))
	}
	if err := checkHostname(field, domain); err != nil {
		return fieldErr(field, "%q: the domain is not a valid host name", clip(v))
	}
	return nil
}

func checkEmails(field string, vs []string) error {
	for i, v := range vs {
		if err := checkEmail(fmt.Sprintf("%s[%d]", field, i), v); err != nil {
			return err
		}
	}
	return nil
}

func checkPattern(field, v string, re *regexp.Regexp, want string) error {
	if !re.MatchString(v) {
		return fieldErr(field, "%q is not %s", clip(v), want)
	}
	return nil
}

// LogLevel values the service accepts (docs/architecture.md, the contract, "logs").
var logLevels = []string{"debug", "info", "warn", "error"}

// logLevelOrDefault returns v, "info" when v is empty, or an error.
func logLevelOrDefault(field, v string) (string, error) {
	if v == "" {
		return "info", nil
	}
	for _, l := range logLevels {
		if v == l {
			return v, nil
		}
	}
	return "", fieldErr(field, "%q is not one of %s", clip(v), strings.Join(logLevels, ", "))
}

func (s Service) validate(field string) (registry, registryRegion, logLevel string, err error) {
	if registry, registryRegion, err = checkImageRef(field+".ImageRef", s.ImageRef); err != nil {
		return
	}
	logLevel, err = s.validateEnv(field)
	return
}

// validateEnv checks every field but ImageRef: what the containers' environment
// and logs are made of.
func (s Service) validateEnv(field string) (logLevel string, err error) {
	if err = checkRegion(field+".Region", s.Region); err != nil {
		return
	}
	if err = checkHostname(field+".DBHost", s.DBHost); err != nil {
		return
	}
	if s.DBPort < 1 || s.DBPort > 65535 {
		err = fieldErr(field+".DBPort", "%d is not a TCP port (1-65535)", s.DBPort)
		return
	}
	if err = checkPattern(field+".DBName", s.DBName, dbNameRE, "a MySQL database name (a letter, then up to 63 letters, digits or _)"); err != nil {
		return
	}
	if err = checkPattern(field+".DBSecretARN", s.DBSecretARN, secretARNRE, "a Secrets Manager secret ARN"); err != nil {
		return
	}
	if err = checkEmails(field+".AdminEmails", s.AdminEmails); err != nil {
		return
	}
	if err = checkPattern(field+".LogGroup", s.LogGroup, logGroupRE, "a CloudWatch Logs group name (1-512 of A-Z a-z 0-9 . _ / # -)"); err != nil {
		return
	}
	logLevel, err = logLevelOrDefault(field+".LogLevel", s.LogLevel)
	return
}

// MaxReplicas bounds SwarmManager.Replicas; a typo like 500 should not
// schedule 500 tasks on a handful of t3.micro nodes.
const MaxReplicas = 100

func checkReplicas(field string, n int) error {
	if n < 1 || n > MaxReplicas {
		return fieldErr(field, "%d is outside 1-%d", n, MaxReplicas)
	}
	return nil
}

// checkSSMName applies Parameter Store's naming rules: up to 1011 characters
// of letters, digits, . _ - and /, and no "aws" or "ssm" prefix.
func checkSSMName(field, v string) error {
	if len(v) > 1011 || !ssmNameRE.MatchString(v) {
		return fieldErr(field, "%q is not an SSM parameter name (letters, digits, . _ - and /, at most 1011)", clip(v))
	}
	first := strings.ToLower(strings.TrimPrefix(v, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return fieldErr(field, "%q: SSM parameter names cannot begin with aws or ssm", clip(v))
	}
	return nil
}

func checkIPv4(field, v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
		return fieldErr(field, "%q is not a unicast IPv4 address", clip(v))
	}
	return nil
}

// clip keeps error messages readable when the bad value is a paragraph.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
