#!/usr/bin/env bash
# Capture benchmark for `make bench`: offline decode of an N-packet mixed
# capture (default 1,000,000) by netlens, side by side in the same run
# with `tcpdump -nn -r FILE > /dev/null` and `tshark -n -r FILE > /dev/null`.
#
# 1. pcapgen writes the capture (TCP and UDP over IPv4 and IPv6, DNS,
#    ICMP, ICMPv6, 802.1Q, IPv4 fragments, ARP; ~2,000 flows) with
#    gopacket's serializers.
# 2. The file is read once to warm the page cache; then ROUNDS rounds,
#    each running capbench (what `netlens capture --pcap FILE --json`
#    does: read, decode every layer, aggregate protocols, flows and
#    hosts, keep the last packets), tcpdump and tshark one after the
#    other. Wall time and CPU time (user+sys) are medians over the rounds;
#    packet rates are N divided by them. On a shared machine CPU time is
#    the steadier figure.
# 3. go test -bench BenchmarkDecode|BenchmarkReplay -benchmem gives the
#    per-packet cost and allocations per packet.
#
# The results replace the generated block of RESULTS.md.
#
# 4. Live (as root): the capture's own CPU cost on a flood ping between two
#    namespaces, with tcpdump -w /dev/null capturing the same packets.
#
# Environment: N=1000000 ROUNDS=3 FLOOD=100000 LIVE_SECONDS=6
# RESULTS=path/to/RESULTS.md
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
FLOOD=${FLOOD:-100000}
LIVE_SECONDS=${LIVE_SECONDS:-6}
RESULTS=${RESULTS:-$here/RESULTS.md}

for tool in tcpdump tshark go; do
	command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install -y tcpdump tshark)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # tcpdump may drop privileges before reading

(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/pcapgen" ./collectors/capture/bench/pcapgen &&
	CGO_ENABLED=0 go build -o "$tmp/capbench" ./collectors/capture/bench/capbench)
file=$tmp/mixed.pcap
"$tmp/pcapgen" -n "$N" -o "$file"
chmod 644 "$file"
cat "$file" > /dev/null

# timeit FILE CMD...: appends "wall cpu" of one run of CMD to FILE.
TIMEFORMAT='%R %U %S'
timeit() {
	local out=$1
	shift
	local t
	t=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<< "$t" >> "$out"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for r in $(seq "$ROUNDS"); do
	echo "== round $r/$ROUNDS" >&2
	timeit "$tmp/netlens" "$tmp/capbench" -r "$file"
	timeit "$tmp/tcpdump" tcpdump -nn -r "$file"
	timeit "$tmp/tshark" tshark -n -r "$file"
done
# The netlens run counted every packet (a check that it read the file).
got=$("$tmp/capbench" -r "$file" | awk '{ print $1 }')
[ "$got" = "$N" ] || { echo "run.sh: netlens decoded $got packets, want $N" >&2; exit 1; }

row() {
	local name=$1 f=$tmp/$1
	local wall cpu
	wall=$(awk '{ print $1 }' "$f" | median)
	cpu=$(awk '{ print $2 }' "$f" | median)
	awk -v n="$N" -v name="$2" -v w="$wall" -v c="$cpu" \
		'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %.0f |\n", name, w, c, n / w, (c > 0 ? n / c : 0) }'
}
ratio() {
	local a b
	a=$(awk '{ print $'"$2"' }' "$tmp/netlens" | median)
	b=$(awk '{ print $'"$2"' }' "$tmp/$1" | median)
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b / a }'
}

# Live: the capture's own CPU cost. A flood ping (FLOOD echo requests, so
# twice as many packets) between two namespaces over a veth, captured at
# the same time by netlens (capbench -i: the capture thread's CPU, as the
# Capture tab shows it) and by tcpdump -w /dev/null (its process's CPU).
live="(live part skipped: needs root for network namespaces)"
if [ "$(id -u)" = 0 ]; then
	A=nlcap-bench-a-$$ B=nlcap-bench-b-$$
	ip netns add "$A"; ip netns add "$B"
	trap 'ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$tmp"' EXIT
	ip link add c0 netns "$A" type veth peer name c1 netns "$B"
	ip -n "$A" addr add 10.88.0.1/24 dev c0; ip -n "$B" addr add 10.88.0.2/24 dev c1
	ip -n "$A" link set c0 up; ip -n "$B" link set c1 up
	sleep 1
	ip netns exec "$A" "$tmp/capbench" -i c0 -d "${LIVE_SECONDS}s" > "$tmp/live.netlens" &
	nl=$!
	( TIMEFORMAT='%U %S'; { time ip netns exec "$A" timeout -s INT "${LIVE_SECONDS}s" tcpdump -Z root -i c0 -w /dev/null 2>/dev/null; } 2> "$tmp/live.tcpdump" ) &
	td=$!
	sleep 1
	TIMEFORMAT='%R'
	flood=$( { time ip netns exec "$A" ping -f -q -c "$FLOOD" 10.88.0.2 > /dev/null; } 2>&1 )
	wait "$nl" "$td" || true
	read -r lpk ldrop lcpu < "$tmp/live.netlens"
	tcpu=$(awk '{ printf "%.3f", $1 + $2 }' "$tmp/live.tcpdump")
	live=$(awk -v p="$lpk" -v d="$ldrop" -v c="$lcpu" -v t="$tcpu" -v f="$flood" 'BEGIN {
		printf "Live (veth, flood ping, %.0f packets/s for %.2f s): netlens captured %d packets, %d ring drops,\n", p / f, f, p, d
		printf "capture thread CPU %.3f s = %.2f us/packet (%.0f%% of one CPU while the flood ran); tcpdump -w /dev/null on the\n", c, 1e6 * c / p, 100 * c / f
		printf "same packets: %.3f s = %.2f us/packet.", t, 1e6 * t / p }')
fi

bench=$(cd "$repo" && go test -run '^$' -bench 'BenchmarkDecode$|BenchmarkReplay$' -benchmem -count 3 ./collectors/capture | grep '^Benchmark')

block=$(cat <<EOT
<!-- generated by run.sh: do not edit by hand -->
Run $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -r), $(nproc) CPUs (load average $(cut -d' ' -f1-3 /proc/loadavg)),
$(tcpdump --version 2>&1 | head -1), $(tshark --version 2>/dev/null | head -1 | sed 's/ (Git.*//'), $(go version | cut -d' ' -f3).
$N packets ($(du -m "$file" | cut -f1) MiB), medians of $ROUNDS rounds.

| reader | wall s | CPU s | packets/s (wall) | packets/s (CPU) |
|---|---|---|---|---|
$(row netlens "netlens (capbench: --pcap path)")
$(row tcpdump "tcpdump -nn -r FILE > /dev/null")
$(row tshark "tshark -n -r FILE > /dev/null")

netlens vs tcpdump: $(ratio tcpdump 1)x by wall time, $(ratio tcpdump 2)x by CPU time.
netlens vs tshark: $(ratio tshark 1)x by wall time, $(ratio tshark 2)x by CPU time.

$live

\`go test -bench -benchmem\` (BenchmarkDecode: decode and aggregate one frame;
BenchmarkReplay: read a pcap record, decode, aggregate, store):

\`\`\`
$bench
\`\`\`
<!-- end generated -->
EOT
)
echo "$block"
if [ -f "$RESULTS" ]; then
	python3 - "$RESULTS" "$block" <<'PY'
import re, sys
path, block = sys.argv[1], sys.argv[2]
s = open(path).read()
s = re.sub(r"<!-- generated by run.sh.*?<!-- end generated -->", lambda m: block, s, flags=re.S)
open(path, "w").write(s)
PY
fi
