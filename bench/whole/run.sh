#!/usr/bin/env bash
# Whole-process benchmark for `make bench` (issue 19): netlens commands
# against their peer tools, as a user calls them, side by side in one run
# with `hyperfine -N` (no shell), each row giving both medians, their
# ratio and each process's peak RSS (/usr/bin/time -f %M, one extra run).
# Needs root (network namespaces; the 1M-entry conntrack run raises the
# global nf_conntrack_max and restores it).
#
#   capture   netlens capture --pcap F   vs  TZ=UTC tcpdump -nn -r F
#             on churngen's deterministic 1M-frame mix (5k open TCP
#             connections, a churning pool of 3k hosts, 10% 802.1Q, 30%
#             IPv6), then the scaling with the number of open connections
#             (FLOWS, 100 .. 100k). tcpdump's time grows steeply with the
#             number of connections (112 s for 1M frames at 5k here), so
#             above PEER_FLOWS it is not run and only netlens is timed.
#   flows     netlens flows --json       vs  conntrack -L
#             at CT_SIZES entries (100k, 1M) filled in a fresh namespace,
#             and the check that `flows --json | jq length` equals
#             `conntrack -L | wc -l`.
#   events    conntrack events: ctbench gen creates and deletes entries
#             at EV_RATE events/s (half NEW, half DESTROY) for EV_DUR s
#             in a fresh namespace while netlens's collector (ctbench
#             listen) and `conntrack -E -e NEW,DESTROY` listen side by
#             side; every NEW and DESTROY must be seen or counted lost.
#   live      live capture on a veth pair between two namespaces: pacer
#             sends 64-byte UDP frames, then 1,514-byte TCP segments, at
#             each rate of LIVE_RATES frames/s for LIVE_DUR s; at each
#             rate `netlens capture -i IFACE --json` and then
#             `tcpdump -i IFACE -w /dev/null` capture a run of their own;
#             their ring drops and CPU per packet, and the highest rate
#             each captured without a drop.
#   sockets   netlens snapshot --no-owners  vs  ss -tani,
#             netlens snapshot              vs  ss -tanp
#             at SOCKETS sockets (established loopback pairs) in a fresh
#             namespace.
#
# Environment: PARTS="capture flows events live sockets" RUNS=5 EV_RATE=200000 EV_DUR=10
# LIVE_RATES="25000 50000 100000 200000 400000" LIVE_DUR=4 PACKETS=1000000
# FLOWS="100 1000 5000 10000 100000" CT_SIZES="100000 1000000"
# SOCKETS=100000 RESULTS=path/to/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PARTS=${PARTS:-"capture flows events live sockets"}
LIVE_RATES=${LIVE_RATES:-"25000 50000 100000 200000 400000"}
LIVE_DUR=${LIVE_DUR:-4}
EV_RATE=${EV_RATE:-200000}
EV_DUR=${EV_DUR:-10}
RUNS=${RUNS:-5}
PACKETS=${PACKETS:-1000000}
FLOWS=${FLOWS:-"100 1000 5000 10000 100000"}
CT_SIZES=${CT_SIZES:-"100000 1000000"}
SOCKETS=${SOCKETS:-100000}
PEER_FLOWS=${PEER_FLOWS:-5000}
RESULTS=${RESULTS:-$here/RESULTS.md}
NS=nlwhole-$$

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root" >&2
	exit 1
fi
for tool in hyperfine tcpdump conntrack ss jq ip go /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (make test-deps)" >&2; exit 1; }
done

tmp=$(mktemp -d)
holders=()
holder_pids=()
ctmax_orig=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo)
cleanup() {
	for fd in "${holders[@]:-}"; do [ -n "$fd" ] && eval "exec $fd>&-" || true; done
	for p in "${holder_pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	sleep 0.5
	ip netns del "$NS" 2>/dev/null || true
	ip netns del "$NS-b" 2>/dev/null || true
	if [ -n "$ctmax_orig" ] && [ "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" != "$ctmax_orig" ]; then
		echo "$ctmax_orig" >/proc/sys/net/netfilter/nf_conntrack_max
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/netlens" . &&
	go build -o "$tmp/churngen" ./collectors/capture/bench/churngen &&
	go build -o "$tmp/ctbench" ./collectors/conntrack/bench/ctbench &&
	go build -o "$tmp/pacer" ./bench/whole/pacer &&
	go build -o "$tmp/sockbench" ./collectors/sockets/bench/sockbench)
nl=$tmp/netlens
rows=$tmp/rows.md
: >"$rows"
notes=$tmp/notes.md
: >"$notes"

# rss CMD...: peak RSS of one run of CMD in MB.
rss() { { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1 | awk '{ printf "%.0f", $1 / 1024 }'; }

# compare LABEL NAME_A CMD_A NAME_B CMD_B [PREFIX...]: one hyperfine run
# of both commands (interleaved warm-up, RUNS runs each), one table row.
# PREFIX (ip netns exec NS) runs hyperfine and the RSS runs inside.
compare() {
	local label=$1 na=$2 ca=$3 nb=$4 cb=$5
	shift 5
	"$@" hyperfine -N --warmup 1 --runs "$RUNS" --style none --export-json "$tmp/h.json" \
		-n "$na" "$ca" -n "$nb" "$cb" >/dev/null 2>"$tmp/h.err" || { cat "$tmp/h.err" >&2; return 1; }
	local ma mb ra rb
	ma=$(jq '.results[0].median * 1000' "$tmp/h.json")
	mb=$(jq '.results[1].median * 1000' "$tmp/h.json")
	# shellcheck disable=SC2086
	ra=$(rss "$@" $ca)
	# shellcheck disable=SC2086
	rb=$(rss "$@" $cb)
	awk -v l="$label" -v na="$na" -v nb="$nb" -v ma="$ma" -v mb="$mb" -v ra="$ra" -v rb="$rb" \
		'BEGIN { printf "| %s | `%s` | %.0f | %s | `%s` | %.0f | %s | %.2fx |\n", l, na, ma, ra, nb, mb, rb, ma / mb }' | tee -a "$rows"
}

# single LABEL NAME CMD: netlens alone (no peer run), one table row.
single() {
	local label=$1 na=$2 ca=$3
	hyperfine -N --warmup 1 --runs "$RUNS" --style none --export-json "$tmp/h.json" -n "$na" "$ca" >/dev/null 2>"$tmp/h.err" || { cat "$tmp/h.err" >&2; return 1; }
	local ma ra
	ma=$(jq '.results[0].median * 1000' "$tmp/h.json")
	# shellcheck disable=SC2086
	ra=$(rss $ca)
	awk -v l="$label" -v na="$na" -v ma="$ma" -v ra="$ra" \
		'BEGIN { printf "| %s | `%s` | %.0f | %s | (not run) | - | - | - |\n", l, na, ma, ra }' | tee -a "$rows"
}

if [[ " $PARTS " == *" capture "* ]]; then
	for f in $FLOWS; do
		echo "== capture: $PACKETS frames, $f open connections" >&2
		"$tmp/churngen" -n "$PACKETS" -flows "$f" -o "$tmp/churn.pcap" 2>>"$notes"
		cat "$tmp/churn.pcap" >/dev/null
		if [ "$f" -le "$PEER_FLOWS" ]; then
			compare "capture, $((PACKETS / 1000))k frames, $f conns" \
				"netlens capture --pcap F" "$nl capture --pcap $tmp/churn.pcap" \
				"TZ=UTC tcpdump -nn -r F" "env TZ=UTC tcpdump -nn -r $tmp/churn.pcap"
		else
			single "capture, $((PACKETS / 1000))k frames, $f conns" \
				"netlens capture --pcap F" "$nl capture --pcap $tmp/churn.pcap"
		fi
		rm -f "$tmp/churn.pcap"
	done
fi

new_ns() {
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}
in_ns() { ip netns exec "$NS" "$@"; }

if [[ " $PARTS " == *" flows "* ]]; then
	for n in $CT_SIZES; do
		echo "== flows: $n conntrack entries" >&2
		if [ "$n" -gt "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" ]; then
			# Global on this kernel (read-only in other namespaces):
			# raised for this run, restored on exit.
			echo $((n + n / 4)) >/proc/sys/net/netfilter/nf_conntrack_max
		fi
		new_ns
		in_ns "$tmp/ctbench" fill -n "$n" >>"$notes"
		got=$(in_ns "$nl" flows --json | jq length)
		want=$(in_ns conntrack -L 2>/dev/null | wc -l)
		echo "- \`flows --json | jq length\` = $got, \`conntrack -L | wc -l\` = $want at $n entries: $([ "$got" = "$want" ] && echo equal || echo DIFFERENT)" | tee -a "$notes"
		compare "flows, $((n / 1000))k entries" \
			"netlens flows --json" "$nl flows --json" \
			"conntrack -L" "conntrack -L" ip netns exec "$NS"
		ip netns del "$NS"
		if [ -n "$ctmax_orig" ]; then echo "$ctmax_orig" >/proc/sys/net/netfilter/nf_conntrack_max; fi
	done
fi

if [[ " $PARTS " == *" events "* ]]; then
	echo "== events: $EV_RATE/s for ${EV_DUR}s" >&2
	new_ns
	in_ns "$tmp/ctbench" listen -for $((EV_DUR + 4))s >"$tmp/listen" 2>&1 &
	lpid=$!
	in_ns conntrack -E -e NEW,DESTROY >"$tmp/ctE" 2>"$tmp/ctE.err" &
	cpid=$!
	sleep 1
	g=$(in_ns "$tmp/ctbench" gen -rate "$EV_RATE" -for "${EV_DUR}s" -base 3000000)
	wait "$lpid"
	sleep 1
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	l=$(cat "$tmp/listen")
	ct_new=$(grep -c '\[NEW\]' "$tmp/ctE" || true)
	ct_destroy=$(grep -c '\[DESTROY\]' "$tmp/ctE" || true)
	ct_warn=$(grep -ci 'enobufs\|losing events' "$tmp/ctE.err" || true)
	echo "$g $l ct_new=$ct_new ct_destroy=$ct_destroy ct_enobufs_warnings=$ct_warn" >&2
	{
		echo
		echo "Conntrack events, asked $EV_RATE/s (half NEW, half DESTROY) for ${EV_DUR}s; both listeners side by side in one run:"
		echo
		echo "| listener | generated | achieved events/s | seen NEW | seen DESTROY | lost (counted) | unaccounted | re-dumps | CPU s |"
		echo "|---|---|---|---|---|---|---|---|---|"
		echo "$g $l" | awk '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			gen = v["created"] + v["deleted"]; seen = v["seen_new"] + v["seen_destroy"]
			printf "| netlens (ctbench listen: the collector) | %d | %.0f | %d | %d | %d | %d | %d | %s |\n", gen, v["events_per_s"], v["seen_new"], v["seen_destroy"], v["lost"], gen - seen - v["lost"], v["resyncs"], v["cpu_s"]
		}'
		echo "$g" | awk -v n="$ct_new" -v d="$ct_destroy" -v w="$ct_warn" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			gen = v["created"] + v["deleted"]
			printf "| `conntrack -E -e NEW,DESTROY` | %d | %.0f | %d | %d | not counted (%d ENOBUFS warnings) | %d | - | - |\n", gen, v["events_per_s"], n, d, w, gen - n - d
		}'
	} >>"$notes"
	ip netns del "$NS"
fi

if [[ " $PARTS " == *" live "* ]]; then
	echo "== live capture" >&2
	NSB=$NS-b
	new_ns
	ip netns del "$NSB" 2>/dev/null || true
	ip netns add "$NSB"
	ip link add va netns "$NS" type veth peer vb netns "$NSB"
	ip -n "$NS" addr add 10.99.0.1/24 dev va
	ip -n "$NSB" addr add 10.99.0.2/24 dev vb
	# One frame per segment on the wire and in the capture: no GSO.
	ip -n "$NS" link set va gso_max_segs 1 up 2>/dev/null || ip -n "$NS" link set va up
	ip -n "$NSB" link set vb gso_max_segs 1 up 2>/dev/null || ip -n "$NSB" link set vb up
	# The sink stops by itself after 10x -for (bounded if this script dies).
	in_ns "$tmp/pacer" sink -listen 10.99.0.1:9000 -for 120s >"$tmp/sink" 2>&1 &
	sink=$!
	sleep 1
	{
		echo
		echo "Live capture on a veth between two namespaces, ${LIVE_DUR}s per run; at each rate netlens and tcpdump capture a run each, one after the other:"
		echo
		echo "| frames | asked /s | sent /s (netlens run) | netlens captured | netlens ring drops | netlens CPU µs/frame | sent /s (tcpdump run) | tcpdump captured | tcpdump dropped | tcpdump CPU µs/frame |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
	} >>"$notes"
	for mode in udp tcp; do
		best_nl=0 best_td=0
		for r in $LIVE_RATES; do
			in_ns "$nl" capture -i va --duration $((LIVE_DUR + 2))s --json >"$tmp/nl.json" 2>"$tmp/nl.err" &
			cap=$!
			sleep 1
			s1=$(ip netns exec "$NSB" "$tmp/pacer" "$mode" -dst 10.99.0.1:9000 -rate "$r" -for "${LIVE_DUR}s")
			wait "$cap" || { cat "$tmp/nl.err" >&2; }
			in_ns /usr/bin/time -f "cpu=%U+%S" timeout -s INT $((LIVE_DUR + 2)) tcpdump -i va -w /dev/null 2>"$tmp/td.err" &
			cap=$!
			sleep 1
			s2=$(ip netns exec "$NSB" "$tmp/pacer" "$mode" -dst 10.99.0.1:9000 -rate "$r" -for "${LIVE_DUR}s")
			wait "$cap" || true
			read -r np nd nc < <(jq -r '"\(.packets) \(.ring_drops) \(.cpu_seconds)"' "$tmp/nl.json")
			tp=$(awk '/packets captured/ { print $1 }' "$tmp/td.err")
			tdr=$(awk '/dropped by kernel/ { print $1 }' "$tmp/td.err")
			tc=$(sed -n 's/.*cpu=\([0-9.]*\)+\([0-9.]*\).*/\1 \2/p' "$tmp/td.err" | awk '{ print $1 + $2 }')
			r1=$(echo "$s1" | sed 's/.*rate=//')
			r2=$(echo "$s2" | sed 's/.*rate=//')
			frame=$([ "$mode" = udp ] && echo "64 B UDP" || echo "1,514 B TCP")
			awk -v f="$frame" -v r="$r" -v r1="$r1" -v np="$np" -v nd="$nd" -v nc="$nc" -v r2="$r2" -v tp="$tp" -v tdr="$tdr" -v tc="$tc" 'BEGIN {
				printf "| %s | %d | %d | %d | %d | %.2f | %d | %d | %d | %.2f |\n", f, r, r1, np, nd, (np > 0 ? 1e6 * nc / np : 0), r2, tp, tdr, (tp > 0 ? 1e6 * tc / tp : 0) }' | tee -a "$notes" >&2
			if [ "${nd:-1}" = 0 ] && [ "$r1" -gt "$best_nl" ]; then best_nl=$r1; fi
			if [ "${tdr:-1}" = 0 ] && [ "$r2" -gt "$best_td" ]; then best_td=$r2; fi
		done
		echo "- $mode: highest rate captured without a drop: netlens $best_nl frames/s, tcpdump $best_td frames/s (of the rates tried; the sender's own limit caps both)" >>"$notes"
	done
	kill "$sink" 2>/dev/null || true
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$NSB"
	ip netns del "$NS"
fi

if [[ " $PARTS " == *" sockets "* ]]; then
	conns=$((SOCKETS / 2))
	echo "== sockets: $SOCKETS ($conns loopback connections)" >&2
	new_ns
	in_ns sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	in_ns sysctl -qw net.core.somaxconn=65535
	in_ns sysctl -qw net.ipv4.tcp_max_syn_backlog=65535
	PER=8000
	procs=$(((conns + PER - 1) / PER))
	left=$conns
	for i in $(seq 0 $((procs - 1))); do
		k=$((left < PER ? left : PER))
		left=$((left - k))
		mkfifo "$tmp/in.$i"
		in_ns "$tmp/sockbench" hold -n "$k" -base $((17000 + 10 * i)) <"$tmp/in.$i" >"$tmp/out.$i" 2>&1 &
		holder_pids+=("$!")
		exec {fd}>"$tmp/in.$i"
		holders+=("$fd")
	done
	for i in $(seq 0 $((procs - 1))); do
		for _ in $(seq 900); do
			grep -q READY "$tmp/out.$i" && break
			sleep 0.2
		done
		grep -q READY "$tmp/out.$i" || { cat "$tmp/out.$i" >&2; exit 1; }
	done
	echo "- $(in_ns ss -Htan | wc -l) TCP sockets in the namespace ($procs holder processes)" | tee -a "$notes"
	compare "snapshot, $((SOCKETS / 1000))k sockets" \
		"netlens snapshot --no-owners" "$nl snapshot --no-owners --filter-backend none" \
		"ss -tani" "ss -tani" ip netns exec "$NS"
	compare "snapshot with owners, $((SOCKETS / 1000))k sockets" \
		"netlens snapshot" "$nl snapshot --filter-backend none" \
		"ss -tanp" "ss -tanp" ip netns exec "$NS"
fi

{
	echo "<!-- results:begin (generated by bench/whole/run.sh; edit outside this block) -->"
	echo
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) at $(git -C "$repo" describe --always --dirty) on Linux $(uname -r), $(nproc) CPUs shared with other work"
	echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)); $(tcpdump --version 2>&1 | head -1), $(conntrack --version 2>&1 | head -1), $(ss -V);"
	echo "hyperfine -N, 1 warm-up + $RUNS runs per command, medians; RSS is the peak of one more run (/usr/bin/time)."
	echo
	echo "| what | netlens | median ms | RSS MB | peer | median ms | RSS MB | netlens / peer |"
	echo "|---|---|---|---|---|---|---|---|"
	cat "$rows"
	echo
	cat "$notes"
	echo
	echo "<!-- results:end -->"
} >"$tmp/block.md"
cat "$tmp/block.md"
if [ -f "$RESULTS" ] && grep -q 'results:begin' "$RESULTS"; then
	awk -v f="$tmp/block.md" '
		/results:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/results:end/ { skip = 0; next }
		!skip { print }' "$RESULTS" >"$tmp/r" && cat "$tmp/r" >"$RESULTS"
else
	cat "$tmp/block.md" >>"$RESULTS"
fi
