#!/usr/bin/env bash
# Runs collectors/dropmon's integration tests against a kernel that has
# the drop monitor, for machines whose own kernel lacks it
# (CONFIG_NET_DROP_MONITOR off). It boots the Debian kernel under /boot
# (CONFIG_NET_DROP_MONITOR=m, Linux 6.1: packet mode with drop reasons) in
# qemu with an initramfs holding busybox, drop_monitor.ko, nf_tables and
# the static test binary. The kernel messages the tests print as FIXTURE
# lines (real NET_DM replies) go to $OUT/fixtures; with
# UPDATE_FIXTURES=1 they replace ../testdata, the unit tests' fixtures
# (never during make test: tests do not modify the tree).
#
# Needs root, qemu-system-x86, busybox-static and linux-image-amd64
# (kernelmod/test/deps.sh installs them). Environment: VMLINUZ, TIMEOUT=300,
# ACCEL=tcg (kvm where nested virtualisation works), DM_KO, UPDATE_FIXTURES,
# TESTOUT (where make test collects the console).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
OUT=${OUT:-$(mktemp -d)}
TIMEOUT=${TIMEOUT:-300}
VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$VMLINUZ" ] || { echo "run.sh: no /boot/vmlinuz-*-amd64 (apt-get install -y linux-image-amd64)" >&2; exit 2; }
KVER=${VMLINUZ#/boot/vmlinuz-}
MODS=/lib/modules/$KVER/kernel
for tool in qemu-system-x86_64 busybox cpio go; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (kernelmod/test/deps.sh)" >&2; exit 2; }
done

. "$repo/kernelmod/test/vmlib.sh"

root=$OUT/root
rm -rf "$root" && mkdir -p "$root/bin" "$root/mods" "$root/proc" "$root/sys" "$root/dev"
(cd "$repo" && CGO_ENABLED=0 go test -c -trimpath -o "$root/dropmon.test" ./collectors/dropmon)
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/init" "$root/init" && chmod 755 "$root/init"
# DM_KO: another drop_monitor.ko (a broken one checks that a module that
# does not load fails the run).
unpack "${DM_KO:-$(ls "$MODS"/net/core/drop_monitor.ko* | head -1)}" "$root/drop_monitor.ko"
for m in crypto/crc32c_generic lib/libcrc32c net/netfilter/nfnetlink net/netfilter/nf_tables; do
	src=$(ls "$MODS"/$m.ko* 2>/dev/null | head -1) || true
	[ -n "$src" ] && unpack "$src" "$root/mods/$(basename "$m").ko"
done
vm_boot dropmon
grep -vE '^FIXTURE ' "$OUT/console.txt"

fixtures=$OUT/fixtures
[ "${UPDATE_FIXTURES:-}" = 1 ] && fixtures=$here/../testdata
vm_fixtures "$fixtures"
fail=0
grep -q 'DROPMON-VMTEST-RC=0' "$OUT/console.txt" || fail=1
# Every test ran against the drop monitor: none skipped or ended early.
grep -qE -- '--- (FAIL|SKIP):' "$OUT/console.txt" && fail=1
grep -q -- '--- PASS: TestIntegrationDropMonitor ' "$OUT/console.txt" || fail=1
if [ "$fail" -ne 0 ]; then
	echo "run.sh: FAIL (qemu exit $qrc; console in $OUT/console.txt)" >&2
	exit 1
fi
echo "run.sh: PASS"
