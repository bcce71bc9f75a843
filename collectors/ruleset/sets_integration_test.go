package ruleset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setsRuleset has rules with anonymous sets and maps of every kind nft
// writes, firewalld's and Docker's among them: nft lists their elements
// inline, and so must the collector.
const setsRuleset = `
table inet fw {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport { 443, 22, 80 } accept
		ip saddr { 192.168.1.1, 10.0.0.0/8 } drop
		ct state { related, established } accept
		ct state vmap { established : accept, related : accept, invalid : drop }
		tcp dport vmap { 23 : drop, 22 : accept, 80 : jump x, 81 : goto x, 82 : return, 83 : continue }
		meta l4proto . th dport { udp . 53, tcp . 22 }
		meta l4proto . th dport vmap { tcp . 22 : accept, udp . 53 : drop }
		tcp dport { 3000, 1000-2000 }
		tcp dport { 1, 65000-65535 } counter
		tcp dport { 256, 1 } counter
		udp dport { 65535, 1 } counter
		tcp dport != { 22, 80 } drop
		tcp dport vmap { 1000-2000 : accept, 22 : drop }
		ip saddr { 0.0.0.0/8, 255.255.255.0/24 } counter
		ip saddr { 1.2.3.4, 128.0.0.0/1 } counter
		ip saddr { 10.0.0.1-10.0.0.5, 10.0.0.9 } counter
		ip saddr { 2.0.0.1, 1.0.0.2 } counter
		ip saddr vmap { 10.0.0.0/8 : drop, 192.168.0.0/16 : accept }
		ip6 saddr { 2001:db8::/32, ::1 } counter
		ip6 saddr { ::, fe80::/10 } counter
		iifname { "eth0", "lo", "veth*" } accept
		iifname { "b", "a", "ab", "ba" } accept
		meta l4proto { tcp, udp, 200 } counter
		meta nfproto { ipv4, ipv6 } counter
		ip protocol { tcp, udp } counter
		ip saddr . tcp dport { 10.0.0.0/8 . 22-25, 192.168.0.1 . 80 } accept
		ip saddr . tcp dport { 192.168.0.1 . 80, 10.0.0.0/8 . 22-25, 9.0.0.1 . 1-2 } accept
		ip saddr . tcp dport { 2.0.0.1 . 1, 1.0.0.2 . 256, 1.0.0.2 . 1 } accept
		ip saddr . ip daddr { 1.1.1.1 . 2.2.2.2, 1.1.1.0 . 3.3.3.3 } counter
		iifname . tcp dport { "b" . 1, "ab" . 2 } counter
		tcp dport . ip saddr { 22 . 10.0.0.0/24, 80 . 10.1.0.0-10.1.0.5 } counter
		meta mark { 0x100, 0x2, 0x10000 } counter
		meta mark { 0x1, 5-10 } counter
		meta mark { 0x10-0x1f, 0x100 } counter
		meta mark . tcp dport { 0x1 . 22, 0x5-0xa . 80 } counter
		ct mark { 0x1, 0x2 } counter
		ct status { dnat, snat } counter
		icmp type { echo-request, echo-reply } accept
		icmpv6 type { nd-neighbor-solicit, nd-router-advert } accept
		tcp flags { syn, ack } counter
		tcp flags & (syn | ack) == { syn, ack } counter
		iifname "lo" tcp dport { 22, 80 } ct state new counter accept
	}
	chain x {
	}
}
table ip nat {
	chain pre {
		type nat hook prerouting priority -100;
		dnat to tcp dport map { 8080 : 10.0.0.2, 80 : 10.0.0.1 }
		dnat to ip saddr map { 10.0.0.0/8 : 1.2.3.4, 192.168.1.1 : 1.2.3.5 }
		dnat to tcp dport map { 80 : 10.0.0.1, 81 : 10.0.0.2 }:8080
		dnat ip to tcp dport map { 80 : 10.0.0.1 . 8080, 81 : 10.0.0.2 . 8081 }
		meta mark set tcp dport map { 22 : 0x1, 80 : 0x2 }
	}
}
table bridge br {
	chain forward {
		type filter hook forward priority 0;
		ether type { ip, arp } counter
		ether saddr { 00:11:22:33:44:55, 00:00:00:00:00:01 } counter
	}
}
`

// TestIntegrationAnonymousSetsMatchNft loads setsRuleset into a namespace and
// checks the collector's read (GetRules and its set cache) renders every rule
// as nft list ruleset does, elements inline and in nft's order.
func TestIntegrationAnonymousSetsMatchNft(t *testing.T) {
	ns, fd := testNS(t)
	file := filepath.Join(t.TempDir(), "sets.nft")
	if err := os.WriteFile(file, []byte(setsRuleset), 0o600); err != nil {
		t.Fatal(err)
	}
	nsRun(t, ns, "nft", "-f", file)
	want := parseNftList(t, nsRun(t, ns, "nft", "-a", "list", "ruleset"))
	got, _, unreadable, err := read(context.Background(), fd, MaxRules)
	if err != nil || unreadable != 0 {
		t.Fatalf("read: %v, %d chains unreadable", err, unreadable)
	}
	seen, inline := 0, 0
	for _, ch := range got.Chains {
		for _, r := range ch.Rules {
			k := ruleKey{ch.Family, ch.Table, ch.Name, r.Handle}
			line, ok := want[k]
			if !ok {
				t.Errorf("%v: rule not in nft's listing", k)
				continue
			}
			seen++
			if strings.Contains(r.Text, "{ ") {
				inline++
			}
			if r.Text != line {
				t.Errorf("%s %s %s handle %d:\n Text: %s\n  nft: %s", k.family, k.table, k.chain, k.handle, r.Text, line)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("compared %d rules, nft listed %d", seen, len(want))
	}
	if inline < 40 {
		t.Errorf("%d rules with elements inline, want the ruleset's 40 and more", inline)
	}
	t.Logf("compared %d rules with nft, %d with elements inline", seen, inline)
}
