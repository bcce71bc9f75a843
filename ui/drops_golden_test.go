package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"netlens/model"
)

// funnelSteps is how many counter samples funnelStore publishes, a
// second apart.
const funnelSteps = 40

// funnelCounters is sample step of a funnel that moves in patterns a
// sparkline shows: a steady UDP overflow that rises and falls, a burst
// of softnet squeezes, a drop every fifth second, one old move (not
// highlighted), the drop monitor's reasons.
func funnelCounters(step int) []model.RawCounter {
	var rcvbuf, squeeze, rx, noroute, listen, qdrops uint64
	for s := 1; s <= step; s++ {
		rcvbuf += uint64(s%7) * 3
		if s >= 20 && s < 26 {
			squeeze += uint64(10 * (s - 19))
		}
		if s%5 == 0 {
			rx++
		}
		if s == 5 {
			noroute += 4
		}
		if s > 30 {
			listen += 2
		}
		if s%10 == 9 {
			qdrops += 40
		}
	}
	return []model.RawCounter{
		{Layer: model.LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: "eth0", Name: "rx_dropped", Kind: model.KindCounter, Value: 17 + rx},
		{Layer: model.LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: "eth0", Name: "rx_missed_errors", Kind: model.KindCounter, Value: 0},
		{Layer: model.LayerSoftnet, Source: "/proc/net/softnet_stat", Instance: "cpu0", Name: "time_squeeze", Kind: model.KindCounter, Value: 1200 + squeeze},
		{Layer: model.LayerSoftnet, Source: "/proc/net/softnet_stat", Instance: "cpu0", Name: "dropped", Kind: model.KindCounter, Value: 0},
		{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 8001: root", Name: "drops", Kind: model.KindCounter, Value: qdrops},
		{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 8001: root", Name: "backlog", Kind: model.KindGauge, Value: uint64(step%10) * 1500},
		{Layer: model.LayerIP, Source: "/proc/net/netstat", Group: "IpExt", Name: "InNoRoutes", Kind: model.KindCounter, Value: 3 + noroute},
		{Layer: model.LayerTransport, Source: "/proc/net/netstat", Group: "TcpExt", Name: "ListenOverflows", Kind: model.KindCounter, Value: 88 + listen},
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: 9000 + rcvbuf},
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: 321},
	}
}

// dropmonCounters are the drop monitor's per-reason counters at step.
func dropmonCounters(step int) []model.RawCounter {
	return []model.RawCounter{
		{Layer: model.LayerNetfilter, Source: "drop_monitor", Group: "reason", Name: "NETFILTER_DROP", Kind: model.KindCounter, Value: uint64(7 * step)},
		{Layer: model.LayerSocket, Source: "drop_monitor", Group: "reason", Name: "SOCKET_RCVBUFF", Kind: model.KindCounter, Value: uint64(step * step / 4)},
	}
}

// dropMonitor is a drop monitor in packet mode at the end of funnelStore.
func dropMonitor() model.DropMonitor {
	at := t0.Add(funnelSteps * time.Second)
	return model.DropMonitor{At: at, Supported: true, Mode: "packet", Total: 680, Drops: []model.DropReason{
		{Reason: "NETFILTER_DROP", Layer: model.LayerNetfilter, Location: "nf_hook_slow+0x9c", Origin: "sw", Delta: 7, Total: 280, LastSeen: at},
		{Reason: "SOCKET_RCVBUFF", Layer: model.LayerSocket, Location: "sock_queue_rcv_skb_reason+0x1b4", Origin: "sw", Delta: 19, Total: 400, LastSeen: at},
		{Reason: "NO_SOCKET", Layer: model.LayerTransport, Location: "__udp4_lib_rcv+0x8a2", Origin: "sw", Delta: 0, Total: 0, LastSeen: t0.Add(3 * time.Second)},
	}, Lost: 2}
}

// funnelStore is fixtureStore with funnelSteps samples of funnelCounters,
// a drop monitor and more sockets that drop.
func funnelStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorDropMon, State: model.StateOK, Source: "NET_DM packet mode", Interval: time.Second}})
	for step := 0; step <= funnelSteps; step++ {
		at := t0.Add(time.Duration(step) * time.Second)
		s.Publish(model.CountersUpdate{Collector: "counters", At: at, Counters: funnelCounters(step)})
		s.Publish(model.CountersUpdate{Collector: model.CollectorDropMon, At: at, Counters: dropmonCounters(step)})
	}
	socks := fixtureSockets()
	socks[0].Drops, socks[0].HasDrops = 3, true
	socks[11].Drops = 77
	s.Publish(model.SocketsUpdate{At: t0.Add(funnelSteps * time.Second), Sockets: socks})
	s.Publish(model.DropsUpdate{Monitor: dropMonitor()})
	return s
}

// noDropmonStore is funnelStore on a kernel without a drop monitor.
func noDropmonStore() *model.Store {
	s := funnelStore()
	const why = "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorDropMon, State: model.StateNotSupported, Reason: "dropmon: " + why}})
	s.Publish(model.DropsUpdate{Monitor: model.DropMonitor{At: t0.Add(funnelSteps * time.Second), Reason: why}})
	return s
}

// runGoldenGlyphs is runGolden with glyphs g and the drop monitor among
// the Drops tab's collectors.
func runGoldenGlyphs(t *testing.T, store *model.Store, w, h int, p colorprofile.Profile, g Glyphs, msgs ...tea.Msg) {
	t.Helper()
	opts := goldenOpts()
	opts.Glyphs = g
	opts.Deps.Drops = []string{"counters", model.CollectorDropMon, model.CollectorConntrack}
	runGoldenOpts(t, store, opts, w, h, p, msgs...)
}

// blocksToASCII replaces the sparkline block elements with '#'.
func blocksToASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x2581 && r <= 0x2588 {
			return '#'
		}
		return r
	}, s)
}

func TestGoldenDrops(t *testing.T) {
	uni, asc := GlyphsUnicode, GlyphsASCII
	tests := []struct {
		name  string
		store func() *model.Store
		w, h  int
		p     colorprofile.Profile
		g     Glyphs
		msgs  []tea.Msg
	}{
		{"Funnel_80x24", funnelStore, 80, 24, colorprofile.ANSI256, uni, keys("2")},
		{"Funnel_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2")},
		{"FunnelAll_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "a")},
		// NO_COLOR turns colours off, not the glyphs; TERM=linux has 16
		// colours and no block elements.
		{"FunnelNoColor", funnelStore, 80, 24, colorprofile.ASCII, uni, keys("2", "down")},
		{"FunnelLinux", funnelStore, 80, 24, colorprofile.ANSI, asc, keys("2", "down")},
		{"ExplainRcvbuf_80x24", funnelStore, 80, 24, colorprofile.ANSI256, uni, keys("2", "end", "up", "enter")},
		{"ExplainRcvbuf_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "end", "up", "enter")},
		{"ExplainSqueeze_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "down", "enter")},
		{"ExplainGauge_80x24", funnelStore, 80, 24, colorprofile.ANSI256, uni, keys("2", "down", "down", "down", "enter")},
		{"ExplainQdisc_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "down", "down", "enter")},
		{"Reasons_80x24", funnelStore, 80, 24, colorprofile.ANSI256, uni, keys("2", "v")},
		{"Reasons_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "v", "down", "enter")},
		{"ReasonsAbsent_80x24", noDropmonStore, 80, 24, colorprofile.ANSI256, uni, keys("2", "v")},
		{"FunnelNoDropmon_80x24", noDropmonStore, 80, 24, colorprofile.ANSI256, uni, keys("2")},
		{"Sockets_80x24", funnelStore, 80, 24, colorprofile.ANSI256, uni, keys("2", "v", "v")},
		{"SocketsDetails_120x40", funnelStore, 120, 40, colorprofile.ANSI256, uni, keys("2", "v", "v", "enter")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGoldenGlyphs(t, tt.store(), tt.w, tt.h, tt.p, tt.g, tt.msgs...)
		})
	}
}

// TestGoldenDropSource: the header says where drop reasons come from
// and why, for each --drop-source outcome (droptrace.Select's words).
func TestGoldenDropSource(t *testing.T) {
	for _, tt := range []struct{ name, why string }{
		{"EBPFRoot", "eBPF: root (auto)"},
		{"NetDMForced", "NET_DM: --drop-source netdm"},
		{"CountersAuto", "counters: eBPF needs CAP_BPF and CAP_PERFMON (or root); NET_DM absent (CONFIG_NET_DROP_MONITOR) (auto)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := goldenOpts()
			opts.DropSource = tt.why
			runGoldenOpts(t, funnelStore(), opts, 160, 24, colorprofile.ANSI256, keys("2")...)
		})
	}
}
