#!/bin/bash
# The Swarm service's replica count, for swarm-manager-boot.sh and
# swarm-rollout.sh; sourced after lib.sh, never run. Pulumi writes
# bookstore:swarmReplicas to the SSM parameter REPLICAS_PARAMETER; the
# manager's user data names the parameter, not the count, so scaling the
# service replaces no host.

# read_replicas_parameter: prints REPLICAS_PARAMETER's value.
read_replicas_parameter() {
	aws ssm get-parameter --region "${REGION}" --name "${REPLICAS_PARAMETER}" \
		--query Parameter.Value --output text
}

# valid_replicas N: N is a count from 1 to REPLICAS_MAX in plain decimal, the
# only form the stack writes (infra/config bounds swarmReplicas the same way).
valid_replicas() {
	[[ $1 =~ ^[1-9][0-9]{0,5}$ ]] && (($1 <= REPLICAS_MAX))
}

# replicas_from_parameter: prints the checked count, or dies. Run it as
# `n=$(replicas_from_parameter) || exit 1`: die only leaves the subshell.
replicas_from_parameter() {
	local n
	n=$(retry 8 "read the replica count from ${REPLICAS_PARAMETER}" read_replicas_parameter) ||
		die "could not read ${REPLICAS_PARAMETER}: the instance role needs ssm:GetParameter on it"
	valid_replicas "${n}" ||
		die "${REPLICAS_PARAMETER} holds '${n:0:200}', not a replica count from 1 to ${REPLICAS_MAX}"
	printf '%s\n' "${n}"
}
