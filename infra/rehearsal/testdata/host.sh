#!/bin/bash
# Runs a command as a fleet "instance" of the rehearsal: in a mount namespace
# of its own where /opt/bookstore is this instance's directory, /mnt and
# /etc/fstab are private, and PATH starts with the stubs for what has no
# local equivalent (see stubs/). Nothing mounted here is seen outside.
# Usage: host.sh INSTANCE_ROOT COMMAND [ARGS...]
set -euo pipefail
root=$1
shift
if [[ ${REHEARSAL_IN_NAMESPACE:-} != 1 ]]; then
	REHEARSAL_IN_NAMESPACE=1 exec unshare --mount --propagation private -- "$0" "${root}" "$@"
fi
mount -t tmpfs rehearsal-opt /opt
mkdir -p /opt/bookstore
mount --bind "${root}/opt/bookstore" /opt/bookstore
mount -t tmpfs rehearsal-mnt /mnt
cp /etc/fstab "${root}/fstab" 2>/dev/null || : >"${root}/fstab"
mount --bind "${root}/fstab" /etc/fstab
PATH="$(dirname "$(readlink -f "$0")")/stubs:${PATH}"
export PATH
exec "$@"
