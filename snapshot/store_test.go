package snapshot

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

// TestDiffStoreDropDeltas: in --open A --diff B the drop reasons of the
// drop monitor and of the eBPF tracer, and the tracer's flows, show as
// delta what they counted between the two snapshots (all of it for what
// A did not have, or when the count went down), and B's namespace.
func TestDiffStoreDropDeltas(t *testing.T) {
	a, b := snapshottest.Full(), snapshottest.Full()
	b.TakenAt = a.TakenAt.Add(10 * time.Second)
	a.DropMonitor = model.DropMonitor{At: a.TakenAt, Supported: true, Drops: []model.DropReason{
		{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", Total: 10, Delta: 1},
		{Reason: "TCP_CSUM", Location: "tcp_v4_rcv+0x10", Total: 50},
	}}
	b.DropMonitor = model.DropMonitor{At: b.TakenAt, Supported: true, Drops: []model.DropReason{
		{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", Total: 40, Delta: 2},
		{Reason: "TCP_CSUM", Location: "tcp_v4_rcv+0x10", Total: 5},
		{Reason: "NETFILTER_DROP", Location: "nf_hook_slow+0x90", Total: 7},
	}}
	flow := model.DropTraceFlow{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", L3: "ipv4", Proto: "udp", DstPort: 9, Parsed: true}
	fa, fb, fnew := flow, flow, flow
	fa.Packets, fb.Packets, fnew.DstPort, fnew.Packets = 3, 33, 10, 4
	a.DropTrace = model.DropTrace{At: a.TakenAt, Supported: true,
		Reasons: []model.DropTraceReason{{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", Packets: 3}},
		Flows:   []model.DropTraceFlow{fa}}
	b.DropTrace = model.DropTrace{At: b.TakenAt, Supported: true,
		Reasons: []model.DropTraceReason{{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", Packets: 37, Delta: 1}},
		Flows:   []model.DropTraceFlow{fb, fnew}}
	b.NetNS = &model.NetNS{Inode: 7, Name: "blue"}

	got := DiffStore(a, b).Snapshot()
	var deltas []uint64
	for _, d := range got.DropMonitor.Drops {
		deltas = append(deltas, d.Delta)
	}
	for _, r := range got.DropTrace.Reasons {
		deltas = append(deltas, r.Delta)
	}
	for _, f := range got.DropTrace.Flows {
		deltas = append(deltas, f.Delta)
	}
	if d := cmp.Diff([]uint64{30, 5, 7, 34, 30, 4}, deltas); d != "" {
		t.Errorf("deltas: monitor x3, tracer reason, tracer flows x2 (-want +got):\n%s", d)
	}
	if got.NetNS == nil || got.NetNS.Name != "blue" {
		t.Errorf("namespace %+v, want B's", got.NetNS)
	}
	if b.DropMonitor.Drops[0].Delta != 2 || b.DropTrace.Flows[0].Delta != 0 {
		t.Errorf("DiffStore changed its argument")
	}
}

// TestDiffStoreKeepsEverySection: in --open A --diff B every section of
// B that DiffStore does not count again from A (the counters and drop
// reasons) is B's, as --open B alone shows it; a section added to the
// snapshot and forgotten by DiffStore fails here (the Interfaces and
// IPsec tabs and the sysctl journal were once empty in a diff).
func TestDiffStoreKeepsEverySection(t *testing.T) {
	a, b := snapshottest.Full(), snapshottest.Full()
	b.TakenAt = a.TakenAt.Add(10 * time.Second)
	b.IPsec = model.IPsec{At: b.TakenAt, SAs: []model.XfrmSA{{Proto: "esp", SPI: 0x1000, Mode: "tunnel"}}, Policies: []model.XfrmPolicy{}}
	b.NetNS = &model.NetNS{Inode: 7, Name: "blue"}
	b.NFTables = model.NFTables{At: b.TakenAt, Tables: 1, Chains: []model.NFTChain{{Family: "inet", Table: "fw", Name: "input",
		Type: "filter", Hook: "input", Policy: "drop", Rules: []model.NFTRule{{Handle: 4, Text: "tcp dport 22 counter accept", Verdict: "accept", Counter: true, Packets: 3, Bytes: 180}}}}}
	got := DiffStore(a, b).Snapshot()
	recounted := map[string]bool{"Counters": true, "DropMonitor": true, "DropTrace": true, "StartedAt": true, "Seq": true,
		// The store's own sequences of socket and flow lists (not in the JSON).
		"SocketsSeq": true, "FlowsSeq": true}
	gv, bv := reflect.ValueOf(got), reflect.ValueOf(b)
	for i := range bv.NumField() {
		name := bv.Type().Field(i).Name
		if recounted[name] {
			continue
		}
		if bv.Field(i).IsZero() {
			t.Errorf("snapshottest.Full leaves %s empty: fill it so that this test covers it", name)
			continue
		}
		if d := cmp.Diff(bv.Field(i).Interface(), gv.Field(i).Interface(), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}, netip.Prefix{})); d != "" {
			t.Errorf("%s (-B +diff store):\n%s", name, d)
		}
	}
}
