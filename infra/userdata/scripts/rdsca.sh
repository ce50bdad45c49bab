#!/bin/bash
# RDS CA bundle helper for the boot scripts; sourced after lib.sh, never run.

# install_rds_ca URL DEST: the region's RDS CA bundle from AWS's trust store,
# over HTTPS only, retried. The service verifies the database's certificate
# against it (DB_TLS_CA_FILE). It replaces DEST (0644) in one rename, and only
# when every PEM block in it is a certificate that openssl parses.
install_rds_ca() {
	local url=$1 dest=$2 tmp blocks certs
	mkdir -p "$(dirname "${dest}")"
	tmp=$(mktemp "${dest}.XXXXXX")
	if ! retry 6 "download ${url}" curl -fsSL --proto '=https' --tlsv1.2 --max-time 60 -o "${tmp}" "${url}"; then
		rm -f "${tmp}"
		die "could not download the RDS CA bundle ${url}: check HTTPS egress"
	fi
	blocks=$(grep -c -- '-----BEGIN ' "${tmp}" || true)
	certs=$(openssl crl2pkcs7 -nocrl -certfile "${tmp}" 2>/dev/null |
		openssl pkcs7 -print_certs -noout 2>/dev/null | grep -c '^subject=' || true)
	if ((blocks == 0 || certs != blocks)); then
		rm -f "${tmp}"
		die "${url} is not a PEM bundle of certificates (${blocks} PEM blocks, ${certs} certificates parsed)"
	fi
	chmod 0644 "${tmp}"
	mv -f "${tmp}" "${dest}"
	log "RDS CA bundle: ${certs} certificates in ${dest}"
}
