// Package observability declares the stack's alarms and where they go: an SNS
// topic (with an e-mail subscription when one is configured) and CloudWatch
// alarms on ALB 5xx responses, unhealthy targets, RDS CPU and free storage, and
// the Auto Scaling group pinned at its maximum.
package observability

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// Thresholds. Periods are seconds; an alarm fires after EvaluationPeriods breaching
// periods in a row.
const (
	Errors5xxPerPeriod  = 10   // 5xx responses in 5 minutes
	DBCPUPercent        = 80   // RDS average CPU
	FreeStorageFraction = 0.10 // RDS free storage below 10% of the allocation
)

// Args names what the alarms watch.
type Args struct {
	AlertEmail           string // "" for no subscription
	AlbArnSuffix         pulumi.StringInput
	TargetGroups         map[string]pulumi.StringInput // label ("app", "swarm") -> target group ARN suffix
	DBIdentifier         pulumi.StringInput
	DBAllocatedStorageGB int
	ASGName              pulumi.StringInput
	ASGMaxSize           int
	Tags                 map[string]string
}

// Observability is the topic alarms publish to.
type Observability struct {
	pulumi.ResourceState

	TopicArn pulumi.StringOutput
}

// New declares the topic and the alarms.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Observability, error) {
	o := &Observability{}
	if err := ctx.RegisterComponentResource("bookstore:observability:Observability", name, o, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(o)

	topic, err := sns.NewTopic(ctx, name+"-alarms", &sns.TopicArgs{Tags: tags.Of(args.Tags)}, parent)
	if err != nil {
		return nil, err
	}
	o.TopicArn = topic.Arn
	if args.AlertEmail != "" {
		// AWS mails a confirmation link; alarms reach the address once it is clicked.
		if _, err := sns.NewTopicSubscription(ctx, name+"-alarms-email", &sns.TopicSubscriptionArgs{
			Topic: topic.Arn, Protocol: pulumi.String("email"), Endpoint: pulumi.String(args.AlertEmail),
		}, parent); err != nil {
			return nil, err
		}
	}

	notify := pulumi.Array{topic.Arn}
	alarm := func(suffix, desc, namespace, metric, stat, op string, threshold float64, period, periods int, dims pulumi.StringMap) error {
		_, err := cloudwatch.NewMetricAlarm(ctx, name+"-"+suffix, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String(desc),
			Namespace:          pulumi.String(namespace),
			MetricName:         pulumi.String(metric),
			Statistic:          pulumi.String(stat),
			Dimensions:         dims,
			ComparisonOperator: pulumi.String(op),
			Threshold:          pulumi.Float64(threshold),
			Period:             pulumi.Int(period),
			EvaluationPeriods:  pulumi.Int(periods),
			// No requests means no 5xx and no unhealthy hosts reported: not an alarm.
			TreatMissingData: pulumi.String("notBreaching"),
			AlarmActions:     notify,
			OkActions:        notify,
			Tags:             tags.Of(args.Tags),
		}, parent)
		return err
	}
	alb := pulumi.StringMap{"LoadBalancer": args.AlbArnSuffix}
	if err := alarm("alb-5xx", "The ALB itself answered 5xx (no healthy target, or a target failed)",
		"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold", Errors5xxPerPeriod, 300, 1, alb); err != nil {
		return nil, err
	}
	if err := alarm("target-5xx", "The bookstore answered 5xx",
		"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold", Errors5xxPerPeriod, 300, 1, alb); err != nil {
		return nil, err
	}
	for _, label := range []string{"app", "swarm"} {
		tg, ok := args.TargetGroups[label]
		if !ok {
			continue
		}
		if err := alarm("unhealthy-"+label, "Targets in the "+label+" target group fail their health check",
			"AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "GreaterThanOrEqualToThreshold", 1, 60, 3,
			pulumi.StringMap{"LoadBalancer": args.AlbArnSuffix, "TargetGroup": tg}); err != nil {
			return nil, err
		}
	}
	db := pulumi.StringMap{"DBInstanceIdentifier": args.DBIdentifier}
	if err := alarm("db-cpu", "RDS CPU high for 15 minutes",
		"AWS/RDS", "CPUUtilization", "Average", "GreaterThanThreshold", DBCPUPercent, 300, 3, db); err != nil {
		return nil, err
	}
	freeBytes := FreeStorageFraction * float64(args.DBAllocatedStorageGB) * (1 << 30)
	if err := alarm("db-storage", "RDS free storage below 10% of the allocation",
		"AWS/RDS", "FreeStorageSpace", "Minimum", "LessThanThreshold", freeBytes, 300, 1, db); err != nil {
		return nil, err
	}
	if err := alarm("asg-at-max", "The Auto Scaling group has been at its maximum size for 15 minutes: raise bookstore:maxSize",
		"AWS/AutoScaling", "GroupDesiredCapacity", "Maximum", "GreaterThanOrEqualToThreshold", float64(args.ASGMaxSize), 300, 3,
		pulumi.StringMap{"AutoScalingGroupName": args.ASGName}); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(o, pulumi.Map{"topicArn": o.TopicArn}); err != nil {
		return nil, err
	}
	return o, nil
}
