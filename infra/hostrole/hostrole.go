// Package hostrole declares an EC2 instance role and profile. Every kind of host
// (ASG instance, Swarm manager, Swarm worker, monolith) gets its own role from this
// one definition, so each holds only the grants its host uses.
package hostrole

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// ManagedPolicies every host has: Session Manager instead of SSH, pulling from ECR,
// and CloudWatch (the awslogs log driver writes streams with it).
var ManagedPolicies = []string{
	"AmazonSSMManagedInstanceCore",
	"AmazonEC2ContainerRegistryReadOnly",
	"CloudWatchAgentServerPolicy",
}

// Grant is one Allow statement of the role's inline policy.
type Grant struct {
	Sid      string
	Actions  []string
	Resource pulumi.StringInput // one ARN
	// Condition, when ConditionKey is set: StringEquals ConditionKey = ConditionValue.
	ConditionKey   string
	ConditionValue pulumi.StringInput
}

// Args configures a role.
type Args struct {
	Partition string  // "aws", "aws-cn", "aws-us-gov": from aws.GetPartition
	DNSSuffix string  // "amazonaws.com" (".com.cn" in China), for the EC2 service principal
	Grants    []Grant // beyond ManagedPolicies; none means no inline policy
	Tags      map[string]string
}

// Role is the role and its instance profile.
type Role struct {
	pulumi.ResourceState

	RoleArn            pulumi.StringOutput
	RoleName           pulumi.StringOutput
	InstanceProfileArn pulumi.StringOutput
	InstanceProfile    pulumi.StringOutput // name, as ec2.Instance takes it
}

// SecretRead grants reading one Secrets Manager secret (the RDS-managed one).
func SecretRead(secretArn pulumi.StringInput) Grant {
	return Grant{Sid: "ReadDatabaseSecret", Actions: []string{"secretsmanager:GetSecretValue"}, Resource: secretArn}
}

// EFSMount grants mounting and writing one file system, through one access point.
func EFSMount(fileSystemArn, accessPointArn pulumi.StringInput) Grant {
	return Grant{
		Sid:            "MountSharedFiles",
		Actions:        []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"},
		Resource:       fileSystemArn,
		ConditionKey:   "elasticfilesystem:AccessPointArn",
		ConditionValue: accessPointArn,
	}
}

// New declares the role, its managed policy attachments, its inline policy and
// its instance profile.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Role, error) {
	if args.Partition == "" || args.DNSSuffix == "" {
		return nil, fmt.Errorf("hostrole %s: Partition and DNSSuffix are required", name)
	}
	r := &Role{}
	if err := ctx.RegisterComponentResource("bookstore:hostrole:Role", name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)

	trust, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "ec2." + args.DNSSuffix},
			"Action":    "sts:AssumeRole",
		}},
	})
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(trust),
		Tags:             tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	for _, p := range ManagedPolicies {
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-"+p, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(fmt.Sprintf("arn:%s:iam::aws:policy/%s", args.Partition, p)),
		}, parent); err != nil {
			return nil, err
		}
	}
	if len(args.Grants) > 0 {
		if _, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
			Role:   role.ID(),
			Policy: policy(args.Grants),
		}, parent); err != nil {
			return nil, err
		}
	}
	profile, err := iam.NewInstanceProfile(ctx, name, &iam.InstanceProfileArgs{
		Role: role.Name,
		Tags: tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	r.RoleArn, r.RoleName = role.Arn, role.Name
	r.InstanceProfileArn, r.InstanceProfile = profile.Arn, profile.Name

	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"roleArn":            r.RoleArn,
		"instanceProfileArn": r.InstanceProfileArn,
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// policy renders the grants as an IAM policy document once their ARNs resolve.
func policy(grants []Grant) pulumi.StringOutput {
	var inputs []any
	for _, g := range grants {
		inputs = append(inputs, g.Resource)
		if g.ConditionKey != "" {
			inputs = append(inputs, g.ConditionValue)
		}
	}
	return pulumi.All(inputs...).ApplyT(func(v []any) (string, error) {
		var stmts []map[string]any
		i := 0
		for _, g := range grants {
			s := map[string]any{"Sid": g.Sid, "Effect": "Allow", "Action": g.Actions, "Resource": v[i].(string)}
			i++
			if g.ConditionKey != "" {
				s["Condition"] = map[string]any{"StringEquals": map[string]any{g.ConditionKey: v[i].(string)}}
				i++
			}
			stmts = append(stmts, s)
		}
		b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
		return string(b), err
	}).(pulumi.StringOutput)
}
