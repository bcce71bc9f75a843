#!/usr/bin/python3
"""Writes mixed.pcap: a few hundred Ethernet frames of every kind the
capture decodes or filters on (IPv4/IPv6 TCP, UDP, ICMP, DNS, ARP, 802.1Q
and QinQ, fragments, IPv6 extension headers, SCTP, truncated and malformed
frames). Each packet has a distinct timestamp (i seconds + i microseconds)
so that a test can tell which ones tcpdump accepted. Run it again to
regenerate; the file is committed."""
from scapy.all import *

A4 = ["10.0.0.1", "10.0.0.2", "192.168.1.10", "10.1.2.3", "172.16.5.4"]
A6 = ["2001:db8::1", "2001:db8::2", "fe80::1", "2001:db8:1::5"]
P = [22, 53, 80, 443, 1000, 1500, 2000, 5353, 8080, 65535]

pkts = []
def e():
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
for i, (s, d) in enumerate([(a, b) for a in A4 for b in A4 if a != b]):
    sp, dp = P[i % len(P)], P[(i * 3 + 1) % len(P)]
    pkts += [e()/IP(src=s, dst=d)/TCP(sport=sp, dport=dp, flags="S"),
             e()/IP(src=s, dst=d)/UDP(sport=sp, dport=dp)/Raw(b"x" * (i % 40)),
             e()/IP(src=s, dst=d)/ICMP(id=i, seq=1),
             e()/Dot1Q(vlan=10 + i % 3)/IP(src=s, dst=d)/TCP(sport=sp, dport=dp),
             e()/Dot1Q(vlan=10)/IP(src=s, dst=d)/UDP(sport=sp, dport=53)/DNS(rd=1, qd=DNSQR(qname="example.com")),
             e()/IP(src=s, dst=d)/SCTP(sport=sp, dport=dp)]
for i, (s, d) in enumerate([(a, b) for a in A6 for b in A6 if a != b]):
    sp, dp = P[i % len(P)], P[(i * 7 + 2) % len(P)]
    pkts += [e()/IPv6(src=s, dst=d)/TCP(sport=sp, dport=dp, flags="PA")/Raw(b"hello"),
             e()/IPv6(src=s, dst=d)/UDP(sport=sp, dport=dp),
             e()/IPv6(src=s, dst=d)/ICMPv6EchoRequest(id=i),
             e()/IPv6(src=s, dst=d)/IPv6ExtHdrDestOpt()/UDP(sport=sp, dport=dp),
             e()/IPv6(src=s, dst=d)/IPv6ExtHdrRouting()/TCP(sport=sp, dport=dp),
             e()/IPv6(src=s, dst=d)/IPv6ExtHdrHopByHop()/ICMPv6EchoRequest(),
             e()/Dot1Q(vlan=20)/IPv6(src=s, dst=d)/TCP(sport=sp, dport=dp),
             e()/Dot1Q(vlan=100)/Dot1Q(vlan=20)/IP(src="10.0.0.1", dst="10.0.0.2")/UDP(sport=sp, dport=dp)]
    for f in fragment6(IPv6(src=s, dst=d)/IPv6ExtHdrFragment(id=i)/UDP(sport=sp, dport=dp)/Raw(b"y" * 1600), 1000):
        pkts.append(e()/f)
for i in range(6):
    for f in fragment(IP(src=A4[i % 5], dst=A4[(i + 1) % 5], id=100 + i)/UDP(sport=1000, dport=53)/Raw(b"z" * 3000), fragsize=1000):
        pkts.append(e()/f)
    for f in fragment(IP(src=A4[i % 5], dst=A4[(i + 2) % 5], id=200 + i)/ICMP()/Raw(b"z" * 2000), fragsize=800):
        pkts.append(e()/f)
for s in A4:
    pkts += [Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")/ARP(psrc=s, pdst="10.0.0.2"),
             Ether(src="02:00:00:00:00:03", dst="02:00:00:00:00:01")/ARP(op=2, psrc="10.0.0.2", pdst=s),
             Ether(dst="ff:ff:ff:ff:ff:ff", type=0x8035)/ARP(op=3, psrc=s, pdst="10.0.0.1")]
pkts += [e()/IP(src="10.0.0.1", dst="10.0.0.2", options=IPOption(b"\x94\x04\x00\x00"))/TCP(sport=80, dport=1000),
         e()/IP(src="10.0.0.1", dst="10.0.0.2", proto=47)/Raw(b"gre?"),
         Ether(type=0x88cc)/Raw(b"lldp" * 10)]
# Malformed and truncated frames.
raw = [bytes(e()/IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=80, dport=1000))[:40],
       bytes(e()/IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=53, dport=53))[:58],
       bytes(e())[:10],
       bytes(e()/IP(src="10.0.0.1", dst="10.0.0.2", ihl=15)/UDP()),
       bytes(e()/IP(src="10.0.0.1", dst="10.0.0.2")/UDP(sport=53, dport=1000)/Raw(b"\x00\x01\x81"))]
pkts += [Raw(r) for r in raw]
for i, p in enumerate(pkts):
    p.time = 1700000000 + i + i / 1e6
wrpcap("mixed.pcap", pkts, linktype=1)
print(len(pkts), "packets")
