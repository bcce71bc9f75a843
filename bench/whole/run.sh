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
#   live      live capture on a veth pair between two namespaces: trafgen
#             (netsniff-ng) sends 64-byte UDP frames, then 1,514-byte
#             TCP segments, at each rate of LIVE_RATES frames/s (0: as
#             fast as it can, LIVE_MAX_COUNT frames) for LIVE_DUR s;
#             at each rate `netlens capture -i IFACE --json`,
#             `tcpdump -i IFACE -w /dev/null` and (tcpdump-B) the same
#             with a ring as large as netlens's (-B) capture LIVE_TRIALS
#             runs each, in alternating order, sender and capturer
#             pinned to SEND_CPU and CAP_CPU; each tool's own count of
#             ring drops, the CPU of its whole process per frame, and
#             the highest rate each captured without a drop in any run
#             at that rate and every lower one.
#   sockets   netlens snapshot --no-owners  vs  ss -tani,
#             netlens snapshot              vs  ss -tanp
#             at SOCKETS sockets (established loopback pairs) in a fresh
#             namespace.
#
# Environment: PARTS="capture flows events live sockets" RUNS=5 EV_RATE=200000 EV_DUR=10
# LIVE_RATES="50000 100000 150000 200000 250000 300000 0" LIVE_DUR=3 LIVE_TRIALS=2
# LIVE_TOOLS="netlens tcpdump tcpdump-B"
# LIVE_MAX_COUNT=1000000 SEND_CPU=0 CAP_CPU=1 PACKETS=1000000
# FLOWS="100 1000 5000 10000 100000" CT_SIZES="100000 1000000"
# SOCKETS=100000 RESULTS=path/to/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PARTS=${PARTS:-"capture flows events live sockets"}
LIVE_RATES=${LIVE_RATES:-"50000 100000 150000 200000 250000 300000 0"}
LIVE_DUR=${LIVE_DUR:-3}
LIVE_TRIALS=${LIVE_TRIALS:-2}
LIVE_TOOLS=${LIVE_TOOLS:-"netlens tcpdump tcpdump-B"}
LIVE_MAX_COUNT=${LIVE_MAX_COUNT:-1000000}
SEND_CPU=${SEND_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
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
for tool in hyperfine tcpdump trafgen conntrack ss jq ip go taskset /usr/bin/time; do
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
	ip -n "$NS" link set va up
	ip -n "$NSB" link set vb up
	macb=$(ip -n "$NSB" -j link show vb | jq -r '.[0].address')
	# The frames are addressed to a MAC address that is not va's: the
	# receiving stack drops them at once (PACKET_OTHERHOST) and answers
	# nothing, after the packet taps (the captures) have had them.
	frame_cfg() { # frame_cfg udp|tcp
		local l4
		if [ "$1" = udp ]; then
			l4="udp(sp=40000, dp=9000), fill(0x61, 22)" # 64-byte frames
		else
			l4="tcp(sp=40000, dp=9000, seq=1, aseq=1, ack, win=512), fill(0x61, 1460)" # 1,514-byte frames
		fi
		echo "{ eth(da=02:00:00:00:00:01, sa=$macb, type=0x0800), ipv4(saddr=10.99.0.2, daddr=10.99.0.1, ttl=64), $l4 }" >"$tmp/$1.cfg"
	}
	frame_cfg udp
	frame_cfg tcp
	# Sender and capturer on different CPUs when there are two: trafgen
	# (and the kernel's receive path of the veth, which runs on the
	# sender's CPU, with the packet taps) on SEND_CPU, the capturing
	# process on CAP_CPU.
	pin_send=() pin_cap=()
	if [ "$(nproc)" -ge 2 ]; then
		pin_send=(taskset -c "$SEND_CPU")
		pin_cap=(taskset -c "$CAP_CPU")
	fi
	# netlens's ring (its default), for tcpdump-B: tcpdump with as large a
	# ring (-B, KiB), to tell the ring's size from the rest.
	nl_ring_kib=$(($(ip netns exec "$NS" "$nl" capture -i va --duration 200ms --json | jq .ring_bytes) / 1024))
	# live_run TOOL MODE RATE: one capture by TOOL (netlens|tcpdump|tcpdump-B) while
	# trafgen sends RATE frames/s (0: as fast as it can) of MODE for
	# LIVE_DUR s; prints "sent seconds captured drops cpu_s".
	live_run() {
		local tool=$1 mode=$2 rate=$3 n pace=() cmd
		if [ "$rate" = 0 ]; then
			n=$LIVE_MAX_COUNT
		else
			n=$((rate * LIVE_DUR))
			pace=(-b "${rate}pps")
		fi
		case $tool in
		netlens) cmd=("$nl" capture -i va --duration 120s --json) ;;
		# -Z root: as root, tcpdump drops to its own user and first chowns
		# the -w file to it, /dev/null included (a run left the host's
		# /dev/null owned by tcpdump).
		tcpdump) cmd=(tcpdump -Z root -i va -w /dev/null) ;;
		tcpdump-B) cmd=(tcpdump -Z root -i va -B "$nl_ring_kib" -w /dev/null) ;;
		esac
		# The capturer stops at SIGINT (timeout passes it on), 120 s at
		# the latest; time(1) reports the CPU of the whole process.
		ip netns exec "$NS" "${pin_cap[@]}" /usr/bin/time -f "cpu=%U+%S" timeout -s INT 120 "${cmd[@]}" >"$tmp/cap.out" 2>"$tmp/cap.err" &
		local tpid=$! cpid=""
		sleep 1.5
		cpid=$(pgrep -P "$tpid" timeout || true)
		local out
		out=$(ip netns exec "$NSB" "${pin_send[@]}" trafgen -Q -o vb -i "$tmp/$mode.cfg" -P 1 -n "$n" "${pace[@]}" 2>&1 | tr -d "\r")
		# Then long enough for the last, partly filled ring block to be
		# handed to the reader (tcpdump's libpcap retires it after its
		# 1 s timeout; netlens after 50 ms).
		sleep 1.5
		[ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null || true
		wait "$tpid" || true
		# trafgen: "     N packets outgoing" and "   S sec, U usec on CPU0".
		local sent secs
		sent=$(echo "$out" | awk '/packets outgoing/ { print $1 }')
		secs=$(echo "$out" | awk '/usec on CPU/ { printf "%.6f", $1 + $3 / 1e6 }')
		local got drops
		if [ "$tool" = netlens ]; then
			read -r got drops < <(jq -r '"\(.packets) \(.ring_drops)"' "$tmp/cap.out")
		else
			got=$(awk '/packets captured/ { print $1 }' "$tmp/cap.err")
			drops=$(awk '/dropped by kernel/ { print $1 }' "$tmp/cap.err")
		fi
		local cpu
		cpu=$(sed -n 's/.*cpu=\([0-9.]*\)+\([0-9.]*\).*/\1 \2/p' "$tmp/cap.err" | awk '{ print $1 + $2 }')
		echo "${sent:-0} ${secs:-0} ${got:-0} ${drops:-1} ${cpu:-0}"
	}
	{
		echo
		echo "Live capture on a veth between two namespaces (trafgen on CPU $SEND_CPU, the capturer on CPU $CAP_CPU; ${LIVE_DUR}s of traffic per run, $LIVE_TRIALS runs of each tool per rate, in alternating order; tcpdump-B is tcpdump -B $nl_ring_kib, netlens's ring); a run is drop-free when the tool's own count of ring drops is 0 and it captured every frame sent:"
		echo
		echo "| frames | asked /s | tool | sent /s (each run) | captured / sent | ring drops | CPU µs/frame |"
		echo "|---|---|---|---|---|---|---|"
	} >>"$notes"
	for mode in udp tcp; do
		declare -A best=() atmax=() dropped=()
		frame=$([ "$mode" = udp ] && echo "64 B UDP" || echo "1,514 B TCP")
		for r in $LIVE_RATES; do
			declare -A rates=() caps=() dropss=() cpus=() clean=()
			for trial in $(seq "$LIVE_TRIALS"); do
				order=$LIVE_TOOLS
				[ $((trial % 2)) = 0 ] && order=$(echo "$LIVE_TOOLS" | tr ' ' '\n' | tac | tr '\n' ' ')
				for tool in $order; do
					read -r sent secs got drops cpu < <(live_run "$tool" "$mode" "$r")
					rate=$(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')
					rates[$tool]+="${rates[$tool]:+, }$rate"
					caps[$tool]+="${caps[$tool]:+, }$got/$sent"
					dropss[$tool]+="${dropss[$tool]:+, }$drops"
					cpus[$tool]+="${cpus[$tool]:+, }$(awk -v c="$cpu" -v g="$got" 'BEGIN { printf "%.2f", (g > 0 ? 1e6 * c / g : 0) }')"
					# A step is drop-free for a tool when every run was; its
					# rate is the lowest any run reached.
					if [ "$drops" = 0 ] && [ "$got" -ge "$sent" ] && [ "$sent" -gt 0 ]; then
						if [ -z "${clean[$tool]:-}" ] || [ "${clean[$tool]}" != no ]; then
							if [ -z "${clean[$tool]:-}" ] || [ "$rate" -lt "${clean[$tool]}" ]; then clean[$tool]=$rate; fi
						fi
					else
						clean[$tool]=no
					fi
				done
			done
			for tool in $LIVE_TOOLS; do
				echo "| $frame | $([ "$r" = 0 ] && echo "max" || echo "$r") | $tool | ${rates[$tool]} | ${caps[$tool]} | ${dropss[$tool]} | ${cpus[$tool]} |" | tee -a "$notes" >&2
			done
			for tool in $LIVE_TOOLS; do
				# A tool's drop-free rate is the highest it reached before
				# the first rate at which it dropped.
				c=${clean[$tool]:-no}
				[ "$c" = no ] && dropped[$tool]=1
				if [ -z "${dropped[$tool]:-}" ] && [ "$c" -gt "${best[$tool]:-0}" ]; then best[$tool]=$c; fi
				# Whether the tool dropped at the highest rate the sender
				# reached: if not, its ceiling is the sender's, not its own.
				[ "$r" = 0 ] && [ -z "${dropped[$tool]:-}" ] && atmax[$tool]=1
			done
			unset rates caps dropss cpus clean
		done
		for tool in $LIVE_TOOLS; do
			bound=""
			[ -n "${atmax[$tool]:-}" ] && bound=" (no drop even at the sender's maximum: a lower bound)"
			echo "- $mode, $tool: drop-free up to ${best[$tool]:-0} frames/s (the highest rate reached with no drop in any run at it or at a lower rate; 0: it dropped at the lowest)$bound" | tee -a "$notes" >&2
		done
		for peer in tcpdump tcpdump-B; do
			[[ " $LIVE_TOOLS " == *" $peer "* ]] && [[ " $LIVE_TOOLS " == *" netlens "* ]] || continue
			a=${best[netlens]:-0} b=${best[$peer]:-0}
			ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else if (a > 0) print "(the peer dropped at the lowest rate)"; else print "-" }')
			[ -n "${atmax[netlens]:-}" ] && [ "$b" -gt 0 ] && ratio="≥ $ratio"
			pcmd=$([ "$peer" = tcpdump ] && echo "tcpdump -i IF -w /dev/null" || echo "tcpdump -i IF -B $nl_ring_kib -w /dev/null")
			echo "| live capture, $frame, highest drop-free rate (frames/s; higher is better) | \`netlens capture -i IF\` | $a | - | \`$pcmd\` | $b | - | $ratio |" >>"$rows"
		done
		unset best atmax dropped
	done
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
