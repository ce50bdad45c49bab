// Package host holds what every bookstore host shares, whichever component
// declares it: the service's inputs (resolved into user data by the renderers in
// infra/userdata), instance metadata options and the root volume.
package host

import (
	"encoding/base64"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// RootVolumeGiB is each host's root volume: Amazon Linux, docker and a few image
// versions. DeviceName is Amazon Linux 2023's root device.
const (
	RootVolumeGiB = 20
	DeviceName    = "/dev/xvda"
)

// Service is what every bookstore container needs, as outputs of the components
// below the hosts (docs/architecture.md, the contract, "the service's side").
type Service struct {
	ImageRef       pulumi.StringOutput // repo@sha256:...
	RepositoryURL  pulumi.StringOutput // the ECR repository ImageRef is in, "<registry>/<name>"
	RepositoryArn  pulumi.StringOutput
	DBHost         pulumi.StringOutput // RDS address, no port
	DBSecretArn    pulumi.StringOutput
	FileSystemID   pulumi.StringOutput
	FileSystemArn  pulumi.StringOutput
	AccessPointID  pulumi.StringOutput
	AccessPointArn pulumi.StringOutput

	Region      string // e.g. eu-west-1
	DBPort      int
	DBName      string
	AdminEmails []string
	LogLevel    string // debug, info, warn, error
}

// RenderFunc renders a host's user data from the resolved service, file
// system and extra values (in the order they were passed).
type RenderFunc func(svc userdata.Service, efs userdata.EFS, extra []string) (string, error)

// Render resolves the service's inputs, the host's log group and any extra string
// outputs, then calls render. The result is the user data as render returns it.
func (s Service) Render(logGroup pulumi.StringInput, extra []pulumi.StringInput, render RenderFunc) pulumi.StringOutput {
	return s.render(true, logGroup, extra, render)
}

// RenderWithoutImage is Render with svc.ImageRef left empty. It never waits
// on ImageRef, so its result stays known in a preview that builds a new
// image, and a new image cannot change it.
func (s Service) RenderWithoutImage(logGroup pulumi.StringInput, extra []pulumi.StringInput, render RenderFunc) pulumi.StringOutput {
	return s.render(false, logGroup, extra, render)
}

func (s Service) render(withImage bool, logGroup pulumi.StringInput, extra []pulumi.StringInput, render RenderFunc) pulumi.StringOutput {
	image := pulumi.String("").ToStringOutput()
	if withImage {
		image = s.ImageRef
	}
	in := []any{image, s.DBHost, s.DBSecretArn, s.FileSystemID, s.AccessPointID, logGroup}
	for _, e := range extra {
		in = append(in, e)
	}
	return pulumi.All(in...).ApplyT(func(v []any) (string, error) {
		str := make([]string, len(v))
		for i := range v {
			str[i] = v[i].(string)
		}
		svc := userdata.Service{
			ImageRef: str[0], Region: s.Region, DBHost: str[1], DBPort: s.DBPort, DBName: s.DBName,
			DBSecretARN: str[2], AdminEmails: s.AdminEmails, LogGroup: str[5], LogLevel: s.LogLevel,
		}
		return render(svc, userdata.EFS{FileSystemID: str[3], AccessPointID: str[4]}, str[6:])
	}).(pulumi.StringOutput)
}

// Encode turns a rendered document into what EC2 takes: gzip-compressed
// (userdata.Gzip), then base64. Launch templates take it as UserData,
// instances as UserDataBase64.
func Encode(userData pulumi.StringOutput) pulumi.StringOutput {
	return userData.ApplyT(func(s string) string {
		return base64.StdEncoding.EncodeToString(userdata.Gzip(s))
	}).(pulumi.StringOutput)
}

// IMDSv2 only (no token-less IMDSv1), and a hop limit of 2 so containers, one
// network hop further than the host, can still reach it for role credentials.
const (
	HTTPTokens   = "required"
	HopLimit     = 2
	HTTPEndpoint = "enabled"
)

// LaunchTemplateMetadata is the metadata options of a launch template.
func LaunchTemplateMetadata() ec2.LaunchTemplateMetadataOptionsArgs {
	return ec2.LaunchTemplateMetadataOptionsArgs{
		HttpEndpoint:            pulumi.String(HTTPEndpoint),
		HttpTokens:              pulumi.String(HTTPTokens),
		HttpPutResponseHopLimit: pulumi.Int(HopLimit),
	}
}

// InstanceMetadata is the same for a lone instance.
func InstanceMetadata() ec2.InstanceMetadataOptionsArgs {
	return ec2.InstanceMetadataOptionsArgs{
		HttpEndpoint:            pulumi.String(HTTPEndpoint),
		HttpTokens:              pulumi.String(HTTPTokens),
		HttpPutResponseHopLimit: pulumi.Int(HopLimit),
	}
}

// LaunchTemplateRoot is an encrypted gp3 root volume for a launch template.
func LaunchTemplateRoot() ec2.LaunchTemplateBlockDeviceMappingArray {
	return ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
		DeviceName: pulumi.String(DeviceName),
		Ebs: ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
			VolumeType:          pulumi.String("gp3"),
			VolumeSize:          pulumi.Int(RootVolumeGiB),
			Encrypted:           pulumi.String("true"),
			DeleteOnTermination: pulumi.String("true"),
		},
	}}
}

// InstanceRoot is the same for a lone instance.
func InstanceRoot(tags pulumi.StringMap) ec2.InstanceRootBlockDeviceArgs {
	return ec2.InstanceRootBlockDeviceArgs{
		VolumeType:          pulumi.String("gp3"),
		VolumeSize:          pulumi.Int(RootVolumeGiB),
		Encrypted:           pulumi.Bool(true),
		DeleteOnTermination: pulumi.Bool(true),
		Tags:                tags,
	}
}

// TagSpecifications tags what a launch template launches: instances and volumes.
func TagSpecifications(tags pulumi.StringMap) ec2.LaunchTemplateTagSpecificationArray {
	return ec2.LaunchTemplateTagSpecificationArray{
		ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: tags},
		ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: tags},
	}
}

// GroupTags turns tags into Auto Scaling group tags propagated to its instances,
// sorted by key: a map's random order would show as a change on every run.
func GroupTags(tags pulumi.StringMap) autoscaling.GroupTagArray {
	var out autoscaling.GroupTagArray
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: tags[k], PropagateAtLaunch: pulumi.Bool(true)})
	}
	return out
}
