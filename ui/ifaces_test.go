package ui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// ifaceFixture is the interface table of refresh step: lo, a busy eth0
// with receive drops and driver statistics, eth1 down, a bridge with two
// veth ports, a VLAN, a tun without a second sample yet, and a container
// veth with a long name.
func ifaceFixture(step int) []model.Interface {
	f := float64(step)
	rate := func(rx, tx, rxp, txp float64) model.InterfaceRate {
		return model.InterfaceRate{Known: true, Interval: time.Second, RxBitsPerSec: rx, TxBitsPerSec: tx, RxPacketsPerSec: rxp, TxPacketsPerSec: txp}
	}
	addr := func(a string, plen int, scope string) model.InterfaceAddr {
		fam := "inet"
		if strings.Contains(a, ":") {
			fam = "inet6"
		}
		return model.InterfaceAddr{Family: fam, Address: a, PrefixLen: plen, Scope: scope}
	}
	noq := []model.TCObject{{Kind: "noqueue", Handle: "0:", Parent: "root"}}
	noStats := "the driver has no statistics"
	u := uint64(step)
	return []model.Interface{
		{Index: 1, Name: "lo", LinkType: "loopback", Up: true, OperState: "unknown", Carrier: true, MTU: 65536, TxQueueLen: 1000, MAC: "00:00:00:00:00:00",
			Qdisc: "noqueue", Addresses: []model.InterfaceAddr{addr("127.0.0.1", 8, "host"), addr("::1", 128, "host")},
			Stats: model.LinkStats{RxPackets: 1200 + 10*u, TxPackets: 1200 + 10*u, RxBytes: 96000 + 800*u, TxBytes: 96000 + 800*u},
			Rate:  rate(6400, 6400, 10, 10), EthtoolNote: noStats, TC: noq},
		{Index: 2, Name: "eth0", LinkType: "ether", Up: true, OperState: "up", Carrier: true, CarrierChanges: 2, MTU: 1500, TxQueueLen: 1000,
			MAC: "52:54:00:12:34:56", Qdisc: "mq", Addresses: []model.InterfaceAddr{addr("10.20.0.5", 24, "global"), addr("fe80::5054:ff:fe12:3456", 64, "link")},
			Stats: model.LinkStats{RxPackets: 9_000_000 + 81000*u, TxPackets: 7_000_000, RxBytes: 12_000_000_000, TxBytes: 3_000_000_000,
				RxErrors: 3, RxDropped: 1500 + 10*u, TxDropped: 2, RxMissedErrors: 1497, RxCRCErrors: 3, Multicast: 40},
			Rate: rate(900e6+f*5e6, 12.5e6, 81000, 21000),
			Ethtool: []model.EthtoolStat{{Name: "rx_queue_0_packets", Value: 4_500_000}, {Name: "rx_queue_0_drops", Value: 750}, {Name: "rx_queue_1_packets", Value: 4_500_000},
				{Name: "rx_queue_1_drops", Value: 750}, {Name: "rx_missed_errors", Value: 1497}, {Name: "tx_timeout_count", Value: 0}},
			TC: []model.TCObject{
				{Kind: "mq", Handle: "0:", Parent: "root", Bytes: 3_000_000_000, Packets: 7_000_000, Drops: 2},
				{Kind: "fq_codel", Handle: "0:", Parent: ":1", Bytes: 1_500_000_000, Packets: 3_500_000, Drops: 2, Requeues: 1},
				{Kind: "fq_codel", Handle: "0:", Parent: ":2", Bytes: 1_500_000_000, Packets: 3_500_000},
				{Class: true, Kind: "mq", Handle: ":1", Parent: "root", Bytes: 1_500_000_000, Packets: 3_500_000, Drops: 2},
				{Class: true, Kind: "mq", Handle: ":2", Parent: "root", Bytes: 1_500_000_000, Packets: 3_500_000}}},
		{Index: 3, Name: "eth1", LinkType: "ether", OperState: "down", MTU: 1500, TxQueueLen: 1000, MAC: "52:54:00:12:34:57", Qdisc: "mq",
			Rate: rate(0, 0, 0, 0), EthtoolNote: "", Ethtool: []model.EthtoolStat{{Name: "rx_queue_0_packets"}}},
		{Index: 4, Name: "br0", Kind: "bridge", LinkType: "ether", Up: true, OperState: "up", Carrier: true, MTU: 1500, MAC: "02:42:ac:11:00:01",
			Qdisc: "noqueue", Addresses: []model.InterfaceAddr{addr("172.17.0.1", 16, "global")},
			Stats: model.LinkStats{RxPackets: 500, TxPackets: 400, RxBytes: 64000, TxBytes: 51200}, Rate: rate(16000*f, 8000, 20, 10), EthtoolNote: noStats, TC: noq},
		{Index: 5, Name: "veth1a", Kind: "veth", LinkType: "ether", Up: true, OperState: "up", Carrier: true, MTU: 1500, TxQueueLen: 1000,
			MAC: "0a:58:0a:f4:00:05", Master: "br0", MasterIndex: 4, LinkIndex: 6, Qdisc: "noqueue",
			Stats: model.LinkStats{RxPackets: 400, TxPackets: 500, RxBytes: 51200, TxBytes: 64000, TxDropped: 7 + u/5},
			Rate:  rate(8000, 16000*f, 10, 20), Ethtool: []model.EthtoolStat{{Name: "peer_ifindex", Value: 6}, {Name: "rx_queue_0_xdp_packets"}}, TC: noq},
		{Index: 7, Name: "veth7f3c9a2b41e", Kind: "veth", LinkType: "ether", Up: true, OperState: "lowerlayerdown", Carrier: false, MTU: 1450,
			MAC: "0a:58:0a:f4:00:09", Master: "br0", MasterIndex: 4, LinkIndex: 8, Qdisc: "noqueue", Rate: rate(0, 0, 0, 0), TC: noq},
		{Index: 9, Name: "eth0.100", Kind: "vlan", VLANID: 100, LinkType: "ether", Up: true, OperState: "up", Carrier: true, MTU: 1500,
			MAC: "52:54:00:12:34:56", LinkIndex: 2, Qdisc: "noqueue", Addresses: []model.InterfaceAddr{addr("192.168.100.2", 24, "global")},
			Stats: model.LinkStats{RxPackets: 1000, RxBytes: 1_000_000}, Rate: rate(2e6, 1e5, 150, 20), EthtoolNote: noStats, TC: noq},
		{Index: 10, Name: "tun0", Kind: "tun", LinkType: "none", Up: true, OperState: "unknown", Carrier: true, MTU: 1420, TxQueueLen: 500, Qdisc: "fq_codel",
			Addresses: []model.InterfaceAddr{addr("10.8.0.1", 24, "global")}},
	}
}

// ifaceStore is fixtureStore with the links collector ok, the interface
// sysctls of eth0, and the interface table of step.
func ifaceStore(step int) *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorLinks, State: model.StateOK, Interval: time.Second,
		LastRun: t0.Add(time.Second), LastSuccess: t0.Add(time.Second)}})
	sys := append(fixtureSysctls(),
		model.Sysctl{Name: "net.ipv4.conf.eth0.rp_filter", Value: "1"},
		model.Sysctl{Name: "net.ipv4.conf.eth0.accept_redirects", Value: "0"},
		model.Sysctl{Name: "net.ipv6.conf.eth0.disable_ipv6", Value: "0"},
		model.Sysctl{Name: "net.ipv6.conf.eth0.mtu", Value: "1500"},
		model.Sysctl{Name: "net.ipv4.conf.eth1.rp_filter", Value: "2"})
	s.Publish(model.SysctlsUpdate{At: t0, Sysctls: sys})
	s.Publish(model.InterfacesUpdate{At: t0.Add(time.Second), Interfaces: ifaceFixture(step)})
	return s
}

// ifaceApp is an App that has seen n interface tables, one a refresh,
// so that the sparklines have n samples.
func ifaceApp(t *testing.T, n int) (*App, Options) {
	store := ifaceStore(0)
	opts := goldenOpts()
	opts.Glyphs = GlyphsUnicode
	app := New(store, opts)
	t.Cleanup(app.Close)
	for i := 1; i < n; i++ {
		store.Publish(model.InterfacesUpdate{At: t0.Add(time.Duration(i+1) * time.Second), Interfaces: ifaceFixture(i)})
		app.apply()
	}
	return app, opts
}

// TestGoldenInterfaces is the Interfaces tab: the list at both sizes,
// sorted by name, filtered, and an interface in full (its counters,
// driver statistics, tc objects and sysctls), scrolled.
func TestGoldenInterfaces(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{"List_80x24", 80, 24, []string{"6"}},
		{"List_120x40", 120, 40, []string{"6"}},
		{"SortName_80x24", 80, 24, []string{"6", "o", "o", "o", "o", "o", "o", "o"}},
		{"FilterVeth_120x40", 120, 40, []string{"6", "/", "v", "e", "t", "h", "enter"}},
		{"Detail_80x24", 80, 24, []string{"6", "enter"}},
		{"Detail_120x40", 120, 40, []string{"6", "enter"}},
		{"DetailScrolled_80x24", 80, 24, []string{"6", "enter", "pgdown"}},
		{"DetailBack_80x24", 80, 24, []string{"6", "down", "enter", "esc"}},
		{"Help_120x40", 120, 40, []string{"6", "?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, opts := ifaceApp(t, 12)
			runGoldenApp(t, app, opts, tt.w, tt.h, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestIfacesHistory: each interface's sparkline history follows its
// total bit rate, has no sample for a refresh without a rate (first
// sight), forgets an interface that left, and is bounded.
func TestIfacesHistory(t *testing.T) {
	c := Common{Styles: NewStyles(colorprofile.ASCII), Keys: DefaultKeyMap()}
	p := newIfacesPage(c, DefaultInterfacesDeps, GlyphsASCII)
	p.SetSize(120, 30)
	for i := range ifHistLen + 5 {
		ifs := []model.Interface{{Index: 2, Name: "eth0", Rate: model.InterfaceRate{Known: i > 0, RxBitsPerSec: float64(i), TxBitsPerSec: 1}}}
		if i < 3 {
			ifs = append(ifs, model.Interface{Index: 3, Name: "gone0", Rate: model.InterfaceRate{Known: true, RxBitsPerSec: 5}})
		}
		p.SetSnapshot(model.Snapshot{Seq: uint64(i + 1), Interfaces: ifs})
		p.Sync()
	}
	h := p.hist["eth0"]
	if len(h) != ifHistLen || h[0] != 6 || h[len(h)-1] != ifHistLen+5 {
		t.Errorf("eth0 history: %d samples, %d .. %d; want %d, 6 .. %d", len(h), h[0], h[len(h)-1], ifHistLen, ifHistLen+5)
	}
	if _, ok := p.hist["gone0"]; ok {
		t.Error("gone0 left and is still remembered")
	}
	// Another namespace's eth0 starts a history of its own.
	p.SetSnapshot(model.Snapshot{Seq: 1000, NetNS: &model.NetNS{Inode: 4026532000}, Interfaces: []model.Interface{
		{Index: 2, Name: "eth0", Rate: model.InterfaceRate{Known: true, RxBitsPerSec: 7}}}})
	if h := p.hist["eth0"]; len(h) != 1 || h[0] != 7 {
		t.Errorf("eth0 of another namespace: history %v, want [7]", h)
	}
}

// TestIfacesRows: the cells of the fixture's rows, the default sort
// (busiest first, those without a rate last), the filter, and the row
// highlighted when its drops grew.
func TestIfacesRows(t *testing.T) {
	a := newTestApp(t, ifaceStore(0), Options{}, 120, 40)
	send(a, "6")
	p := a.pages[a.active].(*ifacesPage)
	var names []string
	for _, i := range p.idx {
		names = append(names, p.snap.Interfaces[i].Name)
	}
	want := []string{"eth0", "eth0.100", "lo", "br0", "veth1a", "eth1", "veth7f3c9a2b41e", "tun0"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("order (-want +got)\n%s", diff)
	}
	eth0 := p.idx[0]
	var cells []string
	for c := ifName; c <= ifTxDrop; c++ {
		if c != ifSpark {
			cells = append(cells, p.cell(eth0, c))
		}
	}
	wantCells := []string{"eth0", "device", "up", "1500", "10.20.0.5/24 +1", "", "mq", "900.0M", "12.5M", "81.0k", "21.0k", "3", "1500", "", "2"}
	if diff := cmp.Diff(wantCells, cells); diff != "" {
		t.Errorf("eth0 cells (-want +got)\n%s", diff)
	}
	for name, state := range map[string]string{"eth1": "down", "veth7f3c9a2b41e": "no-link", "lo": "up", "tun0": "up"} {
		for i := range p.snap.Interfaces {
			if p.snap.Interfaces[i].Name == name {
				if got := p.cell(i, ifState); got != state {
					t.Errorf("%s state %q, want %q", name, got, state)
				}
			}
		}
	}
	send(a, "/", "1", "7", "2", ".", "1", "7", "enter")
	if len(p.idx) != 1 || p.snap.Interfaces[p.idx[0]].Name != "br0" {
		t.Errorf("filter by address: %v", p.idx)
	}
	// eth0's drops grow in the next table: its row is hot.
	a.store.Publish(model.InterfacesUpdate{At: t0.Add(2 * time.Second), Interfaces: ifaceFixture(1)})
	a.apply()
	send(a, "esc")
	p.Sync()
	if p.rowKind(0) != rowHot || !p.moved["eth0"] || p.moved["lo"] {
		t.Errorf("moved: %v", p.moved)
	}
}

// TestIfacesDetail: the full view says what ip, ethtool -S, tc -s and
// the interface's sysctls say, and only its own sysctls.
func TestIfacesDetail(t *testing.T) {
	ifs := ifaceFixture(0)
	lines := ifaceDetail(&ifs[1], append(fixtureSysctls(), model.Sysctl{Name: "net.ipv4.conf.eth0.rp_filter", Value: "1"},
		model.Sysctl{Name: "net.ipv4.conf.eth00.rp_filter", Value: "9"},
		// Both families have accept_redirects: each is named by its own.
		model.Sysctl{Name: "net.ipv4.conf.eth0.accept_redirects", Value: "1"},
		model.Sysctl{Name: "net.ipv6.conf.eth0.accept_redirects", Value: "0"}), 100)
	// Columns pad with spaces: compare words.
	text := strings.Join(strings.Fields(strings.Join(lines, "\n")), " ")
	for _, want := range []string{
		"eth0 index 2 device up (admin up, carrier yes, operstate up)",
		"rx_missed_errors 1497", "rx_dropped", "rx_otherhost_dropped",
		"-- driver statistics (ethtool -S eth0) --", "rx_queue_0_drops 750",
		"qdisc fq_codel 0: parent :1", "Sent 1500000000 bytes 3500000 pkt (dropped 2, overlimits 0 requeues 1)", "backlog 0b 0p requeues 1",
		"class mq :1 root", "ipv4.rp_filter 1", "ipv4.forwarding 0",
		"ipv4.accept_redirects 1", "ipv6.accept_redirects 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("detail lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "eth00") {
		t.Errorf("another interface's sysctl in the detail:\n%s", text)
	}
	for i, l := range lines {
		if width(l) > 100 {
			t.Errorf("line %d is %d wide", i, width(l))
		}
	}
}

// TestIfacesTinyApp: the App on the Interfaces tab, with an interface
// open, survives terminals far below the minimum and a resize back.
func TestIfacesTinyApp(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {20, 5}, {79, 23}} {
		a := newTestApp(t, ifaceStore(0), Options{}, 80, 24)
		send(a, "6", "enter")
		a.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		send(a, "pgdown", "down")
		_ = screen(a)
		a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		if s := screen(a); !strings.Contains(s, "[interface] eth0") {
			t.Errorf("%dx%d then 80x24: the open interface is not shown:\n%s", sz[0], sz[1], s)
		}
	}
}

// TestIfacesTinyTerminal: the tab draws at any size, the list and the
// full view, without panicking, in exactly its height.
func TestIfacesTinyTerminal(t *testing.T) {
	c := Common{Styles: NewStyles(colorprofile.ASCII), Keys: DefaultKeyMap()}
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {5, 2}, {20, 3}, {40, 6}, {79, 23}, {80, 24}, {300, 100}} {
		for _, open := range []bool{false, true} {
			t.Run(strconv.Itoa(sz[0])+"x"+strconv.Itoa(sz[1]), func(t *testing.T) {
				p := newIfacesPage(c, DefaultInterfacesDeps, GlyphsUnicode)
				p.SetSize(sz[0], sz[1])
				p.SetSnapshot(model.Snapshot{Seq: 1, Interfaces: ifaceFixture(1)})
				p.Sync()
				if open {
					p.Update(press("enter"))
					p.Update(press("end"))
				}
				v := p.View()
				// Below 3 lines (the App draws no page under
				// MinWidth x MinHeight) it only must not panic.
				if n := strings.Count(v, "\n") + 1; sz[1] >= 3 && n != sz[1] {
					t.Errorf("open %v: %d lines, want %d", open, n, sz[1])
				}
			})
		}
	}
}
