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

// Grant is one Allow statement of the role's inline policy.
type Grant struct {
	Sid      string
	Actions  []string
	Resource pulumi.StringInput // one ARN, or "*" for actions that take no resource
	// Condition, when ConditionKey is set: StringEquals ConditionKey = ConditionValue.
	ConditionKey   string
	ConditionValue pulumi.StringInput
}

// Args configures a role. Every host pulls the image and writes container
// logs, so RepositoryArn and LogGroupArn are required; see Base.
type Args struct {
	DNSSuffix     string // "amazonaws.com" (".com.cn" in China), for the EC2 service principal
	RepositoryArn pulumi.StringInput
	LogGroupArn   pulumi.StringInput
	Grants        []Grant // beyond Base
	Tags          map[string]string
}

// Role is the role and its instance profile.
type Role struct {
	pulumi.ResourceState

	RoleArn            pulumi.StringOutput
	RoleName           pulumi.StringOutput
	InstanceProfileArn pulumi.StringOutput
	InstanceProfile    pulumi.StringOutput // name, as ec2.Instance takes it
	// Policy is the inline policy. Hosts depend on it: an instance profile
	// can exist before its role's grants do, and a boot that starts in that
	// gap fails its first ECR login.
	Policy pulumi.Resource
}

// Base is what every host does, scoped to this stack instead of AWS's managed
// policies, which grant it account-wide (AmazonSSMManagedInstanceCore reads
// every SSM parameter; AmazonEC2ContainerRegistryReadOnly pulls every
// repository; CloudWatchAgentServerPolicy writes to and sets retention on
// every log group):
//   - Session Manager instead of SSH: the five actions of AWS's minimal
//     Session Manager instance profile, which take no resource;
//   - an ECR login (GetAuthorizationToken takes no resource), then pulls from
//     this stack's repository only;
//   - the awslogs driver's CreateLogStream and PutLogEvents on this host's
//     log group only (it does not create groups).
func Base(repositoryArn, logGroupArn pulumi.StringInput) []Grant {
	return []Grant{
		{Sid: "SessionManager", Resource: pulumi.String("*"), Actions: []string{
			"ssm:UpdateInstanceInformation",
			"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
			"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
		}},
		{Sid: "ECRLogin", Resource: pulumi.String("*"), Actions: []string{"ecr:GetAuthorizationToken"}},
		{Sid: "PullImage", Resource: repositoryArn, Actions: []string{
			"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
		}},
		{Sid: "WriteContainerLogs", Resource: pulumi.Sprintf("%s:*", logGroupArn), Actions: []string{
			"logs:CreateLogStream", "logs:PutLogEvents",
		}},
	}
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

// New declares the role (no managed policies), its inline policy (Base and
// args.Grants) and its instance profile.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Role, error) {
	if args.DNSSuffix == "" || args.RepositoryArn == nil || args.LogGroupArn == nil {
		return nil, fmt.Errorf("hostrole %s: DNSSuffix, RepositoryArn and LogGroupArn are required", name)
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
	inline, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: policy(append(Base(args.RepositoryArn, args.LogGroupArn), args.Grants...)),
	}, parent)
	if err != nil {
		return nil, err
	}
	r.Policy = inline
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
