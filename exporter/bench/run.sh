#!/usr/bin/env bash
# Exporter benchmark for `make bench` (needs root: it creates a network
# namespace, fills it with sockets and conntrack entries).
#
# In one fresh namespace with CONNS TCP connections over loopback (2 x
# CONNS sockets, held by collectors/sockets/bench/sockbench) and FLOWS
# conntrack entries (made over ctnetlink by collectors/conntrack/bench/
# ctbench), it runs side by side:
#   - netlens serve --no-owners --refresh REFRESH (every collector), and
#   - Debian's prometheus-node-exporter with only its netstat (every field)
#     and conntrack collectors,
# then measures, inside the namespace:
#   1. scrape latency: hyperfine -N, one curl of /metrics per run, whole
#      process against whole process, WARMUP + RUNS runs each;
#   2. the same, interleaved: PAIRS pairs of requests, one to each in turn,
#      each timed by curl (time_total: the request, without curl's start),
#      medians and 90th percentiles -- on a busy machine the fairer view;
#   3. CPU: user+sys seconds of each exporter process over WINDOW seconds
#      not scraped, then over WINDOW seconds scraped once a second: the
#      difference is what the scrapes cost (netlens's idle figure is its
#      own collection of the sockets and flows at REFRESH);
#   4. exposition size and series count.
# Results go to standard output as markdown (docs/performance.md quotes them).
#
# Environment: CONNS=50000 FLOWS=65536 REFRESH=15s RUNS=30 WARMUP=3 WINDOW=60 PAIRS=200
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CONNS=${CONNS:-50000}
FLOWS=${FLOWS:-65536}
REFRESH=${REFRESH:-15s}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
WINDOW=${WINDOW:-60}
PAIRS=${PAIRS:-200}
PER=8000
NS=nlexp-bench-$$

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root to create a network namespace" >&2; exit 1; }
for tool in ip go curl hyperfine prometheus-node-exporter; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (make test-deps)" >&2; exit 1; }
done

tmp=$(mktemp -d)
holders=()
cleanup() {
	for fd in "${holders[@]:-}"; do [ -n "$fd" ] && eval "exec $fd>&-" || true; done
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	sleep 1
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

cd "$repo"
CGO_ENABLED=0 go build -o "$tmp/netlens" .
CGO_ENABLED=0 go build -o "$tmp/sockbench" ./collectors/sockets/bench/sockbench
CGO_ENABLED=0 go build -o "$tmp/ctbench" ./collectors/conntrack/bench/ctbench

ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
in_ns sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
in_ns sysctl -qw net.core.somaxconn=65535
in_ns sysctl -qw net.ipv4.tcp_max_syn_backlog=65535

echo "== $CONNS connections" >&2
procs=$(((CONNS + PER - 1) / PER))
left=$CONNS
for i in $(seq 0 $((procs - 1))); do
	k=$((left < PER ? left : PER))
	left=$((left - k))
	mkfifo "$tmp/in.$i"
	in_ns "$tmp/sockbench" hold -n "$k" -base $((17000 + 10 * i)) <"$tmp/in.$i" >"$tmp/out.$i" 2>&1 &
	exec {fd}>"$tmp/in.$i"
	holders+=("$fd")
done
for i in $(seq 0 $((procs - 1))); do
	for _ in $(seq 600); do grep -q READY "$tmp/out.$i" && break; sleep 0.2; done
	grep -q READY "$tmp/out.$i" || { cat "$tmp/out.$i" >&2; echo "holder $i not ready" >&2; exit 1; }
done
echo "== $FLOWS conntrack entries" >&2
in_ns "$tmp/ctbench" fill -n "$FLOWS" >&2

in_ns "$tmp/netlens" serve --listen 127.0.0.1:9347 --no-owners --refresh "$REFRESH" 2>"$tmp/serve.log" &
in_ns prometheus-node-exporter --web.listen-address=127.0.0.1:9100 --collector.disable-defaults \
	--collector.netstat --collector.netstat.fields='.*' --collector.conntrack 2>"$tmp/ne.log" &
nl_url=http://127.0.0.1:9347/metrics
ne_url=http://127.0.0.1:9100/metrics
for _ in $(seq 300); do
	in_ns curl -sf "$nl_url" 2>/dev/null | grep -q '^netlens_conntrack_entries ' && break
	sleep 0.2
done
sleep 2
nl_pid=$(pgrep -n -f "$tmp/netlens serve")
ne_pid=$(pgrep -n -f "prometheus-node-exporter --web.listen-address=127.0.0.1:9100")

in_ns curl -s "$nl_url" >"$tmp/nl.prom"
in_ns curl -s "$ne_url" >"$tmp/ne.prom"
socks=$(awk '/^netlens_sockets\{/ { s += $2 } END { print s }' "$tmp/nl.prom")
ct=$(awk '/^netlens_conntrack_entries / { print $2 }' "$tmp/nl.prom")
series() { grep -vc '^#' "$1"; }

in_ns hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-markdown "$tmp/hf.md" \
	-n "netlens serve /metrics" "curl -s -o /dev/null $nl_url" \
	-n "node_exporter netstat+conntrack /metrics" "curl -s -o /dev/null $ne_url" >&2

: >"$tmp/nl.t"; : >"$tmp/ne.t"
for _ in $(seq "$PAIRS"); do
	in_ns curl -s -o /dev/null -w '%{time_total}\n' "$nl_url" >>"$tmp/nl.t"
	in_ns curl -s -o /dev/null -w '%{time_total}\n' "$ne_url" >>"$tmp/ne.t"
done
quant() { sort -n "$1" | awk -v q="$2" '{ v[NR] = $1 } END { i = int(q * NR + 0.5); if (i < 1) i = 1; printf "%.1f", 1000 * v[i] }'; }

cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
nli0=$(cpu "$nl_pid"); nei0=$(cpu "$ne_pid")
sleep "$WINDOW"
nl0=$(cpu "$nl_pid"); ne0=$(cpu "$ne_pid")
curls=()
for _ in $(seq "$WINDOW"); do
	in_ns curl -s -o /dev/null "$nl_url" &
	curls+=($!)
	in_ns curl -s -o /dev/null "$ne_url" &
	curls+=($!)
	sleep 1
done
wait "${curls[@]}"
nl1=$(cpu "$nl_pid"); ne1=$(cpu "$ne_pid")
pct() { awk -v a="$1" -v b="$2" -v t="$tck" -v w="$WINDOW" 'BEGIN { printf "%.2f s (%.2f%% of a core)", (b - a) / t, 100 * (b - a) / t / w }'; }
per() { awk -v i0="$1" -v i1="$2" -v a="$3" -v b="$4" -v t="$tck" -v w="$WINDOW" 'BEGIN { printf "%.1f ms", 1000 * ((b - a) - (i1 - i0)) / t / w }'; }

echo "Sockets in the namespace: $socks (netlens_sockets summed); conntrack entries: $ct; netlens --refresh $REFRESH --no-owners."
echo
echo "Scrape latency (hyperfine -N, $RUNS runs after $WARMUP warm-up, one curl per run, inside the namespace):"
echo
cat "$tmp/hf.md"
echo
echo "Interleaved, $PAIRS pairs, request time as curl measures it (time_total):"
echo
echo "| exporter | median ms | p90 ms |"
echo "|---|---|---|"
echo "| netlens serve | $(quant "$tmp/nl.t" 0.5) | $(quant "$tmp/nl.t" 0.9) |"
echo "| node_exporter netstat+conntrack | $(quant "$tmp/ne.t" 0.5) | $(quant "$tmp/ne.t" 0.9) |"
echo
echo "| exporter | CPU over ${WINDOW} s, not scraped | CPU over ${WINDOW} s, scraped once a second | CPU per scrape | /metrics bytes | samples |"
echo "|---|---|---|---|---|---|"
echo "| netlens serve | $(pct "$nli0" "$nl0") | $(pct "$nl0" "$nl1") | $(per "$nli0" "$nl0" "$nl0" "$nl1") | $(wc -c <"$tmp/nl.prom") | $(series "$tmp/nl.prom") |"
echo "| node_exporter netstat+conntrack | $(pct "$nei0" "$ne0") | $(pct "$ne0" "$ne1") | $(per "$nei0" "$ne0" "$ne0" "$ne1") | $(wc -c <"$tmp/ne.prom") | $(series "$tmp/ne.prom") |"
