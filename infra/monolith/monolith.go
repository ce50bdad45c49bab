// Package monolith declares the original's first scenario, kept for comparison:
// one EC2 instance with an Elastic IP running NGINX (TLS from Let's Encrypt for
// legacy.<domain>), the bookstore container and a local MySQL container, with its
// own security group and a Route 53 A record.
package monolith

import (
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/host"
	"github.com/bookstore-aws/bookstore/infra/hostrole"
	"github.com/bookstore-aws/bookstore/infra/tags"
	"github.com/bookstore-aws/bookstore/infra/userdata"
)

// Args configures the monolith.
type Args struct {
	Domain           string // apex; the host is legacy.<Domain>
	ZoneID           pulumi.StringInput
	ImageRef         pulumi.StringOutput
	RepositoryArn    pulumi.StringOutput // the ECR repository ImageRef is in
	Region           string
	AdminEmails      []string
	LetsEncryptEmail string // ACME contact; may be ""
	LogLevel         string

	AMI          string
	InstanceType string
	VpcID        pulumi.StringInput
	SubnetID     pulumi.StringInput // public

	DNSSuffix        string // for the instance role's trust
	LogRetentionDays int
	DependsOn        []pulumi.Resource // the public subnet's routing: the first boot installs packages
	NamePrefix       string
	Tags             map[string]string
}

// Monolith is the instance and its name.
type Monolith struct {
	pulumi.ResourceState

	URL      pulumi.StringOutput // https://legacy.<domain>
	PublicIP pulumi.StringOutput
}

// Hostname is the monolith's name under domain.
func Hostname(domain string) string { return "legacy." + domain }

// New declares the monolith.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Monolith, error) {
	m := &Monolith{}
	if err := ctx.RegisterComponentResource("bookstore:monolith:Monolith", name, m, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(m)
	hostname := Hostname(args.Domain)
	hostTags := tags.Named(args.Tags, args.NamePrefix+"-monolith")

	anyV4, anyV6 := pulumi.StringArray{pulumi.String("0.0.0.0/0")}, pulumi.StringArray{pulumi.String("::/0")}
	sg, err := ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("Bookstore monolith: HTTP (ACME HTTP-01, redirect) and HTTPS from anywhere"),
		Ingress: ec2.SecurityGroupIngressArray{
			ec2.SecurityGroupIngressArgs{Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(80), ToPort: pulumi.Int(80),
				CidrBlocks: anyV4, Ipv6CidrBlocks: anyV6, Description: pulumi.String("HTTP: ACME HTTP-01 challenges and redirect to HTTPS")},
			ec2.SecurityGroupIngressArgs{Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
				CidrBlocks: anyV4, Ipv6CidrBlocks: anyV6, Description: pulumi.String("HTTPS")},
		},
		// HTTPS only: ACME, ECR, Docker Hub (the MySQL image), AWS APIs, packages.
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: anyV4, Ipv6CidrBlocks: anyV6, Description: pulumi.String("HTTPS"),
		}},
		Tags: hostTags,
	}, parent)
	if err != nil {
		return nil, err
	}

	logs, err := cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		Tags:            tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	// No database secret, no EFS: the monolith keeps both on its own disk.
	role, err := hostrole.New(ctx, name, hostrole.Args{
		DNSSuffix: args.DNSSuffix, RepositoryArn: args.RepositoryArn, LogGroupArn: logs.Arn, Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	data := pulumi.All(args.ImageRef, logs.Name).ApplyT(func(v []any) (string, error) {
		return userdata.RenderMonolith(userdata.Monolith{
			ImageRef: v[0].(string), Region: args.Region, Hostname: hostname, AdminEmails: args.AdminEmails,
			LetsEncryptEmail: args.LetsEncryptEmail, LogGroup: v[1].(string), LogLevel: args.LogLevel,
		})
	}).(pulumi.StringOutput)
	inst, err := ec2.NewInstance(ctx, name, &ec2.InstanceArgs{
		Ami:                      pulumi.String(args.AMI),
		InstanceType:             pulumi.String(args.InstanceType),
		SubnetId:                 args.SubnetID,
		VpcSecurityGroupIds:      pulumi.StringArray{sg.ID()},
		AssociatePublicIpAddress: pulumi.Bool(true),
		IamInstanceProfile:       role.InstanceProfile,
		MetadataOptions:          host.InstanceMetadata(),
		RootBlockDevice:          host.InstanceRoot(hostTags),
		UserDataBase64:           host.Encode(data),
		Tags:                     hostTags,
	}, parent, pulumi.DependsOn(slices.Concat(args.DependsOn, []pulumi.Resource{role.Policy})),
		// Its MySQL lives on this instance's disk: a new AMI or image must not replace
		// it behind the user's back. `pulumi up --replace <urn>` rebuilds it, empty.
		pulumi.IgnoreChanges([]string{"ami", "userDataBase64"}))
	if err != nil {
		return nil, err
	}
	eip, err := ec2.NewEip(ctx, name, &ec2.EipArgs{
		Domain:   pulumi.String("vpc"),
		Instance: inst.ID(),
		Tags:     hostTags,
	}, parent)
	if err != nil {
		return nil, err
	}
	m.PublicIP = eip.PublicIp

	if _, err := route53.NewRecord(ctx, name+"-legacy", &route53.RecordArgs{
		ZoneId:  args.ZoneID,
		Name:    pulumi.String(hostname),
		Type:    pulumi.String("A"),
		Ttl:     pulumi.Int(300),
		Records: pulumi.StringArray{eip.PublicIp},
	}, parent, pulumi.DeleteBeforeReplace(true)); err != nil {
		return nil, err
	}
	m.URL = pulumi.String("https://" + hostname).ToStringOutput()

	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{"url": m.URL, "publicIp": m.PublicIP}); err != nil {
		return nil, err
	}
	return m, nil
}
