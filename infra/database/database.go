// Package database declares the bookstore's RDS MySQL 8.4 (LTS) instance:
// Multi-AZ unless a stack turns it off (dbMultiAz), encrypted gp3 storage, its password managed by RDS in Secrets Manager (never in
// config or state), a parameter group (utf8mb4, TLS required, slow query log) and
// a subnet group over the private subnets.
package database

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// The engine. RDS for MySQL 8.0 left standard support on 2026-07-31, so a new
// 8.0 instance runs on paid RDS Extended Support from its first hour; 8.4 is
// the LTS line, in standard support (AWS, "Supported MySQL major versions on
// Amazon RDS"). Its default authentication is caching_sha2_password only; the
// service's driver speaks it, over TLS here (require_secure_transport).
const (
	EngineVersion = "8.4"      // major version only: RDS applies minor versions (autoMinorVersionUpgrade)
	Family        = "mysql8.4" // parameter group family of EngineVersion
	// LifecycleSupport is set rather than left to RDS's default, which enrols
	// the instance in Extended Support (billed per vCPU-hour) once its major
	// version leaves standard support. Disabled, RDS upgrades the major version
	// at that date instead: an upgrade to plan, never a silent bill.
	LifecycleSupport = "open-source-rds-extended-support-disabled"
)

// Names the service receives (docs/architecture.md, the contract: DB_NAME, DB_PORT).
const (
	Name     = "bookstore"
	Port     = 3306
	Username = "bookstore" // master user; its password exists only in Secrets Manager
)

// Args configures the database.
type Args struct {
	SubnetIDs          pulumi.StringArrayInput // private subnets, in >= 2 AZs (RDS requires it for a subnet group)
	SecurityGroupID    pulumi.StringInput      // admits 3306 from the hosts only
	InstanceClass      string                  // e.g. db.t3.micro
	AllocatedStorage   int                     // GiB
	DeletionProtection bool
	SkipFinalSnapshot  bool
	// MultiAZ keeps a synchronous standby in a second AZ (failover in one or
	// two minutes, twice the instance price); false is one instance (config
	// dbMultiAz, for dev stacks).
	MultiAZ bool
	// SnapshotPrefix starts the final snapshot's identifier, e.g. "bookstore-dev";
	// a creation timestamp follows so destroying a re-created stack never collides
	// with an earlier snapshot.
	SnapshotPrefix string
	Now            func() time.Time // clock for that timestamp; nil means time.Now
	Tags           map[string]string
}

// Database is the RDS instance and what clients need to reach it.
type Database struct {
	pulumi.ResourceState

	Address    pulumi.StringOutput // endpoint host name, no port
	Port       int
	Name       string
	SecretArn  pulumi.StringOutput // RDS-managed secret, JSON {"username","password"}
	Identifier pulumi.StringOutput // DB instance identifier, for CloudWatch dimensions
}

// BackupRetentionDays is how long automated backups are kept.
const BackupRetentionDays = 7

// New declares the database.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Database, error) {
	d := &Database{Port: Port, Name: Name}
	if err := ctx.RegisterComponentResource("bookstore:database:Database", name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)

	subnets, err := rds.NewSubnetGroup(ctx, name, &rds.SubnetGroupArgs{
		Description: pulumi.String("Bookstore RDS: private subnets"),
		SubnetIds:   args.SubnetIDs,
		Tags:        tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}

	params, err := rds.NewParameterGroup(ctx, name, &rds.ParameterGroupArgs{
		Family:      pulumi.String(Family),
		Description: pulumi.String("Bookstore: utf8mb4, TLS required, slow query log"),
		Parameters: rds.ParameterGroupParameterArray{
			// Full Unicode (4-byte UTF-8) for titles and names, whatever a client asks.
			param("character_set_server", "utf8mb4"),
			param("collation_server", "utf8mb4_0900_ai_ci"),
			param("character_set_client", "utf8mb4"),
			param("character_set_connection", "utf8mb4"),
			param("character_set_results", "utf8mb4"),
			param("character_set_database", "utf8mb4"),
			// Clients must use TLS; the hosts give the service the region's RDS CA
			// bundle (DB_TLS_CA_FILE), so it also verifies the server.
			param("require_secure_transport", "1"),
			// The slowquery log export is empty unless the log is on and written to a file.
			param("slow_query_log", "1"),
			param("long_query_time", "1"),
			param("log_output", "FILE"),
		},
		Tags: tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}

	now := time.Now
	if args.Now != nil {
		now = args.Now
	}
	db, err := rds.NewInstance(ctx, name, &rds.InstanceArgs{
		Engine:                  pulumi.String("mysql"),
		EngineVersion:           pulumi.String(EngineVersion),
		EngineLifecycleSupport:  pulumi.String(LifecycleSupport),
		AutoMinorVersionUpgrade: pulumi.Bool(true),
		// A stack created on 8.0 upgrades in place on its next `pulumi up`
		// (with the new parameter group); RDS refuses a major version change
		// without this. The version itself is fixed above, never chosen by RDS.
		AllowMajorVersionUpgrade: pulumi.Bool(true),
		InstanceClass:            pulumi.String(args.InstanceClass),
		AllocatedStorage:         pulumi.Int(args.AllocatedStorage),
		StorageType:              pulumi.String("gp3"),
		StorageEncrypted:         pulumi.Bool(true),
		MultiAz:                  pulumi.Bool(args.MultiAZ),
		DbName:                   pulumi.String(Name),
		Port:                     pulumi.Int(Port),
		Username:                 pulumi.String(Username),
		ManageMasterUserPassword: pulumi.Bool(true),
		DbSubnetGroupName:        subnets.Name,
		VpcSecurityGroupIds:      pulumi.StringArray{args.SecurityGroupID},
		ParameterGroupName:       params.Name,
		PubliclyAccessible:       pulumi.Bool(false),
		BackupRetentionPeriod:    pulumi.Int(BackupRetentionDays),
		CopyTagsToSnapshot:       pulumi.Bool(true),
		DeletionProtection:       pulumi.Bool(args.DeletionProtection),
		SkipFinalSnapshot:        pulumi.Bool(args.SkipFinalSnapshot),
		// Always set (harmless when skipped), so turning skipFinalSnapshot off later
		// never leaves a stack that cannot be destroyed.
		FinalSnapshotIdentifier: pulumi.String(FinalSnapshotID(args.SnapshotPrefix, now())),
		// Apply during `pulumi up`, so what the stack says is what runs; Multi-AZ turns
		// most modifications into a failover rather than an outage (a single-AZ
		// instance restarts for them).
		ApplyImmediately:             pulumi.Bool(true),
		EnabledCloudwatchLogsExports: pulumi.StringArray{pulumi.String("error"), pulumi.String("slowquery")},
		Tags:                         tags.Of(args.Tags),
	}, parent,
		// The timestamp is fixed when the instance is created; later runs must not
		// show it as a change. The lifecycle too: RDS takes it only when an instance
		// is created or restored and silently keeps an existing instance's, so on a
		// stack created before it was set every run would show the same change
		// (terraform-provider-aws#40870).
		pulumi.IgnoreChanges([]string{"finalSnapshotIdentifier", "engineLifecycleSupport"}))
	if err != nil {
		return nil, err
	}
	d.Address = db.Address
	d.Identifier = db.Identifier
	d.SecretArn = db.MasterUserSecrets.Index(pulumi.Int(0)).SecretArn().Elem()

	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"address":   d.Address,
		"secretArn": d.SecretArn,
	}); err != nil {
		return nil, err
	}
	return d, nil
}

func param(name, value string) rds.ParameterGroupParameterArgs {
	return rds.ParameterGroupParameterArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
}

var notIdent = regexp.MustCompile(`[^a-z0-9]+`)

// FinalSnapshotID returns "<prefix>-final-<UTC yyyymmddhhmmss>" made a valid RDS
// snapshot identifier (letters, digits, single hyphens, a letter first, <= 255
// chars): prefix is lower-cased and runs of other characters become one hyphen.
func FinalSnapshotID(prefix string, t time.Time) string {
	p := strings.Trim(notIdent.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = "db-" + p
	}
	p = strings.TrimSuffix(p, "-")
	if len(p) > 200 {
		p = strings.TrimRight(p[:200], "-")
	}
	return fmt.Sprintf("%s-final-%s", p, t.UTC().Format("20060102150405"))
}
