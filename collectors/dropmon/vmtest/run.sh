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

unpack() { # unpack SRC DST: copy a module, decompressing it
	case "$1" in
	*.xz) xz -dc "$1" >"$2" ;;
	*.zst) zstd -qdc "$1" >"$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

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
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.gz"

# TCG by default: KVM inside this kind of (nested) VM hangs in the BIOS.
accel=${ACCEL:-tcg}
echo "run.sh: booting $KVER ($accel)"
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 \
	-nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$OUT/initramfs.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null >"$OUT/console.log" 2>&1
qrc=$?
set -e
tr -d '\r' <"$OUT/console.log" >"$OUT/console.txt"
grep -vE '^FIXTURE ' "$OUT/console.txt"

# make test counts the "--- PASS/FAIL/SKIP" lines (internal/testsum).
[ -n "${TESTOUT:-}" ] && cp "$OUT/console.txt" "$TESTOUT/dropmon-vmtest.txt"

fixtures=$OUT/fixtures
[ "${UPDATE_FIXTURES:-}" = 1 ] && fixtures=$here/../testdata
mkdir -p "$fixtures"
{ grep -E '^FIXTURE [a-z0-9-]+ [0-9a-f]+$' "$OUT/console.txt" || true; } | while read -r _ name data; do
	echo "$data" | xxd -r -p >"$fixtures/$name.bin"
	echo "run.sh: saved $fixtures/$name.bin"
done
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
