#!/bin/bash
# First boot of the monolith (the original's single instance): docker +
# compose, a local MySQL 8.4 container whose passwords are made here, the app,
# NGINX terminating TLS for HOSTNAME with a Let's Encrypt certificate.
# Safe to run again by hand: sudo /opt/bookstore/bin/monolith-boot.sh
set -Eeuo pipefail
# shellcheck source=lib.sh
. /opt/bookstore/bin/lib.sh
# shellcheck source=compose.sh
. /opt/bookstore/bin/compose.sh
# shellcheck source=/dev/null
. /opt/bookstore/boot.env
trap 'on_error $?' ERR
: "${IMAGE_REF:?} ${MYSQL_IMAGE:?} ${ECR_REGISTRY:?} ${ECR_REGION:?} ${SITE_HOSTNAME:?}"

readonly WEBROOT=/var/www/letsencrypt
readonly DATA=/var/lib/bookstore

# Secrets are made on the instance, once, and never leave it: user data is
# readable by anyone with ec2:DescribeInstanceAttribute.
make_db_secrets() {
	local root app
	if [[ -s ${BOOKSTORE_DIR}/mysql.env && -s ${BOOKSTORE_DIR}/db.env ]]; then
		return 0
	fi
	root=$(openssl rand -hex 24)
	app=$(openssl rand -hex 24)
	(
		umask 077
		printf 'MYSQL_ROOT_PASSWORD=%s\nMYSQL_DATABASE=bookstore\nMYSQL_USER=bookstore\nMYSQL_PASSWORD=%s\n' \
			"${root}" "${app}" >"${BOOKSTORE_DIR}/mysql.env"
		# MySQL 8.4's accounts use caching_sha2_password: with tls=preferred the
		# first login sends the password over TLS (the image makes a certificate)
		# rather than fetching the server's RSA key unauthenticated.
		printf 'DATABASE_URL=mysql://bookstore:%s@mysql:3306/bookstore?tls=preferred\n' "${app}" >"${BOOKSTORE_DIR}/db.env"
	)
	log "generated MySQL passwords in ${BOOKSTORE_DIR}/mysql.env and db.env (0600)"
}

# HTTP-01 only works once the name points here: waiting costs nothing, while
# failed validations count against Let's Encrypt's rate limit.
dns_points_here() {
	local ip
	ip=$(imds public-ipv4) || return 1
	getent ahostsv4 "${SITE_HOSTNAME}" | awk '{print $1}' | grep -qxF "${ip}"
}

obtain_certificate() {
	local contact=(--register-unsafely-without-email)
	if [[ -n ${LETSENCRYPT_EMAIL:-} ]]; then
		contact=(--email "${LETSENCRYPT_EMAIL}")
	fi
	certbot certonly --non-interactive --agree-tos "${contact[@]}" \
		--webroot --webroot-path "${WEBROOT}" \
		--cert-name bookstore --domain "${SITE_HOSTNAME}" --keep-until-expiring
}

log "monolith boot: start, ${SITE_HOSTNAME}, image ${IMAGE_REF}"
require_x86_64
need aws awscli-2
need docker docker
need nginx nginx
need certbot certbot
need openssl openssl

mkdir -p "${DATA}/mysql" "${DATA}/shared" "${WEBROOT}"
chown 65532:65532 "${DATA}/shared"
make_db_secrets

start_docker
install_compose
write_instance_env
pull_image "${IMAGE_REF}"
retry 5 "pull ${MYSQL_IMAGE}" docker pull --quiet "${MYSQL_IMAGE}" >/dev/null || die "could not pull ${MYSQL_IMAGE}"
start_unit bookstore.service

# Plain HTTP first (ACME challenge + redirect), TLS once the certificate exists.
install -m 0644 "${BOOKSTORE_DIR}/nginx/nginx.conf" /etc/nginx/nginx.conf
install -D -m 0644 "${BOOKSTORE_DIR}/nginx/http.conf" /etc/nginx/bookstore/http.conf
nginx -t
systemctl enable --now nginx.service
systemctl reload nginx.service

RETRY_MAX_DELAY=60 retry 30 "DNS ${SITE_HOSTNAME} -> this instance's public IP" dns_points_here ||
	die "${SITE_HOSTNAME} does not resolve to this instance: check the Route 53 A record and the Elastic IP"
RETRY_FIRST_DELAY=120 retry 3 "Let's Encrypt certificate for ${SITE_HOSTNAME}" obtain_certificate ||
	die "certbot failed: /var/log/letsencrypt/letsencrypt.log"

install -m 0644 "${BOOKSTORE_DIR}/nginx/tls.conf" /etc/nginx/bookstore/tls.conf
nginx -t
systemctl reload nginx.service
systemctl enable --now certbot-renew.timer ||
	die "certbot-renew.timer missing: the certificate would expire in 90 days"
log "monolith boot: done, https://${SITE_HOSTNAME}/"
