// Package storage declares the EFS file system the hosts share: encrypted, a mount
// target in each private subnet, an access point rooted at /bookstore owned by the
// container user, a policy that refuses clients without TLS or outside that access
// point, and automatic backups.
package storage

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/efs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// The container user (docs/architecture.md, the contract: image user 65532:65532, "nonroot" in distroless).
const (
	UID      = 65532
	GID      = 65532
	RootPath = "/bookstore"
)

// Args configures the file system.
type Args struct {
	SubnetIDs       []pulumi.StringOutput // one mount target in each (one subnet per AZ)
	SecurityGroupID pulumi.StringInput    // admits NFS (2049) from the hosts only
	NamePrefix      string                // Name tag, e.g. "bookstore-dev"
	Tags            map[string]string
}

// Storage is the file system and how hosts mount it.
type Storage struct {
	pulumi.ResourceState

	FileSystemID   pulumi.StringOutput // "fs-..."
	FileSystemArn  pulumi.StringOutput
	AccessPointID  pulumi.StringOutput // "fsap-..."
	AccessPointArn pulumi.StringOutput
	// MountTargets are what hosts wait for (dependsOn) before they boot and mount.
	MountTargets []pulumi.Resource
}

// New declares the file system.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Storage, error) {
	s := &Storage{}
	if err := ctx.RegisterComponentResource("bookstore:storage:Storage", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)

	fs, err := efs.NewFileSystem(ctx, name, &efs.FileSystemArgs{
		Encrypted:       pulumi.Bool(true),
		PerformanceMode: pulumi.String("generalPurpose"),
		ThroughputMode:  pulumi.String("elastic"), // pay per use; bursting credits starve a small file system
		LifecyclePolicies: efs.FileSystemLifecyclePolicyArray{
			efs.FileSystemLifecyclePolicyArgs{TransitionToIa: pulumi.String("AFTER_30_DAYS")},
		},
		Tags: tags.Named(args.Tags, args.NamePrefix),
	}, parent)
	if err != nil {
		return nil, err
	}
	s.FileSystemID = fs.ID().ToStringOutput()
	s.FileSystemArn = fs.Arn

	for i, subnet := range args.SubnetIDs {
		mt, err := efs.NewMountTarget(ctx, fmt.Sprintf("%s-%d", name, i), &efs.MountTargetArgs{
			FileSystemId:   fs.ID(),
			SubnetId:       subnet,
			SecurityGroups: pulumi.StringArray{args.SecurityGroupID},
		}, parent, pulumi.DeleteBeforeReplace(true)) // one mount target per AZ: a new one can't precede the old
		if err != nil {
			return nil, err
		}
		s.MountTargets = append(s.MountTargets, mt)
	}

	ap, err := efs.NewAccessPoint(ctx, name, &efs.AccessPointArgs{
		FileSystemId: fs.ID(),
		PosixUser:    efs.AccessPointPosixUserArgs{Uid: pulumi.Int(UID), Gid: pulumi.Int(GID)},
		RootDirectory: efs.AccessPointRootDirectoryArgs{
			Path: pulumi.String(RootPath),
			CreationInfo: efs.AccessPointRootDirectoryCreationInfoArgs{
				OwnerUid: pulumi.Int(UID), OwnerGid: pulumi.Int(GID), Permissions: pulumi.String("0755"),
			},
		},
		Tags: tags.Named(args.Tags, args.NamePrefix),
	}, parent)
	if err != nil {
		return nil, err
	}
	s.AccessPointID = ap.ID().ToStringOutput()
	s.AccessPointArn = ap.Arn

	if _, err := efs.NewFileSystemPolicy(ctx, name, &efs.FileSystemPolicyArgs{
		FileSystemId: fs.ID(),
		Policy: pulumi.All(fs.Arn, ap.Arn).ApplyT(func(v []any) (string, error) {
			return Policy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
	}, parent); err != nil {
		return nil, err
	}

	if _, err := efs.NewBackupPolicy(ctx, name, &efs.BackupPolicyArgs{
		FileSystemId: fs.ID(),
		BackupPolicy: efs.BackupPolicyBackupPolicyArgs{Status: pulumi.String("ENABLED")},
	}, parent); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"fileSystemId":  s.FileSystemID,
		"accessPointId": s.AccessPointID,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// Policy returns the file-system policy: deny any request not made over TLS, and
// deny mounting except through the access point (so every client is uid 65532 under
// /bookstore). It grants nothing: hosts get ClientMount/ClientWrite from their
// instance role and mount with efs-utils' "tls,iam" options.
func Policy(fileSystemArn, accessPointArn string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Sid":       "DenyWithoutTLS",
				"Effect":    "Deny",
				"Principal": map[string]any{"AWS": "*"},
				"Action":    "*",
				"Resource":  fileSystemArn,
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			},
			{
				"Sid":       "DenyOutsideAccessPoint",
				"Effect":    "Deny",
				"Principal": map[string]any{"AWS": "*"},
				"Action": []string{
					"elasticfilesystem:ClientMount",
					"elasticfilesystem:ClientWrite",
					"elasticfilesystem:ClientRootAccess",
				},
				"Resource":  fileSystemArn,
				"Condition": map[string]any{"StringNotEquals": map[string]any{"elasticfilesystem:AccessPointArn": accessPointArn}},
			},
		},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}
