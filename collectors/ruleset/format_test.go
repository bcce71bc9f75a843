package ruleset

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// Builders for the expressions nft and iptables-nft write, all through
// register 1 as they do.

func ld(key expr.MetaKey) *expr.Meta { return &expr.Meta{Key: key, Register: 1} }

func eq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

func cmpOp(op expr.CmpOp, data []byte) *expr.Cmp { return &expr.Cmp{Op: op, Register: 1, Data: data} }

func nh(off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}
}

func th(off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: n}
}

func ctLoad(key expr.CtKey) *expr.Ct { return &expr.Ct{Key: key, Register: 1} }

func mask(m []byte) *expr.Bitwise {
	return &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(m)), Mask: m, Xor: make([]byte, len(m))}
}

func imm(r uint32, data []byte) *expr.Immediate { return &expr.Immediate{Register: r, Data: data} }

func host32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func ifname(s string) []byte { b := make([]byte, 16); copy(b, s); return b }

func verdict(k expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: k} }

// tcp22 is meta l4proto tcp; tcp dport 22, as nft writes tcp dport 22.
func tcp22() []expr.Any {
	return []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), eq(be16(22))}
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

const (
	inet = nftables.TableFamilyINet
	ipv4 = nftables.TableFamilyIPv4
	ipv6 = nftables.TableFamilyIPv6
)

func TestText(t *testing.T) {
	// iif names index 1 "lo" and no other, whatever the host has.
	env := Env{Ifname: func(idx uint32) (string, bool) { return "lo", idx == 1 }}

	tests := []struct {
		name   string
		family nftables.TableFamily
		exprs  []expr.Any
		want   string
	}{
		// meta
		{"l4proto", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6})}, "meta l4proto tcp"},
		{"l4proto icmpv6", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{58})}, "meta l4proto ipv6-icmp"},
		{"l4proto number", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{200})}, "meta l4proto 200"},
		{"nfproto", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{10})}, "meta nfproto ipv6"},
		{"iifname", inet, []expr.Any{ld(expr.MetaKeyIIFNAME), eq(ifname("eth0"))}, `iifname "eth0"`},
		{"oifname wildcard", inet, []expr.Any{ld(expr.MetaKeyOIFNAME), eq([]byte("veth"))}, `oifname "veth*"`},
		{"oifname !=", inet, []expr.Any{ld(expr.MetaKeyOIFNAME), cmpOp(expr.CmpOpNeq, ifname("eth0"))}, `oifname != "eth0"`},
		{"iif known", inet, []expr.Any{ld(expr.MetaKeyIIF), eq(host32(1))}, `iif "lo"`},
		{"oif unknown", inet, []expr.Any{ld(expr.MetaKeyOIF), eq(host32(7))}, "oif 7"},
		{"mark", inet, []expr.Any{ld(expr.MetaKeyMARK), eq(host32(1))}, "meta mark 0x00000001"},
		{"mark masked", inet, []expr.Any{ld(expr.MetaKeyMARK), mask(host32(0xff00)), eq(host32(0x100))},
			"meta mark & 0x0000ff00 == 0x00000100"},
		{"skuid", inet, []expr.Any{ld(expr.MetaKeySKUID), eq(host32(1000))}, "meta skuid 1000"},
		{"pkttype", inet, []expr.Any{ld(expr.MetaKeyPKTTYPE), eq([]byte{1})}, "meta pkttype broadcast"},
		{"mark set", inet, []expr.Any{imm(1, host32(2)), &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			"meta mark set 0x00000002"},
		{"mark set or", inet, []expr.Any{ld(expr.MetaKeyMARK), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: host32(0xffffbfff), Xor: host32(0x4000)}, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			"meta mark set meta mark | 0x00004000"},
		{"mark set and", inet, []expr.Any{ld(expr.MetaKeyMARK), mask(host32(0xffff00ff)),
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}}, "meta mark set meta mark & 0xffff00ff"},
		{"mark set xor", inet, []expr.Any{ld(expr.MetaKeyMARK), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: host32(0xffffffff), Xor: host32(1)}, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			"meta mark set meta mark ^ 0x00000001"},
		{"mark set and xor", inet, []expr.Any{ld(expr.MetaKeyMARK), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: host32(0xff), Xor: host32(1)}, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			"meta mark set (meta mark & 0x000000ff) ^ 0x00000001"},
		{"mark set ct mark", inet, []expr.Any{ctLoad(expr.CtKeyMARK), &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			"meta mark set ct mark"},

		// payload
		{"ip saddr iptables-nft mask", ipv4, []expr.Any{nh(12, 4), mask([]byte{255, 0, 0, 0}), eq(ip("10.0.0.0"))},
			"ip saddr 10.0.0.0/8"},
		{"ip saddr nft short load", ipv4, []expr.Any{nh(12, 1), eq([]byte{10})}, "ip saddr 10.0.0.0/8"},
		{"ip saddr /12", ipv4, []expr.Any{nh(12, 2), mask([]byte{255, 0xf0}), eq([]byte{172, 16})}, "ip saddr 172.16.0.0/12"},
		{"ip saddr != prefix", ipv4, []expr.Any{nh(12, 4), mask([]byte{255, 255, 0, 0}), cmpOp(expr.CmpOpNeq, ip("192.168.0.0"))},
			"ip saddr != 192.168.0.0/16"},
		{"ip daddr !=", ipv4, []expr.Any{nh(16, 4), cmpOp(expr.CmpOpNeq, ip("192.168.1.1"))}, "ip daddr != 192.168.1.1"},
		{"ip daddr odd mask", ipv4, []expr.Any{nh(16, 4), mask(ip("0.0.255.0")), eq(ip("0.0.1.0"))}, "ip daddr & 0.0.255.0 == 0.0.1.0"},
		{"ip protocol", ipv4, []expr.Any{nh(9, 1), eq([]byte{17})}, "ip protocol udp"},
		{"ip ttl", ipv4, []expr.Any{nh(8, 1), cmpOp(expr.CmpOpLt, []byte{5})}, "ip ttl < 5"},
		{"ip6 saddr", ipv6, []expr.Any{nh(8, 16), eq(ip("2001:db8::1"))}, "ip6 saddr 2001:db8::1"},
		{"ip6 daddr prefix", ipv6, []expr.Any{nh(24, 4), eq(ip("2001:db8::")[:4])}, "ip6 daddr 2001:db8::/32"},
		{"ip6 nexthdr", ipv6, []expr.Any{nh(6, 1), eq([]byte{58})}, "ip6 nexthdr ipv6-icmp"},
		{"inet ip saddr hides nfproto", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), nh(12, 4), eq(ip("1.2.3.4"))},
			"ip saddr 1.2.3.4"},
		{"inet network header without nfproto is raw", inet, []expr.Any{nh(12, 4), eq(ip("1.2.3.4"))}, "@nh,96,32 0x01020304"},
		{"tcp dport after meta l4proto", ipv4, tcp22(), "tcp dport 22"},
		{"tcp dport after ip protocol (iptables-nft)", ipv4, []expr.Any{nh(9, 1), eq([]byte{6}), th(2, 2), eq(be16(22))},
			"tcp dport 22"},
		{"udp sport", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{17}), th(0, 2), cmpOp(expr.CmpOpGte, be16(1024))},
			"udp sport >= 1024"},
		{"ip saddr tcp dport counter drop", inet, join([]expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), nh(12, 1), eq([]byte{10})},
			tcp22(), []expr.Any{&expr.Counter{Packets: 5, Bytes: 300}, verdict(expr.VerdictDrop)}),
			"ip saddr 10.0.0.0/8 tcp dport 22 counter drop"},
		{"th dport after a set of protocols", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), &expr.Lookup{SourceRegister: 1, SetName: "__set0"},
			th(2, 2), eq(be16(53))}, "meta l4proto @__set0 th dport 53"},
		{"icmp type hides l4proto and nfproto", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), ld(expr.MetaKeyL4PROTO), eq([]byte{1}),
			th(0, 1), eq([]byte{8})}, "icmp type echo-request"},
		{"icmpv6 type", ipv6, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{58}), th(0, 1), eq([]byte{135})}, "icmpv6 type nd-neighbor-solicit"},
		{"tcp flags syn", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(13, 1), mask([]byte{2}), cmpOp(expr.CmpOpNeq, []byte{0})},
			"tcp flags syn"},
		{"tcp flags of", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(13, 1), mask([]byte{0x12}), eq([]byte{2})},
			"tcp flags syn / syn,ack"},
		{"tcp flags != of", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(13, 1), mask([]byte{0x12}), cmpOp(expr.CmpOpNeq, []byte{2})},
			"tcp flags != syn / syn,ack"},
		{"tcp flags none of", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(13, 1), mask([]byte{0x03}), eq([]byte{0})},
			"tcp flags ! fin,syn"},
		{"ct state of", inet, []expr.Any{ctLoad(expr.CtKeySTATE), mask(host32(6)), eq(host32(2))}, "ct state established / established,related"},
		{"ct state masked <", inet, []expr.Any{ctLoad(expr.CtKeySTATE), mask(host32(6)), cmpOp(expr.CmpOpLt, host32(2))},
			"ct state & established,related < established"},
		{"ip dscp", ipv4, []expr.Any{nh(1, 1), mask([]byte{0xfc}), eq([]byte{0x20})}, "ip dscp cs1"},
		{"ip dscp inet hides nfproto", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), nh(1, 1), mask([]byte{0xfc}),
			cmpOp(expr.CmpOpNeq, []byte{0xb8})}, "ip dscp != ef"},
		{"ip ecn", ipv4, []expr.Any{nh(1, 1), mask([]byte{0x03}), eq([]byte{0x03})}, "ip ecn ce"},
		{"ip version", ipv4, []expr.Any{nh(0, 1), mask([]byte{0xf0}), eq([]byte{0x40})}, "ip version 4"},
		{"ip hdrlength", ipv4, []expr.Any{nh(0, 1), mask([]byte{0x0f}), cmpOp(expr.CmpOpGt, []byte{0x05})}, "ip hdrlength > 5"},
		{"ip6 dscp", ipv6, []expr.Any{nh(0, 2), mask([]byte{0x0f, 0xc0}), eq([]byte{0x0b, 0x80})}, "ip6 dscp ef"},
		{"ip6 flowlabel", ipv6, []expr.Any{nh(1, 3), mask([]byte{0x0f, 0xff, 0xff}), eq([]byte{0, 0x04, 0xd2})}, "ip6 flowlabel 1234"},
		{"unnamed bit field", ipv4, []expr.Any{nh(1, 1), mask([]byte{0x0c}), eq([]byte{0x04})}, "@nh,8,8 & 0x0c == 0x04"},
		{"icmp code", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{1}), th(1, 1), eq([]byte{3})}, "icmp code port-unreachable"},
		{"ether saddr hides iiftype", inet, []expr.Any{ld(expr.MetaKeyIIFTYPE), eq(binary.NativeEndian.AppendUint16(nil, 1)),
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6}, eq([]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55})},
			"ether saddr 00:11:22:33:44:55"},
		{"iiftype", inet, []expr.Any{ld(expr.MetaKeyIIFTYPE), eq(binary.NativeEndian.AppendUint16(nil, 772))}, "meta iiftype loopback"},
		{"raw network payload", ipv4, []expr.Any{nh(0, 1), eq([]byte{0x45})}, "@nh,0,8 0x45"},

		// cmp operators and ranges
		{"!=", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), cmpOp(expr.CmpOpNeq, be16(22))}, "tcp dport != 22"},
		{"<", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), cmpOp(expr.CmpOpLt, be16(22))}, "tcp dport < 22"},
		{">", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), cmpOp(expr.CmpOpGt, be16(22))}, "tcp dport > 22"},
		{"<=", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), cmpOp(expr.CmpOpLte, be16(22))}, "tcp dport <= 22"},
		{">=", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), cmpOp(expr.CmpOpGte, be16(22))}, "tcp dport >= 22"},
		{"range", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2),
			&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(1000), ToData: be16(2000)}}, "tcp dport 1000-2000"},
		{"range !=", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2),
			&expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: be16(1000), ToData: be16(2000)}}, "tcp dport != 1000-2000"},
		{"range as cmp pair", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2),
			cmpOp(expr.CmpOpGte, be16(1000)), cmpOp(expr.CmpOpLte, be16(2000))}, "tcp dport 1000-2000"},

		// sets and maps
		{"named set", ipv4, []expr.Any{nh(12, 4), &expr.Lookup{SourceRegister: 1, SetName: "blocklist"}}, "ip saddr @blocklist"},
		{"named set inverted", ipv4, []expr.Any{nh(12, 4), &expr.Lookup{SourceRegister: 1, SetName: "blocklist", Invert: true}},
			"ip saddr != @blocklist"},
		{"anonymous set", ipv4, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), &expr.Lookup{SourceRegister: 1, SetName: "__set0"}},
			"tcp dport @__set0"},
		{"concatenation", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), ld(expr.MetaKeyL4PROTO), eq([]byte{6}),
			nh(12, 4), &expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: 1, SetName: "pairs"}}, "ip saddr . tcp dport @pairs"},
		{"vmap", ipv4, join(tcp22()[:3], []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: "portv", IsDestRegSet: true}}),
			"tcp dport vmap @portv"},
		{"dynset", ipv4, []expr.Any{nh(12, 4), &expr.Dynset{SrcRegKey: 1, SetName: "dyn", Operation: 1, Timeout: 30 * time.Second}},
			"update @dyn { ip saddr timeout 30s }"},

		// ct
		{"ct state established,related", inet, []expr.Any{ctLoad(expr.CtKeySTATE), mask(host32(6)), cmpOp(expr.CmpOpNeq, host32(0)),
			&expr.Counter{}, verdict(expr.VerdictAccept)}, "ct state established,related counter accept"},
		{"ct state invalid", inet, []expr.Any{ctLoad(expr.CtKeySTATE), mask(host32(1)), cmpOp(expr.CmpOpNeq, host32(0)),
			verdict(expr.VerdictDrop)}, "ct state invalid drop"},
		{"ct state new", inet, []expr.Any{ctLoad(expr.CtKeySTATE), mask(host32(8)), cmpOp(expr.CmpOpNeq, host32(0))}, "ct state new"},
		{"ct state == new", inet, []expr.Any{ctLoad(expr.CtKeySTATE), eq(host32(8))}, "ct state new"},
		{"ct status", inet, []expr.Any{ctLoad(expr.CtKeySTATUS), mask(host32(32)), cmpOp(expr.CmpOpNeq, host32(0))}, "ct status dnat"},
		{"ct mark", inet, []expr.Any{ctLoad(expr.CtKeyMARK), eq(host32(16))}, "ct mark 0x00000010"},
		{"ct original saddr", ipv4, []expr.Any{ctLoad(expr.CtKeySRC), eq(ip("10.1.2.3"))}, "ct original ip saddr 10.1.2.3"},
		{"ct mark set meta mark", inet, []expr.Any{ld(expr.MetaKeyMARK), &expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: 1}},
			"ct mark set meta mark"},
		{"tcp option maxseg size", inet, []expr.Any{&expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: 2, Offset: 2, Len: 2, DestRegister: 1},
			cmpOp(expr.CmpOpGt, be16(1400))}, "tcp option maxseg size > 1400"},
		{"tcp option set", inet, []expr.Any{imm(1, be16(1360)), &expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: 2, Offset: 2, Len: 2, SourceRegister: 1}},
			"tcp option maxseg size set 1360"},
		{"tcp option exists", inet, []expr.Any{&expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: 4, Len: 1, Flags: 1, DestRegister: 1}, eq([]byte{1})},
			"tcp option sack-perm exists"},
		{"exthdr frag missing", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{10}),
			&expr.Exthdr{Op: expr.ExthdrOpIpv6, Type: 44, Len: 1, Flags: 1, DestRegister: 1}, eq([]byte{0})}, "exthdr frag missing"},
		{"tcp option mptcp exists", inet, []expr.Any{tcpopt(30, 0, 1, 1), eq([]byte{1})}, "tcp option mptcp exists"},
		{"tcp option fastopen missing", inet, []expr.Any{tcpopt(34, 0, 1, 1), eq([]byte{0})}, "tcp option fastopen missing"},
		{"tcp option mptcp subtype", inet, []expr.Any{tcpopt(30, 2, 1, 0), mask([]byte{0xf0}), eq([]byte{0x10})},
			"tcp option mptcp subtype 1"},
		{"tcp option mptcp subtype range", inet, []expr.Any{tcpopt(30, 2, 1, 0), mask([]byte{0xf0}),
			cmpOp(expr.CmpOpGte, []byte{0}), cmpOp(expr.CmpOpLte, []byte{0x20})}, "tcp option mptcp subtype 0-2"},
		{"tcp option mptcp other mask", inet, []expr.Any{tcpopt(30, 2, 1, 0), mask([]byte{0x0f}), eq([]byte{1})},
			"[exthdr] & 0x0f == 0x01"},
		{"tcp option sack left", inet, []expr.Any{tcpopt(5, 2, 4, 0), eq(be32(1))}, "tcp option sack left 1"},
		{"tcp option sack1 right", inet, []expr.Any{tcpopt(5, 14, 4, 0), eq(be32(2))}, "tcp option sack1 right 2"},
		{"tcp option sack3 left", inet, []expr.Any{tcpopt(5, 26, 4, 0), eq(be32(5))}, "tcp option sack3 left 5"},
		{"tcp option timestamp tsecr", inet, []expr.Any{tcpopt(8, 6, 4, 0), eq(be32(6))}, "tcp option timestamp tsecr 6"},
		{"tcp option window count", inet, []expr.Any{tcpopt(3, 2, 1, 0), eq([]byte{7})}, "tcp option window count 7"},
		{"tcp option hides l4proto", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), tcpopt(4, 0, 1, 1), eq([]byte{1})},
			"tcp option sack-perm exists"},
		{"tcp option unknown kind", inet, []expr.Any{tcpopt(200, 0, 1, 1), eq([]byte{1})}, "tcp option 200 exists"},
		{"tcp option unknown kind raw", inet, []expr.Any{tcpopt(255, 1, 1, 0), eq([]byte{5})}, "tcp option @255,8,8 5"},
		{"ip option ra exists", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), ipopt(148, 0, 1, 1), eq([]byte{1})},
			"ip option ra exists"},
		{"ip option lsrr ptr", ipv4, []expr.Any{ipopt(131, 2, 1, 0), eq([]byte{4})}, "ip option lsrr ptr 4"},
		{"ip option rr addr", ipv4, []expr.Any{ipopt(7, 3, 4, 0), eq(be32(16909060))}, "ip option rr addr 16909060"},
		{"ip option ssrr missing", ipv4, []expr.Any{ipopt(137, 0, 1, 1), eq([]byte{0})}, "ip option ssrr missing"},
		{"ip option of no field", ipv4, []expr.Any{ipopt(148, 3, 1, 0), eq([]byte{0})}, "[exthdr] [cmp]"},
		{"ip option unknown", ipv4, []expr.Any{ipopt(68, 0, 1, 1), eq([]byte{1})}, "[exthdr] [cmp]"},
		{"sctp chunk data exists", inet, []expr.Any{sctpChunk(0, 0, 1, 1), eq([]byte{1})}, "sctp chunk data exists"},
		{"sctp chunk init num-inbound-streams", inet, []expr.Any{sctpChunk(1, 14, 2, 0), eq(be16(1))},
			"sctp chunk init num-inbound-streams 1"},
		{"sctp chunk forward-tsn", inet, []expr.Any{sctpChunk(192, 4, 4, 0), eq(be32(9))}, "sctp chunk forward-tsn new-cum-tsn 9"},
		{"sctp chunk unknown", inet, []expr.Any{sctpChunk(99, 0, 1, 1), eq([]byte{1})}, "[exthdr] [cmp]"},
		{"sctp vtag", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{132}), th(4, 4), eq(be32(5))}, "sctp vtag 5"},
		{"dccp type", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{33}), th(8, 1), mask([]byte{0x1e}), eq([]byte{0x02})},
			"dccp type response"},
		{"dccp type unnamed", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{33}), th(8, 1), mask([]byte{0x1e}),
			cmpOp(expr.CmpOpNeq, []byte{0x18})}, "dccp type != 12"},
		{"dccp type range", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{33}), th(8, 1), mask([]byte{0x1e}),
			cmpOp(expr.CmpOpGte, []byte{0}), cmpOp(expr.CmpOpLte, []byte{2})}, "dccp type 0-1"},
		{"ip frag-off masked", ipv4, []expr.Any{nh(6, 2), mask(be16(0x1fff)), cmpOp(expr.CmpOpNeq, be16(0))}, "ip frag-off & 8191 != 0"},
		{"ip frag-off flag", ipv4, []expr.Any{nh(6, 2), mask(be16(0x2000)), eq(be16(0x2000))}, "ip frag-off & 8192 == 8192"},
		{"ip frag-off", ipv4, []expr.Any{nh(6, 2), eq(be16(0))}, "ip frag-off 0"},
		{"ip dscp unnamed", ipv4, []expr.Any{nh(1, 1), mask([]byte{0xfc}), eq([]byte{0x0c})}, "ip dscp 0x03"},
		{"vlan id", netdev, join(etherType8021q(), []expr.Any{ll(14, 2), mask(be16(0x0fff)), eq(be16(10))}), "vlan id 10"},
		{"vlan pcp", netdev, join(etherType8021q(), []expr.Any{ll(14, 1), mask([]byte{0xe0}), eq([]byte{0x60})}), "vlan pcp 3"},
		{"vlan dei", bridge, []expr.Any{ll(12, 2), eq(be16(0x8100)), ll(14, 1), mask([]byte{0x10}), eq([]byte{0x10})}, "vlan dei 1"},
		{"vlan type keeps ether type", netdev, join(etherType8021q(), []expr.Any{ll(16, 2), eq(be16(0x0800))}),
			"ether type 8021q vlan type ip"},
		{"vlan id, type and ip saddr", netdev, join(etherType8021q(), []expr.Any{ll(14, 2), mask(be16(0x0fff)), eq(be16(10)),
			ll(16, 2), eq(be16(0x0800)), nh(12, 4), eq(ip("1.2.3.4"))}), "vlan id 10 ip saddr 1.2.3.4"},
		{"vlan id after 8021ad", bridge, []expr.Any{ll(12, 2), eq(be16(0x88a8)), ll(14, 2), mask(be16(0x0fff)), eq(be16(3))},
			"ether type 8021ad vlan id 3"},
		{"vlan id range", bridge, []expr.Any{ll(12, 2), eq(be16(0x8100)), ll(14, 2), mask(be16(0x0fff)),
			cmpOp(expr.CmpOpGte, be16(1)), cmpOp(expr.CmpOpLte, be16(5))}, "vlan id 1-5"},
		{"no vlan without ether type", bridge, []expr.Any{ll(14, 2), mask(be16(0x0fff)), eq(be16(10))}, "@ll,112,16 & 0x0fff == 0x000a"},
		{"stacked vlan unnamed", bridge, []expr.Any{ll(12, 2), eq(be16(0x8100)), ll(16, 2), eq(be16(0x8100)),
			ll(18, 2), mask(be16(0x0fff)), eq(be16(10))}, "ether type 8021q vlan type 8021q @ll,144,16 & 0x0fff == 0x000a"},
		{"ether type range", netdev, []expr.Any{ll(12, 2), cmpOp(expr.CmpOpGte, be16(0x0800)), cmpOp(expr.CmpOpLte, be16(0x0806))},
			"ether type 0x0800-0x0806"},
		{"meta day range", inet, []expr.Any{ld(metaKeyTimeDay), cmpOp(expr.CmpOpGte, []byte{1}), cmpOp(expr.CmpOpLte, []byte{5})},
			"meta day 1-5"},
		{"meta l4proto range", inet, []expr.Any{ld(expr.MetaKeyL4PROTO), &expr.Range{Op: expr.CmpOpNeq, Register: 1,
			FromData: []byte{6}, ToData: []byte{17}}}, "meta l4proto != 6-17"},
		{"numgen", inet, []expr.Any{&expr.Numgen{Register: 1, Type: 1, Modulus: 2}, eq(host32(1))}, "numgen random mod 2 1"},
		{"notrack", inet, []expr.Any{&expr.Notrack{}}, "notrack"},

		// statements
		{"counter bare", inet, []expr.Any{&expr.Counter{Packets: 10, Bytes: 1000}}, "counter"},
		{"log prefix", inet, []expr.Any{&expr.Log{Key: 1<<2 | 1<<5, Data: []byte("in: "), Level: expr.LogLevelWarning}}, `log prefix "in: "`},
		{"log level", inet, []expr.Any{&expr.Log{Key: 1<<2 | 1<<5, Data: []byte("x"), Level: expr.LogLevelInfo}}, `log prefix "x" level info`},
		{"log group", inet, []expr.Any{&expr.Log{Key: 1<<1 | 1<<2, Data: []byte("nflog"), Group: 2}}, `log prefix "nflog" group 2`},
		{"log flags", inet, []expr.Any{&expr.Log{Key: 1 << 6, Flags: expr.LogFlagsTCPSeq | expr.LogFlagsTCPOpt | expr.LogFlagsUID}},
			"log flags tcp sequence,options flags skuid"},
		{"limit", inet, []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: 10, Unit: expr.LimitTimeSecond, Burst: 5}}, "limit rate 10/second"},
		{"limit over burst", inet, []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: 10, Unit: expr.LimitTimeMinute, Burst: 20, Over: true}},
			"limit rate over 10/minute burst 20 packets"},
		{"limit bytes", inet, []expr.Any{&expr.Limit{Type: expr.LimitTypePktBytes, Rate: 2 << 20, Unit: expr.LimitTimeSecond}},
			"limit rate 2 mbytes/second"},
		{"quota", inet, []expr.Any{&expr.Quota{Bytes: 100 << 20, Over: true}}, "quota over 100 mbytes"},
		{"log flags all", inet, []expr.Any{&expr.Log{Key: 1<<5 | 1<<6, Level: expr.LogLevelWarning, Flags: expr.LogFlagsMask}}, "log flags all"},
		{"counter object", inet, []expr.Any{&expr.Objref{Type: 1, Name: "cnt"}}, `counter name "cnt"`},
		{"ct helper object", inet, []expr.Any{&expr.Objref{Type: 3, Name: "ftp-std"}}, `ct helper set "ftp-std"`},
		{"ct count", inet, []expr.Any{&expr.Connlimit{Count: 10, Flags: 1}, verdict(expr.VerdictDrop)}, "ct count over 10 drop"},
		{"dynset add", ipv4, []expr.Any{nh(12, 4), &expr.Dynset{SrcRegKey: 1, SetName: "dyn", Operation: 0}}, "add @dyn { ip saddr }"},
		{"nftrace set", inet, []expr.Any{imm(1, []byte{1}), &expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1}},
			"meta nftrace set 1"},
		{"ct direction", inet, []expr.Any{&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1}, eq([]byte{0})}, "ct direction original"},
		{"ct l3proto", inet, []expr.Any{&expr.Ct{Key: expr.CtKeyL3PROTOCOL, Register: 1}, eq([]byte{2})}, "ct l3proto ipv4"},
		{"xt match", ipv4, []expr.Any{&expr.Match{Name: "comment", Info: func() *xt.Comment { c := xt.Comment("k8s"); return &c }()}},
			`xt match "comment"`},
		{"xt target", ipv4, []expr.Any{&expr.Target{Name: "MASQUERADE"}}, `xt target "MASQUERADE"`},
		{"fib type", inet, []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true}, eq(host32(2)), verdict(expr.VerdictAccept)},
			"fib daddr type local accept"},
		{"fib oif missing", inet, []expr.Any{&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true, FlagPRESENT: true},
			eq(host32(0)), verdict(expr.VerdictDrop)}, "fib saddr . iif oif missing drop"},
		{"fib oif", inet, []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, ResultOIF: true}, eq(host32(1))}, `fib daddr oif "lo"`},

		// reject
		{"reject inet", inet, []expr.Any{&expr.Reject{Type: 2, Code: 1}}, "reject"},
		{"reject icmpx", inet, []expr.Any{&expr.Reject{Type: 2, Code: 3}}, "reject with icmpx admin-prohibited"},
		{"reject tcp reset", inet, []expr.Any{&expr.Reject{Type: 1}}, "reject with tcp reset"},
		{"reject ip", ipv4, []expr.Any{&expr.Reject{Type: 0, Code: 3}}, "reject"},
		{"reject ip host-unreachable", ipv4, []expr.Any{&expr.Reject{Type: 0, Code: 1}}, "reject with icmp host-unreachable"},
		{"reject ip6", ipv6, []expr.Any{&expr.Reject{Type: 0, Code: 4}}, "reject"},
		{"reject inet icmp hides nfproto", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{2}), &expr.Reject{Type: 0, Code: 1}},
			"reject with icmp host-unreachable"},
		{"reject inet icmpv6", inet, []expr.Any{ld(expr.MetaKeyNFPROTO), eq([]byte{10}), &expr.Reject{Type: 0, Code: 4}},
			"reject with icmpv6 port-unreachable"},
		{"reject ip6 admin-prohibited", ipv6, []expr.Any{&expr.Reject{Type: 0, Code: 1}}, "reject with icmpv6 admin-prohibited"},

		// nat
		{"snat", ipv4, []expr.Any{imm(1, ip("1.2.3.4")), &expr.NAT{Type: expr.NATTypeSourceNAT, Family: 2, RegAddrMin: 1, RegAddrMax: 1}},
			"snat to 1.2.3.4"},
		{"snat inet", inet, []expr.Any{imm(1, ip("1.2.3.4")), &expr.NAT{Type: expr.NATTypeSourceNAT, Family: 2, RegAddrMin: 1}},
			"snat ip to 1.2.3.4"},
		{"dnat addr:port", ipv4, join(tcp22(), []expr.Any{imm(1, ip("10.0.0.1")), imm(2, be16(80)),
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegAddrMax: 1, RegProtoMin: 2, RegProtoMax: 2, Specified: true}}),
			"tcp dport 22 dnat to 10.0.0.1:80"},
		{"dnat range", ipv4, []expr.Any{imm(1, ip("10.0.0.1")), imm(2, ip("10.0.0.9")),
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegAddrMax: 2}}, "dnat to 10.0.0.1-10.0.0.9"},
		{"snat ipv6 port", ipv6, []expr.Any{imm(1, ip("2001:db8::1")), imm(2, be16(8080)),
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: 10, RegAddrMin: 1, RegAddrMax: 1, RegProtoMin: 2, RegProtoMax: 2}},
			"snat to [2001:db8::1]:8080"},
		{"snat flags", ipv4, []expr.Any{imm(1, ip("1.2.3.4")), &expr.NAT{Type: expr.NATTypeSourceNAT, Family: 2, RegAddrMin: 1,
			Random: true, Persistent: true}}, "snat to 1.2.3.4 random,persistent"},
		{"masquerade", ipv4, []expr.Any{ld(expr.MetaKeyOIFNAME), eq(ifname("eth0")), &expr.Masq{}}, `oifname "eth0" masquerade`},
		{"masquerade ports fully-random", ipv4, []expr.Any{imm(1, be16(1024)), imm(2, be16(2048)),
			&expr.Masq{ToPorts: true, RegProtoMin: 1, RegProtoMax: 2, FullyRandom: true}}, "masquerade to :1024-2048 fully-random"},
		{"redirect", ipv4, []expr.Any{&expr.Redir{}}, "redirect"},
		{"redirect to port", ipv4, []expr.Any{imm(1, be16(8080)), &expr.Redir{RegisterProtoMin: 1, RegisterProtoMax: 1, Flags: 2}},
			"redirect to :8080"},

		// verdicts and queue
		{"accept", inet, []expr.Any{verdict(expr.VerdictAccept)}, "accept"},
		{"drop", inet, []expr.Any{verdict(expr.VerdictDrop)}, "drop"},
		{"return", inet, []expr.Any{verdict(expr.VerdictReturn)}, "return"},
		{"continue", inet, []expr.Any{verdict(expr.VerdictContinue)}, "continue"},
		{"queue verdict", inet, []expr.Any{verdict(expr.VerdictQueue)}, "queue"},
		{"jump", inet, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "KUBE-SERVICES"}}, "jump KUBE-SERVICES"},
		{"goto", inet, []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: "sub"}}, "goto sub"},
		{"queue", inet, []expr.Any{&expr.Queue{Num: 0, Total: 1}}, "queue to 0"},
		{"queue flags range", inet, []expr.Any{&expr.Queue{Num: 2, Total: 3, Flag: expr.QueueFlagBypass}}, "queue flags bypass to 2-4"},
		{"empty", inet, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TextIn(tc.family, tc.exprs, env); got != tc.want {
				t.Errorf("TextIn = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	runExprCases(t, "Verdict", Verdict, []exprCase{
		{"accept", []expr.Any{&expr.Counter{}, verdict(expr.VerdictAccept)}, "accept"},
		{"drop", []expr.Any{verdict(expr.VerdictDrop)}, "drop"},
		{"return", []expr.Any{verdict(expr.VerdictReturn)}, "return"},
		{"continue", []expr.Any{verdict(expr.VerdictContinue)}, "continue"},
		{"queue verdict", []expr.Any{verdict(expr.VerdictQueue)}, "queue"},
		{"queue statement", []expr.Any{&expr.Queue{Num: 1}}, "queue"},
		{"jump", []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "DOCKER"}}, "jump DOCKER"},
		{"goto", []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: "sub"}}, "goto sub"},
		{"reject", []expr.Any{&expr.Reject{Type: 1}}, "reject"},
		{"counts only", []expr.Any{&expr.Counter{}}, ""},
		{"sets a mark", []expr.Any{imm(1, host32(1)), &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}}, ""},
		{"logs", []expr.Any{&expr.Log{Data: []byte("x")}, &expr.Limit{Rate: 1, Unit: expr.LimitTimeSecond}}, ""},
		{"no exprs", nil, ""},
		{"nils", []expr.Any{nil, (*expr.Verdict)(nil), (*expr.Reject)(nil)}, ""},
		{"no nft verdict", []expr.Any{verdict(expr.VerdictStolen)}, ""},
	})
}

// TestTextGarbage: what nft would never write still renders, as [kind]
// where nothing better is known, and never panics.
func TestTextGarbage(t *testing.T) {
	runExprCases(t, "Text", func(e []expr.Any) string { return Text(ipv4, e) }, []exprCase{
		{"nil", []expr.Any{nil}, "[nil]"},
		{"typed nil", []expr.Any{(*expr.Meta)(nil), (*expr.Cmp)(nil), (*expr.Exthdr)(nil)}, "[meta] [cmp] [exthdr]"},
		{"cmp on a register never loaded", []expr.Any{&expr.Cmp{Register: 3, Data: []byte{1}}}, "[cmp]"},
		{"lookup on a register never loaded", []expr.Any{&expr.Lookup{SourceRegister: 2, SetName: "s"}}, "[lookup]"},
		{"range on a register never loaded", []expr.Any{&expr.Range{Register: 2}}, "[range]"},
		{"bitwise of nothing", []expr.Any{&expr.Bitwise{SourceRegister: 4, DestRegister: 1, Mask: []byte{1}}, eq([]byte{1})}, "[cmp]"},
		{"cmp on an immediate", []expr.Any{imm(1, []byte{1}), eq([]byte{1})}, "[cmp]"},
		{"unknown expression", []expr.Any{&expr.Exthdr{Op: 9}, &expr.Hash{}, &expr.Numgen{Type: 9}, &expr.SecMark{}}, "[exthdr] [hash] [numgen] [secmark]"},
		{"tcp option of no field", []expr.Any{&expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: 2, Offset: 5, Len: 3, DestRegister: 1}}, "[exthdr]"},
		{"exthdr set of a presence", []expr.Any{imm(1, []byte{1}), &expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: 4, Flags: 1, SourceRegister: 1}},
			"[exthdr]"},
		{"address of the wrong length", []expr.Any{nh(12, 4), eq([]byte{10, 0, 0})}, "ip saddr 0x0a0000"},
		{"mark of the wrong length", []expr.Any{ld(expr.MetaKeyMARK), eq([]byte{1, 2})}, "meta mark 0x0102"},
		{"port of odd length", []expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), th(2, 2), eq([]byte{1, 2, 3})}, "tcp dport 0x010203"},
		{"ct state of the wrong length", []expr.Any{ctLoad(expr.CtKeySTATE), mask([]byte{1}), cmpOp(expr.CmpOpNeq, []byte{0})}, "ct state 0x01"},
		{"empty cmp data", []expr.Any{ld(expr.MetaKeyL4PROTO), eq(nil)}, "meta l4proto 0x"},
		{"unknown meta key", []expr.Any{ld(expr.MetaKey(999)), eq([]byte{1})}, "[meta] 0x01"},
		{"unknown cmp op", []expr.Any{ld(expr.MetaKeyL4PROTO), cmpOp(expr.CmpOp(42), []byte{6})}, "meta l4proto [op 42] tcp"},
		{"immediate into the verdict register", []expr.Any{imm(0, []byte{1})}, "[immediate]"},
		{"ct set", []expr.Any{&expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true}}, "[ct]"},
		{"meta set from nothing", []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 2}}, "[meta]"},
		{"nat from registers never loaded", []expr.Any{&expr.NAT{Type: expr.NATTypeSourceNAT, Family: 2, RegAddrMin: 1}}, "snat to [reg 1]"},
		{"nat of no type", []expr.Any{&expr.NAT{Type: 7}}, "[nat]"},
		{"unknown verdict", []expr.Any{verdict(expr.VerdictKind(77))}, "[verdict]"},
		{"unknown reject", []expr.Any{&expr.Reject{Type: 9}}, "[reject]"},
		{"fib without a result", []expr.Any{&expr.Fib{Register: 1}}, "[fib]"},
		{"odd registers", []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1 << 31}, &expr.Lookup{SourceRegister: 1 << 31, SetName: "s"}},
			"meta l4proto @s"},
		{"unknown limit unit", []expr.Any{&expr.Limit{Rate: 1, Unit: 7}}, "limit rate 1/7s"},
		{"log level out of range", []expr.Any{&expr.Log{Key: 1 << 5, Level: 99}}, "log level 99"},
		{"unknown objref", []expr.Any{&expr.Objref{Type: 99, Name: "x"}}, "[objref]"},
		{"dynset without a key", []expr.Any{&expr.Dynset{SetName: "s"}}, "[dynset]"},
		{"dynset inside itself", func() []expr.Any {
			d := &expr.Dynset{SrcRegKey: 1, SetName: "s"}
			d.Exprs = []expr.Any{nh(12, 4), d}
			return []expr.Any{nh(12, 4), d}
		}(), "add @s { ip saddr add @s { ip saddr add @s { ip saddr add @s { ip saddr [dynset] } } } }"},
	})
}

// exprCase is a rule's expressions and what a function of them returns.
type exprCase struct {
	name  string
	exprs []expr.Any
	want  string
}

func runExprCases(t *testing.T, what string, fn func([]expr.Any) string, cases []exprCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fn(tc.exprs); got != tc.want {
				t.Errorf("%s = %q, want %q", what, got, tc.want)
			}
		})
	}
}

// TestTextTypedNils hands every expression type as a typed nil pointer, the
// form a type switch would otherwise let through.
func TestTextTypedNils(t *testing.T) {
	nils := []expr.Any{(*expr.Bitwise)(nil), (*expr.Byteorder)(nil), (*expr.Cmp)(nil), (*expr.Connlimit)(nil),
		(*expr.Counter)(nil), (*expr.Ct)(nil), (*expr.Dynset)(nil), (*expr.Exthdr)(nil), (*expr.Fib)(nil),
		(*expr.Immediate)(nil), (*expr.Limit)(nil), (*expr.Log)(nil), (*expr.Lookup)(nil), (*expr.Masq)(nil),
		(*expr.Match)(nil), (*expr.Meta)(nil), (*expr.NAT)(nil), (*expr.Notrack)(nil), (*expr.Objref)(nil),
		(*expr.Payload)(nil), (*expr.Queue)(nil), (*expr.Quota)(nil), (*expr.Range)(nil), (*expr.Redir)(nil),
		(*expr.Reject)(nil), (*expr.Target)(nil), (*expr.Verdict)(nil)}
	want := "[bitwise] [byteorder] [cmp] [connlimit] [counter] [ct] [dynset] [exthdr] [fib] [immediate] [limit] " +
		"[log] [lookup] [masq] [match] [meta] [nat] [notrack] [objref] [payload] [queue] [quota] [range] [redir] " +
		"[reject] [target] [verdict]"
	if got := Text(inet, nils); got != want {
		t.Errorf("Text = %q\nwant %q", got, want)
	}
	if got := Verdict(nils); got != "" {
		t.Errorf("Verdict = %q, want none", got)
	}
}

// el is a set element with key k; end marks an interval's end.
func el(k []byte) nftables.SetElement { return nftables.SetElement{Key: k} }

func elEnd(k []byte) nftables.SetElement { return nftables.SetElement{Key: k, IntervalEnd: true} }

// verdictVal is a verdict map element's data as the kernel sends it:
// NFTA_VERDICT_CODE, then NFTA_VERDICT_CHAIN if chain is not "".
func verdictVal(code int32, chain string) []byte {
	attr := func(typ uint16, p []byte) []byte {
		b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(p)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, p...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	b := attr(1, binary.BigEndian.AppendUint32(nil, uint32(code)))
	if chain != "" {
		b = append(b, attr(2, append([]byte(chain), 0))...)
	}
	return b
}

// pad4 is a concatenation's component, padded to its register's 4 bytes.
func pad4(b []byte) []byte { return pad(b, (len(b)+3)/4*4) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testSets serves the anonymous sets of a test by name.
func testSets(sets map[string]*nftables.Set, elems map[string][]nftables.SetElement) Sets {
	return func(name string) (*nftables.Set, []nftables.SetElement, bool) {
		s, ok := sets[name]
		return s, elems[name], ok
	}
}

func TestTextWithSets(t *testing.T) {
	anon := &nftables.Set{Name: "__set0", Anonymous: true}
	interval := &nftables.Set{Name: "__set0", Anonymous: true, Interval: true}
	lookup := &expr.Lookup{SourceRegister: 1, SetName: "__set0"}
	vmap := &expr.Lookup{SourceRegister: 1, SetName: "__set0", IsDestRegSet: true}
	tcpDport := join(tcp22()[:3])
	// l4dport is meta l4proto . th dport, a concatenation.
	l4dport := []expr.Any{ld(expr.MetaKeyL4PROTO), &expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}}
	saddr := []expr.Any{nh(12, 4)}
	tests := []struct {
		name   string
		family nftables.TableFamily
		set    *nftables.Set
		elems  []nftables.SetElement
		exprs  []expr.Any
		want   string
	}{
		{"ports sorted", ipv4, anon, []nftables.SetElement{el(be16(443)), el(be16(22)), el(be16(80))},
			join(tcpDport, []expr.Any{lookup, verdict(expr.VerdictAccept)}), "tcp dport { 22, 80, 443 } accept"},
		{"big-endian order", ipv4, anon, []nftables.SetElement{el(be16(256)), el(be16(1))},
			join(tcpDport, []expr.Any{lookup}), "tcp dport { 1, 256 }"},
		{"inverted", ipv4, anon, []nftables.SetElement{el(be16(80)), el(be16(22))},
			join(tcpDport, []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: "__set0", Invert: true}, verdict(expr.VerdictDrop)}),
			"tcp dport != { 22, 80 } drop"},
		{"prefix and address", ipv4, interval, []nftables.SetElement{elEnd(ip("192.168.1.2")), el(ip("192.168.1.1")),
			elEnd(ip("11.0.0.0")), el(ip("10.0.0.0")), elEnd(ip("0.0.0.0"))},
			join(saddr, []expr.Any{lookup, verdict(expr.VerdictDrop)}), "ip saddr { 10.0.0.0/8, 192.168.1.1 } drop"},
		{"range and port", ipv4, interval, []nftables.SetElement{elEnd(be16(3001)), el(be16(3000)), elEnd(be16(2001)),
			el(be16(1000)), elEnd(be16(0))}, join(tcpDport, []expr.Any{lookup}), "tcp dport { 1000-2000, 3000 }"},
		{"address range", ipv4, interval, []nftables.SetElement{elEnd(ip("10.0.0.6")), el(ip("10.0.0.1"))},
			join(saddr, []expr.Any{lookup}), "ip saddr { 10.0.0.1-10.0.0.5 }"},
		{"to the last key", ipv4, interval, []nftables.SetElement{el(ip("128.0.0.0")), elEnd(ip("1.2.3.5")), el(ip("1.2.3.4")),
			elEnd(ip("0.0.0.0"))}, join(saddr, []expr.Any{lookup}), "ip saddr { 1.2.3.4, 128.0.0.0/1 }"},
		{"port range to the last", ipv4, interval, []nftables.SetElement{el(be16(65000)), elEnd(be16(2)), el(be16(1))},
			join(tcpDport, []expr.Any{lookup}), "tcp dport { 1, 65000-65535 }"},
		{"start after start", ipv4, interval, []nftables.SetElement{el(be16(10)), el(be16(20))},
			join(tcpDport, []expr.Any{lookup}), "tcp dport { 10-19, 20-65535 }"},
		{"ipv6", ipv6, interval, []nftables.SetElement{elEnd(ip("2001:db9::")), el(ip("2001:db8::")), elEnd(ip("::2")), el(ip("::1"))},
			[]expr.Any{nh(8, 16), lookup}, "ip6 saddr { ::1, 2001:db8::/32 }"},
		{"interface wildcard", inet, interval, []nftables.SetElement{elEnd(ifname("veti")), el(ifname("veth")),
			elEnd(cat(ifname("lo")[:15], []byte{1})), el(ifname("lo"))},
			[]expr.Any{ld(expr.MetaKeyIIFNAME), lookup}, `iifname { "lo", "veth*" }`},
		{"interface names host order", inet, anon, []nftables.SetElement{el(ifname("ab")), el(ifname("ba")), el(ifname("a")), el(ifname("b"))},
			[]expr.Any{ld(expr.MetaKeyIIFNAME), lookup}, `iifname { "a", "b", "ba", "ab" }`},
		{"ct state", inet, anon, []nftables.SetElement{el(host32(4)), el(host32(2))},
			[]expr.Any{ctLoad(expr.CtKeySTATE), lookup, verdict(expr.VerdictAccept)}, "ct state { established, related } accept"},
		{"marks host order", inet, anon, []nftables.SetElement{el(host32(0x100)), el(host32(2))},
			[]expr.Any{ld(expr.MetaKeyMARK), lookup}, "meta mark { 0x00000002, 0x00000100 }"},
		{"mark intervals are big-endian", inet, interval, []nftables.SetElement{elEnd(be32(11)), el(be32(5)), elEnd(be32(2)),
			el(be32(1)), elEnd(be32(0))}, []expr.Any{ld(expr.MetaKeyMARK), lookup}, "meta mark { 0x00000001, 0x00000005-0x0000000a }"},
		{"mark prefix", inet, interval, []nftables.SetElement{elEnd(be32(0x20)), el(be32(0x10))},
			[]expr.Any{ld(expr.MetaKeyMARK), lookup}, "meta mark { 0x00000010/28 }"},
		{"concatenation", inet, anon, []nftables.SetElement{el(cat(pad4([]byte{17}), pad4(be16(53)))), el(cat(pad4([]byte{6}), pad4(be16(22))))},
			join(l4dport, []expr.Any{lookup}), "meta l4proto . th dport { tcp . 22, udp . 53 }"},
		{"concatenated ranges", ipv4, interval, []nftables.SetElement{
			{Key: cat(ip("10.0.0.0"), pad4(be16(22))), KeyEnd: cat(ip("10.255.255.255"), pad4(be16(25)))},
			{Key: cat(ip("192.168.0.1"), pad4(be16(80))), KeyEnd: cat(ip("192.168.0.1"), pad4(be16(80)))}},
			[]expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{6}), nh(12, 4), &expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, lookup},
			"ip saddr . tcp dport { 10.0.0.0/8 . 22-25, 192.168.0.1 . 80 }"},
		{"verdict map", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true}, []nftables.SetElement{
			{Key: be16(80), Val: verdictVal(-3, "x")}, {Key: be16(23), Val: verdictVal(0, "")}, {Key: be16(22), Val: verdictVal(1, "")},
			{Key: be16(81), Val: verdictVal(-4, "y")}, {Key: be16(82), Val: verdictVal(-5, "")}},
			join(tcpDport, []expr.Any{vmap}), "tcp dport vmap { 22 : accept, 23 : drop, 80 : jump x, 81 : goto y, 82 : return }"},
		{"verdict map of intervals", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true, Interval: true}, []nftables.SetElement{
			elEnd(be16(2001)), {Key: be16(1000), Val: verdictVal(1, "")}, elEnd(be16(23)), {Key: be16(22), Val: verdictVal(0, "")}, elEnd(be16(0))},
			join(tcpDport, []expr.Any{vmap}), "tcp dport vmap { 22 : drop, 1000-2000 : accept }"},
		{"undecodable verdict", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true}, []nftables.SetElement{
			{Key: be16(22), Val: []byte{1, 2}}}, join(tcpDport, []expr.Any{vmap}), "tcp dport vmap { 22 : [verdict] }"},
		{"dnat map", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true}, []nftables.SetElement{
			{Key: be16(8080), Val: ip("10.0.0.2")}, {Key: be16(80), Val: ip("10.0.0.1")}},
			join(tcpDport, []expr.Any{&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: "__set0"},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegAddrMax: 1}}),
			"dnat to tcp dport map { 80 : 10.0.0.1, 8080 : 10.0.0.2 }"},
		{"dnat map of address and port", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true}, []nftables.SetElement{
			{Key: be16(80), Val: cat(ip("10.0.0.1"), pad4(be16(8080)))}},
			join(tcpDport, []expr.Any{&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: "__set0"},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegProtoMin: 9}}),
			"dnat ip to tcp dport map { 80 : 10.0.0.1 . 8080 }"},
		{"mark map", ipv4, &nftables.Set{Name: "__set0", Anonymous: true, IsMap: true}, []nftables.SetElement{{Key: be16(22), Val: host32(1)}},
			join(tcpDport, []expr.Any{&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: "__set0"},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}}),
			"meta mark set tcp dport map { 22 : 0x00000001 }"},
		{"masked", ipv4, anon, []nftables.SetElement{el([]byte{0x10}), el([]byte{0x02})},
			join(tcpDport[:2], []expr.Any{th(13, 1), mask([]byte{0x12}), lookup}), "tcp flags & (syn | ack) == { syn, ack }"},

		// What it cannot render inline stays the set's name.
		{"unknown set", ipv4, nil, nil, join(tcpDport, []expr.Any{lookup}), "tcp dport @__set0"},
		{"named set", ipv4, &nftables.Set{Name: "__set0"}, []nftables.SetElement{el(be16(22))},
			join(tcpDport, []expr.Any{lookup}), "tcp dport @__set0"},
		{"key of another size", ipv4, anon, []nftables.SetElement{el(be16(22)), el([]byte{1, 2, 3})},
			join(tcpDport, []expr.Any{lookup}), "tcp dport @__set0"},
		{"no elements", ipv4, anon, nil, join(tcpDport, []expr.Any{lookup}), "tcp dport @__set0"},
		{"only ends", ipv4, interval, []nftables.SetElement{elEnd(be16(0))}, join(tcpDport, []expr.Any{lookup}), "tcp dport @__set0"},
		{"dccp type bit field", inet, anon, []nftables.SetElement{el([]byte{0x02}), el([]byte{0x00})},
			[]expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{33}), th(8, 1), mask([]byte{0x1e}), lookup}, "dccp type { request, response }"},
		{"dccp type bit field inverted", inet, anon, []nftables.SetElement{el([]byte{0x0a}), el([]byte{0x18})},
			[]expr.Any{ld(expr.MetaKeyL4PROTO), eq([]byte{33}), th(8, 1), mask([]byte{0x1e}),
				&expr.Lookup{SourceRegister: 1, SetName: "__set0", Invert: true}}, "dccp type != { closereq, 12 }"},
		{"vlan id bit field", netdev, anon, []nftables.SetElement{el(be16(20)), el(be16(10))},
			join(etherType8021q(), []expr.Any{ll(14, 2), mask(be16(0x0fff)), lookup}), "vlan id { 10, 20 }"},
		{"vlan id bit field range", bridge, interval, []nftables.SetElement{elEnd(be16(0)), el(be16(1)), elEnd(be16(6))},
			[]expr.Any{ll(12, 2), eq(be16(0x8100)), ll(14, 2), mask(be16(0x0fff)), lookup}, "vlan id { 1-5 }"},
		{"ip dscp bit field", ipv4, anon, []nftables.SetElement{el([]byte{0xb8}), el([]byte{0x20})},
			[]expr.Any{nh(1, 1), mask([]byte{0xfc}), lookup}, "ip dscp { cs1, ef }"},
		{"ip frag-off masked", ipv4, anon, []nftables.SetElement{el(be16(1)), el(be16(0))},
			[]expr.Any{nh(6, 2), mask(be16(0x1fff)), lookup}, "ip frag-off & 8191 == { 0, 1 }"},
		{"meta day range numeric", inet, interval, []nftables.SetElement{elEnd([]byte{0}), el([]byte{0}), elEnd([]byte{6})},
			[]expr.Any{ld(metaKeyTimeDay), lookup}, "meta day { 0-5 }"},
		{"meta day names", inet, anon, []nftables.SetElement{el([]byte{5}), el([]byte{1})},
			[]expr.Any{ld(metaKeyTimeDay), lookup}, `meta day { "Monday", "Friday" }`},
		{"meta l4proto range numeric", inet, interval, []nftables.SetElement{elEnd([]byte{0}), el([]byte{6}), elEnd([]byte{18}), el([]byte{132}), elEnd([]byte{133})},
			[]expr.Any{ld(expr.MetaKeyL4PROTO), lookup}, "meta l4proto { 6-17, sctp }"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sets := testSets(map[string]*nftables.Set{}, map[string][]nftables.SetElement{"__set0": tc.elems})
			if tc.set != nil {
				sets = testSets(map[string]*nftables.Set{"__set0": tc.set}, map[string][]nftables.SetElement{"__set0": tc.elems})
			}
			if got := TextWithSets(tc.family, tc.exprs, sets); got != tc.want {
				t.Errorf("TextWithSets = %q\n                   want %q", got, tc.want)
			}
		})
	}
	// Without sets it is Text.
	exprs := join(tcpDport, []expr.Any{lookup})
	if got, want := TextWithSets(ipv4, exprs, nil), Text(ipv4, exprs); got != want {
		t.Errorf("TextWithSets(nil) = %q, Text %q", got, want)
	}
}

// TestTextIfname: interface indexes are named by the Env's Ifname alone
// (the namespace the ruleset was read from), never by the host's devices;
// an index it does not name, or no Ifname, prints as nft prints an index
// its namespace has no device of: the number.
func TestTextIfname(t *testing.T) {
	var asked []uint32
	ns := Env{Ifname: func(idx uint32) (string, bool) {
		asked = append(asked, idx)
		name, ok := map[uint32]string{2: "veth-b", 5: "eth0"}[idx]
		return name, ok
	}}
	ifSet := &nftables.Set{Name: "__set0", Anonymous: true}
	ns.Sets = testSets(map[string]*nftables.Set{"__set0": ifSet},
		map[string][]nftables.SetElement{"__set0": {el(host32(9)), el(host32(5)), el(host32(2))}})
	lookup := &expr.Lookup{SourceRegister: 1, SetName: "__set0"}
	tests := []struct {
		name  string
		env   Env
		exprs []expr.Any
		want  string
	}{
		{"iif in the namespace", ns, []expr.Any{ld(expr.MetaKeyIIF), eq(host32(2)), verdict(expr.VerdictAccept)}, `iif "veth-b" accept`},
		{"oif !=", ns, []expr.Any{ld(expr.MetaKeyOIF), cmpOp(expr.CmpOpNeq, host32(5))}, `oif != "eth0"`},
		// The host's lo is index 1; the namespace read names no 1.
		{"index the namespace lacks", ns, []expr.Any{ld(expr.MetaKeyIIF), eq(host32(1)), verdict(expr.VerdictDrop)}, "iif 1 drop"},
		{"fib oif", ns, []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, ResultOIF: true}, eq(host32(5))}, `fib daddr oif "eth0"`},
		{"anonymous set", ns, []expr.Any{ld(expr.MetaKeyIIF), lookup, verdict(expr.VerdictAccept)}, `iif { "veth-b", "eth0", 9 } accept`},
		{"no resolver", Env{}, []expr.Any{ld(expr.MetaKeyOIF), eq(host32(1))}, "oif 1"},
		{"short data", ns, []expr.Any{ld(expr.MetaKeyIIF), eq([]byte{2, 0})}, "iif 0x0200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TextIn(inet, tc.exprs, tc.env); got != tc.want {
				t.Errorf("TextIn = %q, want %q", got, tc.want)
			}
		})
	}
	// Text resolves nothing: not even the host's lo.
	if got := Text(inet, []expr.Any{ld(expr.MetaKeyIIF), eq(host32(1))}); got != "iif 1" {
		t.Errorf("Text = %q, want iif 1", got)
	}
	if len(asked) == 0 {
		t.Error("Ifname never asked")
	}
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

const (
	netdev = nftables.TableFamilyNetdev
	bridge = nftables.TableFamilyBridge
)

// ll loads n bytes at off of the link layer header into register 1.
func ll(off, n uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: off, Len: n}
}

// etherType8021q is a netdev rule's ether type 8021q, with the meta
// iiftype ether before it that nft adds.
func etherType8021q() []expr.Any {
	return []expr.Any{ld(expr.MetaKeyIIFTYPE), eq(binary.NativeEndian.AppendUint16(nil, 1)), ll(12, 2), eq(be16(0x8100))}
}

// exthdr loads n bytes at off of an option or chunk of type typ
// (NFT_EXTHDR_OP_*) into register 1; flags 1 loads its presence.
func exthdr(op expr.ExthdrOp, typ uint8, off, n, flags uint32) *expr.Exthdr {
	return &expr.Exthdr{Op: op, Type: typ, Offset: off, Len: n, Flags: flags, DestRegister: 1}
}

func tcpopt(typ uint8, off, n, flags uint32) *expr.Exthdr {
	return exthdr(expr.ExthdrOpTcpopt, typ, off, n, flags)
}
func ipopt(typ uint8, off, n, flags uint32) *expr.Exthdr {
	return exthdr(exthdrOpIPv4, typ, off, n, flags)
}
func sctpChunk(typ uint8, off, n, flags uint32) *expr.Exthdr {
	return exthdr(exthdrOpSCTP, typ, off, n, flags)
}

// label is a ct label bitmap with bits set, in host order.
func label(bits ...int) []byte {
	b := make([]byte, 16)
	for _, bit := range bits {
		i := bit / 8
		if !littleEndian {
			i = 15 - i
		}
		b[i] |= 1 << (bit % 8)
	}
	return b
}

// TestTextCtLabel: a label prints by its bit's name where the Env's
// CtLabel has one (from /etc/connlabel.conf), else by its number, as nft
// prints them.
func TestTextCtLabel(t *testing.T) {
	named := Env{CtLabel: func(bit uint32) (string, bool) { return "web", bit == 64 }}
	setLabel := &expr.Ct{Key: expr.CtKeyLABELS, Register: 1, SourceRegister: true}
	tests := []exprCase{
		{"bit set", []expr.Any{ctLoad(expr.CtKeyLABELS), mask(label(5)), cmpOp(expr.CmpOpNeq, label())}, "ct label 5"},
		{"named bit", []expr.Any{ctLoad(expr.CtKeyLABELS), mask(label(64)), cmpOp(expr.CmpOpNeq, label())}, `ct label "web"`},
		{"last bit", []expr.Any{ctLoad(expr.CtKeyLABELS), mask(label(127)), cmpOp(expr.CmpOpNeq, label())}, "ct label 127"},
		{"set", []expr.Any{imm(1, label(64)), setLabel}, `ct label set "web"`},
		{"unmasked cmp", []expr.Any{ctLoad(expr.CtKeyLABELS), cmpOp(expr.CmpOpNeq, label(3))}, "ct label != 3"},
		{"two bits print the lowest", []expr.Any{ctLoad(expr.CtKeyLABELS), eq(label(9, 3))}, "ct label 3"},
		{"two bits masked", []expr.Any{ctLoad(expr.CtKeyLABELS), mask(label(1, 2)), cmpOp(expr.CmpOpNeq, label())},
			"ct label & " + hexBytes(label(1, 2)) + " != " + hexBytes(label())},
		{"no bit", []expr.Any{ctLoad(expr.CtKeyLABELS), eq(label())}, "ct label " + hexBytes(label())},
		{"wrong length", []expr.Any{ctLoad(expr.CtKeyLABELS), eq([]byte{1})}, "ct label 0x01"},
	}
	runExprCases(t, "TextIn", func(exprs []expr.Any) string { return TextIn(inet, exprs, named) }, tests)
}
