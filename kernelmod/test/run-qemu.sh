#!/bin/bash
# run-qemu.sh - build netlens.ko and the static Go test binary, pack them
# with busybox into an initramfs, boot Debian's own kernel in qemu (TCG)
# and read the results from the serial console.
#
# Exits non-zero on a test failure, on any BUG/WARNING/Oops/KASAN/UBSAN line
# from the kernel, on a build warning, or on timeout.
#
#   kernelmod/test/run-qemu.sh              the whole suite
#   kernelmod/test/run-qemu.sh -bench       the per-packet cost table instead of the checks
#   TIMEOUT=600 kernelmod/test/run-qemu.sh  longer bound (default 600 s)
#
# Needs the packages of kernelmod/test/deps.sh.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$HERE/out}
TIMEOUT=${TIMEOUT:-600}
# slub_debug: red zones, poisoning and sanity checks catch memory misuse
# (a bad write shows as "BUG kmalloc-..." on the console). Off for -bench.
# -bench runs on one CPU so that all the work a packet causes (including
# softirq and ksoftirqd) is inside the measured time.
KARGS=${KARGS-slub_debug=FZP}
SMP=${SMP:-2}
VMARGS=""
for a in "$@"; do
	[ "$a" = "-bench" ] && KARGS=${KARGS_BENCH-} && SMP=${SMP_BENCH:-1}
	VMARGS="${VMARGS:+$VMARGS,}$a"
done

VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$VMLINUZ" ] || { echo "run-qemu: no /boot/vmlinuz-*-amd64; run kernelmod/test/deps.sh" >&2; exit 2; }
KVER=${VMLINUZ#/boot/vmlinuz-}
KDIR=${KDIR:-/usr/src/linux-headers-$KVER}
[ -d "$KDIR" ] || { echo "run-qemu: no headers at $KDIR" >&2; exit 2; }
BUSYBOX=${BUSYBOX:-/bin/busybox}
VETH=$(ls /lib/modules/"$KVER"/kernel/drivers/net/veth.ko* | head -1)

echo "run-qemu: kernel $KVER"
rm -rf "$OUT"
mkdir -p "$OUT/root/bin"

# 1. the module, warning-free with W=1
make -s -C "$ROOT/kernelmod" KDIR="$KDIR" clean >/dev/null
if ! make -C "$ROOT/kernelmod" KDIR="$KDIR" W=1 >"$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	echo "run-qemu: FAIL: module build" >&2
	exit 1
fi
if grep -E "warning:|error:" "$OUT/build.log"; then
	echo "run-qemu: FAIL: module build has warnings" >&2
	exit 1
fi

# 2. the static Go test binary
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$OUT/root/vmtest" ./kernelmod/test/vmtest)

# 3. the initramfs
cp "$BUSYBOX" "$OUT/root/bin/busybox"
cp "$HERE/init" "$OUT/root/init"
chmod 755 "$OUT/root/init"
cp "$ROOT/kernelmod/netlens.ko" "$OUT/root/netlens.ko"
case "$VETH" in
*.xz) xz -dc "$VETH" >"$OUT/root/veth.ko" ;;
*.zst) zstd -qdc "$VETH" >"$OUT/root/veth.ko" ;;
*) cp "$VETH" "$OUT/root/veth.ko" ;;
esac
# for the nftables comparison of -bench (loaded by vmtest, in this order)
mkdir -p "$OUT/root/mods"
for m in kernel/crypto/crc32c_generic kernel/lib/libcrc32c kernel/net/netfilter/nfnetlink kernel/net/netfilter/nf_tables; do
	src=$(ls /lib/modules/"$KVER"/$m.ko* 2>/dev/null | head -1) || true
	[ -n "$src" ] || continue
	dst="$OUT/root/mods/$(basename "$m").ko"
	case "$src" in
	*.xz) xz -dc "$src" >"$dst" ;;
	*.zst) zstd -qdc "$src" >"$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
done
mkdir -p "$OUT/root/proc" "$OUT/root/sys" "$OUT/root/dev" "$OUT/root/etc"
echo "root:x:0:0:root:/:/bin/sh" >"$OUT/root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$OUT/root/etc/passwd"
(cd "$OUT/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.gz"

# 4. boot
echo "run-qemu: booting (timeout ${TIMEOUT}s)"
start=$(date +%s)
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp "$SMP" \
	-nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$OUT/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet loglevel=4 $KARGS netlens.args=$VMARGS" \
	</dev/null >"$OUT/console.log" 2>&1
qrc=$?
set -e
end=$(date +%s)
tr -d '\r' <"$OUT/console.log" >"$OUT/console.txt"
cat "$OUT/console.txt"
# make test counts the "--- PASS/FAIL" lines (internal/testsum).
[ -n "${TESTOUT:-}" ] && cp "$OUT/console.txt" "$TESTOUT/kernelmod-vmtest.txt"
echo "run-qemu: qemu exited $qrc after $((end - start))s"

# real kernel replies for the unit tests of collectors/kmod
mkdir -p "$OUT/fixtures"
command -v xxd >/dev/null && grep -E "^FIXTURE [a-z0-9-]+ [0-9a-f]+$" "$OUT/console.txt" | while read -r _ name hexdata; do
	echo "$hexdata" | xxd -r -p >"$OUT/fixtures/$name.bin"
done

fail=0
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "run-qemu: FAIL: timeout after ${TIMEOUT}s" >&2
	fail=1
fi
if grep -nE "BUG:|BUG [a-z]|WARNING:|Oops|KASAN|UBSAN|general protection|Kernel panic|Call Trace|list_(add|del) corruption" "$OUT/console.txt"; then
	echo "run-qemu: FAIL: the kernel reported a problem" >&2
	fail=1
fi
grep -q "NETLENS-DMESG-BAD" "$OUT/console.txt" && { echo "run-qemu: FAIL: dmesg" >&2; fail=1; }
if ! grep -q "NETLENS-VMTEST-RC=0" "$OUT/console.txt"; then
	echo "run-qemu: FAIL: vmtest did not pass" >&2
	fail=1
fi
[ "$fail" -eq 0 ] && echo "run-qemu: PASS ($((end - start))s in qemu)"
exit "$fail"
