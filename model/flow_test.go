package model

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func tuple(src, dst string) FlowTuple { return FlowTuple{Src: ap(src), Dst: ap(dst)} }

func TestDeriveNAT(t *testing.T) {
	tests := []struct {
		name      string
		orig      FlowTuple
		reply     FlowTuple
		kind      NATKind
		src, dstT netip.AddrPort
	}{
		{"none", tuple("10.0.0.1:5000", "10.0.0.2:80"), tuple("10.0.0.2:80", "10.0.0.1:5000"), NATNone, netip.AddrPort{}, netip.AddrPort{}},
		{"masquerade changes address", tuple("10.0.0.1:5000", "192.0.2.9:80"), tuple("192.0.2.9:80", "198.51.100.1:5000"), NATSrc, ap("198.51.100.1:5000"), netip.AddrPort{}},
		{"snat changes only the port", tuple("10.0.0.1:5000", "192.0.2.9:80"), tuple("192.0.2.9:80", "10.0.0.1:61000"), NATSrc, ap("10.0.0.1:61000"), netip.AddrPort{}},
		{"dnat to a backend", tuple("192.0.2.7:4000", "198.51.100.1:80"), tuple("10.0.0.5:8080", "192.0.2.7:4000"), NATDst, netip.AddrPort{}, ap("10.0.0.5:8080")},
		{"both", tuple("192.0.2.7:4000", "198.51.100.1:80"), tuple("10.0.0.5:8080", "10.0.0.1:4000"), NATBoth, ap("10.0.0.1:4000"), ap("10.0.0.5:8080")},
		{"ipv6 dnat", tuple("[fd00::1]:4000", "[fd00::2]:80"), tuple("[fd00::3]:80", "[fd00::1]:4000"), NATDst, netip.AddrPort{}, ap("[fd00::3]:80")},
		{"icmp none", FlowTuple{Src: ap("10.0.0.1:0"), Dst: ap("10.0.0.2:0"), ICMP: &ICMPKey{8, 0, 7}}, FlowTuple{Src: ap("10.0.0.2:0"), Dst: ap("10.0.0.1:0"), ICMP: &ICMPKey{0, 0, 7}}, NATNone, netip.AddrPort{}, netip.AddrPort{}},
		{"icmp id rewritten", FlowTuple{Src: ap("10.0.0.1:0"), Dst: ap("10.0.0.2:0"), ICMP: &ICMPKey{8, 0, 7}}, FlowTuple{Src: ap("10.0.0.2:0"), Dst: ap("10.0.0.1:0"), ICMP: &ICMPKey{0, 0, 9}}, NATSrc, ap("10.0.0.1:9"), netip.AddrPort{}},
		{"empty flow", FlowTuple{}, FlowTuple{}, NATNone, netip.AddrPort{}, netip.AddrPort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, src, dst := DeriveNAT(tt.orig, tt.reply)
			if diff := cmp.Diff([]any{tt.kind, tt.src, tt.dstT}, []any{kind, src, dst}, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestJoinSocketsFlows(t *testing.T) {
	flows := []Flow{
		// 0: outgoing from this host, masqueraded on the way out.
		{ProtoNum: 6, Orig: tuple("10.0.0.1:5000", "192.0.2.9:443"), Reply: tuple("192.0.2.9:443", "198.51.100.1:5000")},
		// 1: incoming to a local server behind a DNAT.
		{ProtoNum: 6, Orig: tuple("192.0.2.7:4000", "198.51.100.1:80"), Reply: tuple("10.0.0.1:8080", "192.0.2.7:4000")},
		// 2: forwarded, no local socket.
		{ProtoNum: 17, Orig: tuple("10.0.0.8:53000", "192.0.2.53:53"), Reply: tuple("192.0.2.53:53", "10.0.0.8:53000")},
		// 3: UDP, local client on a dual-stack socket.
		{ProtoNum: 17, Orig: tuple("10.0.0.1:40000", "10.0.0.2:53"), Reply: tuple("10.0.0.2:53", "10.0.0.1:40000")},
	}
	socks := []Socket{
		{Proto: ProtoTCP, Local: ap("10.0.0.1:5000"), Remote: ap("192.0.2.9:443")},
		{Proto: ProtoTCP, Local: ap("10.0.0.1:8080"), Remote: ap("192.0.2.7:4000")},
		{Proto: ProtoTCP, Local: ap("0.0.0.0:8080"), Remote: ap("0.0.0.0:0"), State: StateListen},
		{Proto: ProtoUDP, Family: FamilyIPv6, Local: ap("[::ffff:10.0.0.1]:40000"), Remote: ap("[::ffff:10.0.0.2]:53")},
		{Proto: ProtoUDP, Local: ap("10.0.0.1:5000"), Remote: ap("192.0.2.9:443")}, // wrong protocol
		{Proto: ProtoRAW, Local: ap("10.0.0.1:1"), Remote: ap("10.0.0.2:0")},
	}
	want := []SocketFlow{
		{0, 0, DirOriginal},
		{1, 1, DirReply},
		{2, -1, DirNone},
		{3, 3, DirOriginal},
		{4, -1, DirNone},
		{5, -1, DirNone},
		{-1, 2, DirNone},
	}
	if diff := cmp.Diff(want, JoinSocketsFlows(socks, flows, 0)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got := JoinSocketsFlows(nil, nil, 0); len(got) != 0 {
		t.Errorf("empty join: %v", got)
	}
	// All namespaces (flows read in net:[7]): the far end of flow 0 in
	// another namespace, and the socket itself in ours.
	socks = []Socket{
		{Proto: ProtoTCP, Local: ap("10.0.0.1:5000"), Remote: ap("192.0.2.9:443"), NetNS: 7},
		{Proto: ProtoTCP, Local: ap("192.0.2.9:443"), Remote: ap("198.51.100.1:5000"), NetNS: 8},
	}
	want = []SocketFlow{{0, 0, DirOriginal}, {1, -1, DirNone}, {-1, 1, DirNone}, {-1, 2, DirNone}, {-1, 3, DirNone}}
	if diff := cmp.Diff(want, JoinSocketsFlows(socks, flows, 7)); diff != "" {
		t.Errorf("all namespaces (-want +got)\n%s", diff)
	}
}

func TestFlowStatusJSON(t *testing.T) {
	tests := []struct {
		s    FlowStatus
		json string
	}{
		{0, `[]`},
		{StatusSeenReply | StatusAssured | StatusConfirmed, `["SEEN_REPLY","ASSURED","CONFIRMED"]`},
		{StatusSrcNAT | StatusSrcNATDone | 1<<20, `["SRC_NAT","SRC_NAT_DONE","BIT_20"]`},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(tt.s)
			if err != nil || string(b) != tt.json {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tt.json)
			}
			var back FlowStatus
			if err := json.Unmarshal(b, &back); err != nil || back != tt.s {
				t.Fatalf("Unmarshal = %v, %v; want %v", back, err, tt.s)
			}
		})
	}
	var s FlowStatus
	for _, bad := range []string{`"ASSURED"`, `["NOPE"]`, `[ASSURED]`, `["BIT_40"]`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestFlowStatusBrackets(t *testing.T) {
	tests := []struct {
		s    FlowStatus
		want string
	}{
		{StatusConfirmed, "[UNREPLIED]"},
		{StatusSeenReply | StatusAssured, "[ASSURED]"},
		{StatusSeenReply, ""},
		{StatusSeenReply | StatusAssured | StatusOffload, "[ASSURED] [OFFLOAD]"},
	}
	for _, tt := range tests {
		if got := tt.s.Brackets(); got != tt.want {
			t.Errorf("%v.Brackets() = %q, want %q", tt.s.Names(), got, tt.want)
		}
	}
}

func TestTCPStateText(t *testing.T) {
	for s := TCPNone; s <= TCPSynSent2; s++ {
		b, _ := s.MarshalText()
		var back TCPState
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip gave %v, %v", s, back, err)
		}
	}
	if TCPState(42).String() != "UNKNOWN" {
		t.Error("unknown state")
	}
	var s TCPState
	if err := s.UnmarshalText([]byte("BOGUS")); err == nil {
		t.Error("accepted BOGUS")
	}
}

func TestFlowTupleString(t *testing.T) {
	tests := []struct {
		tu   FlowTuple
		want string
	}{
		{tuple("10.0.0.1:5000", "10.0.0.2:80"), "src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=80"},
		{FlowTuple{Src: ap("[fd00::1]:0"), Dst: ap("[fd00::2]:0"), ICMP: &ICMPKey{128, 0, 3}}, "src=fd00::1 dst=fd00::2 type=128 code=0 id=3"},
		{tuple("10.0.0.1:0", "10.0.0.2:0"), "src=10.0.0.1 dst=10.0.0.2"},
	}
	for _, tt := range tests {
		if got := tt.tu.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestFlowHelpers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := Flow{ProtoNum: 6, TCPState: TCPEstablished, OrigBytes: 10, ReplyBytes: 5, OrigPackets: 2, ReplyPackets: 1,
		Timeout: 30 * time.Second, Updated: t0, FirstSeen: t0}
	if f.Bytes() != 15 || f.Packets() != 3 || f.State() != "ESTABLISHED" {
		t.Errorf("helpers: %d %d %q", f.Bytes(), f.Packets(), f.State())
	}
	if got := f.TimeoutLeft(t0.Add(10 * time.Second)); got != 20*time.Second {
		t.Errorf("TimeoutLeft = %v", got)
	}
	if got := f.TimeoutLeft(t0.Add(time.Hour)); got != 0 {
		t.Errorf("TimeoutLeft after expiry = %v", got)
	}
	if got := f.Age(t0.Add(time.Minute)); got != time.Minute {
		t.Errorf("Age from FirstSeen = %v", got)
	}
	f.Start = t0.Add(-time.Minute)
	if got := f.Age(t0); got != time.Minute {
		t.Errorf("Age from Start = %v", got)
	}
	if (Flow{ProtoNum: 17}).State() != "" {
		t.Error("UDP flow has a state")
	}
	for n, want := range map[uint8]Proto{1: ProtoICMP, 6: ProtoTCP, 17: ProtoUDP, 58: ProtoICMPv6, 132: ProtoSCTP, 33: ProtoDCCP, 47: ProtoGRE, 136: ProtoUDPLite, 99: ProtoUnknown} {
		if got := FlowProto(n); got != want {
			t.Errorf("FlowProto(%d) = %s, want %s", n, got, want)
		}
	}
	st := ConntrackStats{Count: 90, Max: 100}
	if st.Full() || st.Fill() != 0.9 {
		t.Errorf("Full/Fill at 90/100: %v %v", st.Full(), st.Fill())
	}
	st.Count = 100
	if !st.Full() || (ConntrackStats{}).Fill() != 0 || (ConntrackStats{}).Full() {
		t.Error("Full at 100/100 or zero stats")
	}
	var sum ConntrackCPU
	sum.Add(ConntrackCPU{CPU: 1, Found: 1, Invalid: 2, Ignore: 3, Insert: 4, InsertFailed: 5, Drop: 6, EarlyDrop: 7, Error: 8, SearchRestart: 9, ClashResolve: 10, ChainTooLong: 11})
	sum.Add(ConntrackCPU{Drop: 1})
	if diff := cmp.Diff(ConntrackCPU{Found: 1, Invalid: 2, Ignore: 3, Insert: 4, InsertFailed: 5, Drop: 7, EarlyDrop: 7, Error: 8, SearchRestart: 9, ClashResolve: 10, ChainTooLong: 11}, sum); diff != "" {
		t.Errorf("Add (-want +got)\n%s", diff)
	}
}

func TestFlowsAndConntrackUpdates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	if got := s.Snapshot().Flows; got == nil || len(got) != 0 {
		t.Fatalf("new store flows = %#v, want empty non-nil", got)
	}
	s.Publish(FlowsUpdate{At: t0.Add(time.Second), Flows: []Flow{{ID: 1}}})
	old := s.Snapshot()
	s.Publish(FlowsUpdate{At: t0.Add(2 * time.Second), Flows: []Flow{{ID: 2}, {ID: 3}}})
	s.Publish(ConntrackStatsUpdate{Stats: ConntrackStats{At: t0.Add(3 * time.Second), Count: 2, Max: 10, PerCPU: []ConntrackCPU{{CPU: 0, Drop: 1}}}})
	snap := s.Snapshot()
	if len(old.Flows) != 1 || old.Flows[0].ID != 1 {
		t.Errorf("old snapshot changed: %+v", old.Flows)
	}
	if len(snap.Flows) != 2 || snap.Conntrack.Count != 2 || snap.Conntrack.PerCPU[0].Drop != 1 {
		t.Errorf("snapshot: flows %+v conntrack %+v", snap.Flows, snap.Conntrack)
	}
	if !snap.TakenAt.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("TakenAt = %v", snap.TakenAt)
	}
	s.Publish(FlowsUpdate{})
	if got := s.Snapshot().Flows; got == nil || len(got) != 0 {
		t.Errorf("nil flows update = %#v, want empty non-nil", got)
	}
	b, _ := json.Marshal(NewStore("h", "k", t0).Snapshot())
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["conntrack"]; ok {
		t.Errorf("conntrack present before the collector ran: %s", b)
	}
	if f, ok := m["flows"].([]any); !ok || len(f) != 0 {
		t.Errorf("flows not an empty list: %s", b)
	}
}

// TestFlowJSONHasEveryField: Flow.MarshalJSON writes flowJSON, which must
// carry every field of Flow (in JSON's order, not Flow's), plus the NAT
// addresses.
func TestFlowJSONHasEveryField(t *testing.T) {
	tags := func(ty reflect.Type) (out []string) {
		for f := range ty.Fields() {
			out = append(out, f.Tag.Get("json"))
		}
		return out
	}
	want := append(tags(reflect.TypeFor[Flow]()), "nat_src,omitzero", "nat_dst,omitzero")
	got := tags(reflect.TypeFor[flowJSON]())
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("flowJSON's fields %v, want Flow's and the NAT addresses: %v", got, want)
	}
}

// TestFlowJSONNATAddrs: the NAT addresses are written from the tuples and
// read back as the same flow.
func TestFlowJSONNATAddrs(t *testing.T) {
	f := Flow{ID: 7, Family: FamilyIPv4, Proto: ProtoTCP, ProtoNum: 6,
		Orig:  FlowTuple{Src: ap("10.0.0.1:5000"), Dst: ap("198.51.100.1:80")},
		Reply: FlowTuple{Src: ap("10.0.0.5:8080"), Dst: ap("203.0.113.1:61000")}}
	f.SetNAT()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"nat":"both","nat_src":"203.0.113.1:61000","nat_dst":"10.0.0.5:8080","first_seen"`) {
		t.Errorf("JSON without the NAT addresses in place: %s", b)
	}
	var back Flow
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.NAT != NATBoth || back.Orig != f.Orig || back.Reply != f.Reply {
		t.Errorf("read back %+v, want %+v", back, f)
	}
	if src, dst := back.NATAddrs(); src != ap("203.0.113.1:61000") || dst != ap("10.0.0.5:8080") {
		t.Errorf("NATAddrs after reading back: %v %v", src, dst)
	}
}

// TestSocketJSONHasEveryField: Socket.MarshalJSON writes socketJSON, which
// must carry every field of Socket.
func TestSocketJSONHasEveryField(t *testing.T) {
	tags := func(ty reflect.Type) (out []string) {
		for f := range ty.Fields() {
			out = append(out, f.Tag.Get("json"))
		}
		slices.Sort(out)
		return out
	}
	if got, want := tags(reflect.TypeFor[socketJSON]()), tags(reflect.TypeFor[Socket]()); !slices.Equal(got, want) {
		t.Errorf("socketJSON's fields %v, want Socket's: %v", got, want)
	}
}
