#!/bin/bash
# docker compose helper for the boot scripts; sourced after lib.sh, never run.

readonly COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose

# install_compose: the compose v2 CLI plugin, pinned to COMPOSE_VERSION and
# checked against COMPOSE_SHA256 (AL2023 does not package it).
install_compose() {
	local tmp url
	if [[ -x ${COMPOSE_PLUGIN} ]] && printf '%s  %s\n' "${COMPOSE_SHA256}" "${COMPOSE_PLUGIN}" | sha256sum --check --status; then
		return 0
	fi
	url="https://github.com/docker/compose/releases/download/v${COMPOSE_VERSION}/docker-compose-linux-x86_64"
	tmp=$(mktemp)
	retry 6 "download docker compose v${COMPOSE_VERSION}" \
		curl -fsSL --proto '=https' --tlsv1.2 -o "${tmp}" "${url}" ||
		die "could not download ${url}"
	if ! printf '%s  %s\n' "${COMPOSE_SHA256}" "${tmp}" | sha256sum --check --status; then
		rm -f "${tmp}"
		die "docker compose v${COMPOSE_VERSION}: sha256 mismatch, refusing to install"
	fi
	install -D -m 0755 "${tmp}" "${COMPOSE_PLUGIN}"
	rm -f "${tmp}"
	log "installed $(docker compose version)"
}
