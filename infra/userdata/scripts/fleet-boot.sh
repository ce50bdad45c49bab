#!/bin/bash
# First boot of a fleet (Auto Scaling group) instance: EFS, the RDS CA bundle,
# docker + compose, ECR, then bookstore.service runs /opt/bookstore/compose.yaml.
# Safe to run again by hand: sudo /opt/bookstore/bin/fleet-boot.sh
set -Eeuo pipefail
# shellcheck source=lib.sh
. /opt/bookstore/bin/lib.sh
# shellcheck source=efs.sh
. /opt/bookstore/bin/efs.sh
# shellcheck source=rdsca.sh
. /opt/bookstore/bin/rdsca.sh
# shellcheck source=compose.sh
. /opt/bookstore/bin/compose.sh
# shellcheck source=/dev/null
. /opt/bookstore/boot.env
trap 'on_error $?' ERR
: "${IMAGE_REF:?} ${EFS_ID:?} ${EFS_ACCESS_POINT:?} ${ECR_REGISTRY:?} ${ECR_REGION:?} ${RDS_CA_URL:?}"

log "fleet boot: start, image ${IMAGE_REF}"
require_x86_64
need aws awscli-2
need docker docker
need mount.efs amazon-efs-utils
need openssl openssl

mount_efs "${EFS_ID}" "${EFS_ACCESS_POINT}"
install_rds_ca "${RDS_CA_URL}" "${BOOKSTORE_DIR}/rds-ca.pem"
start_docker
install_compose
write_instance_env
pull_image "${IMAGE_REF}"
start_unit bookstore.service
log "fleet boot: done, $(docker compose --project-directory "${BOOKSTORE_DIR}" ps --format '{{.Name}} {{.Status}}')"
