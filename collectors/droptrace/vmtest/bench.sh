#!/usr/bin/env bash
# The drop tracer's benchmark on the Debian kernel in qemu (Linux 6.1,
# which has the drop monitor, CONFIG_NET_DROP_MONITOR=m): the UDP flood of
# bench/run.sh with nothing watching, with NET_DM watching (the dropmon
# collector, packet mode) and with the eBPF tracer, alternating, RUNS
# times each. Under TCG the absolute rates are an emulator's, not a
# machine's: only the ratios between the three are worth reading.
#
# Needs root, qemu-system-x86, busybox-static and linux-image-amd64
# (kernelmod/test/deps.sh). Environment: RUNS=3 DURATION=3s VMLINUZ
# TIMEOUT=900 ACCEL=tcg RESULTS=path/to/RESULTS-vm.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-3s}
TIMEOUT=${TIMEOUT:-900}
RESULTS=${RESULTS:-$here/../bench/RESULTS-vm.md}
VMLINUZ=${VMLINUZ:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$VMLINUZ" ] || { echo "bench.sh: no /boot/vmlinuz-*-amd64 (apt-get install -y linux-image-amd64)" >&2; exit 2; }
KVER=${VMLINUZ#/boot/vmlinuz-}
for tool in qemu-system-x86_64 busybox cpio go jq; do
	command -v "$tool" >/dev/null || { echo "bench.sh: needs $tool (kernelmod/test/deps.sh)" >&2; exit 2; }
done
DM=$(ls /lib/modules/"$KVER"/kernel/net/core/drop_monitor.ko* 2>/dev/null | head -1)
[ -n "$DM" ] || { echo "bench.sh: no drop_monitor.ko for $KVER" >&2; exit 2; }

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
root=$OUT/root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$root/flood" ./collectors/droptrace/bench/flood &&
	CGO_ENABLED=0 go build -trimpath -o "$root/hold" ./collectors/droptrace/bench/hold)
case "$DM" in
*.xz) xz -dc "$DM" >"$root/drop_monitor.ko" ;;
*.zst) zstd -qdc "$DM" >"$root/drop_monitor.ko" ;;
*) cp "$DM" "$root/drop_monitor.ko" ;;
esac
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$here/bench-init" "$root/init" && chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.gz"

accel=${ACCEL:-tcg}
echo "bench.sh: booting $KVER ($accel), $RUNS runs of $DURATION"
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 \
	-nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$OUT/initramfs.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 bench.runs=$RUNS bench.duration=$DURATION" </dev/null >"$OUT/console.log" 2>&1
set -e
tr -d '\r' <"$OUT/console.log" | grep '^BENCH ' | sed 's/^BENCH //' >"$OUT/runs.jsonl" || true
if ! tr -d '\r' <"$OUT/console.log" | grep -q DROPTRACE-VMBENCH-END; then
	tr -d '\r' <"$OUT/console.log" | tail -40 >&2
	echo "bench.sh: the VM did not finish" >&2
	exit 1
fi
cat "$OUT/runs.jsonl"

med() { jq -s "map(select(.mode == \"$1\") | $2) | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end" "$OUT/runs.jsonl"; }
sum() { jq -s "map(select(.mode == \"$1\") | $2) | add" "$OUT/runs.jsonl"; }
ppc_off=$(med off '.flood.packets / .flood.cpu_s')
{
	echo "# Drop tracer benchmark in the VM"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), guest $KVER under qemu $accel (-smp 2), host $(uname -r), commit $(git -C "$repo" describe --always --dirty)."
	echo "UDP flood to a closed port on loopback, $RUNS runs of $DURATION per mode, alternating; medians. Under TCG only the ratios mean anything."
	echo
	echo "| watching | packets/s | packets per flood CPU-second | vs nothing | watcher CPU % | drops it counted / Udp NoPorts | its losses |"
	echo "|---|---|---|---|---|---|---|"
	for m in off netdm ebpf; do
		ppc=$(med $m '.flood.packets / .flood.cpu_s')
		ratio=$(awk -v a="$ppc" -v b="$ppc_off" 'BEGIN{printf "%.3f", a/b}')
		case $m in
		off) echo "| nothing | $(printf %.0f "$(med off .flood.pps)") | $(printf %.0f "$ppc") | 1 | - | - | - |" ;;
		netdm) echo "| NET_DM (dropmon, packet mode) | $(printf %.0f "$(med netdm .flood.pps)") | $(printf %.0f "$ppc") | $ratio | $(printf %.1f "$(med netdm .hold.cpu_pct)") | $(sum netdm .hold.netdm_total) / $(sum netdm .noports) | $(sum netdm .hold.netdm_lost) socket overruns, $(jq -s 'map(select(.mode == "netdm") | .hold.netdm_queue_dropped) | max' "$OUT/runs.jsonl") alerts dropped by the kernel (its count since the module loaded) |" ;;
		ebpf) echo "| eBPF tracer | $(printf %.0f "$(med ebpf .flood.pps)") | $(printf %.0f "$ppc") | $ratio | $(printf %.1f "$(med ebpf .hold.cpu_pct)") | $(sum ebpf .hold.no_socket) / $(sum ebpf .noports) | $(sum ebpf .hold.unattributed) unattributed |" ;;
		esac
	done
} | tee "$RESULTS"
