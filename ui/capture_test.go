package ui

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// fakeCapture is a CaptureControl with canned packets that records
// the files it was asked to write. Safe for concurrent use.
type fakeCapture struct {
	mu     sync.Mutex
	writes []string
	flows  []*model.CaptureFlowKey
	err    error
}

func (f *fakeCapture) FlowPackets(flow model.CaptureFlowKey, n int) []model.CapturedPacket {
	return capturedPackets()[:min(n, 3)]
}

func (f *fakeCapture) WritePcapng(path string, flow *model.CaptureFlowKey) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, path)
	f.flows = append(f.flows, flow)
	if f.err != nil {
		return 0, f.err
	}
	if flow != nil {
		return 3, nil
	}
	return 1000, nil
}

func capturedPackets() []model.CapturedPacket {
	pk := func(ms int, flags, summary string, n int) model.CapturedPacket {
		return model.CapturedPacket{At: t0.Add(time.Duration(ms) * time.Millisecond), Length: n, CaptureLength: n, Summary: summary,
			Layers: []model.PacketLayer{
				{Name: "Ethernet", Fields: []model.LayerField{{Name: "src", Value: "52:54:00:12:34:56"}, {Name: "dst", Value: "52:54:00:65:43:21"}, {Name: "type", Value: "IPv4"}}},
				{Name: "IPv4", Fields: []model.LayerField{{Name: "src", Value: "10.20.0.5"}, {Name: "dst", Value: "10.20.0.9"}, {Name: "ttl", Value: "64"}, {Name: "id", Value: "4711"}, {Name: "len", Value: itoa(n - 14)}}},
				{Name: "TCP", Fields: []model.LayerField{{Name: "sport", Value: "38800"}, {Name: "dport", Value: "6379"}, {Name: "flags", Value: flags}, {Name: "seq", Value: "1000"}, {Name: "win", Value: "64240"}}},
			}}
	}
	return []model.CapturedPacket{
		pk(1, "S", "TCP 10.20.0.5:38800 > 10.20.0.9:6379 [S] len 0", 74),
		pk(2, "SA", "TCP 10.20.0.9:6379 > 10.20.0.5:38800 [S.] len 0", 74),
		pk(3, "A", "TCP 10.20.0.5:38800 > 10.20.0.9:6379 [.] len 0", 66),
	}
}

// captureStore is fixtureStore with a live capture's statistics.
func captureStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "capture", State: model.StateOK, Source: "AF_PACKET TPACKET_V3 on eth0", Interval: time.Second}})
	ap := netip.MustParseAddrPort
	s.Publish(model.CaptureUpdate{Stats: model.CaptureStats{
		At: t0.Add(9 * time.Second), Source: "live", Interface: "eth0", Filter: "not port 22", Running: true, Started: t0,
		Packets: 1234567, Bytes: 987654321, PacketsPerSec: 15230, BitsPerSec: 98.7e6,
		RingDrops: 12, DecodeErrors: 3, Truncated: 0, CPUSeconds: 1.8, CPUPercent: 4.2, StorePackets: 1000,
		Protocols: []model.CaptureProto{
			{Name: "eth", Packets: 1234567, PacketsPerSec: 15230}, {Name: "vlan"}, {Name: "arp", Packets: 12, PacketsPerSec: 0.5},
			{Name: "ipv4", Packets: 1200000, PacketsPerSec: 15000}, {Name: "ipv6", Packets: 34555, PacketsPerSec: 229.5},
			{Name: "tcp", Packets: 1100000, PacketsPerSec: 14000}, {Name: "udp", Packets: 134567, PacketsPerSec: 1230},
			{Name: "dns", Packets: 2000, PacketsPerSec: 20},
		},
		TopFlows: []model.CaptureFlow{
			{Key: model.CaptureFlowKey{Proto: model.ProtoTCP, A: ap("10.20.0.5:38800"), B: ap("10.20.0.9:6379")}, PacketsAToB: 400000, BytesAToB: 500000000, PacketsBToA: 300000, BytesBToA: 20000000, PacketsPerSec: 9000, BitsPerSec: 80e6, FirstSeen: t0, LastSeen: t0.Add(9 * time.Second)},
			{Key: model.CaptureFlowKey{Proto: model.ProtoTCP, A: ap("10.20.0.5:443"), B: ap("203.0.113.10:40000")}, PacketsAToB: 200000, BytesAToB: 300000000, PacketsBToA: 100000, BytesBToA: 6000000, PacketsPerSec: 5000, BitsPerSec: 17e6, FirstSeen: t0, LastSeen: t0.Add(9 * time.Second)},
			{Key: model.CaptureFlowKey{Proto: model.ProtoUDP, A: ap("10.20.0.5:41000"), B: ap("10.20.0.53:53")}, PacketsAToB: 1000, BytesAToB: 80000, PacketsBToA: 1000, BytesBToA: 160000, FirstSeen: t0, LastSeen: t0.Add(5 * time.Second)},
			{Key: model.CaptureFlowKey{Proto: model.ProtoICMPv6, A: ap("[2001:db8:10::5]:0"), B: ap("[2001:db8:10::1]:0")}, PacketsAToB: 10, BytesAToB: 1040, PacketsBToA: 10, BytesBToA: 1040, FirstSeen: t0, LastSeen: t0.Add(8 * time.Second)},
		},
		FlowsTracked: 4, HostsTracked: 3,
		TopHosts: []model.CaptureHost{
			{Addr: netip.MustParseAddr("10.20.0.5"), PacketsSent: 601010, BytesSent: 800081040, PacketsRecv: 401010, BytesRecv: 26161040, BitsPerSec: 97e6, PacketsPerSec: 14000},
			{Addr: netip.MustParseAddr("10.20.0.9"), PacketsSent: 300000, BytesSent: 20000000, PacketsRecv: 400000, BytesRecv: 500000000, BitsPerSec: 80e6, PacketsPerSec: 9000},
			{Addr: netip.MustParseAddr("203.0.113.10"), PacketsSent: 100000, BytesSent: 6000000, PacketsRecv: 200000, BytesRecv: 300000000, BitsPerSec: 17e6, PacketsPerSec: 5000},
		},
	}})
	return s
}

func TestGoldenCapture(t *testing.T) {
	pkts := packetsMsg{flow: model.CaptureFlowKey{Proto: model.ProtoTCP, A: netip.MustParseAddrPort("10.20.0.5:38800"), B: netip.MustParseAddrPort("10.20.0.9:6379")}, pkts: capturedPackets()}
	tests := []struct {
		name  string
		store func() *model.Store
		w, h  int
		msgs  []tea.Msg
	}{
		{"Off_80x24", fixtureStore, 80, 24, keys("5")},
		{"Off_120x40", fixtureStore, 120, 40, keys("5")},
		{"NoPermission", func() *model.Store {
			s := fixtureStore()
			s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "capture", State: model.StateNoPermission, Reason: "capture: AF_PACKET needs CAP_NET_RAW: permission denied"}})
			return s
		}, 80, 24, keys("5")},
		{"Flows_80x24", func() *model.Store { return captureStore() }, 80, 24, keys("5")},
		{"Flows_120x40", func() *model.Store { return captureStore() }, 120, 40, keys("5")},
		{"Hosts_80x24", func() *model.Store { return captureStore() }, 80, 24, keys("5", "v")},
		{"Help", func() *model.Store { return captureStore() }, 120, 40, keys("5", "?")},
		{"Packets_120x40", func() *model.Store { return captureStore() }, 120, 40, append(keys("5", "enter"), pkts)},
		{"Written", func() *model.Store { return captureStore() }, 80, 24,
			append(keys("5"), pcapngMsg{path: "/tmp/netlens-web-1-20261121T050010Z.pcapng", n: 1000})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := goldenOpts()
			opts.Controls.Capture = &fakeCapture{}
			runGoldenOpts(t, tt.store(), opts, tt.w, tt.h, colorprofile.ANSI256, tt.msgs...)
		})
	}
}

// TestGoldenCaptureProfiles renders the capture without colours and in
// 16 colours.
func TestGoldenCaptureProfiles(t *testing.T) {
	for _, p := range []struct {
		name    string
		profile colorprofile.Profile
	}{{"NoColor", colorprofile.ASCII}, {"ANSI16", colorprofile.ANSI}} {
		t.Run(p.name, func(t *testing.T) {
			opts := goldenOpts()
			opts.Controls.Capture = &fakeCapture{}
			runGoldenOpts(t, captureStore(), opts, 80, 24, p.profile, keys("5", "down")...)
		})
	}
}

func TestCaptureWrite(t *testing.T) {
	tests := []struct {
		name     string
		keys     []string
		wantFlow bool
		want     string
	}{
		{"all stored packets", []string{"w"}, false, "wrote /var/tmp/cap/netlens-web-1-20261121T050010Z.pcapng: 1000 packets, the last captured packets"},
		{"the open flow's", []string{"enter", "w"}, true, "wrote /var/tmp/cap/netlens-web-1-20261121T050010Z.pcapng: 3 packets, the packets of tcp 10.20.0.5:38800"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := &fakeCapture{}
			a := newTestApp(t, captureStore(), Options{Controls: Controls{Capture: fc}, CaptureDir: "/var/tmp/cap/"}, 120, 40)
			runKeys(t, a, "5")
			runKeys(t, a, tt.keys...)
			if diff := cmp.Diff([]string{"/var/tmp/cap/netlens-web-1-20261121T050010Z.pcapng"}, fc.writes); diff != "" {
				t.Fatalf("writes (-want +got):\n%s", diff)
			}
			if got := fc.flows[0] != nil; got != tt.wantFlow {
				t.Fatalf("flow given = %v, want %v", got, tt.wantFlow)
			}
			if scr := screen(a); !strings.Contains(scr, tt.want) {
				t.Fatalf("screen lacks %q:\n%s", tt.want, scr)
			}
		})
	}
}

func TestCaptureWriteError(t *testing.T) {
	fc := &fakeCapture{err: errors.New("rename /x/y.pcapng: read-only file system")}
	a := newTestApp(t, captureStore(), Options{Controls: Controls{Capture: fc}}, 80, 24)
	runKeys(t, a, "5", "w")
	if scr := screen(a); !strings.Contains(scr, "pcapng write failed: rename") {
		t.Fatalf("error not shown:\n%s", scr)
	}
}

func TestCapturePackets(t *testing.T) {
	a := newTestApp(t, captureStore(), Options{Controls: Controls{Capture: &fakeCapture{}}}, 120, 40)
	runKeys(t, a, "5", "enter")
	scr := screen(a)
	for _, s := range []string{"tcp 10.20.0.5:38800 <-> 10.20.0.9:6379: last packets", "[S.] len 0", "packet 3 of 3", "Ethernet", "IPv4", "flags=A"} {
		if !strings.Contains(scr, s) {
			t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
	runKeys(t, a, "up")
	if scr := screen(a); !strings.Contains(scr, "packet 2 of 3") || !strings.Contains(scr, "flags=SA") {
		t.Errorf("up did not select the packet before:\n%s", scr)
	}
	// q closes the packets view, not the program; tabs do not switch.
	runKeys(t, a, "1", "q")
	if a.active != 4 || strings.Contains(screen(a), "last packets") {
		t.Fatalf("q did not close the packets view:\n%s", screen(a))
	}
}

func TestCaptureOff(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	runKeys(t, a, "5", "w")
	scr := screen(a)
	for _, s := range []string{"Capture is off", "--capture IFACE", "--pcap FILE"} {
		if !strings.Contains(scr, s) {
			t.Errorf("screen lacks %q:\n%s", s, scr)
		}
	}
}

// TestCaptureStoppedRates: once the capture stopped, its last interval's
// rates are not shown as the traffic now (they stayed, frozen, next to
// "stopped"): the header has totals, the protocols their packet counts,
// the flows' and hosts' rate cells "-".
func TestCaptureStoppedRates(t *testing.T) {
	s := captureStore()
	snap := s.Snapshot()
	cs := snap.Capture
	cs.Running = false
	s.Publish(model.CaptureUpdate{Stats: cs})
	a := newTestApp(t, s, Options{}, 120, 40)
	send(a, "5")
	scr := screen(a)
	for _, want := range []string{"stopped  total 1235k pkts", "packets by proto: eth 1234567"} {
		if !strings.Contains(scr, want) {
			t.Errorf("stopped capture lacks %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, "pkt/s  ") || strings.Contains(scr, "15230") {
		t.Errorf("stopped capture shows a rate:\n%s", scr)
	}
	for _, v := range []string{"", "v"} {
		if v != "" {
			send(a, v)
		}
		n := 0
		for _, r := range strings.Split(screen(a), "\n") {
			f := strings.Fields(r)
			if len(f) < 3 || f[1] == "Connections" || !strings.ContainsAny(f[0][:1], "0123456789") && f[0] != "tcp" && f[0] != "udp" && f[0] != "icmpv6" {
				continue // not a flow or host row
			}
			n++
			if f[len(f)-1] != "-" || f[len(f)-2] != "-" {
				t.Errorf("rates of a stopped capture: %q", r)
			}
		}
		if n < 3 {
			t.Errorf("view %q: %d rows:\n%s", v, n, screen(a))
		}
	}
}
