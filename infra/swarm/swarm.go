// Package swarm declares the original's third scenario: a Docker Swarm whose
// manager (Amazon Linux 2023, public subnet, Elastic IP) runs the bookstore image
// as a replicated service published on 5000 and registered in the ALB's swarm
// target group, plus optional workers in their own Auto Scaling group that join
// with a token the manager leaves in SSM Parameter Store.
//
// The image to run is the value of another SSM parameter, rewritten on every
// deploy. No host's user data holds it, so a new image replaces no instance:
// a timer on the manager rolls the service to each new value, and a worker
// pulls the current one at boot.
//
// Manager and workers each get their own role (infra/hostrole): the manager may
// only write the join token parameter, workers may only read it; both may read
// the image parameter.
package swarm

import (
	"slices"

	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/host"
	"github.com/bookstore-aws/bookstore/infra/hostrole"
	"github.com/bookstore-aws/bookstore/infra/tags"
	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// TokenPlaceholder is the join token parameter's value until the manager boots
// and overwrites it. It is not a secret; workers accept only a real token
// ("SWMTKN-1-...").
const TokenPlaceholder = "pending"

// HealthCheckGracePeriod (seconds) for workers: boot, join, pull.
const HealthCheckGracePeriod = 300

// Args configures the swarm.
type Args struct {
	Service         host.Service
	AMI             string // x86_64 Amazon Linux 2023
	InstanceType    string
	ManagerSubnetID pulumi.StringInput      // a public subnet
	WorkerSubnetIDs pulumi.StringArrayInput // private, one per AZ
	SecurityGroupID pulumi.StringInput      // 5000 from the ALB, Swarm ports between nodes
	TargetGroupArn  pulumi.StringInput      // the ALB's swarm target group
	Replicas        int                     // docker service replicas
	Workers         int                     // worker instances; 0 for none

	DNSSuffix        string // for the instance roles' trust
	LogRetentionDays int
	DependsOn        []pulumi.Resource // EFS mount targets
	NamePrefix       string
	Tags             map[string]string
}

// Swarm is the manager and, when asked for, the workers.
type Swarm struct {
	pulumi.ResourceState

	ManagerPublicIP    pulumi.StringOutput // the Elastic IP
	ManagerPrivateIP   pulumi.StringOutput
	ManagerInstanceID  pulumi.StringOutput
	JoinTokenParameter pulumi.StringOutput // SSM parameter name
	ImageParameter     pulumi.StringOutput // SSM parameter name; its value is Service.ImageRef
	WorkerASGName      pulumi.StringOutput // "" without workers
	LogGroupName       pulumi.StringOutput
}

// New declares the swarm.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Swarm, error) {
	s := &Swarm{}
	if err := ctx.RegisterComponentResource("bookstore:swarm:Swarm", name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)

	logs, err := cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	s.LogGroupName = logs.Name

	// Declared here so `pulumi destroy` removes it and IAM can name it; its value
	// belongs to the manager, which overwrites the placeholder at boot.
	token, err := ssm.NewParameter(ctx, name+"-join-token", &ssm.ParameterArgs{
		Type:        pulumi.String("SecureString"),
		Value:       pulumi.String(TokenPlaceholder),
		Description: pulumi.String("Docker Swarm worker join token, written by the manager at boot"),
		Tags:        tags.Of(args.Tags),
	}, parent, pulumi.IgnoreChanges([]string{"value"}))
	if err != nil {
		return nil, err
	}
	s.JoinTokenParameter = token.Name

	// Pulumi updates it in place on each deploy; hosts read it (see the package
	// comment), so it is not a replacement of anything.
	image, err := ssm.NewParameter(ctx, name+"-image", &ssm.ParameterArgs{
		Type: pulumi.String("String"),
		Tier: pulumi.String("Standard"),
		// Not a secret, so previews and diffs show which image a deploy rolls out.
		InsecureValue: args.Service.ImageRef,
		Description:   pulumi.String("The image the Docker Swarm service runs (repo@sha256:...), rolled out by the manager"),
		Tags:          tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	s.ImageParameter = image.Name
	readImage := hostrole.Grant{Sid: "ReadImageParameter", Actions: []string{"ssm:GetParameter"}, Resource: image.Arn}

	base := []hostrole.Grant{
		hostrole.SecretRead(args.Service.DBSecretArn), // tasks run on every node
		hostrole.EFSMount(args.Service.FileSystemArn, args.Service.AccessPointArn),
	}
	managerRole, err := hostrole.New(ctx, name+"-manager", hostrole.Args{
		DNSSuffix: args.DNSSuffix, Tags: args.Tags,
		RepositoryArn: args.Service.RepositoryArn, LogGroupArn: logs.Arn,
		Grants: append(base[:2:2], readImage, hostrole.Grant{
			Sid: "StoreJoinToken", Actions: []string{"ssm:PutParameter"}, Resource: token.Arn,
		}),
	}, parent)
	if err != nil {
		return nil, err
	}

	managerTags := tags.Named(args.Tags, args.NamePrefix+"-swarm-manager")
	managerData := args.Service.RenderWithoutImage(logs.Name,
		[]pulumi.StringInput{token.Name, image.Name, args.Service.RepositoryURL},
		func(svc userdata.Service, efs userdata.EFS, extra []string) (string, error) {
			return userdata.RenderSwarmManager(userdata.SwarmManager{
				Service: svc, EFS: efs, Replicas: args.Replicas,
				JoinTokenParameter: extra[0], ImageParameter: extra[1], Repository: extra[2],
			})
		})
	manager, err := ec2.NewInstance(ctx, name+"-manager", &ec2.InstanceArgs{
		Ami:                 pulumi.String(args.AMI),
		InstanceType:        pulumi.String(args.InstanceType),
		CreditSpecification: host.InstanceCredits(args.InstanceType),
		SubnetId:            args.ManagerSubnetID,
		VpcSecurityGroupIds: pulumi.StringArray{args.SecurityGroupID},
		// A public address from the first boot (package installs), before the
		// Elastic IP is associated.
		AssociatePublicIpAddress: pulumi.Bool(true),
		IamInstanceProfile:       managerRole.InstanceProfile,
		MetadataOptions:          host.InstanceMetadata(),
		RootBlockDevice:          host.InstanceRoot(managerTags),
		UserDataBase64:           host.Encode(managerData),
		// cloud-init runs once per instance: new user data needs a new one. A new
		// image is not new user data (the rollout timer applies it).
		UserDataReplaceOnChange: pulumi.Bool(true),
		Tags:                    managerTags,
	}, parent, pulumi.DependsOn(slices.Concat(args.DependsOn, []pulumi.Resource{managerRole.Policy})),
		// A newer Amazon Linux AMI alone must not replace the manager (and its swarm).
		pulumi.IgnoreChanges([]string{"ami"}))
	if err != nil {
		return nil, err
	}
	s.ManagerPrivateIP = manager.PrivateIp
	s.ManagerInstanceID = manager.ID().ToStringOutput()

	eip, err := ec2.NewEip(ctx, name+"-manager", &ec2.EipArgs{
		Domain:   pulumi.String("vpc"),
		Instance: manager.ID(),
		Tags:     managerTags,
	}, parent)
	if err != nil {
		return nil, err
	}
	s.ManagerPublicIP = eip.PublicIp

	if _, err := lb.NewTargetGroupAttachment(ctx, name+"-manager", &lb.TargetGroupAttachmentArgs{
		TargetGroupArn: args.TargetGroupArn,
		TargetId:       manager.ID(),
		Port:           pulumi.Int(userdata.ServicePort),
	}, parent,
		// Same target twice would be one registration: creating the new attachment
		// first and then deleting the old one would deregister it.
		pulumi.DeleteBeforeReplace(true)); err != nil {
		return nil, err
	}

	s.WorkerASGName = pulumi.String("").ToStringOutput()
	if args.Workers > 0 {
		if s.WorkerASGName, err = workers(ctx, name, args, token, image, manager, logs, append(base, readImage), parent); err != nil {
			return nil, err
		}
	}

	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{
		"managerPublicIp":    s.ManagerPublicIP,
		"joinTokenParameter": s.JoinTokenParameter,
		"imageParameter":     s.ImageParameter,
		"workerAsgName":      s.WorkerASGName,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// workers declares the worker group; base are the grants it shares with the
// manager.
func workers(ctx *pulumi.Context, name string, args Args, token, image *ssm.Parameter, manager *ec2.Instance,
	logs *cloudwatch.LogGroup, base []hostrole.Grant, parent pulumi.ResourceOption,
) (pulumi.StringOutput, error) {
	role, err := hostrole.New(ctx, name+"-worker", hostrole.Args{
		DNSSuffix: args.DNSSuffix, Tags: args.Tags,
		RepositoryArn: args.Service.RepositoryArn, LogGroupArn: logs.Arn,
		Grants: append(slices.Clip(base), hostrole.Grant{
			Sid: "ReadJoinToken", Actions: []string{"ssm:GetParameter"}, Resource: token.Arn,
		}),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	data := args.Service.RenderWithoutImage(logs.Name,
		[]pulumi.StringInput{token.Name, manager.PrivateIp, image.Name, args.Service.RepositoryURL},
		func(svc userdata.Service, efs userdata.EFS, extra []string) (string, error) {
			return userdata.RenderSwarmWorker(userdata.SwarmWorker{
				Region: svc.Region, EFS: efs,
				JoinTokenParameter: extra[0], ManagerAddress: extra[1],
				ImageParameter: extra[2], Repository: extra[3],
			})
		})
	hostTags := tags.Named(args.Tags, args.NamePrefix+"-swarm-worker")
	lt, err := ec2.NewLaunchTemplate(ctx, name+"-worker", &ec2.LaunchTemplateArgs{
		ImageId:              pulumi.String(args.AMI),
		InstanceType:         pulumi.String(args.InstanceType),
		CreditSpecification:  host.LaunchTemplateCredits(args.InstanceType),
		IamInstanceProfile:   ec2.LaunchTemplateIamInstanceProfileArgs{Arn: role.InstanceProfileArn},
		VpcSecurityGroupIds:  pulumi.StringArray{args.SecurityGroupID},
		MetadataOptions:      host.LaunchTemplateMetadata(),
		BlockDeviceMappings:  host.LaunchTemplateRoot(),
		UserData:             host.Encode(data),
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications:    host.TagSpecifications(hostTags),
		Tags:                 tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	asg, err := autoscaling.NewGroup(ctx, name+"-worker", &autoscaling.GroupArgs{
		VpcZoneIdentifiers: args.WorkerSubnetIDs,
		MinSize:            pulumi.Int(args.Workers),
		MaxSize:            pulumi.Int(args.Workers),
		LaunchTemplate: autoscaling.GroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput),
		},
		// The routing mesh answers on 5000 on every node, so workers serve the
		// swarm target group too.
		TargetGroupArns:        pulumi.StringArray{args.TargetGroupArn},
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(HealthCheckGracePeriod),
		InstanceRefresh: autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(100),
				MaxHealthyPercentage: pulumi.Int(200),
				SkipMatching:         pulumi.Bool(true), // as the fleet's
			},
		},
		Tags: host.GroupTags(hostTags),
	}, parent, pulumi.DependsOn(slices.Concat(args.DependsOn, []pulumi.Resource{role.Policy})),
		pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return asg.Name, nil
}
