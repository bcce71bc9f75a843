#!/bin/bash
# run-qemu.sh - build netlens.ko and the static Go test binary, pack them
# with busybox into an initramfs, boot Debian's own kernel in qemu (TCG)
# and read the results from the serial console.
#
# Exits non-zero on a test failure, on any BUG/WARNING/Oops/KASAN/UBSAN line
# from the kernel, on a build or sparse warning, or on timeout; on a crash
# it says which check was running and prints the kernel's report.
#
#   kernelmod/test/run-qemu.sh               the whole suite
#   kernelmod/test/run-qemu.sh -only=REGEXP  only the checks whose name matches
#   kernelmod/test/run-qemu.sh -bench        the benchmarks instead of the checks
#   STRESS_CYCLES=500 kernelmod/test/run-qemu.sh -only=rmmod-flood
#                                            the full unload-under-flood stress
#   kernelmod/test/run-qemu.sh -only=rmmod-flood -pin-hooks=false
#                                            the same without an nftables table
#                                            pinning the hook static keys (the
#                                            open soft lockup, docs/kernelmod.md)
#   TIMEOUT=600 kernelmod/test/run-qemu.sh   longer bound (default 600 s)
#   QEMU_EXTRA="-icount shift=0,sleep=off" kernelmod/test/run-qemu.sh -bench
#                                            guest time = guest instructions:
#                                            figures independent of host load
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
# init_on_free and page_poison make a use after free read poison, not stale
# data that still looks right.
KARGS=${KARGS-slub_debug=FZPU init_on_free=1 page_poison=1}
SMP=${SMP:-2}
VMARGS=""
for a in "$@"; do
	case "$a" in
	-bench) KARGS=${KARGS_BENCH-} SMP=${SMP_BENCH:-1} ;;
	-only=*|-pin-hooks=*|-flood-rules=*) ;;
	*) echo "run-qemu: unknown argument $a" >&2; exit 2 ;;
	esac
	VMARGS="${VMARGS:+$VMARGS,}$a"
done
[ -n "${STRESS_CYCLES:-}" ] && VMARGS="${VMARGS:+$VMARGS,}-stress-cycles=$STRESS_CYCLES"

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

# 1. the module, warning-free with W=1 and with sparse (C=2 checks every file)
command -v sparse >/dev/null || { echo "run-qemu: no sparse; run kernelmod/test/deps.sh" >&2; exit 2; }
make -s -C "$ROOT/kernelmod" KDIR="$KDIR" clean >/dev/null
if ! make -C "$ROOT/kernelmod" KDIR="$KDIR" W=1 C=2 >"$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	echo "run-qemu: FAIL: module build" >&2
	exit 1
fi
if grep -E "warning:|error:" "$OUT/build.log"; then
	echo "run-qemu: FAIL: module build has warnings (gcc W=1 or sparse C=2)" >&2
	exit 1
fi
echo "run-qemu: module built, W=1 and sparse clean"

# 2. the static Go test binary
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$OUT/root/vmtest" ./kernelmod/test/vmtest)

# 3. the initramfs
cp "$BUSYBOX" "$OUT/root/bin/busybox"
cp "$HERE/init" "$OUT/root/init"
chmod 755 "$OUT/root/init"
cp "$ROOT/kernelmod/netlens.ko" "$OUT/root/netlens.ko"
# the hookonly-flood experiment's module: netlens's hooks and nothing else
# (built in $OUT, so the source tree stays clean)
cp -r "$HERE/hookonly" "$OUT/hookonly"
make -s -C "$KDIR" M="$OUT/hookonly" modules >"$OUT/hookonly.log" 2>&1 && cp "$OUT/hookonly/hookonly.ko" "$OUT/root/hookonly.ko" ||
	echo "run-qemu: hookonly.ko not built (only the hookonly-flood experiment needs it): $(tail -1 "$OUT/hookonly.log")"
case "$VETH" in
*.xz) xz -dc "$VETH" >"$OUT/root/veth.ko" ;;
*.zst) zstd -qdc "$VETH" >"$OUT/root/veth.ko" ;;
*) cp "$VETH" "$OUT/root/veth.ko" ;;
esac
# what netlens.ko needs (conntrack for ct state matches, the REJECT helpers)
# and the nftables comparison of -bench; vmtest loads them in order
mkdir -p "$OUT/root/mods"
for m in kernel/crypto/crc32c_generic kernel/lib/libcrc32c kernel/net/netfilter/nfnetlink kernel/net/netfilter/nf_tables \
	kernel/net/ipv4/netfilter/nf_reject_ipv4 kernel/net/ipv6/netfilter/nf_reject_ipv6 \
	kernel/net/ipv4/netfilter/nf_defrag_ipv4 kernel/net/ipv6/netfilter/nf_defrag_ipv6 kernel/net/netfilter/nf_conntrack; do
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
# QEMU_EXTRA adds qemu options: "-icount shift=0,sleep=off" makes guest
# time count guest instructions (1 ns each), so -bench figures do not
# depend on the host's load (see docs/performance.md).
# shellcheck disable=SC2086
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp "$SMP" ${QEMU_EXTRA:-} \
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

# real kernel replies for the unit tests of collectors/kmod (none in -bench,
# -only or after a crash: a grep that finds nothing is not an error)
mkdir -p "$OUT/fixtures"
if command -v xxd >/dev/null; then
	{ grep -E "^FIXTURE [a-z0-9-]+ [0-9a-f]+$" "$OUT/console.txt" || true; } | while read -r _ name hexdata; do
		echo "$hexdata" | xxd -r -p >"$OUT/fixtures/$name.bin"
	done
fi

fail=0
if ! grep -q "NETLENS-VMTEST-RC=" "$OUT/console.txt"; then
	running=$({ grep -E "^=== RUN " "$OUT/console.txt" || true; } | tail -1 | cut -d' ' -f3)
	echo "run-qemu: FAIL: the VM stopped before vmtest finished (qemu exit $qrc), during check '${running:-?}'" >&2
	echo "run-qemu: the kernel's last words:" >&2
	{ grep -nE -A40 "BUG|Oops|panic|soft lockup|hung_task|RIP:" "$OUT/console.txt" || tail -40 "$OUT/console.txt"; } | head -120 >&2
	fail=1
fi
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "run-qemu: FAIL: timeout after ${TIMEOUT}s" >&2
	fail=1
fi
if grep -nE "BUG:|BUG [a-z]|WARNING:|Oops|KASAN|UBSAN|general protection|Kernel panic|Call Trace|list_(add|del) corruption|soft lockup|Poison overwritten|Object padding|Redzone" "$OUT/console.txt"; then
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
