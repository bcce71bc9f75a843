#!/bin/bash
# Whole processes: what one refresh of the Interfaces tab reads, done by
# the peer tools (ip -s -s -d link, ip addr, tc -s qdisc, and ethtool -S
# for every interface, as one shell script) against `netlens snapshot`
# (every collector, of which the links collector is one), in a namespace
# holding 50 veth pairs (101 interfaces). Needs root, hyperfine, ethtool.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ns=nl-links-bench-$$
bin=${BIN:-bin/netlens}
[ -x "$bin" ] || CGO_ENABLED=0 go build -o "$bin" .
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -f "$peers"; }
peers=$(mktemp)
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
for i in $(seq 0 49); do
	ip -n "$ns" link add "v${i}a" type veth peer name "v${i}b"
	ip -n "$ns" addr add "10.80.$i.1/24" dev "v${i}a"
	ip -n "$ns" link set "v${i}a" up
	ip -n "$ns" link set "v${i}b" up
done
cat >"$peers" <<SH
ip -n $ns -s -s -d link show >/dev/null
ip -n $ns addr show >/dev/null
ip netns exec $ns tc -s qdisc show >/dev/null
for d in \$(ip -n $ns -o link show | awk -F': ' '{print \$2}' | cut -d@ -f1); do
	ip netns exec $ns ethtool -S "\$d" >/dev/null 2>&1 || true
done
SH
hyperfine --warmup 2 --runs 20 \
	-n "peers: ip link+addr, tc qdisc, ethtool -S x101" "sh $peers" \
	-n "netlens snapshot --netns (all collectors)" "$bin snapshot --netns $ns -o /dev/null"
