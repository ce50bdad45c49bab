// Command infra is the bookstore's Pulumi program (Pulumi.yaml: runtime go,
// main infra/). run declares the whole stack: config, then the network, then the
// database, file system and image, then the edge (ALB, certificate, DNS), then the
// hosts that register into it (fleet, swarm, monolith), then the alarms.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/config"
	"github.com/bookstore-aws/bookstore/infra/database"
	"github.com/bookstore-aws/bookstore/infra/edge"
	"github.com/bookstore-aws/bookstore/infra/fleet"
	"github.com/bookstore-aws/bookstore/infra/host"
	"github.com/bookstore-aws/bookstore/infra/image"
	"github.com/bookstore-aws/bookstore/infra/monolith"
	"github.com/bookstore-aws/bookstore/infra/network"
	"github.com/bookstore-aws/bookstore/infra/observability"
	"github.com/bookstore-aws/bookstore/infra/storage"
	"github.com/bookstore-aws/bookstore/infra/swarm"
)

func main() {
	// Run without the engine, the SDK exits 32 and prints nothing.
	if os.Getenv("PULUMI_MONITOR") == "" && os.Getenv("PULUMI_PLUGINS") == "" {
		fmt.Fprintln(os.Stderr, "infra is a Pulumi program, run by the Pulumi engine: "+
			"use `pulumi preview` or `pulumi up` from the repository root (docs/deploying.md).")
		os.Exit(2)
	}
	pulumi.Run(run)
}

// AL2023Parameter is SSM's public parameter holding the latest Amazon Linux 2023
// AMI for x86_64 (the image is linux/amd64).
const AL2023Parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

// Fixed choices that are not config keys.
const (
	logRetentionDays = 30 // CloudWatch Logs of the hosts' containers
	keepImages       = 10 // ECR images kept; older digests expire
	logLevel         = "info"
)

// Output is one stack output: its name and what it holds (Markdown, for the
// outputs table of docs/configuration.md, which `go generate ./...` renders from
// Outputs).
type Output struct{ Name, Value string }

// Outputs lists every stack output. Each is always exported ("" or [] when it does
// not apply), so a reader of `pulumi stack output --json` never meets a missing key.
//
//go:generate go run ./internal/docgen
var Outputs = []Output{
	{"url", "`https://<domain>`, or `http://<ALB DNS name>` without a domain"},
	{"wwwUrl", "`https://www.<domain>` (`\"\"` without a domain)"},
	{"albDnsName", "the ALB's DNS name"},
	{"albZoneId", "the ALB's canonical hosted zone id, for alias records"},
	{"certificateArn", "the validated ACM certificate for the apex, www and (with `swarm`) swarm (`\"\"` without a domain)"},
	{"validationRecords", "ACM's DNS validation records, `[{name, type, value}]`, one per distinct name, each under the domain (`[]` without a domain)"},
	{"hostedZoneId", "the Route 53 zone that holds the records (`\"\"` without a domain)"},
	{"nameServers", "that zone's name servers: delegate the domain to these (`[]` without a domain)"},
	{"dbEndpoint", "the RDS endpoint's host name (port 3306)"},
	{"dbSecretArn", "the RDS-managed Secrets Manager secret (`{\"username\",\"password\"}`)"},
	{"efsId", "the EFS file system id"},
	{"imageRef", "the pushed image, `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>`"},
	{"asgName", "the Auto Scaling group"},
	{"swarmManagerIp", "the Swarm manager's Elastic IP (`\"\"` with `swarm` false)"},
	{"swarmUrl", "`https://swarm.<domain>` (`\"\"` without a domain or with `swarm` false)"},
	{"legacyUrl", "`https://legacy.<domain>` when `monolith` is on (it needs a domain), else `\"\"`"},
}

func run(ctx *pulumi.Context) error { return declare(ctx, ctx.Export) }

// declare builds the stack and hands each output to export.
func declare(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
	cfg, err := config.Load(ctx)
	if err != nil {
		return err
	}
	tags := cfg.Tags()
	prefix := fmt.Sprintf("%s-%s", cfg.Project, cfg.Stack)

	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return fmt.Errorf("reading the AWS partition: %w", err)
	}
	region, err := aws.GetRegion(ctx, nil)
	if err != nil {
		return fmt.Errorf("reading the AWS region (set aws:region): %w", err)
	}
	ami := cfg.AMIID
	if ami == "" {
		p, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: AL2023Parameter})
		if err != nil {
			return fmt.Errorf("looking up the Amazon Linux 2023 AMI in %s (or set bookstore:amiId): %w", AL2023Parameter, err)
		}
		ami = p.Value
	}

	net, err := network.New(ctx, "bookstore", network.Args{
		AZCount: cfg.AZCount, NATPerAZ: cfg.NATGateways == config.NATPerAZ, Swarm: cfg.Swarm, Tags: tags, NamePrefix: prefix,
	})
	if err != nil {
		return err
	}
	db, err := database.New(ctx, "bookstore", database.Args{
		SubnetIDs:          net.PrivateSubnetIDs,
		SecurityGroupID:    net.DBSG,
		InstanceClass:      cfg.DBInstanceClass,
		AllocatedStorage:   cfg.DBAllocatedStorage,
		DeletionProtection: cfg.DeletionProtection,
		SkipFinalSnapshot:  cfg.SkipFinalSnapshot,
		MultiAZ:            cfg.DBMultiAZ,
		SnapshotPrefix:     prefix,
		Tags:               tags,
	})
	if err != nil {
		return err
	}
	files, err := storage.New(ctx, "bookstore", storage.Args{
		SubnetIDs: net.PrivateSubnets, SecurityGroupID: net.EFSSG, NamePrefix: prefix, Tags: tags,
	})
	if err != nil {
		return err
	}
	img, err := image.New(ctx, "bookstore", image.Args{
		Context: "..", Dockerfile: "../Dockerfile", Tag: cfg.Stack, KeepImages: keepImages, Tags: tags,
	})
	if err != nil {
		return err
	}
	front, err := edge.New(ctx, "bookstore", edge.Args{
		Domain: cfg.Domain, HostedZoneID: cfg.HostedZoneID, CreateZone: cfg.CreateZone,
		VpcID: net.VpcID, SubnetIDs: net.PublicSubnetIDs, SecurityGroupID: net.AlbSG,
		AppWeight: cfg.AppWeight, SwarmWeight: cfg.SwarmWeight, Swarm: cfg.Swarm,
		DependsOn:  net.PublicRouting,
		NamePrefix: prefix, Tags: tags,
	})
	if err != nil {
		return err
	}

	svc := host.Service{
		ImageRef: img.Ref, RepositoryURL: img.RepositoryURL, RepositoryArn: img.RepositoryArn, DBHost: db.Address, DBSecretArn: db.SecretArn,
		FileSystemID: files.FileSystemID, FileSystemArn: files.FileSystemArn,
		AccessPointID: files.AccessPointID, AccessPointArn: files.AccessPointArn,
		Region: region.Name, DBPort: db.Port, DBName: db.Name, AdminEmails: cfg.AdminEmails, LogLevel: logLevel,
	}
	app, err := fleet.New(ctx, "bookstore-fleet", fleet.Args{
		Service: svc, AMI: ami, InstanceType: cfg.InstanceType,
		SubnetIDs: net.PrivateSubnetIDs, SecurityGroupID: net.AppSG, TargetGroupArn: front.AppTargetGroup.Arn,
		MinSize: cfg.MinSize, MaxSize: cfg.MaxSize, CPUTarget: cfg.CPUTarget,
		DNSSuffix: partition.DnsSuffix, LogRetentionDays: logRetentionDays,
		DependsOn: slices.Concat(files.MountTargets, net.PrivateRouting), NamePrefix: prefix, Tags: tags,
	})
	if err != nil {
		return err
	}
	// Without a Swarm its outputs stay exported, empty (see Outputs).
	swarmIP := pulumi.String("").ToStringOutput()
	targetGroups := map[string]pulumi.StringInput{"app": front.AppTargetGroup.ArnSuffix}
	if cfg.Swarm {
		sw, err := swarm.New(ctx, "bookstore-swarm", swarm.Args{
			Service: svc, AMI: ami, InstanceType: cfg.InstanceType,
			ManagerSubnetID: net.PublicSubnets[0], WorkerSubnetIDs: net.PrivateSubnetIDs,
			SecurityGroupID: net.SwarmSG, TargetGroupArn: front.SwarmTarget.Arn,
			Replicas: cfg.SwarmReplicas, Workers: cfg.SwarmWorkers,
			DNSSuffix: partition.DnsSuffix, LogRetentionDays: logRetentionDays,
			// The manager boots in a public subnet, workers in private ones.
			DependsOn:  slices.Concat(files.MountTargets, net.PublicRouting, net.PrivateRouting),
			NamePrefix: prefix, Tags: tags,
		})
		if err != nil {
			return err
		}
		swarmIP = sw.ManagerPublicIP
		targetGroups["swarm"] = front.SwarmTarget.ArnSuffix
	}
	legacyURL := pulumi.String("").ToStringOutput()
	if cfg.Monolith {
		mono, err := monolith.New(ctx, "bookstore-monolith", monolith.Args{
			Domain: cfg.Domain, ZoneID: front.HostedZoneID, ImageRef: img.Ref, RepositoryArn: img.RepositoryArn,
			Region: region.Name, AdminEmails: cfg.AdminEmails, LetsEncryptEmail: cfg.AlertEmail, LogLevel: logLevel,
			AMI: ami, InstanceType: cfg.InstanceType, VpcID: net.VpcID, SubnetID: net.PublicSubnets[0],
			DNSSuffix: partition.DnsSuffix, LogRetentionDays: logRetentionDays,
			DependsOn: net.PublicRouting, NamePrefix: prefix, Tags: tags,
		})
		if err != nil {
			return err
		}
		legacyURL = mono.URL
	}
	if _, err := observability.New(ctx, "bookstore", observability.Args{
		AlertEmail:   cfg.AlertEmail,
		AlbArnSuffix: front.AlbArnSuffix,
		TargetGroups: targetGroups,
		DBIdentifier: db.Identifier, DBAllocatedStorageGB: cfg.DBAllocatedStorage,
		ASGName: app.ASGName, ASGMaxSize: cfg.MaxSize,
		Tags: tags,
	}); err != nil {
		return err
	}

	outputs := map[string]pulumi.Input{
		"url": front.URL, "wwwUrl": front.WWWURL, "albDnsName": front.AlbDNSName, "albZoneId": front.AlbZoneID,
		"certificateArn": front.CertificateArn, "validationRecords": front.ValidationRecords,
		"hostedZoneId": front.HostedZoneID, "nameServers": front.NameServers,
		"dbEndpoint": db.Address, "dbSecretArn": db.SecretArn, "efsId": files.FileSystemID,
		"imageRef": img.Ref, "asgName": app.ASGName,
		"swarmManagerIp": swarmIP, "swarmUrl": front.SwarmURL, "legacyUrl": legacyURL,
	}
	for _, o := range Outputs {
		v, ok := outputs[o.Name]
		if !ok {
			return fmt.Errorf("output %s is not declared", o.Name) // a programming error the tests catch
		}
		export(o.Name, v)
	}
	if len(outputs) != len(Outputs) {
		return fmt.Errorf("outputs: %d declared, %d listed", len(outputs), len(Outputs))
	}
	return nil
}
