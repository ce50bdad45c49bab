#!/bin/bash
# First boot of the Swarm manager: EFS, the RDS CA bundle, docker, `docker
# swarm init` on the private address, the worker join token into SSM Parameter
# Store, then the bookstore service (created, or updated when it already exists)
# with the image the SSM parameter IMAGE_PARAMETER holds and as many replicas as
# REPLICAS_PARAMETER says, and last the timer that rolls the service to each new
# image and scales it to each new count (swarm-rollout.sh).
# Safe to run again by hand: sudo /opt/bookstore/bin/swarm-manager-boot.sh
set -Eeuo pipefail
# shellcheck source=lib.sh
. /opt/bookstore/bin/lib.sh
# shellcheck source=efs.sh
. /opt/bookstore/bin/efs.sh
# shellcheck source=rdsca.sh
. /opt/bookstore/bin/rdsca.sh
# shellcheck source=image.sh
. /opt/bookstore/bin/image.sh
# shellcheck source=replicas.sh
. /opt/bookstore/bin/replicas.sh
# shellcheck source=/dev/null
. /opt/bookstore/boot.env
trap 'on_error $?' ERR
: "${IMAGE_PARAMETER:?} ${IMAGE_REPOSITORY:?} ${EFS_ID:?} ${EFS_ACCESS_POINT:?} ${ECR_REGISTRY:?} ${ECR_REGION:?} ${REGION:?} ${RDS_CA_URL:?}"
: "${REPLICAS_PARAMETER:?} ${REPLICAS_MAX:?} ${JOIN_TOKEN_PARAMETER:?} ${LOG_GROUP:?} ${SERVICE_NAME:?} ${SWARM_LOCK:?}"
: "${SWARM_ADDR_POOL:?} ${SWARM_ADDR_POOL_MASK_LENGTH:?} ${SWARM_ENDPOINT_MODE:?} ${SWARM_PUBLISH:?} ${SWARM_LOG_DRIVER:?}"

swarm_state() {
	docker info --format '{{.Swarm.LocalNodeState}}'
}

# The token goes to the CLI through a 0600 file, not argv, so it never shows
# in the process list. Run under retry, where set -e is off: each step checks.
store_join_token() {
	local file rc=1
	file=$(mktemp)
	if docker swarm join-token --quiet worker | tr -d '\n' >"${file}" && [[ -s ${file} ]]; then
		aws ssm put-parameter --region "${REGION}" --name "${JOIN_TOKEN_PARAMETER}" \
			--type SecureString --overwrite --value "file://${file}" >/dev/null && rc=0
	fi
	rm -f "${file}"
	return "${rc}"
}

running_tasks() {
	docker service ps "${SERVICE_NAME}" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true
}

# Held to the end: the rollout timer, or a rollout already running when this
# is re-run by hand, waits its turn.
exec 9>"${SWARM_LOCK}"
flock 9

log "swarm manager boot: start, image from ${IMAGE_PARAMETER}, replicas from ${REPLICAS_PARAMETER}"
require_x86_64
need aws awscli-2
need docker docker
need mount.efs amazon-efs-utils
need openssl openssl

mount_efs "${EFS_ID}" "${EFS_ACCESS_POINT}"
install_rds_ca "${RDS_CA_URL}" "${BOOKSTORE_DIR}/rds-ca.pem"
start_docker
IMAGE_REF=$(image_from_parameter) || exit 1
REPLICAS=$(replicas_from_parameter) || exit 1
pull_image "${IMAGE_REF}"

if [[ $(swarm_state) == active ]]; then
	log "swarm already initialised"
else
	private_ip=$(retry 5 "read local-ipv4 from IMDSv2" imds local-ipv4) || die "IMDSv2 unreachable"
	# Overlays from a pool outside the VPC: Swarm's default, 10.0.0.0/8, would
	# cover the VPC and its resolver (infra/userdata SwarmAddressPool).
	docker swarm init --advertise-addr "${private_ip}" \
		--default-addr-pool "${SWARM_ADDR_POOL}" \
		--default-addr-pool-mask-length "${SWARM_ADDR_POOL_MASK_LENGTH}" >/dev/null
	log "swarm initialised, advertising ${private_ip}:2377, overlays from ${SWARM_ADDR_POOL}"
fi
retry 8 "store the join token in ${JOIN_TOKEN_PARAMETER}" store_join_token ||
	die "could not write ${JOIN_TOKEN_PARAMETER}: the instance role needs ssm:PutParameter on it"

# Both create and update take these; rollbacks are automatic when new tasks
# fail within the monitor window. The stop grace period outlasts the
# service's DRAIN_TIMEOUT (25s).
common=(
	--detach --with-registry-auth
	--replicas "${REPLICAS}"
	--endpoint-mode "${SWARM_ENDPOINT_MODE}"
	--stop-grace-period 30s
	--restart-condition any
	--update-parallelism 1 --update-delay 10s --update-order start-first
	--update-failure-action rollback --update-monitor 60s
	--rollback-parallelism 1 --rollback-order start-first --rollback-monitor 30s
	--log-driver "${SWARM_LOG_DRIVER}"
)
if [[ ${SWARM_LOG_DRIVER} == awslogs ]]; then
	common+=(
		--log-opt "awslogs-region=${REGION}"
		--log-opt "awslogs-group=${LOG_GROUP}"
		--log-opt 'tag=swarm/{{.Name}}'
	)
fi
# How the service is reached (boot.env): on AWS a VIP and the routing mesh on
# 5000 of every node, for the ALB; where there is no IPVS, DNS round robin and
# a proxy on SWARM_NETWORK resolving tasks.<service>.
publish=() publish_add=()
if [[ ${SWARM_PUBLISH} == ingress ]]; then
	publish=(--publish 'published=5000,target=5000')
	publish_add=(--publish-add 'published=5000,target=5000')
fi
network=()
if [[ -n ${SWARM_NETWORK:-} ]]; then
	if ! docker network inspect "${SWARM_NETWORK}" >/dev/null 2>&1; then
		docker network create --driver overlay --attachable "${SWARM_NETWORK}" >/dev/null
		log "overlay network ${SWARM_NETWORK} created"
	fi
	network=(--network "${SWARM_NETWORK}")
fi
# Every node has the bundle at the same path (workers fetch it before joining).
ca_mount="type=bind,source=${BOOKSTORE_DIR}/rds-ca.pem,target=/etc/bookstore/rds-ca.pem,readonly"
if docker service inspect "${SERVICE_NAME}" >/dev/null 2>&1; then
	env_args=()
	while IFS= read -r line; do
		[[ -z ${line} || ${line} == '#'* ]] && continue
		env_args+=(--env-add "${line}")
	done <"${BOOKSTORE_DIR}/app.env"
	docker service update "${common[@]}" "${env_args[@]}" \
		--image "${IMAGE_REF}" \
		"${publish_add[@]}" \
		--mount-add "type=bind,source=${EFS_MOUNT},target=/app/shared" \
		--mount-add "${ca_mount}" \
		"${SERVICE_NAME}" >/dev/null
	log "service ${SERVICE_NAME} updated"
else
	docker service create "${common[@]}" \
		--name "${SERVICE_NAME}" \
		--env-file "${BOOKSTORE_DIR}/app.env" \
		"${publish[@]}" "${network[@]}" \
		--mount "type=bind,source=${EFS_MOUNT},target=/app/shared" \
		--mount "${ca_mount}" \
		"${IMAGE_REF}" >/dev/null
	log "service ${SERVICE_NAME} created"
fi

# From now on a new value of IMAGE_PARAMETER rolls the service, and a new
# one of REPLICAS_PARAMETER scales it.
systemctl daemon-reload
systemctl enable --now bookstore-rollout.timer
log "bookstore-rollout.timer started: the service follows ${IMAGE_PARAMETER} and ${REPLICAS_PARAMETER}"

# Swarm keeps converging on its own; this wait only makes the log tell.
for _ in $(seq 1 60); do
	if (($(running_tasks) >= REPLICAS)); then
		break
	fi
	sleep 5
done
log "swarm manager boot: done, $(running_tasks)/${REPLICAS} tasks running"
