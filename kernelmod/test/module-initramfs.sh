#!/bin/sh
# module-initramfs.sh DEST KVER - build netlens.ko for Debian's kernel KVER
# from a copy of kernelmod/ (the source tree is never touched) and put it
# in DEST with the modules it depends on, decompressed, and DEST/load.order
# naming them all in the order an initramfs's init insmods them (there is
# no modprobe there), netlens last.
# Used by control/filter/kmodbackend/vmcheck/run.sh and
# collectors/droptrace/vmtest/run.sh. KDIR overrides the headers.
set -eu
DEST=$1
KVER=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KDIR=${KDIR:-/usr/src/linux-headers-$KVER}
build=$(mktemp -d /tmp/netlens-kmod.XXXXXX)
trap 'rm -rf "$build"' EXIT
cp "$ROOT"/kernelmod/*.c "$ROOT"/kernelmod/*.h "$ROOT"/kernelmod/Kbuild "$ROOT"/kernelmod/Makefile "$build/"
cp -r "$ROOT"/kernelmod/uapi "$build/"
make -s -C "$build" KDIR="$KDIR" >"$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
mkdir -p "$DEST"
cp "$build/netlens.ko" "$DEST/netlens.ko"
for m in kernel/crypto/crc32c_generic kernel/lib/libcrc32c kernel/net/ipv4/netfilter/nf_defrag_ipv4 \
	kernel/net/ipv6/netfilter/nf_defrag_ipv6 kernel/net/netfilter/nf_conntrack \
	kernel/net/ipv4/netfilter/nf_reject_ipv4 kernel/net/ipv6/netfilter/nf_reject_ipv6; do
	src=$(ls /lib/modules/"$KVER"/$m.ko* | head -1)
	case "$src" in
	*.xz) xz -dc "$src" >"$DEST/$(basename "$m").ko" ;;
	*.zst) zstd -qdc "$src" >"$DEST/$(basename "$m").ko" ;;
	*) cp "$src" "$DEST/$(basename "$m").ko" ;;
	esac
	basename "$m"
done >"$DEST/load.order"
echo netlens >>"$DEST/load.order"
