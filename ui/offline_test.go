package ui

import (
	"net/netip"
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
	delete(c.Changed.Flows, FlowID{flow.Proto, flow.Orig.Src, flow.Orig.Dst, flow.Zone})
	got = kinds(len(c.joined.idx), sock(&c.joined.snap, c.joined.idx), c.joined.rowKind)
	if k := got["10.0.0.1:22 10.0.0.2:50000"]; k == rowHot {
		t.Errorf("joined view: 10.0.0.1:22 hot with its flow unchanged")
	}
}
