package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/snapshot"
)

// offlineStore is what netlens --open shows: a Store holding the
// snapshot read from testdata/offline-b.json.
func offlineStore(t *testing.T) (*model.Store, Options) {
	t.Helper()
	snap, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := goldenOpts()
	opts.SaveSnapshot = nil
	opts.Now = func() time.Time { return snap.TakenAt }
	opts.Offline = &Offline{File: "testdata/offline-b.json"}
	return model.NewStoreFrom(snap), opts
}

// TestGoldenOffline: every tab of a snapshot opened from a file, and
// sorting, filtering and details on it.
func TestGoldenOffline(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys []string
	}{
		{"Connections", []string{"1"}},
		{"Drops", []string{"2"}},
		{"Sysctl", []string{"3"}},
		{"Filters", []string{"4"}},
		{"Capture", []string{"5"}},
		{"Sorted", []string{"1", "o", "o"}},
		{"Filtered", []string{"1", "/", "8", "0", "8", "0", "enter"}},
		{"Details", []string{"2", "enter"}},
		{"Record", []string{"R"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, opts := offlineStore(t)
			runGoldenOpts(t, store, opts, 120, 40, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestGoldenOfflineDiff: --open A --diff B: the header names both times
// and the Drops tab's moved view holds what moved between them.
func TestGoldenOfflineDiff(t *testing.T) {
	a, err := snapshot.ReadFile("testdata/offline-a.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := goldenOpts()
	opts.SaveSnapshot = nil
	opts.Now = func() time.Time { return b.TakenAt }
	opts.Offline = &Offline{File: "b", Base: "a", BaseAt: a.TakenAt, Summary: "4 changes: +1 socket, 1 drop counter, 1 sysctl, +1 rule (netlens diff lists them)",
		Changed: &Changed{
			Sockets: map[SocketID]bool{{model.ProtoTCP, netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("0.0.0.0:0")}: true},
			Sysctls: map[string]bool{"net.ipv4.ip_forward": true},
			Rules:   map[uint32]bool{2: true},
			Flows:   map[FlowID]bool{{model.ProtoTCP, netip.MustParseAddrPort("10.0.0.2:50000"), netip.MustParseAddrPort("10.0.0.1:22"), 0}: true},
		}}
	for _, tt := range []struct {
		name string
		keys []string
	}{
		{"tab1", []string{"1"}},
		{"tab2", []string{"2"}},
		{"tab3", []string{"3"}},
		{"tab4", []string{"4"}},
		{"flows", []string{"1", "v"}},
		{"joined", []string{"1", "v", "v"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runGoldenOpts(t, snapshot.DiffStore(a, b), opts, 120, 40, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestOfflineDiffRowKinds: in a diff, the Connections tab's views draw
// what appeared as changed rows: a socket in the sockets and joined
// views, a conntrack flow in the flows view and on its socket's row in
// the joined view; what did not change is drawn as before.
func TestOfflineDiffRowKinds(t *testing.T) {
	b, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	flow := b.Flows[0]
	a := newTestApp(t, model.NewStoreFrom(b), Options{Offline: &Offline{File: "b", Base: "a", Changed: &Changed{
		Sockets: map[SocketID]bool{{model.ProtoTCP, netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("0.0.0.0:0")}: true},
		Flows:   map[FlowID]bool{{flow.Proto, flow.Orig.Src, flow.Orig.Dst, flow.Zone}: true},
		Procs:   map[string]bool{"sshd": true},
	}}}, 120, 40)
	c := a.pages[0].(*connsPage)
	kinds := func(n int, local func(i int) string, kind func(i int) rowKind) map[string]rowKind {
		m := map[string]rowKind{}
		for i := range n {
			m[local(i)] = kind(i)
		}
		return m
	}
	sock := func(p *model.Snapshot, idx []int) func(i int) string {
		return func(i int) string { return p.Sockets[idx[i]].Local.String() + " " + p.Sockets[idx[i]].Remote.String() }
	}
	got := kinds(len(c.socks.idx), sock(&c.socks.snap, c.socks.idx), c.socks.rowKind)
	// 10.0.0.1:22 is hot in the sockets view for its drops.
	want := map[string]rowKind{"0.0.0.0:8080 0.0.0.0:0": rowHot, "0.0.0.0:22 0.0.0.0:0": rowPlain, "10.0.0.1:22 10.0.0.2:50000": rowHot, "[::]:53 [::]:0": rowPlain}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sockets view (-want +got):\n%s", d)
	}
	send(a, "v")
	if k := c.flows.rowKind(0); k != rowHot {
		t.Errorf("flows view: the flow that appeared is %v, want hot", k)
	}
	send(a, "v")
	got = kinds(len(c.joined.idx), sock(&c.joined.snap, c.joined.idx), c.joined.rowKind)
	// The joined view does not mark drops: 10.0.0.1:22 is hot for its
	// flow.
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("joined view (-want +got):\n%s", d)
	}
	send(a, "P")
	// The processes view lists processes with TCP connections: sshd.
	procs := func() map[string]rowKind {
		return kinds(len(c.procs.idx), func(i int) string { return c.procs.rows[c.procs.idx[i]].Comm }, c.procs.rowKind)
	}
	if got := procs(); got["sshd"] != rowHot {
		t.Errorf("processes view: %v; want sshd (holds a socket that appeared) hot", got)
	}
	delete(c.Changed.Procs, "sshd")
	if got := procs(); got["sshd"] != rowPlain {
		t.Errorf("processes view: %v; want sshd plain once unchanged", got)
	}
	delete(c.Changed.Flows, FlowID{flow.Proto, flow.Orig.Src, flow.Orig.Dst, flow.Zone})
	got = kinds(len(c.joined.idx), sock(&c.joined.snap, c.joined.idx), c.joined.rowKind)
	if k := got["10.0.0.1:22 10.0.0.2:50000"]; k == rowHot {
		t.Errorf("joined view: 10.0.0.1:22 hot with its flow unchanged")
	}
}

// TestOfflineDiffCapture: in a diff the Capture tab draws the flows and
// hosts that moved between the two snapshots as changed, whatever their
// rate at the time of the newer one; outside a diff, those moving then.
func TestOfflineDiffCapture(t *testing.T) {
	b, err := snapshot.ReadFile("testdata/offline-b.json")
	if err != nil {
		t.Fatal(err)
	}
	k1 := model.CaptureFlowKey{Proto: model.ProtoTCP, A: netip.MustParseAddrPort("10.0.0.1:22"), B: netip.MustParseAddrPort("10.0.0.2:50000")}
	k2 := model.CaptureFlowKey{Proto: model.ProtoUDP, A: netip.MustParseAddrPort("10.0.0.1:53"), B: netip.MustParseAddrPort("10.0.0.9:40000")}
	h1, h2 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.9")
	b.Capture.TopFlows = []model.CaptureFlow{{Key: k1, PacketsAToB: 10, BytesAToB: 9000}, {Key: k2, PacketsAToB: 1, BytesAToB: 100, PacketsPerSec: 3}}
	b.Capture.TopHosts = []model.CaptureHost{{Addr: h1, PacketsSent: 10, BytesSent: 9000}, {Addr: h2, PacketsSent: 1, BytesSent: 100, PacketsPerSec: 3}}
	for _, tt := range []struct {
		name    string
		changed *Changed
		flows   map[model.CaptureFlowKey]rowKind
		hosts   map[netip.Addr]rowKind
	}{
		{"diff", &Changed{CaptureFlows: map[model.CaptureFlowKey]bool{k1: true}, CaptureHosts: map[netip.Addr]bool{h1: true}},
			map[model.CaptureFlowKey]rowKind{k1: rowHot, k2: rowPlain}, map[netip.Addr]rowKind{h1: rowHot, h2: rowPlain}},
		{"one snapshot", nil,
			map[model.CaptureFlowKey]rowKind{k1: rowPlain, k2: rowHot}, map[netip.Addr]rowKind{h1: rowPlain, h2: rowHot}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, model.NewStoreFrom(b), Options{Offline: &Offline{File: "b", Changed: tt.changed}}, 120, 40)
			send(a, "5")
			p := a.pages[4].(*capturePage)
			flows := map[model.CaptureFlowKey]rowKind{}
			for i := range p.flows.idx {
				flows[p.snap.Capture.TopFlows[p.flows.idx[i]].Key] = p.flows.rowKind(i)
			}
			if d := cmp.Diff(tt.flows, flows); d != "" {
				t.Errorf("flows (-want +got):\n%s", d)
			}
			send(a, "v")
			hosts := map[netip.Addr]rowKind{}
			for i := range p.hosts.idx {
				hosts[p.snap.Capture.TopHosts[p.hosts.idx[i]].Addr] = p.hosts.rowKind(i)
			}
			if d := cmp.Diff(tt.hosts, hosts); d != "" {
				t.Errorf("hosts (-want +got):\n%s", d)
			}
		})
	}
}

// TestOfflineSectionNotInSnapshot: a tab whose collector the snapshot
// file does not have (taken by an older netlens: no links, no ipsec)
// says the snapshot has no such section, not that it waits for a first
// sample that will never come.
func TestOfflineSectionNotInSnapshot(t *testing.T) {
	store, opts := offlineStore(t)
	a := newTestApp(t, store, opts, 100, 30)
	for _, tab := range []string{"6", "7"} {
		send(a, tab)
		scr := screen(a)
		if strings.Contains(scr, "waiting for the first sample") || strings.Contains(scr, "has not reported yet") || !strings.Contains(scr, "not reported in this snapshot") {
			t.Errorf("tab %s of a snapshot without its section:\n%s", tab, scr)
		}
	}
}
