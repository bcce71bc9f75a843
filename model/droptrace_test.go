package model

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDropRuleAndOwner(t *testing.T) {
	flow := DropTraceFlow{Reason: "NETFILTER_DROP", L3: "ipv4", Proto: "udp", Parsed: true,
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 5000, DstPort: 53, Packets: 4}
	drop53 := Rule{ID: 2, Enabled: true, Family: RuleFamilyBoth, Proto: "udp", DstPorts: PortRange{53, 53}, Action: ActionDrop, Priority: 10, Packets: 4}
	acceptNet := Rule{ID: 1, Enabled: true, Family: FamilyIPv4, Src: netip.MustParsePrefix("10.0.0.0/24"), Action: ActionAccept, Priority: 5}
	count := Rule{ID: 3, Enabled: true, Family: RuleFamilyBoth, Action: ActionCount, Packets: 9}
	type dropRuleTest struct {
		name    string
		rules   []Rule
		flow    DropTraceFlow
		want    uint32 // rule ID, 0: none
		backend string // RulesState.Backend
	}
	tests := []dropRuleTest{
		{"the drop rule", []Rule{count, drop53}, flow, 2, ""},
		{"an accept rule decides first", []Rule{drop53, acceptNet}, flow, 0, ""},
		{"accept after the drop", []Rule{drop53, func() Rule { r := acceptNet; r.Priority = 20; return r }()}, flow, 2, ""},
		{"other port", []Rule{drop53}, func() DropTraceFlow { f := flow; f.DstPort = 54; return f }(), 0, ""},
		{"other reason", []Rule{drop53}, func() DropTraceFlow { f := flow; f.Reason = "NO_SOCKET"; return f }(), 0, ""},
		{"ipv6 rule", []Rule{func() Rule { r := drop53; r.Family = FamilyIPv6; return r }()}, flow, 0, ""},
		{"never counted", []Rule{func() Rule { r := drop53; r.Packets = 0; return r }()}, flow, 0, ""},
		{"a reject rule", []Rule{func() Rule { r := drop53; r.Action = ActionReject; return r }()}, flow, 2, ""},
		// Sets (the kernel module's): a set rule first in order decides
		// only the flows its sets hold.
		{"port set holds the port", []Rule{drop53, withSets(7, []uint16{53, 853}, nil)}, flow, 7, ""},
		{"port set lacks the port", []Rule{drop53, withSets(7, []uint16{5353}, nil)}, flow, 2, ""},
		{"prefix set holds the source", []Rule{drop53, withSets(7, nil, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")})}, flow, 7, ""},
		{"prefix set lacks the source", []Rule{drop53, withSets(7, nil, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})}, flow, 2, ""},
		// Negation: "saddr != 10.0.0.0/24 accept" does not take 10.0.0.2.
		{"negated accept does not hold", []Rule{drop53, func() Rule { r := acceptNet; r.Negate = []string{"src"}; return r }()}, flow, 2, ""},
		{"negated drop port", []Rule{func() Rule { r := drop53; r.Negate = []string{"dport"}; return r }()}, flow, 0, ""},
		{"negated drop port, other port", []Rule{func() Rule { r := drop53; r.Negate = []string{"dport"}; return r }()}, func() DropTraceFlow { f := flow; f.DstPort = 54; return f }(), 2, ""},
		{"negated set", []Rule{func() Rule { r := withSets(7, []uint16{5353}, nil); r.Negate = []string{"dport"}; return r }()}, flow, 7, ""},
		// What the tuple does not carry: an accept rule needing it did
		// not take a dropped packet; a drop rule may have.
		{"ct state accept first", []Rule{drop53, func() Rule { r := acceptNet; r.CTState = []string{"established"}; return r }()}, flow, 2, ""},
		{"ct state drop", []Rule{func() Rule { r := drop53; r.CTState = []string{"new"}; return r }()}, flow, 2, ""},
	}
	inChain := func(f DropTraceFlow) DropTraceFlow { f.Function = "nft_do_chain"; return f }
	tests = append(tests, []dropRuleTest{
		// With the kernel module, a drop freed inside nftables is an
		// nftables table's, not the module's; at nf_hook_slow it may be.
		{"kmod: freed in nft_do_chain", []Rule{drop53}, inChain(flow), 0, "kmod"},
		{"kmod: freed in nf_hook_slow", []Rule{drop53}, func() DropTraceFlow { f := flow; f.Function = "nf_hook_slow"; return f }(), 2, "kmod"},
		{"nft: freed in nft_do_chain", []Rule{drop53}, inChain(flow), 2, "nft"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Snapshot{Rules: &RulesState{Backend: tt.backend, Rules: tt.rules}}
			r, ok := s.DropRule(tt.flow)
			if got := map[bool]uint32{true: r.ID}[ok]; got != tt.want {
				t.Errorf("rule %d (%v), want %d", r.ID, ok, tt.want)
			}
		})
	}

	rs := Snapshot{Rules: &RulesState{Rules: []Rule{count, drop53}}, DropTrace: DropTrace{Flows: []DropTraceFlow{flow, flow, {Reason: "NO_SOCKET", Packets: 9}}}}
	if n, fl := rs.RuleDrops(2); n != 8 || fl != 2 {
		t.Errorf("RuleDrops(2) = %d, %d", n, fl)
	}
	s := Snapshot{Sockets: []Socket{
		{Proto: ProtoUDP, Local: netip.MustParseAddrPort("0.0.0.0:53"), Inode: 1},
		{Proto: ProtoUDP, Local: netip.MustParseAddrPort("10.0.0.1:54"), Inode: 2, Cookie: 7},
	}}
	if so, exact, ok := s.DropOwner(flow); !ok || exact || so.Inode != 1 {
		t.Errorf("by tuple: %+v %v %v", so, exact, ok)
	}
	s.DropTrace.Flows = []DropTraceFlow{flow, {Cookie: 7, Proto: "udp", DstPort: 1}, {Proto: "tcp", DstPort: 53}}
	if diff := cmp.Diff([]int{0, 1, -1}, s.DropOwners()); diff != "" {
		t.Errorf("DropOwners (-want +got)\n%s", diff)
	}
	f := flow
	f.Cookie = 7
	if so, exact, ok := s.DropOwner(f); !ok || !exact || so.Inode != 2 {
		t.Errorf("by cookie: %+v %v %v", so, exact, ok)
	}
}

// withSets is a drop rule (ID id, priority 1, counted) matching the
// destination ports dports and the source prefixes src.
func withSets(id uint32, dports []uint16, src []netip.Prefix) Rule {
	return Rule{ID: id, Enabled: true, Family: RuleFamilyBoth, Proto: "udp", DstPortSet: dports, SrcSet: src,
		Action: ActionDrop, Priority: 1, Packets: 1}
}

// TestDropOwnersMatchesDropOwner checks DropOwners, which indexes the
// flows, against DropOwner flow by flow on random tables: the same socket
// for every flow (by cookie, else destination, else source, the first in
// the table), or none.
func TestDropOwnersMatchesDropOwner(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.IPv4Unspecified(),
		netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("fd00::1"), netip.IPv6Unspecified()}
	protos := []Proto{ProtoTCP, ProtoUDP, ProtoRAW}
	var x DropOwnerIndex // kept across rounds, as the UI keeps one
	var lastFlows []DropTraceFlow
	for round := range 400 {
		var s Snapshot
		for i := range rng.IntN(40) {
			s.Sockets = append(s.Sockets, Socket{
				Proto:  protos[rng.IntN(len(protos))],
				Local:  netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], uint16(rng.IntN(5))),
				Cookie: uint64(rng.IntN(8)),
				Inode:  uint64(i + 1),
			})
		}
		if round%2 == 1 { // the same flows, new sockets: the index is reused
			s.DropTrace.Flows = lastFlows
		}
		for range rng.IntN(20) * (1 - round%2) {
			s.DropTrace.Flows = append(s.DropTrace.Flows, DropTraceFlow{
				Proto:   (protos[rng.IntN(len(protos))]).String(),
				Src:     addrs[rng.IntN(len(addrs))],
				Dst:     addrs[rng.IntN(len(addrs))],
				SrcPort: uint16(rng.IntN(5)),
				DstPort: uint16(rng.IntN(5)),
				Cookie:  uint64(rng.IntN(12)),
			})
		}
		want := make([]int, len(s.DropTrace.Flows))
		for fi, f := range s.DropTrace.Flows {
			want[fi] = -1
			if so, _, ok := s.DropOwner(f); ok {
				want[fi] = int(so.Inode) - 1
			}
		}
		lastFlows = s.DropTrace.Flows
		if diff := cmp.Diff(want, s.DropOwners()); diff != "" {
			t.Fatalf("round %d: DropOwners (-want +got)\n%s", round, diff)
		}
		if diff := cmp.Diff(want, x.Owners(&s)); diff != "" {
			t.Fatalf("round %d: DropOwnerIndex.Owners (-want +got)\n%s", round, diff)
		}
	}
}

// BenchmarkDropOwners joins 64 traced flows to 100,000 sockets, as the
// Connections tab does every refresh while the drop tracer runs.
func BenchmarkDropOwners(b *testing.B) {
	var s Snapshot
	for i := range 100000 {
		s.Sockets = append(s.Sockets, Socket{Proto: ProtoTCP, Cookie: uint64(i + 1),
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(1024+i%60000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), 80)})
	}
	for i := range 64 {
		s.DropTrace.Flows = append(s.DropTrace.Flows, DropTraceFlow{Proto: "udp", Src: netip.MustParseAddr("10.0.0.2"),
			Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 5000, DstPort: uint16(i)})
	}
	b.ReportAllocs()
	var x DropOwnerIndex
	for b.Loop() {
		x.Owners(&s)
	}
}

// BenchmarkDropOwnersFlood joins 4,096 traced flows, a flood's drops to
// one listening port from as many source ports, to 100,000 sockets of
// which 10,000 are connections accepted on that port: each socket on the
// port used to walk every flow to it (seconds a refresh at 100k).
func BenchmarkDropOwnersFlood(b *testing.B) {
	var s Snapshot
	lo, peer := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.AddrFrom4([4]byte{127, 0, 1, 1})
	for i := range 100000 {
		port := uint16(20000 + i%60000)
		if i%10 == 0 {
			port = 17010
		}
		s.Sockets = append(s.Sockets, Socket{Proto: ProtoTCP, Cookie: uint64(i + 1),
			Local: netip.AddrPortFrom(lo, port), Remote: netip.AddrPortFrom(peer, uint16(1024+i%60000))})
	}
	for i := range 4096 {
		s.DropTrace.Flows = append(s.DropTrace.Flows, DropTraceFlow{Proto: "tcp", Src: peer, Dst: lo,
			SrcPort: uint16(1024 + i), DstPort: 17010, Cookie: uint64(1 << 40)})
	}
	b.ReportAllocs()
	var x DropOwnerIndex
	for b.Loop() {
		x.Owners(&s)
	}
}
