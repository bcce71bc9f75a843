#!/usr/bin/env bash
# Socket collection benchmark for `make bench` (needs root: it creates a
# network namespace).
#
# In a fresh namespace it opens 10k and 50k established loopback TCP
# connections (20k and 100k sockets, both ends held by helper processes),
# then times, interleaved in the same run:
#   - netlens socket collection without owners  vs  ss -tan
#   - steady-state netlens collection with owners (warm cache)  vs  ss -tanp
# and, with hyperfine when installed, cold `sockbench once` processes
# (TCP from the BPF TCP iterator, and from sock_diag with and without
# tcp_info) vs `ss -tan` and `ss -tani`, and `netlens snapshot
# --no-owners` (TCP from the iterator, and from sock_diag through
# NETLENS_TCP_SOURCE) vs `ss -tani` (all with tcp_info). In process it
# also times the TCP dumps with and without INET_DIAG_INFO, and the TCP
# iterator (BenchmarkDumpTCPInfo of the sockets package, medians of 5
# counts). The results replace the generated part of RESULTS.md.
#
# Environment: SIZES="5000 10000 50000" RUNS=7 TCPINFO_ONLY=1 (only the
# tcp_info measurements: in process, and hyperfine of ss -tan, ss -tani,
# sockbench once and netlens snapshot) PER=8000 (connections per holder
# process; each needs 2 fds per connection and RLIMIT_NOFILE is often
# 20000) RESULTS=path/to/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
SIZES=${SIZES:-"5000 10000 50000"}
RUNS=${RUNS:-7}
PER=${PER:-8000}
RESULTS=${RESULTS:-$here/RESULTS.md}
NS=nlsk-bench-$$

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root to create a network namespace" >&2
	exit 1
fi
for tool in ip ss go; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install -y iproute2)" >&2; exit 1; }
done

tmp=$(mktemp -d)
holders=()
cleanup() {
	for fd in "${holders[@]:-}"; do [ -n "$fd" ] && eval "exec $fd>&-" || true; done
	sleep 1
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/sockbench" ./collectors/sockets/bench/sockbench)
(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/netlens" .)
(cd "$repo" && go test -c -o "$tmp/sockets.test" ./collectors/sockets)

rows=$tmp/rows.md
hf=$tmp/hyperfine.md
tirows=$tmp/tcpinfo.md
: >"$rows"
: >"$hf"
: >"$tirows"
for n in $SIZES; do
	echo "== $n connections" >&2
	# A fresh namespace per size: no TIME-WAIT left over from the last.
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	ip netns exec "$NS" sysctl -qw net.core.somaxconn=65535
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_max_syn_backlog=65535
	procs=$(((n + PER - 1) / PER))
	holders=()
	left=$n
	for i in $(seq 0 $((procs - 1))); do
		k=$((left < PER ? left : PER))
		left=$((left - k))
		mkfifo "$tmp/in.$i"
		ip netns exec "$NS" "$tmp/sockbench" hold -n "$k" -base $((17000 + 10 * i)) <"$tmp/in.$i" >"$tmp/out.$i" 2>&1 &
		exec {fd}>"$tmp/in.$i"
		holders+=("$fd")
	done
	for i in $(seq 0 $((procs - 1))); do
		for _ in $(seq 600); do
			grep -q READY "$tmp/out.$i" && break
			if grep -q . "$tmp/out.$i" && ! grep -q READY "$tmp/out.$i"; then cat "$tmp/out.$i" >&2; exit 1; fi
			sleep 0.2
		done
		grep -q READY "$tmp/out.$i" || { echo "holder $i not ready" >&2; exit 1; }
	done
	label="$((n / 1000))k conns"
	# In process: the TCP dumps with and without tcp_info, medians of 5,
	# first (the connections are freshest).
	echo "TCP sockets before the tcp_info runs: $(ip netns exec "$NS" ss -tanH | wc -l)" >&2
	NETLENS_BENCH_SOCKETS=namespace ip netns exec "$NS" "$tmp/sockets.test" -test.run '^$' \
		-test.bench '^BenchmarkDumpTCPInfo$' -test.benchtime "${RUNS}x" -test.count 5 >"$tmp/ti.$n.txt"
	cat "$tmp/ti.$n.txt" >&2
	awk -v label="$label" '
		function median(arr, k,   i, j, t) {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
			return arr[int((k + 1) / 2)]
		}
		/^BenchmarkDumpTCPInfo\// {
			split($1, p, "[=-]"); v = p[2]
			k = ++cnt[v]
			for (i = 1; i <= NF; i++) {
				if ($(i+1) == "ns/op") ns[v, k] = $i
				if ($(i+1) == "cpu-ms/op") cpu[v, k] = $i
				if ($(i+1) == "sockets") socks = $i
			}
		}
		END {
			for (v in cnt) {
				for (i = 1; i <= cnt[v]; i++) a[i] = ns[v, i]; m[v] = median(a, cnt[v])
				for (i = 1; i <= cnt[v]; i++) a[i] = cpu[v, i]; c[v] = median(a, cnt[v])
			}
			printf "| %s | %d | %.1f ms | %.1f ms | **%.2fx** | %.1f ms | %.0f ns | %.1f ms | **%.2fx** | %.1f / %.1f / %.1f ms | **%.2fx** |\n", label, socks,
				m["without"] / 1e6, m["with"] / 1e6, m["with"] / m["without"], m["with+rates"] / 1e6, (m["with"] - m["without"]) / socks,
				m["iter"] / 1e6, m["iter"] / m["with"], c["without"], c["with"], c["iter"], c["iter"] / c["with"]
		}' "$tmp/ti.$n.txt" | tee -a "$tirows"
	if [ -z "${TCPINFO_ONLY:-}" ]; then
		ip netns exec "$NS" "$tmp/sockbench" time -runs "$RUNS" -label "$label" | tee -a "$rows"
	fi
	snap=(-n "netlens snapshot --no-owners, TCP from iter/tcp ($label)" "$tmp/netlens snapshot --no-owners -o /dev/null"
		-n "netlens snapshot --no-owners, TCP from sock_diag ($label)" "env NETLENS_TCP_SOURCE=sock_diag $tmp/netlens snapshot --no-owners -o /dev/null")

	if command -v hyperfine >/dev/null; then
		ip netns exec "$NS" hyperfine -N --warmup 1 --runs "$RUNS" --style basic \
			--export-markdown "$tmp/hf.$n.md" \
			-n "ss -tan ($label)" "ss -tan" \
			-n "ss -tani ($label)" "ss -tani" \
			-n "netlens cold process, no owners, TCP from iter/tcp ($label)" "$tmp/sockbench once -tcp-source iter/tcp" \
			-n "netlens cold process, no owners, TCP from sock_diag ($label)" "$tmp/sockbench once -tcp-source sock_diag" \
			-n "netlens cold process, no owners, no tcp_info, TCP from sock_diag ($label)" "$tmp/sockbench once -no-tcp-info -tcp-source sock_diag" \
			"${snap[@]}" >&2
		tail -n +3 "$tmp/hf.$n.md" >>"$hf"
	fi
	echo "TCP sockets at the end: $(ip netns exec "$NS" ss -tanH | wc -l)" >&2
	for fd in "${holders[@]}"; do eval "exec $fd>&-"; done
	holders=()
	wait
	rm -f "$tmp"/in.* "$tmp"/out.*
done

{
	echo "<!-- run.sh:begin (generated by collectors/sockets/bench/run.sh; do not edit by hand) -->"
	echo
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -r), $(nproc) CPUs (shared), $(ss -V), ${RUNS} runs each, medians."
	echo
	echo "| size | sockets | netlens, no owners | ss -tan | ratio (target <= 1.0x) | netlens first refresh with owners | netlens steady refresh with owners | ss -tanp | ratio (target <= 0.25x) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo "In process (wall clock), the TCP dumps (IPv4 and IPv6) decoded, with INET_DIAG_SKMEMINFO alone and with INET_DIAG_INFO and INET_DIAG_CONG added (what sock_diag is asked for), with the rate tracker's pass, and the same sockets with tcp_info read through the TCP iterator (bpf/tcpiter.c); medians of 5 counts of ${RUNS} dumps:"
	echo
	echo "| size | TCP sockets | without tcp_info | with tcp_info | ratio | with tcp_info + rates | cost per socket | TCP iterator, with tcp_info | iterator / sock_diag with tcp_info | CPU (getrusage): without / with / iterator | CPU: iterator / with |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	cat "$tirows"
	if [ -s "$hf" ]; then
		echo
		echo "hyperfine, cold processes (process start-up included on both sides):"
		echo
		echo "| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |"
		echo "|:---|---:|---:|---:|---:|"
		cat "$hf"
	fi
	echo
	echo "<!-- run.sh:end -->"
} >"$tmp/section.md"

if [ -f "$RESULTS" ] && grep -q 'run.sh:begin' "$RESULTS"; then
	awk -v sec="$tmp/section.md" '
		/run.sh:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
		/run.sh:end/ { skip = 0; next }
		!skip { print }' "$RESULTS" >"$tmp/results.md"
	cp "$tmp/results.md" "$RESULTS"
else
	cat "$tmp/section.md" >>"$RESULTS"
fi
cat "$tmp/section.md"
