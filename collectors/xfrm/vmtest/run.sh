#!/usr/bin/env bash
# Runs collectors/xfrm's integration tests against a kernel that has ESP,
# for machines whose own kernel lacks it (CONFIG_INET_ESP off). It boots
# the Debian kernel under /boot (Linux 6.1: xfrm_user, esp4, esp6,
# authenc and echainiv as modules) in qemu with an initramfs holding
# busybox, those modules, veth, iproute2's ip (the oracle: ip -s xfrm
# state and policy) with its libraries, and the static test binary. In
# the VM an ESP tunnel between two namespaces carries traffic, a replayed
# and a forged ESP packet move the SA's counters, an SA expires, and
# neither the JSON nor the IPsec tab holds a key (integration_test.go).
#
# Needs root, qemu-system-x86, busybox-static, linux-image-amd64
# (kernelmod/test/deps.sh installs them) and iproute2. Environment:
# VMLINUZ, TIMEOUT=600, ACCEL=tcg (kvm where nested virtualisation works),
# UPDATE_FIXTURES=1 (save the kernel's messages the test prints under
# ../testdata), TESTOUT (where make test collects the console).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
OUT=${OUT:-$(mktemp -d)}
TIMEOUT=${TIMEOUT:-600}
VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$VMLINUZ" ] || { echo "run.sh: no /boot/vmlinuz-*-amd64 (apt-get install -y linux-image-amd64)" >&2; exit 2; }
KVER=${VMLINUZ#/boot/vmlinuz-}
MODS=/lib/modules/$KVER/kernel
for tool in qemu-system-x86_64 busybox cpio go ldd; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (kernelmod/test/deps.sh)" >&2; exit 2; }
done
IP=$(command -v ip) || { echo "run.sh: needs ip (apt-get install -y iproute2)" >&2; exit 2; }

. "$repo/kernelmod/test/vmlib.sh"

root=$OUT/root
rm -rf "$root" && mkdir -p "$root/bin" "$root/usr/sbin" "$root/mods" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/etc"
(cd "$repo" && CGO_ENABLED=0 go test -c -trimpath -o "$root/xfrm.test" ./collectors/xfrm)
# The tests read their fixtures from testdata, as go test runs them.
mkdir -p "$root/xfrm" && cp -r "$here/../testdata" "$root/xfrm/testdata"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/init" "$root/init" && chmod 755 "$root/init"
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$root/etc/passwd"
# iproute2's ip and the shared libraries it links (ldd), at their paths.
cp "$IP" "$root/usr/sbin/ip"
for lib in $(ldd "$IP" | grep -oE '/[^ ]+'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# ip names protocols from /etc/protocols ("proto udp").
cp /etc/protocols "$root/etc/protocols"
# The modules, in the order init loads them (a missing one fails there):
# echainiv (the IVs of cbc(aes)) needs the default RNG, drbg, seeded by
# jitterentropy, whose conditioning is sha3-256.
for m in drivers/net/veth net/xfrm/xfrm_algo net/xfrm/xfrm_user crypto/sha3_generic crypto/jitterentropy_rng crypto/drbg crypto/authenc crypto/echainiv net/ipv4/esp4 net/ipv6/esp6; do
	src=$(ls "$MODS"/$m.ko* 2>/dev/null | head -1) || true
	[ -n "$src" ] && unpack "$src" "$root/mods/$(basename "$m").ko"
done
vm_boot xfrm
grep -vE '^FIXTURE ' "$OUT/console.txt"

# The kernel's SA and policy messages (keys zeroed) the test printed:
# UPDATE_FIXTURES=1 saves them under ../testdata (never during make test).
fixtures=$OUT/fixtures
[ "${UPDATE_FIXTURES:-}" = 1 ] && fixtures=$here/../testdata
vm_fixtures "$fixtures"
fail=0
grep -q 'XFRM-VMTEST-RC=0' "$OUT/console.txt" || fail=1
# Every test ran against ESP: none skipped or ended early.
grep -qE -- '--- (FAIL|SKIP):' "$OUT/console.txt" && fail=1
for t in TestIntegrationESPTunnel TestIntegrationPoliciesMatchIP TestKeysNeverShown; do
	grep -q -- "--- PASS: $t " "$OUT/console.txt" || fail=1
done
if [ "$fail" -ne 0 ]; then
	echo "run.sh: FAIL (qemu exit $qrc; console in $OUT/console.txt)" >&2
	exit 1
fi
echo "run.sh: PASS"
