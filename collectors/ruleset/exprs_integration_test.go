package ruleset

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/internal/rtnl"
)

var update = flag.Bool("update", false, "rewrite "+rulesFixture+" from this kernel's dump of exprsRuleset")

// exprsRuleset uses every expression google/nftables v0.3.0 does not decode
// (or misreads) that this nft (1.0.6) can write and this kernel loads: dup,
// fwd, rt, socket, tproxy, notrack, xfrm (ipsec), osf, synproxy, byteorder
// (tcp option maxseg size set rt mtu), ct with a direction or a source
// register. The device d0 is a veth made in the namespace. Chain inet x
// more has what the library decodes but the formatter did not name before
// (meta ipsec, time, day, hour, iifkind, sdif; jhash and symhash; ct id,
// expiration, ct original bytes; meta priority): none of it lost, but
// it showed as [meta], [hash] or hex. Chain inet x hdrs, the vlan rules
// of netdev n and table bridge b have the header fields nft names that
// the formatter showed raw or as [exthdr]: tcp options (mptcp, fastopen,
// sack1...), ip options, sctp chunks, dccp type, vlan fields, ip
// frag-off; and ranges of named values, which nft prints as numbers
// (meta day 1-5).
//
// Left out, unit-tested on attribute bytes instead (TestDecodeExprs):
// last, tunnel and inner: the kernel has them (nft_last is built in,
// CONFIG_NFT_TUNNEL=y, nft_inner is built in), but nft 1.0.6 cannot write
// them ("last" and "tunnel id" are syntax errors, "vxlan ip saddr" has no
// symbol type), so there is no oracle to compare with here.
const exprsRuleset = `
table ip t {
	chain pre {
		type filter hook prerouting priority 0;
		ip daddr 10.0.0.1 dup to 10.0.0.2 device "d0"
		ip daddr 10.0.0.3 dup to 10.0.0.4
		rt classid 5
		notrack
		socket transparent 1 accept
		socket mark 0x1 accept
		socket wildcard 0 accept
		meta l4proto tcp tproxy to 127.0.0.1:1234
		meta l4proto tcp tproxy to :1234
		meta l4proto tcp socket transparent 1 meta mark set 0x1 tproxy to 10.0.0.1 accept
		ipsec in ip saddr 192.0.2.1
		ipsec in reqid 1
		ipsec in spi 5
		ipsec in ip6 daddr ::1
		osf name "Linux"
		osf ttl loose version "Linux:3.0"
		osf ttl skip name "Linux"
		ct mark set 0x5
		ct original ip saddr 10.0.0.1
		meta l4proto tcp ct reply proto-dst 80
		meta mark set ct mark
		ct mark set meta mark
		ct zone set 3
		ct event set new,destroy
		numgen inc mod 4 offset 10 < 12 counter
		notrack counter
	}
	chain fw {
		type filter hook forward priority 0;
		tcp flags syn tcp option maxseg size set rt mtu
		rt nexthop 10.0.0.1 counter
		rt ip nexthop 10.1.1.1
		rt mtu 1500
		rt ipsec exists
		rt ipsec missing
		ipsec out ip daddr 192.0.2.2
		ipsec out reqid 3
		ipsec out spi 0x10
		tcp dport 80 synproxy mss 1460 wscale 7 timestamp sack-perm
		synproxy
	}
}
table ip6 t6 {
	chain fw {
		type filter hook forward priority 0;
		rt ip6 nexthop dead::1
		ip6 daddr ::1 dup to ::2 device "d0"
		tcp flags syn tcp option maxseg size set rt mtu
	}
	chain pre {
		type filter hook prerouting priority 0;
		meta l4proto tcp tproxy to [::1]:80
		ipsec in ip6 saddr ::1
	}
}
table netdev n {
	chain i {
		type filter hook ingress device "d0" priority 0;
		ip daddr 10.0.0.1 fwd to "d0"
		fwd ip to 10.0.0.9 device "d0"
		fwd ip6 to dead::9 device "d0"
		dup to "lo"
		ether saddr 00:11:22:33:44:55 dup to "d0"
		fwd to "lo"
		vlan id 10
		vlan pcp 3
		ether type 8021q vlan type ip
		vlan id 10 ip saddr 1.2.3.4
		ether type vlan vlan id 10
		ether type 8021ad vlan id 3
		vlan id 1-5
		ether type 0x0800-0x0806
	}
}
table bridge b {
	chain fw {
		type filter hook forward priority 0;
		vlan id 10
		vlan pcp 3
		vlan type ip
		vlan cfi 1
		vlan id 4094 vlan type ip6 counter
		vlan id != 10
		vlan id 10 tcp dport 22
	}
}
table inet x {
	set dyn { type ipv4_addr; flags dynamic; }
	set dyn2 { type ipv4_addr; flags dynamic,timeout; timeout 1m; }
	chain c {
		type filter hook prerouting priority 0;
		tcp dport 80 tproxy ip to 127.0.0.1:80
		meta nfproto ipv6 tcp dport 80 tproxy ip6 to [::1]:80
		tcp dport 81 tproxy to :80
		socket transparent 1
		osf name "Linux"
		rt ip nexthop 10.0.0.1
		meta nfproto ipv4 ipsec in reqid 1
	}
	chain more {
		meta ipsec exists
		meta secpath missing
		meta time < "2030-01-01"
		meta day "Monday"
		meta hour "10:00"-"12:00"
		meta hour "10:00:30"
		meta iifkind "veth"
		meta oifkind "veth"
		meta mark set jhash ip saddr mod 2
		meta mark set symhash mod 2 offset 100
		jhash ip saddr . tcp dport mod 10 seed 0xdeadbeef 5
		ct id 5
		ct expiration 5s
		ct original bytes > 1000
		ct reply packets 5
		ct avgpkt 100
		ct helper "ftp"
		ct zone 5
		ct original zone 5
		ct original zone set 1
		meta random 5
		meta priority set 1:2
		meta priority none
		meta sdif "lo"
		meta sdifname "x"
		add @dyn { ip saddr counter }
		update @dyn2 { ip saddr timeout 30s limit rate 10/second }
		add @dyn { ip saddr ct count over 5 }
	}
	chain hdrs {
		tcp option mptcp subtype 1
		tcp option mptcp subtype 0-2
		tcp option mptcp exists
		tcp option fastopen exists
		tcp option md5sig missing
		tcp option sack-perm exists
		tcp option timestamp tsval 5
		tcp option timestamp tsecr 6
		tcp option window count 7
		tcp option maxseg size 1400
		tcp option sack0 left 1
		tcp option sack0 right 2
		tcp option sack1 left 3
		tcp option sack2 right 4
		tcp option sack3 left 5
		tcp option fastopen length 4
		tcp option 200 exists
		tcp option @255,8,8 5
		meta l4proto tcp tcp option sack exists
		ip option ra exists
		ip option lsrr ptr 4
		ip option rr exists
		ip option ssrr exists
		ip option rr ptr 5
		ip option ssrr addr 16909060
		ip option ra value 0
		ip option lsrr type 131
		ip option ra missing
		ip option rr exists ip saddr 1.2.3.4
		sctp chunk data exists
		sctp chunk init num-inbound-streams 1
		sctp chunk data tsn 5
		sctp chunk data flags 2
		sctp chunk init-ack a-rwnd 4
		sctp chunk sack cum-tsn-ack 5
		sctp chunk abort missing
		sctp chunk heartbeat type 4
		sctp chunk shutdown cum-tsn-ack 1
		sctp chunk forward-tsn new-cum-tsn 9
		sctp chunk asconf seqno 5
		sctp chunk data ppid 7
		meta l4proto sctp sctp chunk cookie-echo exists
		sctp vtag 5
		dccp type request
		dccp type response
		dccp type != ack
		dccp type 12
		dccp type 0-1
		ip frag-off & 0x1fff != 0
		ip frag-off & 0x2000 == 0x2000
		ip frag-off & 0x4000 != 0
		ip frag-off 0
		ip dscp 3
		vlan id 10
		vlan pcp 3
		vlan type ip
		ether type vlan vlan id 10
		vlan dei 1
		vlan id 10 vlan pcp 2
		meta day "Monday"-"Friday"
		meta day != "Monday"-"Tuesday"
		meta l4proto 6-17
		icmp type 0-8
		meta pkttype 0-1
	}
}
`

// TestIntegrationExprsMatchNft loads exprsRuleset into a fresh namespace
// and checks the collector's read renders every rule as nft list ruleset
// does: none of these expressions is lost, none shows as a placeholder.
func TestIntegrationExprsMatchNft(t *testing.T) {
	ns, fd := testNS(t)
	nsRun(t, ns, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	nsRun(t, ns, "ip", "link", "set", "d0", "up")
	file := filepath.Join(t.TempDir(), "exprs.nft")
	if err := os.WriteFile(file, []byte(exprsRuleset), 0o600); err != nil {
		t.Fatal(err)
	}
	nsRun(t, ns, "nft", "-f", file)
	want := parseNftList(t, nsRun(t, ns, "nft", "-a", "list", "ruleset"))
	if n := strings.Count(exprsRuleset, "\n\t\t") - strings.Count(exprsRuleset, "\t\ttype "); len(want) != n {
		t.Fatalf("nft listed %d rules, the ruleset has %d", len(want), n)
	}
	got, st, err := read(context.Background(), fd, MaxRules, nil)
	if err != nil || st.unreadable != 0 || st.undecoded != 0 {
		t.Fatalf("read: %v, %+v", err, st)
	}
	seen := len(matchNft(t, got, want))
	t.Logf("compared %d rules with nft", seen)
	if *update {
		captureRules(t, fd, want)
	}
}

// captureRules writes rulesFixture: the namespace's links, then each
// rule's NFT_MSG_NEWRULE payload as the kernel dumps it, in hex, with the
// rule as nft lists it.
func captureRules(t *testing.T, fd int, want map[ruleKey]string) {
	if _, off := time.Now().Zone(); off != 0 {
		// nft lists meta time and meta hour in local time; the
		// fixture's texts are read back in UTC (TestRulesFixture).
		t.Fatalf("-update needs the local time zone to be UTC (TZ=UTC go test ...)")
	}
	links, err := readLinks(fd)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# NFT_MSG_NEWRULE payloads of exprsRuleset (go test -run TestIntegrationExprsMatchNft -update),\n")
	b.WriteString("# each as hex, a tab, and the rule as nft 1.0.6 lists it. The namespace's links:\n")
	idx := make([]uint32, 0, len(links))
	for i := range links {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	b.WriteString("links")
	for _, i := range idx {
		fmt.Fprintf(&b, " %d=%s", i, links[i])
	}
	b.WriteString("\n")
	conn, err := dialNFT(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	_, err = rtnl.Dump(conn, netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   nfgenmsg(unix.AF_UNSPEC),
	}, func(m netlink.Message) error {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWRULE) {
			return nil
		}
		r, err := parseRule(m.Data)
		if err != nil {
			return err
		}
		k := ruleKey{familyNames[nftables.TableFamily(m.Data[0])], attrString(m.Data[4:], unix.NFTA_RULE_TABLE),
			attrString(m.Data[4:], unix.NFTA_RULE_CHAIN), r.Handle}
		line, ok := want[k]
		if !ok {
			return fmt.Errorf("%v not in nft's listing", k)
		}
		fmt.Fprintf(&b, "%s\t%s\n", hex.EncodeToString(m.Data), line)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rulesFixture, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d rules to %s", n, rulesFixture)
}

// attrString is the string attribute typ of attributes b, "" if none.
func attrString(b []byte, typ uint16) string {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return ""
	}
	for ad.Next() {
		if ad.Type() == typ {
			return ad.String()
		}
	}
	return ""
}

// ctLabelsRuleset matches and sets conntrack labels by bit: nft names
// them from /etc/connlabel.conf, printing a bit it has no name for as
// its number.
const ctLabelsRuleset = `
table inet l {
	chain c {
		ct label 5
		ct label set 5
		ct label 127
		ct label != 3
		ct label 0
		ct label 64 counter
		ct label 1 ct label set 64
	}
}
`

// TestIntegrationCtLabelsMatchNft lists ctLabelsRuleset with nft twice:
// with the host's /etc/connlabel.conf (where there is none, as here, the
// bits print as numbers) and with a file of the test's laid over /etc in
// a mount namespace of nft's own (overlayfs: the host's /etc is not
// touched), and checks the collector renders each rule as nft does,
// reading its names from the same file.
func TestIntegrationCtLabelsMatchNft(t *testing.T) {
	ns, fd := testNS(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "labels.nft")
	if err := os.WriteFile(file, []byte(ctLabelsRuleset), 0o600); err != nil {
		t.Fatal(err)
	}
	nsRun(t, ns, "nft", "-f", file)
	conf := filepath.Join(dir, "etc", "connlabel.conf")
	saved := connlabelConf
	t.Cleanup(func() { connlabelConf = saved })
	compare := func(listing string) {
		t.Helper()
		want := parseNftList(t, listing)
		got, st, err := read(context.Background(), fd, MaxRules, nil)
		if err != nil || st.unreadable != 0 || st.undecoded != 0 {
			t.Fatalf("read: %v, %+v", err, st)
		}
		texts := matchNft(t, got, want)
		t.Logf("compared %d rules with nft: %q", len(texts), texts)
	}
	compare(nsRun(t, ns, "nft", "-a", "list", "ruleset"))

	if err := os.Mkdir(filepath.Dir(conf), 0o700); err != nil {
		t.Fatal(err)
	}
	labels := "# netlens test labels\n0 zero\n5 x\n\t0x40 web # comment\n5 again\n"
	if err := os.WriteFile(conf, []byte(labels), 0o600); err != nil {
		t.Fatal(err)
	}
	connlabelConf = conf
	script := `mount -t overlay overlay -o lowerdir="$1":/etc /etc && exec ip netns exec "$2" nft -a list ruleset`
	out, err := exec.Command("unshare", "-m", "sh", "-c", script, "sh", filepath.Dir(conf), ns).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset with %s over /etc: %v: %s", conf, err, out)
	}
	if !strings.Contains(string(out), `ct label "x"`) {
		t.Fatalf("nft did not read the labels laid over /etc:\n%s", out)
	}
	compare(string(out))
}
