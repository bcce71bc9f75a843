#!/bin/sh
# deps.sh - install what run-qemu.sh needs (Debian bookworm): the distro
# kernel and its headers, qemu, a static busybox, cpio, a C toolchain and
# sparse (the module is built with C=2).
# Idempotent: does nothing when everything is present.
set -eu
PKGS="linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio gcc make sparse xxd"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps.sh: all present"
	exit 0
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y $missing
