#!/bin/bash
# First boot of a Swarm worker: EFS and the RDS CA bundle (tasks bind both),
# docker, the image the SSM parameter IMAGE_PARAMETER holds pulled ahead of
# time, then `docker swarm join` with the token the manager stored in SSM
# Parameter Store. Safe to run again: an active node is left alone.
set -Eeuo pipefail
# shellcheck source=lib.sh
. /opt/bookstore/bin/lib.sh
# shellcheck source=efs.sh
. /opt/bookstore/bin/efs.sh
# shellcheck source=rdsca.sh
. /opt/bookstore/bin/rdsca.sh
# shellcheck source=image.sh
. /opt/bookstore/bin/image.sh
# shellcheck source=/dev/null
. /opt/bookstore/boot.env
trap 'on_error $?' ERR
: "${IMAGE_PARAMETER:?} ${IMAGE_REPOSITORY:?} ${EFS_ID:?} ${EFS_ACCESS_POINT:?} ${ECR_REGISTRY:?} ${ECR_REGION:?} ${REGION:?} ${MANAGER_ADDRESS:?} ${JOIN_TOKEN_PARAMETER:?} ${RDS_CA_URL:?}"

swarm_state() {
	docker info --format '{{.Swarm.LocalNodeState}}'
}

# The manager overwrites a placeholder; only a real token counts.
read_token() {
	TOKEN=$(aws ssm get-parameter --region "${REGION}" --name "${JOIN_TOKEN_PARAMETER}" \
		--with-decryption --query Parameter.Value --output text) &&
		[[ ${TOKEN} == SWMTKN-1-* ]]
}

# One attempt, with the token read afresh: a manager that was just replaced
# has not yet overwritten its predecessor's token, which still looks valid.
join_swarm() {
	case "$(swarm_state)" in
	active) return 0 ;;
	pending | error) docker swarm leave --force >/dev/null 2>&1 || true ;;
	esac
	if ! read_token; then
		log "no join token in ${JOIN_TOKEN_PARAMETER} yet"
		return 1
	fi
	docker swarm join --token "${TOKEN}" "${MANAGER_ADDRESS}:2377"
}

log "swarm worker boot: start, manager ${MANAGER_ADDRESS}"
require_x86_64
need aws awscli-2
need docker docker
need mount.efs amazon-efs-utils
need openssl openssl

mount_efs "${EFS_ID}" "${EFS_ACCESS_POINT}"
install_rds_ca "${RDS_CA_URL}" "${BOOKSTORE_DIR}/rds-ca.pem"
start_docker
IMAGE_REF=$(image_from_parameter) || exit 1
pull_image "${IMAGE_REF}"

if [[ $(swarm_state) == active ]]; then
	log "already an active swarm node"
else
	# About 18 minutes in all: time for a replaced manager to boot and
	# write its token.
	TOKEN=
	RETRY_MAX_DELAY=30 retry 40 "join the swarm at ${MANAGER_ADDRESS}:2377" join_swarm ||
		die "could not join ${MANAGER_ADDRESS}:2377: has the manager booted (its log: /var/log/cloud-init-output.log)? Check the swarm security group (2377/tcp, 7946/tcp+udp, 4789/udp)"
	TOKEN=
fi
log "swarm worker boot: done, node state $(swarm_state)"
