package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

// traceStore is a snapshot with the eBPF tracer running: two reasons, a
// flow owned by a process (joined by cookie), a conntrack flow, and the
// drop_trace counters with a history.
func traceStore() *model.Store {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	s := model.NewStore("h", "6.18", t0)
	s.Publish(model.SocketsUpdate{At: t0, Sockets: []model.Socket{
		{Proto: model.ProtoUDP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("10.0.0.1:5353"), Cookie: 77, Inode: 5,
			Procs: []model.Proc{{PID: 4242, Comm: "resolverd", FD: 3}}},
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("10.0.0.1:22"), State: model.StateListen, Inode: 6},
	}})
	s.Publish(model.FlowsUpdate{At: t0, Flows: []model.Flow{{ID: 1, Family: model.FamilyIPv4, Proto: model.ProtoUDP, ProtoNum: 17,
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.2:40000"), Dst: netip.MustParseAddrPort("10.0.0.1:5353")},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.1:5353"), Dst: netip.MustParseAddrPort("10.0.0.2:40000")}}}})
	for i, n := range []uint64{100, 160} {
		at := t0.Add(time.Duration(i) * time.Second)
		tr := model.DropTrace{At: at, Supported: true, Attach: "tp_btf/kfree_skb", Netns: 4026531840, Seen: n + 3, Attributed: n + 3,
			MapEntries: 2, MapMax: 16384,
			Reasons: []model.DropTraceReason{
				{Reason: "SOCKET_RCVBUFF", Code: 6, Location: "__udp_enqueue_schedule_skb+0x2a1", Function: "__udp_enqueue_schedule_skb",
					Layer: model.LayerSocket, Packets: n, Bytes: n * 1000, Delta: 60, LastSeen: at},
				{Reason: "NO_SOCKET", Code: 3, Location: "tcp_v4_rcv+0x13", Function: "tcp_v4_rcv", Layer: model.LayerTransport, Packets: 3, LastSeen: t0},
			},
			Flows: []model.DropTraceFlow{
				{Reason: "SOCKET_RCVBUFF", Code: 6, Location: "__udp_enqueue_schedule_skb+0x2a1", Function: "__udp_enqueue_schedule_skb",
					Layer: model.LayerSocket, L3: "ipv4", Proto: "udp", Parsed: true, Cookie: 77, Ifindex: 2,
					Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 40000, DstPort: 5353,
					Packets: n, Bytes: n * 1000, Delta: 60, LastSeen: at},
				{Reason: "NO_SOCKET", Code: 3, Location: "tcp_v4_rcv+0x13", Function: "tcp_v4_rcv", Layer: model.LayerTransport, L3: "ipv4",
					Proto: "tcp", Parsed: true, Src: netip.MustParseAddr("10.0.0.9"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 5, DstPort: 23, Packets: 3},
			}}
		s.Publish(model.DropTraceUpdate{Trace: tr})
		s.Publish(model.CountersUpdate{Collector: "droptrace", At: at, Counters: []model.RawCounter{
			{Layer: model.LayerSocket, Source: "drop_trace", Group: "reason", Instance: "__udp_enqueue_schedule_skb+0x2a1", Name: "SOCKET_RCVBUFF", Kind: model.KindCounter, Value: n},
			{Layer: model.LayerTransport, Source: "drop_trace", Group: "reason", Instance: "tcp_v4_rcv+0x13", Name: "NO_SOCKET", Kind: model.KindCounter, Value: 3},
		}})
	}
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorDropTrace, State: model.StateOK, Source: "eBPF tp_btf/kfree_skb"}})
	return s
}

// TestTraceReasonsFlowsAndJump walks the reasons view: the reasons with
// meaning, function, rate; enter lists the flows with owner and
// conntrack state; enter on a flow shows its socket in Connections.
func TestTraceReasonsFlowsAndJump(t *testing.T) {
	a := newTestApp(t, traceStore(), Options{DropSource: "eBPF: permitted (auto)"}, 120, 30)
	send(a, "2", "v")
	scr := screen(a)
	for _, w := range []string{"[reasons] eBPF tp_btf/kfree_skb: 163 drops seen", "source eBPF: permitted (auto)", "SOCKET_RCVBUFF",
		"__udp_enqueue_sch", "socket", "NO_SOCKET", "net.core.rme", "60.0"} {
		if !strings.Contains(scr, w) {
			t.Errorf("reasons view lacks %q:\n%s", w, scr)
		}
	}
	if r := rows(a); len(r) < 2 || !strings.HasPrefix(r[0], "SOCKET_RCVBUFF") {
		t.Fatalf("rows, most drops first: %q", r)
	}
	send(a, "enter")
	scr = screen(a)
	for _, w := range []string{"[reasons > flows] SOCKET_RCVBUFF", "10.0.0.2:40000", "10.0.0.1:5353", "resolverd", "tracked", "160"} {
		if !strings.Contains(scr, w) {
			t.Errorf("flows view lacks %q:\n%s", w, scr)
		}
	}
	if strings.Contains(scr, "10.0.0.9") {
		t.Errorf("flows view shows another reason's flow:\n%s", scr)
	}
	cmd := send(a, "enter")
	if cmd == nil {
		t.Fatal("enter on a flow: no command")
	}
	a.Update(cmd())
	if _, ok := a.pages[a.active].(*connsPage); !ok || a.pages[a.active].Filter() != "10.0.0.1:5353" {
		t.Fatalf("after enter: tab %d, filter %q", a.active, a.pages[a.active].Filter())
	}
	scr = screen(a)
	if !strings.Contains(scr, "resolverd") || strings.Contains(scr, "10.0.0.1:22") {
		t.Errorf("connections filtered to the flow's socket:\n%s", scr)
	}
	// Its Drops column counts the traced drops; the details list them.
	// (The Drops column is followed by the rate columns.)
	if r := rows(a); len(r) != 1 || !strings.Contains(r[0], " 160 ") {
		t.Errorf("connection row: %q", r)
	}
	send(a, "enter")
	if scr := screen(a); !strings.Contains(scr, "traced drops: SOCKET_RCVBUFF 160") {
		t.Errorf("details:\n%s", scr)
	}
	// Back on the Drops tab, backspace (or left) returns to the reasons.
	send(a, "2", "backspace")
	if scr := screen(a); !strings.Contains(scr, "[reasons] eBPF") {
		t.Errorf("left: not back to the reasons:\n%s", scr)
	}
}

// TestTraceReasonsNoPermission: the pane names the capabilities.
func TestTraceReasonsNoPermission(t *testing.T) {
	s := model.NewStore("h", "k", time.Unix(0, 0))
	s.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: time.Unix(1, 0), Reason: "needs CAP_BPF and CAP_PERFMON (or root)"}})
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorDropTrace, State: model.StateNoPermission, Reason: "needs CAP_BPF and CAP_PERFMON (or root)"}})
	a := newTestApp(t, s, Options{}, 80, 24)
	send(a, "2")
	if scr := screen(a); !strings.Contains(scr, "droptrace: needs CAP_BPF and CAP_PERFMON (or root)") {
		t.Errorf("health line:\n%s", scr)
	}
	send(a, "v")
	if scr := screen(a); !strings.Contains(scr, "[reasons] eBPF drop tracer: needs CAP_BPF and CAP_PERFMON (or root)") {
		t.Errorf("reasons view:\n%s", scr)
	}
}

// TestFiltersRuleTracedDrops: a netlens drop rule's details count the
// traced NETFILTER_DROP flows attributed to it.
func TestFiltersRuleTracedDrops(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	s := model.NewStore("h", "k", t0)
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0, Rules: []model.Rule{
		{ID: 5, Enabled: true, Hooks: []string{model.HookInput}, Family: model.RuleFamilyBoth, Proto: "udp",
			DstPorts: model.PortRange{Min: 53, Max: 53}, Action: model.ActionDrop, Packets: 4, Label: "no dns"},
	}}})
	s.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: t0, Supported: true, Attach: "tp_btf/kfree_skb", Seen: 4, Attributed: 4,
		Flows: []model.DropTraceFlow{{Reason: "NETFILTER_DROP", Location: "nft_do_chain+0x46f", Function: "nft_do_chain", L3: "ipv4", Proto: "udp",
			Parsed: true, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 999, DstPort: 53, Packets: 4}}}})
	a := newTestApp(t, s, Options{}, 120, 30)
	send(a, "4", "enter")
	if scr := screen(a); !strings.Contains(scr, "traced drops 4 in 1 flows") {
		t.Errorf("rule details:\n%s", scr)
	}
}

// TestReasonsCountersOnly: with --drop-source counters neither reason
// collector runs, and the reasons view says so.
func TestReasonsCountersOnly(t *testing.T) {
	a := newTestApp(t, model.NewStore("h", "k", time.Unix(0, 0)), Options{DropSource: "counters: --drop-source counters"}, 80, 24)
	send(a, "2", "v")
	if scr := screen(a); !strings.Contains(scr, "[reasons] no drop reasons: drop source counters: --drop-source counters") {
		t.Errorf("reasons view:\n%s", scr)
	}
}

// TestTraceReasonsSampledPackets: with the sampled stream on, the
// reasons header counts it; enter on a flow shows its sampled packets
// (not another flow's) with the selected one's headers, and enter there
// shows the connection.
func TestTraceReasonsSampledPackets(t *testing.T) {
	s := traceStore()
	tr := s.Snapshot().DropTrace
	flow, other := tr.Flows[0], tr.Flows[1]
	pkt := func(at time.Time, sport string) model.CapturedPacket {
		return model.CapturedPacket{At: at, Length: 1028, CaptureLength: 128, Summary: "10.0.0.2:" + sport + " > 10.0.0.1:5353 UDP len 1028",
			Layers: []model.PacketLayer{
				{Name: "IPv4", Fields: []model.LayerField{{Name: "src", Value: "10.0.0.2"}, {Name: "dst", Value: "10.0.0.1"}, {Name: "ttl", Value: "64"}}},
				{Name: "UDP", Fields: []model.LayerField{{Name: "sport", Value: sport}, {Name: "dport", Value: "5353"}, {Name: "length", Value: "1008"}}},
			}}
	}
	t1 := tr.At
	tr.Sampling = model.DropTraceSampling{Every: 10, MaxPerSecond: 1000, Sampled: 16, Emitted: 15, Lost: 1, Read: 15, Samples: []model.DropTraceSample{
		{Flow: flow, Packet: pkt(t1, "40000")},
		{Flow: other, Packet: model.CapturedPacket{At: t1, Summary: "other flow"}},
		{Flow: flow, Packet: pkt(t1.Add(-time.Second), "40000")},
	}}
	s.Publish(model.DropTraceUpdate{Trace: tr})
	a := newTestApp(t, s, Options{}, 120, 30)
	send(a, "2", "v")
	if scr := screen(a); !strings.Contains(scr, "sampled 1/10: 16, emitted 15, lost 1") {
		t.Errorf("reasons header lacks the sampling counts:\n%s", scr)
	}
	send(a, "enter")
	if scr := screen(a); !strings.Contains(scr, "enter: its sampled packets") {
		t.Errorf("flows view:\n%s", scr)
	}
	if cmd := send(a, "enter"); cmd != nil {
		t.Fatal("enter on a flow with sampling on: a command, want its packets")
	}
	scr := screen(a)
	for _, w := range []string{"[reasons > flows > packets] udp 10.0.0.2:40000 -> 10.0.0.1:5353: 2 sampled (enter", "sampled 1/10: 16, emitted 15, lost 1",
		"20:00:01.000000 10.0.0.2:40000 > 10.0.0.1:5353 UDP len 1028", "packet 1 of 2: 1028 bytes, 128 of its headers read, dropped SOCKET_RCVBUFF",
		"IPv4", "ttl=64", "UDP", "dport=5353"} {
		if !strings.Contains(scr, w) {
			t.Errorf("packets view lacks %q:\n%s", w, scr)
		}
	}
	if strings.Contains(scr, "other flow") {
		t.Errorf("packets view shows another flow's sample:\n%s", scr)
	}
	send(a, "down")
	if scr := screen(a); !strings.Contains(scr, "packet 2 of 2") {
		t.Errorf("down: not the second packet:\n%s", scr)
	}
	cmd := send(a, "enter")
	if cmd == nil {
		t.Fatal("enter in the packets: no command")
	}
	a.Update(cmd())
	if _, ok := a.pages[a.active].(*connsPage); !ok || a.pages[a.active].Filter() != "10.0.0.1:5353" {
		t.Fatalf("after enter: tab %d, filter %q", a.active, a.pages[a.active].Filter())
	}
	// Back: packets, then flows, then reasons.
	send(a, "2", "backspace")
	if scr := screen(a); !strings.Contains(scr, "[reasons > flows] SOCKET_RCVBUFF") {
		t.Errorf("left from the packets:\n%s", scr)
	}
	send(a, "h")
	if scr := screen(a); !strings.Contains(scr, "[reasons] eBPF") {
		t.Errorf("left from the flows:\n%s", scr)
	}
}

// TestTraceReasonsUnattributed: the map-full accounting on screen, the
// figures of TestIntegrationMapFull (50,000 flows into 16,384 keys).
func TestTraceReasonsUnattributed(t *testing.T) {
	s := traceStore()
	tr := s.Snapshot().DropTrace
	tr.Seen, tr.Attributed, tr.Unattributed, tr.NotAggregated, tr.MapMax, tr.Missed = 50000, 16384, 33616, 33616, 16384, 3
	s.Publish(model.DropTraceUpdate{Trace: tr})
	a := newTestApp(t, s, Options{}, 200, 30)
	send(a, "2", "v")
	if scr := screen(a); !strings.Contains(scr, "! unattributed 33616 of 50000 (67.2%): the flows map (16384 keys) was full and refused 33616, 3 missed (the tracer was already running on that CPU)") {
		t.Errorf("reasons view lacks the unattributed line:\n%s", scr)
	}
}
