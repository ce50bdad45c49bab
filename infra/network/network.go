// Package network declares the VPC the bookstore runs in: public and private subnets
// over azCount Availability Zones, the internet and NAT gateways, route tables, and
// the security groups every other component attaches to.
package network

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// VPCCIDR is the VPC's IPv4 range. Public subnet i is 10.0.i.0/24 (ALB, NAT, Swarm
// manager); private subnet i is 10.0.16*(i+1).0/20 (instances, RDS, EFS), 4091 usable
// addresses each.
const VPCCIDR = "10.0.0.0/16"

// Args configures the network.
type Args struct {
	AZCount    int               // Availability Zones used: 2 or 3 (config azCount)
	NATPerAZ   bool              // one NAT gateway per AZ instead of one in the first
	Swarm      bool              // declare the Swarm nodes' security group (config swarm)
	Tags       map[string]string // stack-wide tags
	NamePrefix string            // prefix of Name tags, e.g. "bookstore-dev"
}

// Network is the VPC with its subnets and security groups.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.IDOutput
	AZs              []string                 // zone names, in subnet order
	PublicSubnetIDs  pulumi.StringArrayOutput // one per AZ, dual-stack
	PrivateSubnetIDs pulumi.StringArrayOutput // one per AZ, IPv4, egress through NAT
	PublicSubnets    []pulumi.StringOutput    // the same ids one by one, for per-AZ resources
	PrivateSubnets   []pulumi.StringOutput

	// PublicRouting is what makes the public subnets reach the internet: the
	// internet gateway (attached to the VPC), the public route table and its
	// subnet associations. Anything that needs the internet from a public
	// subnet depends on it: an internet-facing ALB fails with InvalidSubnet
	// ("VPC ... has no internet gateway") when created before the gateway is
	// attached (CloudFormation's DependsOn attribute documentation lists ELB
	// among such resources), and a host booting there needs it for packages.
	PublicRouting []pulumi.Resource
	// PrivateRouting is the same for the private subnets: the NAT gateways,
	// the private route tables and their associations. Hosts there pull
	// images and call AWS APIs at first boot.
	PrivateRouting []pulumi.Resource

	// Security groups. None admits SSH: hosts are reached with SSM Session Manager.
	AlbSG   pulumi.IDOutput // 80, 443 from anywhere
	AppSG   pulumi.IDOutput // 5000 from AlbSG
	SwarmSG pulumi.IDOutput // 5000 from AlbSG; Swarm control/overlay ports from itself; zero without Args.Swarm
	DBSG    pulumi.IDOutput // 3306 from AppSG (and SwarmSG)
	EFSSG   pulumi.IDOutput // 2049 from AppSG (and SwarmSG)
}

// New declares the network. It fails when the region has fewer than AZCount
// Availability Zones without opt-in.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Network, error) {
	if args.AZCount < 2 || args.AZCount > 3 {
		return nil, fmt.Errorf("network: AZCount %d outside 2-3", args.AZCount)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource("bookstore:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)

	// Opt-in zones (Local Zones, Wavelength) lack services the stack needs (RDS, EFS).
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		Filters: []aws.GetAvailabilityZonesFilter{
			{Name: "opt-in-status", Values: []string{"opt-in-not-required"}},
		},
	}, pulumi.Parent(n))
	if err != nil {
		return nil, fmt.Errorf("network: listing Availability Zones: %w", err)
	}
	if len(zones.Names) < args.AZCount {
		return nil, fmt.Errorf("bookstore:azCount: %d, but the region has only %d Availability Zones (%v)",
			args.AZCount, len(zones.Names), zones.Names)
	}
	n.AZs = zones.Names[:args.AZCount]

	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:                    pulumi.String(VPCCIDR),
		EnableDnsSupport:             pulumi.Bool(true), // RDS and EFS endpoints are DNS names
		EnableDnsHostnames:           pulumi.Bool(true),
		AssignGeneratedIpv6CidrBlock: pulumi.Bool(true), // a dual-stack ALB, so AAAA records work
		Tags:                         tags.Named(args.Tags, args.NamePrefix),
	}, parent)
	if err != nil {
		return nil, err
	}
	n.VpcID = vpc.ID()

	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tags.Named(args.Tags, args.NamePrefix),
	}, parent)
	if err != nil {
		return nil, err
	}

	n.PublicRouting = append(n.PublicRouting, igw)
	publicRT, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{
			ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()},
			ec2.RouteTableRouteArgs{Ipv6CidrBlock: pulumi.String("::/0"), GatewayId: igw.ID()},
		},
		Tags: tags.Named(args.Tags, args.NamePrefix+"-public"),
	}, parent)
	if err != nil {
		return nil, err
	}
	n.PublicRouting = append(n.PublicRouting, publicRT)

	var public, private pulumi.StringArray
	var nats []*ec2.NatGateway
	for i, az := range n.AZs {
		suffix := az[len(az)-1:] // "a" of eu-west-1a
		sub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%s", name, suffix), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			AvailabilityZone: pulumi.String(az),
			CidrBlock:        pulumi.String(fmt.Sprintf("10.0.%d.0/24", i)),
			Ipv6CidrBlock: vpc.Ipv6CidrBlock.ApplyT(func(block string) (string, error) {
				return IPv6Subnet(block, i)
			}).(pulumi.StringOutput),
			// Only the Swarm manager and NAT live here and they get Elastic IPs; nothing
			// else should get a public address by accident.
			MapPublicIpOnLaunch:         pulumi.Bool(false),
			AssignIpv6AddressOnCreation: pulumi.Bool(false),
			Tags:                        tags.Named(args.Tags, fmt.Sprintf("%s-public-%s", args.NamePrefix, suffix)),
		}, parent)
		if err != nil {
			return nil, err
		}
		assoc, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%s", name, suffix), &ec2.RouteTableAssociationArgs{
			SubnetId:     sub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent, pulumi.DeleteBeforeReplace(true)) // a subnet has one association
		if err != nil {
			return nil, err
		}
		n.PublicRouting = append(n.PublicRouting, assoc)
		public = append(public, sub.ID())
		n.PublicSubnets = append(n.PublicSubnets, sub.ID().ToStringOutput())

		if i == 0 || args.NATPerAZ {
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%s", name, suffix), &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   tags.Named(args.Tags, fmt.Sprintf("%s-nat-%s", args.NamePrefix, suffix)),
			}, parent)
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-%s", name, suffix), &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     sub.ID(),
				Tags:         tags.Named(args.Tags, fmt.Sprintf("%s-%s", args.NamePrefix, suffix)),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, err
			}
			nats = append(nats, nat)
			n.PrivateRouting = append(n.PrivateRouting, nat)
		}
	}
	for i, az := range n.AZs {
		suffix := az[len(az)-1:]
		nat := nats[0]
		if args.NATPerAZ {
			nat = nats[i]
		}
		// One route table per AZ even with a single NAT, so switching to perAz only
		// changes routes, not associations.
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-%s", name, suffix), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Routes: ec2.RouteTableRouteArray{
				ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID()},
			},
			Tags: tags.Named(args.Tags, fmt.Sprintf("%s-private-%s", args.NamePrefix, suffix)),
		}, parent)
		if err != nil {
			return nil, err
		}
		sub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%s", name, suffix), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			AvailabilityZone: pulumi.String(az),
			CidrBlock:        pulumi.String(fmt.Sprintf("10.0.%d.0/20", 16*(i+1))),
			Tags:             tags.Named(args.Tags, fmt.Sprintf("%s-private-%s", args.NamePrefix, suffix)),
		}, parent)
		if err != nil {
			return nil, err
		}
		assoc, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%s", name, suffix), &ec2.RouteTableAssociationArgs{
			SubnetId:     sub.ID(),
			RouteTableId: rt.ID(),
		}, parent, pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, err
		}
		n.PrivateRouting = append(n.PrivateRouting, rt, assoc)
		private = append(private, sub.ID())
		n.PrivateSubnets = append(n.PrivateSubnets, sub.ID().ToStringOutput())
	}
	n.PublicSubnetIDs = public.ToStringArrayOutput()
	n.PrivateSubnetIDs = private.ToStringArrayOutput()

	if err := n.securityGroups(ctx, name, vpc, args, parent); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	}); err != nil {
		return nil, err
	}
	return n, nil
}

var (
	anyIPv4 = pulumi.StringArray{pulumi.String("0.0.0.0/0")}
	anyIPv6 = pulumi.StringArray{pulumi.String("::/0")}
)

func tcp(port int, desc string) ec2.SecurityGroupIngressArgs {
	return ec2.SecurityGroupIngressArgs{
		Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(port), ToPort: pulumi.Int(port),
		Description: pulumi.String(desc),
	}
}

func udp(port int, desc string) ec2.SecurityGroupIngressArgs {
	r := tcp(port, desc)
	r.Protocol = pulumi.String("udp")
	return r
}

func from(r ec2.SecurityGroupIngressArgs, sgs ...pulumi.IDOutput) ec2.SecurityGroupIngressArgs {
	var ids pulumi.StringArray
	for _, sg := range sgs {
		ids = append(ids, sg.ToStringOutput())
	}
	r.SecurityGroups = ids
	return r
}

// hostEgress is what a bookstore host sends: HTTPS to AWS APIs (ECR, S3, SSM,
// Secrets Manager, CloudWatch) and package mirrors through NAT, MySQL and NFS inside
// the VPC. The VPC resolver, instance metadata and Time Sync are link-local or
// reserved addresses security groups do not filter. Data-store groups are named by
// CIDR, not id: their ingress already names these groups, and a reference back
// would be a cycle.
func hostEgress(extra ...ec2.SecurityGroupEgressArgs) ec2.SecurityGroupEgressArray {
	out := ec2.SecurityGroupEgressArray{
		ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: anyIPv4, Ipv6CidrBlocks: anyIPv6, Description: pulumi.String("HTTPS: AWS APIs, ECR, packages"),
		},
		ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(3306), ToPort: pulumi.Int(3306),
			CidrBlocks: pulumi.StringArray{pulumi.String(VPCCIDR)}, Description: pulumi.String("MySQL (RDS)"),
		},
		ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(2049), ToPort: pulumi.Int(2049),
			CidrBlocks: pulumi.StringArray{pulumi.String(VPCCIDR)}, Description: pulumi.String("NFS (EFS mount targets)"),
		},
	}
	for _, e := range extra {
		out = append(out, e)
	}
	return out
}

// selfEgress mirrors a self-referencing ingress rule: Swarm nodes talk to each other.
func selfEgress(proto string, port int, desc string) ec2.SecurityGroupEgressArgs {
	return ec2.SecurityGroupEgressArgs{
		Protocol: pulumi.String(proto), FromPort: pulumi.Int(port), ToPort: pulumi.Int(port),
		Self: pulumi.Bool(true), Description: pulumi.String(desc),
	}
}

func (n *Network) securityGroups(ctx *pulumi.Context, name string, vpc *ec2.Vpc, args Args, parent pulumi.ResourceOption) error {
	sg := func(role, desc string, ingress ec2.SecurityGroupIngressArray, egress ec2.SecurityGroupEgressArray) (pulumi.IDOutput, error) {
		g, err := ec2.NewSecurityGroup(ctx, name+"-"+role, &ec2.SecurityGroupArgs{
			VpcId:       vpc.ID(),
			Description: pulumi.String(desc),
			Ingress:     ingress,
			Egress:      egress, // an empty list removes AWS's default allow-all egress
			Tags:        tags.Named(args.Tags, args.NamePrefix+"-"+role),
		}, parent)
		if err != nil {
			return pulumi.IDOutput{}, err
		}
		return g.ID(), nil
	}
	var err error
	http, https := tcp(80, "HTTP from anywhere (redirects to HTTPS)"), tcp(443, "HTTPS from anywhere")
	http.CidrBlocks, http.Ipv6CidrBlocks = anyIPv4, anyIPv6
	https.CidrBlocks, https.Ipv6CidrBlocks = anyIPv4, anyIPv6
	if n.AlbSG, err = sg("alb", "Bookstore ALB: HTTP and HTTPS from the internet",
		ec2.SecurityGroupIngressArray{http, https},
		ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(5000), ToPort: pulumi.Int(5000),
			CidrBlocks: pulumi.StringArray{pulumi.String(VPCCIDR)}, Description: pulumi.String("to targets on 5000"),
		}}); err != nil {
		return err
	}
	if n.AppSG, err = sg("app", "Bookstore ASG instances: 5000 from the ALB",
		ec2.SecurityGroupIngressArray{from(tcp(5000, "service from the ALB"), n.AlbSG)}, hostEgress()); err != nil {
		return err
	}
	self := func(r ec2.SecurityGroupIngressArgs) ec2.SecurityGroupIngressArgs {
		r.Self = pulumi.Bool(true)
		return r
	}
	// The data stores admit the hosts there are. Their groups' descriptions
	// name the Swarm either way: EC2 cannot change a description without
	// replacing the group.
	hosts := []pulumi.IDOutput{n.AppSG}
	if args.Swarm {
		if n.SwarmSG, err = sg("swarm", "Bookstore Swarm nodes: 5000 from the ALB, Swarm ports between nodes",
			ec2.SecurityGroupIngressArray{
				from(tcp(5000, "routing mesh from the ALB"), n.AlbSG),
				self(tcp(2377, "Swarm cluster management")),
				self(tcp(7946, "Swarm node communication")),
				self(udp(7946, "Swarm node communication")),
				self(udp(4789, "Swarm overlay network (VXLAN)")),
			}, hostEgress(
				selfEgress("tcp", 2377, "Swarm cluster management"),
				selfEgress("tcp", 7946, "Swarm node communication"),
				selfEgress("udp", 7946, "Swarm node communication"),
				selfEgress("udp", 4789, "Swarm overlay network (VXLAN)"),
			)); err != nil {
			return err
		}
		hosts = append(hosts, n.SwarmSG)
	}
	if n.DBSG, err = sg("db", "Bookstore RDS: MySQL from app and Swarm hosts",
		ec2.SecurityGroupIngressArray{from(tcp(3306, "MySQL from app and Swarm hosts"), hosts...)},
		ec2.SecurityGroupEgressArray{}); err != nil {
		return err
	}
	if n.EFSSG, err = sg("efs", "Bookstore EFS: NFS from app and Swarm hosts",
		ec2.SecurityGroupIngressArray{from(tcp(2049, "NFS from app and Swarm hosts"), hosts...)},
		ec2.SecurityGroupEgressArray{}); err != nil {
		return err
	}
	return nil
}

// IPv6Subnet returns the index-th /64 of a VPC's Amazon-provided /56, e.g.
// ("2600:1f18:abc:de00::/56", 1) -> "2600:1f18:abc:de01::/64". An empty block
// (unknown during preview) yields "".
func IPv6Subnet(block string, index int) (string, error) {
	if block == "" {
		return "", nil
	}
	p, err := netip.ParsePrefix(block)
	if err != nil || !p.Addr().Is6() || p.Bits() != 56 {
		return "", fmt.Errorf("network: VPC IPv6 block %q is not an IPv6 /56", block)
	}
	if index < 0 || index > 255 {
		return "", fmt.Errorf("network: IPv6 subnet index %d outside a /56 (0-255)", index)
	}
	a := p.Masked().Addr().As16()
	a[7] = byte(index) // bits 56-63
	return netip.PrefixFrom(netip.AddrFrom16(a), 64).String(), nil
}
