#!/usr/bin/env bash
# Drop tracer benchmark for `make bench` (needs root): a UDP flood to a
# closed port inside a fresh network namespace, every datagram dropped
# (NO_SOCKET), with the tracer off and on, alternating, RUNS rounds.
#
# The flood (bench/flood: one thread, sendmmsg of 64) runs the whole
# receive path on loopback in its own context, so the tracer's cost per
# drop shows as fewer packets per second at the same CPU. The tracer side
# is a whole process (bench/hold: the droptrace collector reading the map
# every second, as netlens does). Reported: packets/s off and on (median),
# the loss, the flood's CPU, the tracer process's CPU, and uncounted drops
# (the Udp NoPorts delta from nstat minus the tracer's NO_SOCKET drops and
# its unattributed ones: drops the kernel counted that the tracer did
# not). Then memory: the
# tracer process's RSS and the kernel maps' memlock (the two flows hashes)
# with 50,000 distinct flows into the default 16,384-key hashes and into
# 65,536-key ones.
#
# pwru is not compared: Debian 12 has no package of it (apt-cache policy
# pwru: none), the Go module proxy refuses github.com/cilium/pwru (403,
# "not available"), and its BPF objects are generated at build time with
# clang and its vendored libpcap is linked with cgo, so `go install`
# could not build it anyway. NET_DM is compared in the VM
# (vmtest/bench.sh): this kernel has no drop monitor.
#
# Environment: RUNS=40 DURATION=1s CAL_RUNS=3 RESULTS=path/to/RESULTS.md
# BASE=<commit> (also runs that commit's BPF program, for old vs new)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
RUNS=${RUNS:-40}
DURATION=${DURATION:-1s}
CAL_RUNS=${CAL_RUNS:-3}
RESULTS=${RESULTS:-$here/RESULTS.md}

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (namespaces, BPF)" >&2
	exit 1
fi
for tool in ip nstat jq bpftool go; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (make test-deps)" >&2; exit 1; }
done

tmp=$(mktemp -d)
ns=dtbench-$$
cleanup() {
	[ -n "${holdpid:-}" ] && kill "$holdpid" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$repo" && go build -o "$tmp/flood" ./collectors/droptrace/bench/flood && CGO_ENABLED=0 go build -o "$tmp/hold" ./collectors/droptrace/bench/hold)
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

noports() { NSTAT_HISTORY=$tmp/h ip netns exec "$ns" nstat -asz UdpNoPorts | awk '$1=="UdpNoPorts"{print $2}'; }

# start_hold ARGS...: starts the tracer process, waits until attached.
start_hold() { start_hold_bin "$tmp/hold" "$@"; }
# start_hold_bin BINARY ARGS...: the same with another hold binary.
start_hold_bin() {
	local bin=$1
	shift
	rm -f "$tmp/hold.out"
	"$bin" -netns "/run/netns/$ns" -duration 10m "$@" >"$tmp/hold.out" &
	holdpid=$!
	for _ in $(seq 100); do grep -q ready "$tmp/hold.out" 2>/dev/null && return; sleep 0.1; done
	echo "run.sh: tracer did not start" >&2
	cat "$tmp/hold.out" >&2
	exit 1
}
# stop_hold: stops the tracer process; its report is then in $held.
stop_hold() { kill -TERM "$holdpid"; wait "$holdpid" || true; holdpid=; held=$(tail -1 "$tmp/hold.out"); }

# busy: the machine's busy CPU jiffies so far (/proc/stat, all CPUs):
# softirq work that ksoftirqd does for the flood is not the flood's CPU.
busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8}' /proc/stat; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# others: BPF links on kfree_skb that are not this benchmark's (another
# user's tracer runs for every drop, in both arms: reported, not removed).
# (tp_btf and raw_tp programs both show as raw_tracepoint links.)
others() { bpftool -j link list | jq '[.[] | select(.type == "raw_tracepoint" and .tp_name == "kfree_skb")] | length'; }

# Arms: off, on (this tree's program) and, with BASE=<commit>, base: the
# same hold with that commit's BPF objects, for an old-vs-new comparison
# in the same run.
arms=(off on)
if [ -n "${BASE:-}" ]; then
	mkdir "$tmp/basetree"
	git -C "$repo" archive HEAD | tar -x -C "$tmp/basetree"
	for f in droptrace_bpfel.o droptrace_bpfeb.o droptrace_bpfel.go droptrace_bpfeb.go; do
		git -C "$repo" show "$BASE:collectors/droptrace/$f" >"$tmp/basetree/collectors/droptrace/$f"
	done
	(cd "$tmp/basetree" && CGO_ENABLED=0 go build -o "$tmp/hold-base" ./collectors/droptrace/bench/hold)
	arms+=(base)
fi

# run_arm ARM ROUND: one flood with the arm's tracer (none for off), BPF
# statistics off (they cost two clock reads per run: they are measured
# apart below); appends the result to $tmp/ARM.
run_arm() {
	local arm=$1 r=$2 o before after b0 b1 res
	o=$(others)
	# The tracer counts from its start, the warm-up included: so does
	# the kernel's counter.
	before=$(noports)
	case $arm in
	on) start_hold -stats=false ;;
	base) start_hold_bin "$tmp/hold-base" -stats=false ;;
	esac
	if [ "$arm" != off ]; then
		# Warm-up: the tracer reads /proc/kallsyms when it first names a
		# location, on its first read after a drop; not in the measured
		# flood.
		ip netns exec "$ns" "$tmp/flood" -count 64 >/dev/null
		sleep 1.2
	fi
	b0=$(busy)
	res=$(ip netns exec "$ns" "$tmp/flood" -duration "$DURATION")
	b1=$(busy)
	if [ "$arm" = off ]; then
		jq -c --argjson j "$((b1 - b0))" --argjson o "$o" --argjson r "$r" '. + {round: $r, others: $o, machine_pct: ($j / .seconds)}' <<<"$res" >>"$tmp/$arm"
	else
		sleep 0.2
		after=$(noports)
		stop_hold
		jq -c --argjson h "$held" --argjson d "$((after - before))" --argjson j "$((b1 - b0))" --argjson o "$o" --argjson r "$r" '. + {round: $r, others: $o, machine_pct: ($j / .seconds), hold_cpu_pct: $h.cpu_pct, seen: $h.seen, noports: $d, no_socket: $h.no_socket, uncounted: ($d - $h.no_socket - $h.unattributed), unattributed: $h.unattributed}' <<<"$res" >>"$tmp/$arm"
	fi
	echo "$arm $r: $(tail -1 "$tmp/$arm")"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for a in "${arms[@]}"; do : >"$tmp/$a"; done
for i in $(seq "$RUNS"); do
	# The order turns each round, so that no arm always follows another.
	n=${#arms[@]}
	for j in $(seq 0 $((n - 1))); do
		run_arm "${arms[$(((i + j) % n))]}" "$i"
	done
done
# The program's own time per drop: the kernel's BPF statistics
# (run_time_ns / run_cnt, hold's default), CAL_RUNS floods of 200,000.
: >"$tmp/cal"
for i in $(seq "$CAL_RUNS"); do
	for a in "${arms[@]}"; do
		[ "$a" = off ] && continue
		if [ "$a" = on ]; then start_hold; else start_hold_bin "$tmp/hold-base"; fi
		ip netns exec "$ns" "$tmp/flood" -count 200000 >/dev/null
		stop_hold
		jq -c --arg a "$a" '{arm: $a, ns: .prog_ns_per_run}' <<<"$held" >>"$tmp/cal"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ppc() { jq '.packets / .cpu_s' "$tmp/$1" | median; }
# loss_rounds ARM: the loss of each round (its run against the off run of
# the same round), as percentages, one a line.
loss_rounds() { jq -s --slurpfile off "$tmp/off" 'map(. as $x | ($off | map(select(.round == $x.round))[0]) as $o | 100 * (1 - ($x.packets / $x.cpu_s) / ($o.packets / $o.cpu_s)))[]' "$tmp/$1"; }
quart() { sort -g | awk '{v[NR]=$1} END {printf "%.1f .. %.1f", v[int((NR+3)/4)], v[int((3*NR+3)/4)]}'; }
pps_off=$(jq .pps "$tmp/off" | median)
pps_on=$(jq .pps "$tmp/on" | median)
cpu_off=$(jq '.cpu_s / .seconds * 100' "$tmp/off" | median)
cpu_on=$(jq '.cpu_s / .seconds * 100' "$tmp/on" | median)
mach_off=$(jq .machine_pct "$tmp/off" | median)
mach_on=$(jq .machine_pct "$tmp/on" | median)
hold_cpu=$(jq .hold_cpu_pct "$tmp/on" | median)
prog_ns=$(jq -r 'select(.arm == "on") | .ns' "$tmp/cal" | median)
uncounted=$(jq -s 'map(.uncounted) | add' "$tmp/on")
unattributed=$(jq -s 'map(.unattributed) | add' "$tmp/on")
others_max=$(jq -s 'map(.others) | max' "$tmp"/off "$tmp"/on)
# Packets per CPU-second of the flood: the rate one CPU would reach, which
# a loaded machine's scheduling does not blur (on loopback the receive
# path, the tracer included, runs in the sender's context).
ppc_off=$(ppc off)
ppc_on=$(ppc on)
loss=$(awk -v a="$ppc_off" -v b="$ppc_on" 'BEGIN{printf "%.1f", (a-b)/a*100}')
loss_med=$(loss_rounds on | median)
loss_q=$(loss_rounds on | quart)
prog_loss=$(awk -v ns="$prog_ns" -v a="$ppc_off" 'BEGIN{printf "%.1f", 100 * (ns * a / 1e9) / (1 + ns * a / 1e9)}')
base_lines=""
if [ -n "${BASE:-}" ]; then
	base_ns=$(jq -r 'select(.arm == "base") | .ns' "$tmp/cal" | median)
	base_lines="Base program ($BASE), same run: $(printf %.0f "$(ppc base)") packets per flood CPU-second, loss per round median $(printf %.1f "$(loss_rounds base | median)")% (quartiles $(loss_rounds base | quart)), program time per drop $(printf %.0f "$base_ns") ns."
fi

# Memory: 50,000 distinct flows (one datagram each) into a map of 16,384
# keys (the default) and of 65,536.
mem=""
for size in 16384 65536; do
	start_hold -max-flows "$size"
	# The two flows hashes (one in use, one drained) of this size, newest.
	memlock=$(bpftool -j map list | jq "[.[] | select(.name == \"flows_inner\" and .max_entries == $size)] | sort_by(.id) | .[-2:] | map(.bytes_memlock) | add")
	ip netns exec "$ns" "$tmp/flood" -count 50000 -flows 50000 -port 10000 -sport 9999 >/dev/null
	sleep 1.5
	stop_hold
	echo "memory, map $size: memlock $memlock, tracer $held"
	mem+="| $size | $(jq -r .flows <<<"$held") | $(jq -r .attributed <<<"$held") | $memlock | $(jq -r .rss_kb <<<"$held") | $(jq -r .hwm_kb <<<"$held") | $(jq -r .seen <<<"$held") | $(jq -r .unattributed <<<"$held") |"$'\n'
done

{
	echo "# Drop tracer benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load $load_before -> $load_after, commit $(git -C "$repo" describe --always --dirty)."
	echo "UDP flood to a closed port on loopback in a namespace, $RUNS rounds of $DURATION runs (${arms[*]}, the order turning each round), BPF statistics off; medians. Other kfree_skb programs attached during the runs (not this benchmark's): up to $others_max."
	echo
	echo "| tracer | packets/s | packets per flood CPU-second | flood process CPU % | machine CPU % (all $(nproc) CPUs, x100) | tracer process CPU % | uncounted drops | unattributed |"
	echo "|---|---|---|---|---|---|---|---|"
	echo "| off | $(printf %.0f "$pps_off") | $(printf %.0f "$ppc_off") | $(printf %.1f "$cpu_off") | $(printf %.0f "$mach_off") | - | - | - |"
	echo "| on | $(printf %.0f "$pps_on") | $(printf %.0f "$ppc_on") | $(printf %.1f "$cpu_on") | $(printf %.0f "$mach_on") | $(printf %.2f "$hold_cpu") | $uncounted | $unattributed |"
	echo
	echo "Throughput loss with the tracer on, per flood CPU-second: $loss% between the medians; per round (against that round's off run) median $(printf %.1f "$loss_med")%, quartiles $loss_q (target <= 5%)."
	echo "The program's own time per drop (kernel BPF statistics on, $CAL_RUNS floods of 200,000, median): $(printf %.0f "$prog_ns") ns, against $(awk -v a="$ppc_off" 'BEGIN{printf "%.0f", 1e9/a}') ns per packet off: $prog_loss% of the flood's time."
	[ -n "$base_lines" ] && echo "$base_lines"
	echo
	echo "pwru is not compared: not installable here (no Debian package, the Go module proxy refuses it; see the head of run.sh). NET_DM: vmtest/bench.sh, RESULTS-vm.md."
	echo
	echo "| map keys | flows kept | attributed | memlock of the two hashes, bytes | tracer RSS kB | tracer peak RSS kB | seen | unattributed |"
	echo "|---|---|---|---|---|---|---|---|"
	printf "%s" "$mem"
} | tee "$RESULTS"
