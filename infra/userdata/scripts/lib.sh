#!/bin/bash
# Helpers shared by the bookstore boot scripts; sourced, never run.
# Every line goes to stderr (captured in /var/log/cloud-init-output.log) and
# to the journal: journalctl -t bookstore-boot, or the LOG_TAG a script that
# is not a boot script sets after sourcing this file.

readonly BOOKSTORE_DIR=/opt/bookstore
LOG_TAG=bookstore-boot

# _log PRIORITY MESSAGE
_log() {
	printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${LOG_TAG}" "$2" >&2
	logger -t "${LOG_TAG}" -p "user.$1" -- "$2" 2>/dev/null || true
}

log() {
	_log notice "$*"
}

# error: a line at error priority (journalctl -p err), for what needs a person.
error() {
	_log err "ERROR: $*"
}

die() {
	_log err "FATAL: $*"
	exit 1
}

# Installed as the ERR trap so a failing step names itself in the log.
on_error() {
	_log err "FATAL: '${BASH_COMMAND}' exited $1 (${BASH_SOURCE[1]:-?}:${BASH_LINENO[0]})"
}

# retry ATTEMPTS WHAT CMD...: runs CMD until it succeeds, at most ATTEMPTS
# times, sleeping RETRY_FIRST_DELAY (2) seconds, doubling up to
# RETRY_MAX_DELAY (60). Returns 1 after the last failure. Locals are
# prefixed: bash scoping is dynamic, so CMD sees them.
retry() {
	local _r_max=$1 _r_what=$2 _r_n=1
	local _r_delay=${RETRY_FIRST_DELAY:-2} _r_cap=${RETRY_MAX_DELAY:-60}
	shift 2
	until "$@"; do
		if ((_r_n >= _r_max)); then
			log "giving up: ${_r_what} failed ${_r_n} times"
			return 1
		fi
		log "${_r_what} failed (attempt ${_r_n}/${_r_max}), next try in ${_r_delay}s"
		sleep "${_r_delay}"
		_r_n=$((_r_n + 1))
		_r_delay=$((_r_delay * 2))
		if ((_r_delay > _r_cap)); then
			_r_delay=${_r_cap}
		fi
	done
	return 0
}

# need CMD PACKAGE: fails the boot if the packages step did not install CMD.
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: package $2 missing (look for dnf errors above in this log)"
}

require_x86_64() {
	[[ $(uname -m) == x86_64 ]] || die "this user data supports x86_64 only, not $(uname -m)"
}

# imds PATH: one IMDSv2 read (token first; IMDSv1 is disabled on these hosts).
imds() {
	local token
	token=$(curl -fsS --max-time 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' \
		http://169.254.169.254/latest/api/token) || return 1
	curl -fsS --max-time 5 -H "X-aws-ec2-metadata-token: ${token}" \
		"http://169.254.169.254/latest/meta-data/$1"
}

start_docker() {
	systemctl daemon-reload
	systemctl enable --now docker.service
	retry 10 "docker daemon answering" docker info --format '{{.ServerVersion}}' >/dev/null ||
		die "docker did not start: journalctl -u docker"
}

# ecr_login REGISTRY REGION: docker credentials for a private ECR registry
# (valid 12 hours), from the instance role.
ecr_login() {
	aws ecr get-login-password --region "$2" | docker login --username AWS --password-stdin "$1" >/dev/null
}

# pull_image REF: ECR login for REF's registry, then the pull.
pull_image() {
	retry 8 "ECR login to ${ECR_REGISTRY}" ecr_login "${ECR_REGISTRY}" "${ECR_REGION}" ||
		die "ECR login failed: check the instance role's ECR permissions and the route to ECR"
	retry 5 "pull $1" docker pull --quiet "$1" >/dev/null || die "could not pull $1"
	log "pulled $1"
}

# write_instance_env: compose interpolates INSTANCE_ID into the awslogs
# stream name from the project's .env file.
write_instance_env() {
	local id
	id=$(retry 5 "read instance-id from IMDSv2" imds instance-id) || die "IMDSv2 unreachable"
	printf 'INSTANCE_ID=%s\n' "${id}" >"${BOOKSTORE_DIR}/.env"
}

# start_unit NAME: (re)start so a re-run picks up changed files.
start_unit() {
	systemctl daemon-reload
	systemctl enable "$1"
	systemctl restart "$1" || die "$1 did not start: journalctl -u $1; docker compose --project-directory ${BOOKSTORE_DIR} ps"
}
