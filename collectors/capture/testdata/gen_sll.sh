#!/usr/bin/env bash
# Writes any-sll.pcap (LINUX_SLL) and any-sll2.pcap (LINUX_SLL2): real
# `tcpdump -i any` captures of ICMP, ICMPv6, IPv4 and IPv6 fragments, UDP
# (to port 53: a malformed DNS query, "query\n"; and another port) and a
# TCP exchange between two namespaces,
# seen on every interface of the first (its veth and loopback). Needs root,
# tcpdump, socat. The files are committed; run again to regenerate.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
A=nlsll-a-$$ B=nlsll-b-$$
cleanup() {
	ip netns pids "$A" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns pids "$B" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add a0 netns "$A" type veth peer name b0 netns "$B"
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
	ip -n "$ns" link set lo up
done
ip -n "$A" addr add 10.77.0.1/24 dev a0; ip -n "$A" addr add fd77::1/64 dev a0 nodad; ip -n "$A" link set a0 up
ip -n "$B" addr add 10.77.0.2/24 dev b0; ip -n "$B" addr add fd77::2/64 dev b0 nodad; ip -n "$B" link set b0 up
sleep 1.5
ip netns exec "$B" socat TCP-LISTEN:8080,fork,reuseaddr EXEC:cat &
sleep 0.3
for y in LINUX_SLL LINUX_SLL2; do
	out=$here/any-$(echo "$y" | tr 'A-Z' 'a-z' | sed 's/linux_//').pcap
	ip netns exec "$A" tcpdump -i any -y "$y" --immediate-mode -U -w "$out" 2>/dev/null &
	td=$!
	sleep 1
	ip netns exec "$A" ping -c 2 -i 0.1 10.77.0.2 >/dev/null
	ip netns exec "$A" ping -c 1 -s 3000 10.77.0.2 >/dev/null
	ip netns exec "$A" ping -6 -c 2 -i 0.1 fd77::2 >/dev/null
	ip netns exec "$A" ping -6 -c 1 -s 3000 fd77::2 >/dev/null
	ip netns exec "$A" ping -c 2 -i 0.1 127.0.0.1 >/dev/null
	ip netns exec "$A" bash -c 'echo query > /dev/udp/10.77.0.2/53; echo data > /dev/udp/10.77.0.2/9999' || true
	ip netns exec "$A" bash -c 'echo hello | socat -t 0.5 - TCP:10.77.0.2:8080' >/dev/null
	sleep 1
	kill -INT "$td"; wait "$td" || true
	echo "$out: $(tcpdump -r "$out" 2>/dev/null | wc -l) packets"
done
