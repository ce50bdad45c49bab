#!/bin/bash
# Rolls the Swarm service to the image the SSM parameter IMAGE_PARAMETER
# holds, which Pulumi rewrites on every deploy, and scales it to the count
# REPLICAS_PARAMETER holds (bookstore:swarmReplicas). Run every minute by
# bookstore-rollout.timer on the manager; `docker service update` then
# replaces the tasks one at a time, start-first, and rolls back on its own if
# the new ones fail. Idempotent: an up-to-date service is left alone, an
# image that was rolled back is not tried again until the parameter changes,
# and a new count waits for an update or rollback under way to end.
# Logs: journalctl -t bookstore-rollout.
set -Eeuo pipefail
# shellcheck source=lib.sh
. /opt/bookstore/bin/lib.sh
# shellcheck source=image.sh
. /opt/bookstore/bin/image.sh
# shellcheck source=replicas.sh
. /opt/bookstore/bin/replicas.sh
# shellcheck source=/dev/null
. /opt/bookstore/boot.env
LOG_TAG=bookstore-rollout
trap 'on_error $?' ERR
: "${IMAGE_PARAMETER:?} ${IMAGE_REPOSITORY:?} ${ECR_REGISTRY:?} ${ECR_REGION:?} ${REGION:?} ${SERVICE_NAME:?} ${SWARM_LOCK:?}"
: "${REPLICAS_PARAMETER:?} ${REPLICAS_MAX:?}"

# The image last handed to `docker service update`; the one Swarm rolled
# back, which is not tried again until the parameter changes (the service's
# own rollback status is no memory: any later update clears it); and when
# the registry credentials were last forwarded to the nodes.
readonly ATTEMPTED=/var/lib/bookstore/rollout-attempted
readonly REJECTED=/var/lib/bookstore/rollout-rejected
readonly AUTH_FORWARDED=/var/lib/bookstore/rollout-auth-forwarded

inspect() {
	docker service inspect --format "$1" "${SERVICE_NAME}"
}

# repository_of REF: REF without its digest and tag. Swarm keeps a reference
# as given, or as repo:tag@sha256:digest once it has resolved a tag.
repository_of() {
	local name=${1%%@*}
	if [[ ${name##*/} == *:* ]]; then
		name=${name%:*}
	fi
	printf '%s' "${name}"
}

# same_image A B: A and B pin the same digest of the same repository.
same_image() {
	[[ $1 == *@sha256:* && $2 == *@sha256:* && ${1##*@} == "${2##*@}" &&
		$(repository_of "$1") == "$(repository_of "$2")" ]]
}

# forward_auth_if_due: ECR credentials last 12 hours, and a node pulls with
# the ones the last `--with-registry-auth` forwarded, not its own login. A
# task rescheduled onto a node without the image would fail to pull once
# they expire, so they are forwarded again every 6 hours. An update that
# changes only credentials restarts no task.
forward_auth_if_due() {
	if [[ -n $(find "${AUTH_FORWARDED}" -mmin -360 2>/dev/null) ]]; then
		return 0
	fi
	if ! RETRY_MAX_DELAY=10 retry 3 "ECR login to ${ECR_REGISTRY}" ecr_login "${ECR_REGISTRY}" "${ECR_REGION}"; then
		error "ECR login failed: the nodes keep credentials that expire 12 hours after they were forwarded"
		return 1
	fi
	docker service update --detach --with-registry-auth --no-resolve-image "${SERVICE_NAME}" >/dev/null
	touch "${AUTH_FORWARDED}"
	log "registry credentials forwarded to the nodes (valid 12 hours)"
}

# checked_parameter NAME READ VALID WHAT: prints the value READ gets from the
# parameter NAME when VALID accepts it; otherwise logs an error (WHAT says
# what the value should be) and returns 1, so that nothing changes.
checked_parameter() {
	local value
	if ! value=$(RETRY_MAX_DELAY=10 retry 3 "read $1" "$2"); then
		error "could not read $1: the instance role needs ssm:GetParameter on it"
		return 1
	fi
	if ! "$3" "${value}"; then
		error "$1 holds '${value:0:200}', not $4: service left as it is"
		return 1
	fi
	printf '%s\n' "${value}"
}

# update_state: the service's UpdateStatus.State ("" before any update).
update_state() {
	inspect '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'
}

# scale_if_due: sets the service's replica count to REPLICAS_PARAMETER's
# value (${replicas}), unless an update or a rollback is under way: any update
# of the service, a scale included, replaces the spec Swarm rolls back to and
# clears UpdateStatus, so a scale in the middle of a rollout would leave a
# failing image nothing to roll back to. A later tick scales once it ends.
scale_if_due() {
	local current state
	current=$(inspect '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}')
	if [[ ${current} == "${replicas}" ]]; then
		return 0
	fi
	state=$(update_state)
	case ${state} in
	updating | rollback_started)
		log "${SERVICE_NAME} has ${current} replicas, ${REPLICAS_PARAMETER} says ${replicas}: scaling after the update under way (${state})"
		return 0
		;;
	paused | rollback_paused)
		error "${SERVICE_NAME}'s update is ${state}: not scaled from ${current} to ${replicas} until a person resumes or rolls it back (docker service update --rollback ${SERVICE_NAME})"
		return 0
		;;
	esac
	docker service scale --detach "${SERVICE_NAME}=${replicas}" >/dev/null
	log "scaled ${SERVICE_NAME} from ${current} to ${replicas} replicas (${REPLICAS_PARAMETER}): sudo docker service ps ${SERVICE_NAME}"
}

# Never alongside the boot script or another rollout; a turn missed is taken
# a minute later.
exec 9>"${SWARM_LOCK}"
flock --nonblock 9 || exit 0

want=$(checked_parameter "${IMAGE_PARAMETER}" read_image_parameter valid_image_ref \
	"${IMAGE_REPOSITORY}@sha256:<64 hex digits>") || exit 1
replicas=$(checked_parameter "${REPLICAS_PARAMETER}" read_replicas_parameter valid_replicas \
	"a replica count from 1 to ${REPLICAS_MAX}") || exit 1
if ! have=$(inspect '{{.Spec.TaskTemplate.ContainerSpec.Image}}' 2>/dev/null); then
	log "no service ${SERVICE_NAME} yet (the boot script creates it): nothing to roll"
	exit 0
fi
mkdir -p "${ATTEMPTED%/*}"
if same_image "${have}" "${want}" || [[ -f ${REJECTED} && $(<"${REJECTED}") == "${want}" ]]; then
	forward_auth_if_due
	scale_if_due
	exit 0
fi

state=$(update_state)
if [[ ${state} == rollback_* && -f ${ATTEMPTED} && $(<"${ATTEMPTED}") == "${want}" ]]; then
	error "${want} was rolled back (${state}: $(inspect '{{.UpdateStatus.Message}}')); still running ${have}. The next deploy's image will be tried; to retry this one: sudo rm /var/lib/bookstore/rollout-*"
	printf '%s\n' "${want}" >"${REJECTED}"
	scale_if_due
	exit 0
fi

log "rolling ${SERVICE_NAME} from ${have} to ${want}, ${replicas} replicas"
if ! RETRY_MAX_DELAY=10 retry 3 "ECR login to ${ECR_REGISTRY}" ecr_login "${ECR_REGISTRY}" "${ECR_REGION}"; then
	error "ECR login failed: check the instance role's ECR permissions and the route to ECR"
	exit 1
fi
printf '%s\n' "${want}" >"${ATTEMPTED}"
rm -f "${REJECTED}"
# The count goes with the image: one update, and a rollback of it restores
# the count too, which a later tick sets again.
docker service update --detach --with-registry-auth --image "${want}" --replicas "${replicas}" "${SERVICE_NAME}" >/dev/null
touch "${AUTH_FORWARDED}"
log "update of ${SERVICE_NAME} to ${want} started: sudo docker service ps ${SERVICE_NAME}"
