#!/bin/bash
# EFS helper for the boot scripts; sourced after lib.sh, never run.

readonly EFS_MOUNT=/mnt/bookstore

# mount_efs FS_ID ACCESS_POINT_ID: TLS + IAM mount through the access point,
# recorded in fstab so it comes back after a reboot. Mount targets can take
# minutes to resolve after they are created, hence the long retry.
mount_efs() {
	local fs=$1 ap=$2
	mkdir -p "${EFS_MOUNT}"
	if ! grep -qF "${fs}:/ ${EFS_MOUNT} efs " /etc/fstab; then
		printf '%s:/ %s efs _netdev,tls,iam,accesspoint=%s 0 0\n' "${fs}" "${EFS_MOUNT}" "${ap}" >>/etc/fstab
	fi
	systemctl daemon-reload
	if mountpoint -q "${EFS_MOUNT}"; then
		log "EFS ${fs} already mounted at ${EFS_MOUNT}"
		return 0
	fi
	RETRY_MAX_DELAY=60 retry 15 "mount EFS ${fs} via ${ap}" \
		mount -t efs -o "tls,iam,accesspoint=${ap}" "${fs}:/" "${EFS_MOUNT}" ||
		die "EFS ${fs} did not mount: check the mount targets, the efs security group (2049) and /var/log/amazon/efs/mount.log"
	log "EFS ${fs} mounted at ${EFS_MOUNT}"
}
