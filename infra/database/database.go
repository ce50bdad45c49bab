// Package database declares the bookstore's RDS MySQL 8.4 (LTS) instance:
// Multi-AZ unless a stack turns it off (dbMultiAz), encrypted gp3 storage, its password managed by RDS in Secrets Manager (never in
// config or state), a parameter group (utf8mb4, TLS required, slow query log) and
// a subnet group over the private subnets, and the log groups its error and slow
// query logs are exported to.
package database

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
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
	// NamePrefix, e.g. "bookstore-dev", starts the instance identifier
	// (Identifier) and so the names of its log groups and final snapshot.
	NamePrefix       string
	LogRetentionDays int // of the exported error and slow query logs
	Tags             map[string]string
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

// Engine is the RDS engine.
const Engine = "mysql"

// LogExports are the logs exported to CloudWatch Logs, each to LogGroupName.
var LogExports = []string{"error", "slowquery"}

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

	// RDS creates the log groups of its exports itself, without retention, and
	// leaves them behind on delete. Declared here first, they keep the stack's
	// retention and go with the stack; their names need a fixed identifier.
	identifier := Identifier(args.NamePrefix)
	var logGroups []pulumi.Resource
	for _, log := range LogExports {
		g, err := cloudwatch.NewLogGroup(ctx, name+"-"+log, &cloudwatch.LogGroupArgs{
			Name:            pulumi.String(LogGroupName(identifier, log)),
			RetentionInDays: pulumi.Int(args.LogRetentionDays),
			Tags:            tags.Of(args.Tags),
		}, parent)
		if err != nil {
			return nil, err
		}
		logGroups = append(logGroups, g)
	}

	db, err := rds.NewInstance(ctx, name, &rds.InstanceArgs{
		Identifier:              pulumi.String(identifier),
		Engine:                  pulumi.String(Engine),
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
		// never leaves a stack that cannot be destroyed. New for every instance that
		// replaces this one and for every new stack (the subnet group's generated
		// name), so no delete meets the snapshot of an earlier one.
		FinalSnapshotIdentifier: subnets.Name.ApplyT(func(group string) string {
			return FinalSnapshotID(identifier, Incarnation(identifier, group))
		}).(pulumi.StringOutput),
		// Apply during `pulumi up`, so what the stack says is what runs; Multi-AZ turns
		// most modifications into a failover rather than an outage (a single-AZ
		// instance restarts for them).
		ApplyImmediately:             pulumi.Bool(true),
		EnabledCloudwatchLogsExports: pulumi.ToStringArray(LogExports),
		Tags:                         tags.Of(args.Tags),
	}, parent, pulumi.DependsOn(logGroups),
		// The identifier is fixed: a replacement can only be created once this
		// instance (and its final snapshot) is gone.
		pulumi.DeleteBeforeReplace(true),
		// RDS takes the lifecycle only when an instance is created or restored and
		// silently keeps an existing instance's, so on a stack created before it was
		// set every run would show the same change (terraform-provider-aws#40870).
		pulumi.IgnoreChanges([]string{"engineLifecycleSupport"}))
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

// MaxIdentifier is RDS's limit on a DB instance identifier, in characters.
const MaxIdentifier = 63

// Identifier returns "<prefix>-db" made a valid DB instance identifier (RDS:
// 1 to 63 letters, digits and single hyphens, a letter first, no hyphen last):
// prefix is lower-cased, runs of other characters become one hyphen, and it is
// cut to fit.
func Identifier(prefix string) string {
	p := strings.Trim(notIdent.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = strings.TrimSuffix("db-"+p, "-")
	}
	if max := MaxIdentifier - len("-db"); len(p) > max {
		p = strings.TrimRight(p[:max], "-")
	}
	return p + "-db"
}

// LogGroupName is where RDS exports log ("error", "slowquery") of the instance
// identifier: /aws/rds/instance/<identifier>/<log> (RDS User Guide, publishing
// MySQL logs to CloudWatch Logs).
func LogGroupName(identifier, log string) string {
	return "/aws/rds/instance/" + identifier + "/" + log
}

// Incarnation names one instance among those the stack may ever create: it
// changes with every argument that makes the provider replace the instance
// (the ones this package sets: engine, identifier, database name, master user,
// storage encryption) and with the subnet group's generated name, which is new
// in every new stack. Add any other replace-forcing argument set here.
func Incarnation(identifier, subnetGroup string) string {
	return strings.Join([]string{Engine, identifier, Name, Username, "encrypted", subnetGroup}, "|")
}

// FinalSnapshotID returns "<identifier>-final-<10 hex digits of incarnation's
// SHA-256>", a valid snapshot identifier for a valid instance identifier (RDS:
// letters, digits and single hyphens, a letter first, <= 255 characters).
func FinalSnapshotID(identifier, incarnation string) string {
	sum := sha256.Sum256([]byte(incarnation))
	return fmt.Sprintf("%s-final-%s", identifier, hex.EncodeToString(sum[:5]))
}
