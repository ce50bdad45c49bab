// Package image declares the bookstore's container image: an ECR repository (scan
// on push, only the last images kept) and a pulumi-docker build of ../Dockerfile for
// linux/amd64, pushed with a short-lived ECR token. Hosts run the pushed digest
// (Ref), never a tag, so a new image is a new launch template version.
package image

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/bookstore-aws/bookstore/infra/tags"
)

// Platform is the only one the hosts (x86_64 Amazon Linux) run.
const Platform = "linux/amd64"

// Args configures the image build.
type Args struct {
	// Context is the build context relative to the program's working directory
	// (infra/), so ".." is the repository root; Dockerfile is relative to the same.
	Context    string
	Dockerfile string
	Tag        string // pushed tag, e.g. the stack name; hosts still use the digest
	KeepImages int    // images the lifecycle policy keeps (older ones expire)
	Tags       map[string]string
}

// Image is the repository and the pushed image.
type Image struct {
	pulumi.ResourceState

	RepositoryURL pulumi.StringOutput // "<account>.dkr.ecr.<region>.amazonaws.com/<name>"
	RepositoryArn pulumi.StringOutput
	Ref           pulumi.StringOutput // "<repository url>@sha256:<digest>"
}

// New declares the repository and builds and pushes the image.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Image, error) {
	im := &Image{}
	if err := ctx.RegisterComponentResource("bookstore:image:Image", name, im, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(im)

	repo, err := ecr.NewRepository(ctx, name, &ecr.RepositoryArgs{
		ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
		ImageTagMutability:         pulumi.String("MUTABLE"), // the stack tag moves; digests never do
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("AES256")},
		},
		// Images are rebuilt from source on every `pulumi up`; `pulumi destroy` should
		// not fail on a non-empty repository.
		ForceDelete: pulumi.Bool(true),
		Tags:        tags.Of(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	im.RepositoryURL = repo.RepositoryUrl
	im.RepositoryArn = repo.Arn

	policy, err := LifecyclePolicy(args.KeepImages)
	if err != nil {
		return nil, err
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name, &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(policy),
	}, parent); err != nil {
		return nil, err
	}

	// The caller's own registry, where the repository is: a token valid 12 hours,
	// kept in state only as a secret.
	token := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{}, pulumi.Parent(im))
	img, err := docker.NewImage(ctx, name, &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", repo.RepositoryUrl, args.Tag),
		Build: docker.DockerBuildArgs{
			Context:    pulumi.String(args.Context),
			Dockerfile: pulumi.String(args.Dockerfile),
			Platform:   pulumi.String(Platform),
		},
		// Preview (e.g. in pull-request review) needs no Docker daemon.
		BuildOnPreview: pulumi.Bool(false),
		Registry: docker.RegistryArgs{
			Server:   repo.RepositoryUrl,
			Username: token.UserName(),
			Password: pulumi.ToSecret(token.Password()).(pulumi.StringOutput),
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	im.Ref = img.RepoDigest

	if err := ctx.RegisterResourceOutputs(im, pulumi.Map{
		"repositoryUrl": im.RepositoryURL,
		"ref":           im.Ref,
	}); err != nil {
		return nil, err
	}
	return im, nil
}

// LifecyclePolicy returns an ECR lifecycle policy that expires all but the newest
// keep images, tagged or not; keep < 1 is an error.
func LifecyclePolicy(keep int) (string, error) {
	if keep < 1 {
		return "", fmt.Errorf("image: KeepImages %d: keep at least the running image", keep)
	}
	b, err := json.Marshal(map[string]any{
		"rules": []map[string]any{{
			"rulePriority": 1,
			"description":  "keep the newest images only",
			"selection": map[string]any{
				"tagStatus":   "any",
				"countType":   "imageCountMoreThan",
				"countNumber": keep,
			},
			"action": map[string]any{"type": "expire"},
		}},
	})
	return string(b), err
}
