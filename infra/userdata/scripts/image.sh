#!/bin/bash
# The Swarm's image, for the swarm boot scripts and swarm-rollout.sh; sourced
# after lib.sh, never run. Pulumi writes the pushed digest to the SSM
# parameter IMAGE_PARAMETER on every deploy; the hosts' user data names the
# parameter, not the image, so a new image does not replace them.

# read_image_parameter: prints IMAGE_PARAMETER's value.
read_image_parameter() {
	aws ssm get-parameter --region "${REGION}" --name "${IMAGE_PARAMETER}" \
		--query Parameter.Value --output text
}

# valid_image_ref REF: REF is an image of IMAGE_REPOSITORY pinned by its
# digest, the only form the stack writes (never a tag, never another
# repository: the instance role could not pull it anyway).
valid_image_ref() {
	local digest=${1#"${IMAGE_REPOSITORY}@sha256:"}
	[[ $1 == "${IMAGE_REPOSITORY}@sha256:"* && ${digest} =~ ^[0-9a-f]{64}$ ]]
}

# image_from_parameter: prints the checked image reference, or dies. Run it as
# `ref=$(image_from_parameter) || exit 1`: die only leaves the subshell.
image_from_parameter() {
	local ref
	ref=$(retry 8 "read the image from ${IMAGE_PARAMETER}" read_image_parameter) ||
		die "could not read ${IMAGE_PARAMETER}: the instance role needs ssm:GetParameter on it"
	valid_image_ref "${ref}" ||
		die "${IMAGE_PARAMETER} holds '${ref:0:200}', not ${IMAGE_REPOSITORY}@sha256:<64 hex digits>"
	printf '%s\n' "${ref}"
}
