#!/bin/sh
# run.sh boots Debian's kernel in qemu (TCG) with netlens.ko and vmcheck,
# the filter backend checks against the real module. It builds the module
# from a copy of kernelmod/ (kernelmod/test/module-initramfs.sh).
# Needs: linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static
# cpio (kernelmod/test/deps.sh installs them).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/netlens-vmcheck.XXXXXX)}
TIMEOUT=${TIMEOUT:-300}
VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 | sort -V | tail -1)}
KVER=${VMLINUZ#/boot/vmlinuz-}
mkdir -p "$WORK/root/bin"
# netlens.ko and what it depends on (insmod'ed by init before it)
sh "$ROOT/kernelmod/test/module-initramfs.sh" "$WORK/root" "$KVER"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$WORK/root/vmcheck" ./control/filter/kmodbackend/vmcheck)
cp /bin/busybox "$WORK/root/bin/busybox"
cp "$HERE/init" "$WORK/root/init"
chmod 755 "$WORK/root/init"
mkdir -p "$WORK/root/proc" "$WORK/root/sys" "$WORK/root/dev"
(cd "$WORK/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.gz"
echo "vmcheck: booting $KVER (timeout ${TIMEOUT}s)"
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$WORK/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic quiet loglevel=4" </dev/null >"$WORK/console.log" 2>&1
set -e
tr -d '\r' <"$WORK/console.log" >"$WORK/console.txt"
sed -n '/FILTERS-VMCHECK-START/,$p' "$WORK/console.txt"
# make test counts the "--- PASS/FAIL" lines (internal/testsum).
[ -n "${TESTOUT:-}" ] && cp "$WORK/console.txt" "$TESTOUT/filters-vmcheck.txt"
fail=0
grep -nE "BUG:|WARNING:|Oops|KASAN|UBSAN|Call Trace|FILTERS-DMESG-BAD" "$WORK/console.txt" && fail=1
grep -q "FILTERS-VMCHECK-RC=0" "$WORK/console.txt" || fail=1
[ "$fail" -eq 0 ] && echo "vmcheck: PASS" || echo "vmcheck: FAIL (console: $WORK/console.txt)"
exit "$fail"
