// Package userdata renders the cloud-init documents that boot the stack's hosts.
//
// Every function here is pure: params in, a "#cloud-config" YAML document out, no
// Pulumi types and no I/O, so each can be tested alone and fed to real validators
// (cloud-init schema, shellcheck). The Pulumi components call them inside an Apply
// once the resolved values (image digest, endpoints, ids) are known.
//
// A document is a list of write_files (shell scripts embedded verbatim from
// scripts/, a bash-quoted parameter file, the container env file, compose and
// systemd units) and one runcmd entry, the host's boot script, run without a
// shell. Parameters are checked against the patterns of the AWS APIs that
// issue them before anything is rendered; a bad one is a *FieldError naming it.
//
// EC2 caps user data at 16 KiB before base64 encoding. Hosts get a document
// gzip-compressed (Gzip), which cloud-init reads as it is; every renderer
// returns an error rather than a document whose compressed form is larger.
package userdata

import (
	"strconv"
	"strings"
)

// MaxBytes is EC2's limit on raw user data (16 KiB, before base64). It
// applies to what the host is given: the gzip-compressed document.
const MaxBytes = 16 * 1024

// Mount is where EFS is mounted on every host; it is bound into containers at
// ContainerSharedDir (docs/architecture.md, the contract, "instance mount").
const (
	Mount              = "/mnt/bookstore"
	ContainerSharedDir = "/app/shared"
	ServicePort        = 5000
)

// Service is what every container of the bookstore gets, on every kind of host.
type Service struct {
	ImageRef    string   // the pushed digest, "<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>"; a tag or another registry is refused
	Region      string   // AWS region, e.g. "eu-west-1"
	DBHost      string   // RDS endpoint address, no port
	DBPort      int      // 3306 on RDS
	DBName      string   // schema name
	DBSecretARN string   // RDS-managed master user secret (JSON username/password)
	AdminEmails []string // become ADMIN_EMAILS, comma-separated
	LogGroup    string   // CloudWatch Logs group for the awslogs driver
	LogLevel    string   // LOG_LEVEL: debug, info, warn or error; empty means info
}

// EFS names the shared file system and the access point mounted at Mount.
type EFS struct {
	FileSystemID  string // "fs-…"
	AccessPointID string // "fsap-…"
}

// Fleet is the input for an Auto Scaling Group instance.
type Fleet struct {
	Service Service
	EFS     EFS
}

// SwarmManager is the input for the single Swarm manager instance. It holds
// no image reference: the manager reads the image from ImageParameter at boot
// and again every minute (swarm-rollout.sh), so a new image leaves this
// document, and with it the instance, unchanged.
type SwarmManager struct {
	Service            Service // ImageRef must be empty
	EFS                EFS
	Replicas           int    // docker service replicas, 1-MaxReplicas
	JoinTokenParameter string // SSM parameter (SecureString) the manager writes the worker join token to
	ImageParameter     string // SSM parameter (String) holding the image to run, "<Repository>@sha256:<64 hex>"
	Repository         string // the ECR repository URL "<account>.dkr.ecr.<region>.amazonaws.com/<repo>"; only its images are run
}

// SwarmWorker is the input for an instance of the optional Swarm worker ASG.
// Like the manager's, it holds no image reference.
type SwarmWorker struct {
	Region             string // AWS region of the SSM parameters
	ImageParameter     string // as SwarmManager.ImageParameter; its image is pulled ahead of time so a task starts quickly
	Repository         string // as SwarmManager.Repository
	EFS                EFS
	ManagerAddress     string // the manager's private IPv4 address
	JoinTokenParameter string // SSM parameter to read the join token from
}

// Monolith is the input for the optional single-instance scenario: NGINX with a
// Let's Encrypt certificate in front of the service and a local MySQL container.
type Monolith struct {
	ImageRef         string // as Service.ImageRef
	Region           string // AWS region, for awslogs and AWS_REGION
	Hostname         string // "legacy.<domain>" (RFC 1123, lower-cased); the certificate's only name
	AdminEmails      []string
	LetsEncryptEmail string // ACME account contact; empty registers without one
	LogGroup         string // CloudWatch Logs group for both containers
	LogLevel         string // as Service.LogLevel
	MySQLImage       string // the local database's image; empty means DefaultMySQLImage
}

// DefaultMySQLImage is the monolith's database: the official MySQL image at
// the 8.4 LTS line, the engine RDS runs for the other scenarios.
const DefaultMySQLImage = "mysql:8.4"

// The docker compose v2 CLI plugin, which Amazon Linux 2023 does not package
// (amazon-linux-2023 issue #186), is downloaded from the project's GitHub
// release and installed only if its SHA-256 matches. The digest of
// docker-compose-linux-x86_64 v2.32.4 is the one docker-library's official
// "docker" image pins for that release (versions.json, Jan 2025); several
// unrelated install scripts pin the same value.
const (
	ComposeVersion = "2.32.4"
	ComposeSHA256  = "ed1917fb54db184192ea9d0717bcd59e3662ea79db48bff36d3475516c480a6b"
)

// ServiceName is the Swarm service the manager creates.
const ServiceName = "bookstore"

// SwarmLock is the file the manager's boot script and swarm-rollout.sh flock,
// so a rollout never races the boot's `docker service create`, nor another
// rollout.
const SwarmLock = "/run/bookstore-swarm.lock"

// The RDS CA bundle: every host that runs the service's containers (fleet,
// Swarm manager and workers) downloads its region's bundle at boot to
// RDSCAHostPath, and each container gets it read-only at RDSCAContainerPath
// with DB_TLS_CA_FILE pointing there, so the service verifies the database's
// certificate (the image's system roots do not hold RDS's CAs).
const (
	RDSCAHostPath      = bookstoreDir + "/rds-ca.pem"
	RDSCAContainerPath = "/etc/bookstore/rds-ca.pem"
)

// RDSCABundleURL returns the HTTPS address of region's RDS certificate bundle
// (intermediate and root CAs, PEM), as the Amazon RDS User Guide lists them
// under "Certificate bundles for specific AWS Regions": one trust store for
// the commercial regions, another for GovCloud (US), a third for China.
// region must already be valid (checkRegion).
func RDSCABundleURL(region string) string {
	host := "truststore.pki.rds.amazonaws.com"
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		host = "truststore.pki.us-gov-west-1.rds.amazonaws.com"
	case strings.HasPrefix(region, "cn-"):
		host = "rds-truststore.s3.cn-north-1.amazonaws.com.cn"
	}
	return "https://" + host + "/" + region + "/" + region + "-bundle.pem"
}

// appEnv is the container environment shared by the fleet and the swarm
// (docs/architecture.md, the contract, "the service's side").
func (s Service) appEnv(logLevel string) []kv {
	return []kv{
		{"PORT", strconv.Itoa(ServicePort)},
		{"DB_HOST", s.DBHost},
		{"DB_PORT", strconv.Itoa(s.DBPort)},
		{"DB_NAME", s.DBName},
		{"DB_SECRET_ARN", s.DBSecretARN},
		{"SHARED_DIR", ContainerSharedDir},
		{"ADMIN_EMAILS", strings.Join(s.AdminEmails, ",")},
		{"LOG_LEVEL", logLevel},
		{"AWS_REGION", s.Region},
		{"DB_TLS_CA_FILE", RDSCAContainerPath},
	}
}

func envFile(vars []kv) (file, error) {
	content, err := execute("env.tmpl", vars)
	return file{Path: bookstoreDir + "/app.env", Mode: "0600", Content: content}, err
}

func bootEnv(vars []kv) (file, error) {
	content, err := execute("boot.env.tmpl", vars)
	return file{Path: bookstoreDir + "/boot.env", Mode: "0600", Content: content}, err
}

func efsDropIn() file {
	return file{Path: "/etc/systemd/system/docker.service.d/10-bookstore-efs.conf", Mode: "0644", Content: static("files/docker-efs.conf")}
}

// RenderFleet returns the cloud-config for an ASG instance: docker, the
// compose plugin and amazon-efs-utils; EFS at Mount over TLS with IAM; the
// region's RDS CA bundle at RDSCAHostPath; an ECR login;
// /opt/bookstore/compose.yaml running Service.ImageRef with restart always,
// the awslogs driver (stream "fleet/<instance id>"), port ServicePort, the
// bundle mounted read-only at RDSCAContainerPath and the healthcheck;
// bookstore.service brings it back after a reboot. Errors: a *FieldError for a bad parameter, or a document over
// MaxBytes.
func RenderFleet(p Fleet) (string, error) {
	registry, registryRegion, logLevel, err := p.Service.validate("Service")
	if err != nil {
		return "", err
	}
	if err := checkEFS("EFS", p.EFS); err != nil {
		return "", err
	}
	compose, err := execute("compose-fleet.yaml.tmpl", map[string]any{
		"ImageRef":      p.Service.ImageRef,
		"Port":          ServicePort,
		"HostSharedDir": Mount,
		"SharedDir":     ContainerSharedDir,
		"HostCAFile":    RDSCAHostPath,
		"CAFile":        RDSCAContainerPath,
		"Region":        p.Service.Region,
		"LogGroup":      p.Service.LogGroup,
	})
	if err != nil {
		return "", err
	}
	env, err := envFile(p.Service.appEnv(logLevel))
	if err != nil {
		return "", err
	}
	boot, err := bootEnv([]kv{
		{"IMAGE_REF", p.Service.ImageRef},
		{"ECR_REGISTRY", registry},
		{"ECR_REGION", registryRegion},
		{"EFS_ID", p.EFS.FileSystemID},
		{"EFS_ACCESS_POINT", p.EFS.AccessPointID},
		{"RDS_CA_URL", RDSCABundleURL(p.Service.Region)},
		{"COMPOSE_VERSION", ComposeVersion},
		{"COMPOSE_SHA256", ComposeSHA256},
	})
	if err != nil {
		return "", err
	}
	return render(document{
		Role:     "fleet instance",
		Packages: []string{"docker", "amazon-efs-utils", "openssl"},
		Files: []file{
			script("lib.sh"),
			script("efs.sh"),
			script("rdsca.sh"),
			script("compose.sh"),
			script("fleet-boot.sh"),
			boot,
			env,
			{Path: bookstoreDir + "/compose.yaml", Mode: "0644", Content: compose},
			{Path: "/etc/systemd/system/bookstore.service", Mode: "0644", Content: static("files/bookstore-efs.service")},
			efsDropIn(),
		},
		Run: binDir + "/fleet-boot.sh",
	})
}

// RenderSwarmManager returns the cloud-config for the Swarm manager: docker,
// EFS, the RDS CA bundle and ECR as on the fleet; `docker swarm init` advertising the private
// address from IMDSv2; the worker join token written to JoinTokenParameter
// (SecureString); then ServiceName created with Replicas tasks of the image
// ImageParameter holds, port ServicePort published, registry auth forwarded,
// the same environment, the EFS bind, awslogs (stream "swarm/<task>") and
// rolling update/rollback settings, the bundle mounted read-only as on the
// fleet, or updated when it already exists. bookstore-rollout.timer then runs
// swarm-rollout.sh every minute, which rolls the service to a new value of
// ImageParameter. Errors: a *FieldError for a bad parameter (Service.ImageRef
// set included), or a document over MaxBytes.
func RenderSwarmManager(p SwarmManager) (string, error) {
	if p.Service.ImageRef != "" {
		return "", fieldErr("Service.ImageRef", "must be empty: the manager reads its image from ImageParameter, so that a new image does not replace it")
	}
	logLevel, err := p.Service.validateEnv("Service")
	if err != nil {
		return "", err
	}
	if err := checkEFS("EFS", p.EFS); err != nil {
		return "", err
	}
	if err := checkReplicas("Replicas", p.Replicas); err != nil {
		return "", err
	}
	if err := checkSSMName("JoinTokenParameter", p.JoinTokenParameter); err != nil {
		return "", err
	}
	if err := checkSSMName("ImageParameter", p.ImageParameter); err != nil {
		return "", err
	}
	registry, registryRegion, err := checkRepository("Repository", p.Repository)
	if err != nil {
		return "", err
	}
	env, err := envFile(p.Service.appEnv(logLevel))
	if err != nil {
		return "", err
	}
	boot, err := bootEnv([]kv{
		{"IMAGE_PARAMETER", p.ImageParameter},
		{"IMAGE_REPOSITORY", p.Repository},
		{"ECR_REGISTRY", registry},
		{"ECR_REGION", registryRegion},
		{"REGION", p.Service.Region},
		{"EFS_ID", p.EFS.FileSystemID},
		{"EFS_ACCESS_POINT", p.EFS.AccessPointID},
		{"RDS_CA_URL", RDSCABundleURL(p.Service.Region)},
		{"REPLICAS", strconv.Itoa(p.Replicas)},
		{"JOIN_TOKEN_PARAMETER", p.JoinTokenParameter},
		{"LOG_GROUP", p.Service.LogGroup},
		{"SERVICE_NAME", ServiceName},
		{"SWARM_LOCK", SwarmLock},
	})
	if err != nil {
		return "", err
	}
	return render(document{
		Role:     "swarm manager",
		Packages: []string{"docker", "amazon-efs-utils", "openssl"},
		Files: []file{
			script("lib.sh"),
			script("efs.sh"),
			script("rdsca.sh"),
			script("image.sh"),
			script("swarm-manager-boot.sh"),
			script("swarm-rollout.sh"),
			boot,
			env,
			efsDropIn(),
			{Path: "/etc/systemd/system/bookstore-rollout.service", Mode: "0644", Content: static("files/bookstore-rollout.service")},
			{Path: "/etc/systemd/system/bookstore-rollout.timer", Mode: "0644", Content: static("files/bookstore-rollout.timer")},
		},
		Run: binDir + "/swarm-manager-boot.sh",
	})
}

// RenderSwarmWorker returns the cloud-config for a Swarm worker: docker, EFS
// and the RDS CA bundle (tasks bind both), the image ImageParameter holds
// pulled ahead of time, then `docker swarm join` to ManagerAddress:2377 with
// the token read from JoinTokenParameter afresh on every attempt, retried
// until a (re)booting manager has written a valid one. Errors: a *FieldError
// for a bad parameter, or a document over MaxBytes.
func RenderSwarmWorker(p SwarmWorker) (string, error) {
	if err := checkRegion("Region", p.Region); err != nil {
		return "", err
	}
	if err := checkSSMName("ImageParameter", p.ImageParameter); err != nil {
		return "", err
	}
	registry, registryRegion, err := checkRepository("Repository", p.Repository)
	if err != nil {
		return "", err
	}
	if err := checkEFS("EFS", p.EFS); err != nil {
		return "", err
	}
	if err := checkIPv4("ManagerAddress", p.ManagerAddress); err != nil {
		return "", err
	}
	if err := checkSSMName("JoinTokenParameter", p.JoinTokenParameter); err != nil {
		return "", err
	}
	boot, err := bootEnv([]kv{
		{"IMAGE_PARAMETER", p.ImageParameter},
		{"IMAGE_REPOSITORY", p.Repository},
		{"ECR_REGISTRY", registry},
		{"ECR_REGION", registryRegion},
		{"REGION", p.Region},
		{"EFS_ID", p.EFS.FileSystemID},
		{"EFS_ACCESS_POINT", p.EFS.AccessPointID},
		{"RDS_CA_URL", RDSCABundleURL(p.Region)},
		{"MANAGER_ADDRESS", p.ManagerAddress},
		{"JOIN_TOKEN_PARAMETER", p.JoinTokenParameter},
	})
	if err != nil {
		return "", err
	}
	return render(document{
		Role:     "swarm worker",
		Packages: []string{"docker", "amazon-efs-utils", "openssl"},
		Files: []file{
			script("lib.sh"),
			script("efs.sh"),
			script("rdsca.sh"),
			script("image.sh"),
			script("swarm-worker-boot.sh"),
			boot,
			efsDropIn(),
		},
		Run: binDir + "/swarm-worker-boot.sh",
	})
}

// RenderMonolith returns the cloud-config for the monolith instance: docker
// and compose; a MySQL container whose passwords are generated on the
// instance at first boot (never in user data); the app on 127.0.0.1:ServicePort
// with DATABASE_URL pointing at it; NGINX redirecting HTTP to HTTPS and
// terminating TLS for Hostname with a Let's Encrypt certificate (certbot,
// HTTP-01 webroot) renewed by certbot-renew.timer. Errors: a *FieldError for
// a bad parameter, or a document over MaxBytes.
func RenderMonolith(p Monolith) (string, error) {
	registry, registryRegion, err := checkImageRef("ImageRef", p.ImageRef)
	if err != nil {
		return "", err
	}
	if err := checkRegion("Region", p.Region); err != nil {
		return "", err
	}
	if err := checkHostname("Hostname", p.Hostname); err != nil {
		return "", err
	}
	hostname := strings.ToLower(p.Hostname)
	if err := checkEmails("AdminEmails", p.AdminEmails); err != nil {
		return "", err
	}
	if p.LetsEncryptEmail != "" {
		if err := checkEmail("LetsEncryptEmail", p.LetsEncryptEmail); err != nil {
			return "", err
		}
	}
	if err := checkPattern("LogGroup", p.LogGroup, logGroupRE, "a CloudWatch Logs group name (1-512 of A-Z a-z 0-9 . _ / # -)"); err != nil {
		return "", err
	}
	logLevel, err := logLevelOrDefault("LogLevel", p.LogLevel)
	if err != nil {
		return "", err
	}
	mysqlImage := p.MySQLImage
	if mysqlImage == "" {
		mysqlImage = DefaultMySQLImage
	}
	if err := checkPattern("MySQLImage", mysqlImage, imageRefRE, "an image reference [registry/]repository[:tag][@sha256:digest]"); err != nil {
		return "", err
	}

	compose, err := execute("compose-monolith.yaml.tmpl", map[string]any{
		"ImageRef":   p.ImageRef,
		"MySQLImage": mysqlImage,
		"Port":       ServicePort,
		"SharedDir":  ContainerSharedDir,
		"Region":     p.Region,
		"LogGroup":   p.LogGroup,
	})
	if err != nil {
		return "", err
	}
	site := map[string]any{"Hostname": hostname, "Port": ServicePort}
	httpConf, err := execute("nginx-http.conf.tmpl", site)
	if err != nil {
		return "", err
	}
	tlsConf, err := execute("nginx-tls.conf.tmpl", site)
	if err != nil {
		return "", err
	}
	// DATABASE_URL is not here: it carries a password, written at boot to db.env.
	env, err := envFile([]kv{
		{"PORT", strconv.Itoa(ServicePort)},
		{"SHARED_DIR", ContainerSharedDir},
		{"ADMIN_EMAILS", strings.Join(p.AdminEmails, ",")},
		{"LOG_LEVEL", logLevel},
		{"AWS_REGION", p.Region},
	})
	if err != nil {
		return "", err
	}
	boot, err := bootEnv([]kv{
		{"IMAGE_REF", p.ImageRef},
		{"MYSQL_IMAGE", mysqlImage},
		{"ECR_REGISTRY", registry},
		{"ECR_REGION", registryRegion},
		{"SITE_HOSTNAME", hostname},
		{"LETSENCRYPT_EMAIL", p.LetsEncryptEmail},
		{"COMPOSE_VERSION", ComposeVersion},
		{"COMPOSE_SHA256", ComposeSHA256},
	})
	if err != nil {
		return "", err
	}
	return render(document{
		Role:     "monolith",
		Packages: []string{"docker", "nginx", "certbot"},
		Files: []file{
			script("lib.sh"),
			script("compose.sh"),
			script("monolith-boot.sh"),
			boot,
			env,
			{Path: bookstoreDir + "/compose.yaml", Mode: "0644", Content: compose},
			{Path: "/etc/systemd/system/bookstore.service", Mode: "0644", Content: static("files/bookstore-local.service")},
			{Path: bookstoreDir + "/nginx/nginx.conf", Mode: "0644", Content: static("files/nginx.conf")},
			{Path: bookstoreDir + "/nginx/http.conf", Mode: "0644", Content: httpConf},
			{Path: bookstoreDir + "/nginx/tls.conf", Mode: "0644", Content: tlsConf},
			{Path: "/etc/letsencrypt/renewal-hooks/deploy/reload-nginx.sh", Mode: "0755", Content: static("scripts/reload-nginx.sh")},
		},
		Run: binDir + "/monolith-boot.sh",
	})
}
