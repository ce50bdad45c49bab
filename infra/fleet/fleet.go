// Package fleet declares the bookstore's Auto Scaling group: its instance role,
// launch template (IMDSv2, encrypted root, cloud-init user data that runs the image
// digest), the group itself registered in the app target group, CPU target
// tracking and the log group the containers write to.
package fleet

import (
	"slices"

	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/host"
	"github.com/bookstore-aws/bookstore/infra/hostrole"
	"github.com/bookstore-aws/bookstore/infra/tags"
	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// HealthCheckGracePeriod (seconds) covers a cold boot: packages, the compose
// plugin, the EFS mount, the image pull and the service's first /healthz.
const HealthCheckGracePeriod = 300

// GroupMetrics are published so alarms can see the group (e.g. at its maximum).
var GroupMetrics = []string{
	"GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances", "GroupTotalInstances",
}

// Args configures the fleet.
type Args struct {
	Service         host.Service
	AMI             string // x86_64 Amazon Linux 2023
	InstanceType    string
	SubnetIDs       pulumi.StringArrayInput // private, one per AZ
	SecurityGroupID pulumi.StringInput      // admits 5000 from the ALB only
	TargetGroupArn  pulumi.StringInput      // the ALB's app target group
	MinSize         int
	MaxSize         int
	CPUTarget       int // average CPU percent target tracking holds

	DNSSuffix        string // for the instance role's trust (aws.GetPartition)
	LogRetentionDays int
	// DependsOn holds back the first instances until these exist (EFS mount targets).
	DependsOn  []pulumi.Resource
	NamePrefix string
	Tags       map[string]string
}

// Fleet is the group and what observes it.
type Fleet struct {
	pulumi.ResourceState

	ASGName          pulumi.StringOutput
	LaunchTemplateID pulumi.StringOutput
	LogGroupName     pulumi.StringOutput
	RoleArn          pulumi.StringOutput
}

// New declares the fleet.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Fleet, error) {
	f := &Fleet{}
	if err := ctx.RegisterComponentResource("bookstore:fleet:Fleet", name, f, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(f)

	logs, err := cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	f.LogGroupName = logs.Name

	role, err := hostrole.New(ctx, name, hostrole.Args{
		DNSSuffix: args.DNSSuffix, Tags: args.Tags,
		RepositoryArn: args.Service.RepositoryArn, LogGroupArn: logs.Arn,
		Grants: []hostrole.Grant{
			hostrole.SecretRead(args.Service.DBSecretArn),
			hostrole.EFSMount(args.Service.FileSystemArn, args.Service.AccessPointArn),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	f.RoleArn = role.RoleArn

	userData := args.Service.Render(logs.Name, nil, func(svc userdata.Service, efs userdata.EFS, _ []string) (string, error) {
		return userdata.RenderFleet(userdata.Fleet{Service: svc, EFS: efs})
	})
	hostTags := tags.Named(args.Tags, args.NamePrefix+"-app")
	lt, err := ec2.NewLaunchTemplate(ctx, name, &ec2.LaunchTemplateArgs{
		ImageId:              pulumi.String(args.AMI),
		InstanceType:         pulumi.String(args.InstanceType),
		CreditSpecification:  host.LaunchTemplateCredits(args.InstanceType),
		IamInstanceProfile:   ec2.LaunchTemplateIamInstanceProfileArgs{Arn: role.InstanceProfileArn},
		VpcSecurityGroupIds:  pulumi.StringArray{args.SecurityGroupID},
		MetadataOptions:      host.LaunchTemplateMetadata(),
		BlockDeviceMappings:  host.LaunchTemplateRoot(),
		UserData:             host.Encode(userData),
		UpdateDefaultVersion: pulumi.Bool(true),
		TagSpecifications:    host.TagSpecifications(hostTags),
		Tags:                 tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	f.LaunchTemplateID = lt.ID().ToStringOutput()

	asg, err := autoscaling.NewGroup(ctx, name, &autoscaling.GroupArgs{
		VpcZoneIdentifiers: args.SubnetIDs,
		MinSize:            pulumi.Int(args.MinSize),
		MaxSize:            pulumi.Int(args.MaxSize),
		// No DesiredCapacity: AWS starts at MinSize, and a deploy must not undo what
		// target tracking scaled out to.
		LaunchTemplate: autoscaling.GroupLaunchTemplateArgs{
			Id: lt.ID(),
			// The exact version, not "$Latest": a new image or user data is a new
			// version, which is a change to the group and starts an instance refresh.
			Version: lt.LatestVersion.ApplyT(func(v int) string { return strconv.Itoa(v) }).(pulumi.StringOutput),
		},
		TargetGroupArns:        pulumi.StringArray{args.TargetGroupArn},
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(HealthCheckGracePeriod),
		DefaultInstanceWarmup:  pulumi.Int(HealthCheckGracePeriod),
		InstanceRefresh: autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: autoscaling.GroupInstanceRefreshPreferencesArgs{
				// Launch before terminate: capacity never drops below what is serving.
				MinHealthyPercentage: pulumi.Int(100),
				MaxHealthyPercentage: pulumi.Int(200),
				InstanceWarmup:       pulumi.String(strconv.Itoa(HealthCheckGracePeriod)),
				// Instances already on the new version (launched by a scale-out during
				// the refresh, or by a refresh restarted by the next deploy) are kept.
				SkipMatching: pulumi.Bool(true),
				// No AutoRollback: the provider saves the new version on the group before
				// it starts the refresh, so a rollback would relaunch that same version
				// (docs/operating.md, "A rollout that fails").
			},
		},
		EnabledMetrics:         pulumi.ToStringArray(GroupMetrics),
		WaitForCapacityTimeout: pulumi.String("15m"),
		Tags:                   host.GroupTags(hostTags),
	}, parent, pulumi.DependsOn(slices.Concat(args.DependsOn, []pulumi.Resource{role.Policy})),
		pulumi.IgnoreChanges([]string{"desiredCapacity"}))
	if err != nil {
		return nil, err
	}
	f.ASGName = asg.Name

	if _, err := autoscaling.NewPolicy(ctx, name+"-cpu", &autoscaling.PolicyArgs{
		AutoscalingGroupName: asg.Name,
		PolicyType:           pulumi.String("TargetTrackingScaling"),
		TargetTrackingConfiguration: autoscaling.PolicyTargetTrackingConfigurationArgs{
			PredefinedMetricSpecification: autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs{
				PredefinedMetricType: pulumi.String("ASGAverageCPUUtilization"),
			},
			TargetValue: pulumi.Float64(float64(args.CPUTarget)),
		},
	}, parent); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{
		"asgName":      f.ASGName,
		"logGroupName": f.LogGroupName,
	}); err != nil {
		return nil, err
	}
	return f, nil
}
