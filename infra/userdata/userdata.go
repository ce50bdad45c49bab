// Package userdata renders the cloud-init documents that boot the stack's hosts.
//
// Every function here is pure: params in, a "#cloud-config" YAML document out, no
// Pulumi types and no I/O, so each can be tested alone and fed to real validators
// (cloud-init schema, shellcheck). The Pulumi components call them inside an Apply
// once the resolved values (image digest, endpoints, ids) are known.
//
// EC2 caps user data at 16 KiB before base64 encoding; every renderer returns an
// error rather than a document that large.
package userdata

import "errors"

// MaxBytes is EC2's limit on raw user data (16 KiB, before base64).
const MaxBytes = 16 * 1024

// Mount is where EFS is mounted on every host; it is bound into containers at
// ContainerSharedDir (DESIGN.md, "instance mount").
const (
	Mount              = "/mnt/bookstore"
	ContainerSharedDir = "/app/shared"
	ServicePort        = 5000
)

// Service is what every container of the bookstore gets, on every kind of host.
type Service struct {
	ImageRef    string   // the pushed digest, "<registry>/<repo>@sha256:<64 hex>"; a tag is refused
	Region      string   // AWS region, e.g. "eu-west-1"
	DBHost      string   // RDS endpoint address, no port
	DBPort      int      // 3306 on RDS
	DBName      string   // schema name
	DBSecretARN string   // RDS-managed master user secret (JSON username/password)
	AdminEmails []string // become ADMIN_EMAILS, comma-separated
	LogGroup    string   // CloudWatch Logs group for the awslogs driver
	LogLevel    string   // LOG_LEVEL: debug, info, warn or error
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

// SwarmManager is the input for the single Swarm manager instance.
type SwarmManager struct {
	Service            Service
	EFS                EFS
	Replicas           int    // docker service replicas, >= 1
	JoinTokenParameter string // SSM parameter (SecureString) the manager writes the worker join token to
}

// SwarmWorker is the input for an instance of the optional Swarm worker ASG.
type SwarmWorker struct {
	Region             string
	ImageRef           string // pulled ahead of time so a task starts quickly
	EFS                EFS
	ManagerAddress     string // the manager's private IPv4 address
	JoinTokenParameter string // SSM parameter to read the join token from
}

// Monolith is the input for the optional single-instance scenario: NGINX with a
// Let's Encrypt certificate in front of the service and a local MySQL container.
type Monolith struct {
	ImageRef         string
	Region           string
	Hostname         string // "legacy.<domain>"; the certificate's only name
	AdminEmails      []string
	LetsEncryptEmail string // ACME account contact; empty registers without one
	LogGroup         string
}

var errNotImplemented = errors.New("userdata: not implemented")

// RenderFleet returns the cloud-config for an ASG instance.
func RenderFleet(p Fleet) (string, error) { return "", errNotImplemented }

// RenderSwarmManager returns the cloud-config for the Swarm manager.
func RenderSwarmManager(p SwarmManager) (string, error) { return "", errNotImplemented }

// RenderSwarmWorker returns the cloud-config for a Swarm worker.
func RenderSwarmWorker(p SwarmWorker) (string, error) { return "", errNotImplemented }

// RenderMonolith returns the cloud-config for the monolith instance.
func RenderMonolith(p Monolith) (string, error) { return "", errNotImplemented }
