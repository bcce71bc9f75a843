#!/usr/bin/env bash
# Runs the drop tracer's portable incident test (portable_test.go) on a
# second kernel: the Debian kernel under /boot (Linux 6.1: another enum
# skb_drop_reason, a kfree_skb tracepoint without rx_sk), booted in qemu
# with an initramfs holding busybox and the static test binary. The same
# BPF objects load there (CO-RE against that kernel's BTF). Then, with
# netlens.ko loaded, the kmod half of the rule attribution test
# (kmodrule_test.go, built with -tags kmodvm: the module cannot load on
# the build machine).
#
# Needs root, qemu-system-x86, busybox-static, linux-image-amd64 and
# linux-headers-amd64 (kernelmod/test/deps.sh installs them). Environment: VMLINUZ,
# TIMEOUT=300, ACCEL=tcg (kvm where nested virtualisation works), TESTOUT
# (where make test collects the console).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
OUT=${OUT:-$(mktemp -d)}
TIMEOUT=${TIMEOUT:-300}
VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$VMLINUZ" ] || { echo "run.sh: no /boot/vmlinuz-*-amd64 (apt-get install -y linux-image-amd64)" >&2; exit 2; }
KVER=${VMLINUZ#/boot/vmlinuz-}
for tool in qemu-system-x86_64 busybox cpio go; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (kernelmod/test/deps.sh)" >&2; exit 2; }
done

. "$repo/kernelmod/test/vmlib.sh"

root=$OUT/root
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
(cd "$repo" && CGO_ENABLED=0 go test -c -trimpath -tags kmodvm -o "$root/droptrace.test" ./collectors/droptrace)
sh "$repo/kernelmod/test/module-initramfs.sh" "$root/kmod" "$KVER"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/init" "$root/init" && chmod 755 "$root/init"
vm_boot droptrace
cat "$OUT/console.txt"
if grep -nE 'BUG:|WARNING:|Oops|Call Trace' "$OUT/console.txt" || ! grep -q 'DROPTRACE-VMTEST-RC=0' "$OUT/console.txt"; then
	echo "run.sh: FAIL (qemu exit $qrc; console in $OUT/console.txt)" >&2
	exit 1
fi
echo "run.sh: PASS"
