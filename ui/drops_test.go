package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/model/drops"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		name string
		hist []uint64
		w    int
		want string
	}{
		{"no samples", nil, 5, "     "},
		{"all zero", []uint64{0, 0, 0}, 3, "   "},
		{"fewer samples than cells, newest right", []uint64{1, 2}, 4, "  =@"},
		{"linear ramp", []uint64{1, 2, 3, 4, 5, 6, 7, 8}, 8, ".:-=+*#@"},
		{"one drop among zeros shows", []uint64{0, 1, 0, 0}, 4, " @  "},
		{"small beside a spike still shows", []uint64{1, 1000, 0}, 3, ".@ "},
		{"only the last w samples, scaled to them", []uint64{1000, 1, 2}, 2, "=@"},
		{"huge counts do not overflow", []uint64{1 << 63, 1<<64 - 1}, 2, "=@"},
		{"zero width", []uint64{1}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sparkString(tt.hist, tt.w, GlyphsASCII)); diff != "" {
				t.Errorf("ASCII (-want +got):\n%s", diff)
			}
			// The Unicode line is the same levels in block elements.
			uni := sparkString(tt.hist, tt.w, GlyphsUnicode)
			var want strings.Builder
			for _, r := range tt.want {
				switch i := strings.IndexRune(".:-=+*#@", r); {
				case r == ' ':
					want.WriteByte(' ')
				default:
					want.WriteString(sparkUnicode[i])
				}
			}
			if diff := cmp.Diff(want.String(), uni); diff != "" {
				t.Errorf("Unicode (-want +got):\n%s", diff)
			}
			if got := width(uni); got != tt.w {
				t.Errorf("Unicode line is %d cells, want %d", got, tt.w)
			}
		})
	}
}

func TestDetectGlyphs(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want Glyphs
	}{
		{"xterm in a UTF-8 locale", []string{"TERM=xterm-256color", "LANG=C.UTF-8"}, GlyphsUnicode},
		{"NO_COLOR keeps the glyphs", []string{"TERM=xterm-256color", "LANG=en_US.UTF-8", "NO_COLOR=1"}, GlyphsUnicode},
		{"utf8 spelling", []string{"TERM=tmux-256color", "LC_CTYPE=en_US.utf8"}, GlyphsUnicode},
		{"Linux console", []string{"TERM=linux", "LANG=C.UTF-8"}, GlyphsASCII},
		{"vt100", []string{"TERM=vt100", "LANG=C.UTF-8"}, GlyphsASCII},
		{"vt220 variant", []string{"TERM=vt220-am", "LANG=C.UTF-8"}, GlyphsASCII},
		{"dumb", []string{"TERM=dumb", "LANG=C.UTF-8"}, GlyphsASCII},
		{"no TERM", []string{"LANG=C.UTF-8"}, GlyphsASCII},
		{"C locale", []string{"TERM=xterm", "LANG=C"}, GlyphsASCII},
		{"no locale", []string{"TERM=xterm"}, GlyphsASCII},
		{"LC_ALL wins over LANG", []string{"TERM=xterm", "LANG=C.UTF-8", "LC_ALL=POSIX"}, GlyphsASCII},
		{"empty LC_ALL is unset", []string{"TERM=xterm", "LC_ALL=", "LANG=C.UTF-8"}, GlyphsUnicode},
		{"Japanese: ambiguous width", []string{"TERM=xterm-256color", "LANG=ja_JP.UTF-8"}, GlyphsASCII},
		{"Korean", []string{"TERM=xterm-256color", "LC_CTYPE=ko_KR.utf8"}, GlyphsASCII},
		{"German", []string{"TERM=xterm-256color", "LANG=de_DE.UTF-8"}, GlyphsUnicode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectGlyphs(tt.env); got != tt.want {
				t.Errorf("DetectGlyphs(%q) = %d, want %d", tt.env, got, tt.want)
			}
		})
	}
}

func TestMovedRecently(t *testing.T) {
	now := t0.Add(time.Minute)
	tests := []struct {
		name string
		c    model.Counter
		want bool
	}{
		{"never moved", model.Counter{RawCounter: model.RawCounter{Kind: model.KindCounter}}, false},
		{"moved in the last interval", model.Counter{RawCounter: model.RawCounter{Kind: model.KindCounter}, Delta: 1, LastChange: now}, true},
		{"moved 9s ago", model.Counter{RawCounter: model.RawCounter{Kind: model.KindCounter}, LastChange: now.Add(-9 * time.Second)}, true},
		{"moved 10s ago", model.Counter{RawCounter: model.RawCounter{Kind: model.KindCounter}, LastChange: now.Add(-10 * time.Second)}, false},
		{"gauge changed 3s ago", model.Counter{RawCounter: model.RawCounter{Kind: model.KindGauge, Value: 4}, LastChange: now.Add(-3 * time.Second)}, true},
		{"gauge unchanged for a minute", model.Counter{RawCounter: model.RawCounter{Kind: model.KindGauge, Value: 4}, LastChange: t0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := movedRecently(&tt.c, now, recentWindow); got != tt.want {
				t.Errorf("movedRecently = %v, want %v", got, tt.want)
			}
		})
	}
}

// dropsRow finds the funnel row of the counter named name on screen.
func dropsRow(t *testing.T, p *dropsPage, name string) int {
	t.Helper()
	for pos, i := range p.idx {
		if p.fc[i].Name == name {
			return pos
		}
	}
	t.Fatalf("%s not in the funnel's rows", name)
	return -1
}

// TestDropsHighlight checks that a counter stays highlighted for
// recentWindow of sample time after it moved, and not after: the clock
// is the snapshot's, which the test drives.
func TestDropsHighlight(t *testing.T) {
	s := fixtureStore()
	a := newTestApp(t, s, Options{}, 120, 40)
	send(a, "2")
	p := a.pages[1].(*dropsPage)
	row := dropsRow(t, p, "InNoRoutes") // moved at t0+1s
	if p.rowKind(row) != rowHot {
		t.Fatalf("InNoRoutes moved in the last interval: not highlighted")
	}
	// Samples where nothing moves: still hot 9s later, plain at 10s.
	for sec := 2; sec <= 12; sec++ {
		cs := fixtureCounters(1)
		s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(sec) * time.Second), Counters: cs})
		a.apply()
		row = dropsRow(t, p, "InNoRoutes")
		want := rowHot
		if sec-1 >= int(recentWindow/time.Second) {
			want = rowPlain
		}
		if got := p.rowKind(row); got != want {
			t.Errorf("%ds after it moved: row kind %d, want %d", sec-1, got, want)
		}
	}
}

func TestDropsMovedAllToggle(t *testing.T) {
	a := newTestApp(t, funnelStore(), Options{}, 120, 40)
	send(a, "2")
	p := a.pages[1].(*dropsPage)
	names := func() []string {
		var out []string
		for _, i := range p.idx {
			out = append(out, p.fc[i].Name)
		}
		return out
	}
	moved := []string{"rx_dropped", "time_squeeze", "drops", "backlog", "InNoRoutes", "NETFILTER_DROP", "ListenOverflows", "RcvbufErrors", "SOCKET_RCVBUFF"}
	if diff := cmp.Diff(moved, names()); diff != "" {
		t.Fatalf("moved counters in packet order (-want +got):\n%s", diff)
	}
	send(a, "a")
	all := []string{"rx_missed_errors", "rx_dropped", "dropped", "time_squeeze", "drops", "backlog", "InNoRoutes", "NETFILTER_DROP", "ListenOverflows", "NoPorts", "RcvbufErrors", "SOCKET_RCVBUFF"}
	if diff := cmp.Diff(all, names()); diff != "" {
		t.Fatalf("all counters in packet order (-want +got):\n%s", diff)
	}
	if !strings.Contains(screen(a), "12 counters (9 moved since start)") {
		t.Errorf("summary:\n%s", screen(a))
	}
	send(a, "a")
	if diff := cmp.Diff(moved, names()); diff != "" {
		t.Fatalf("a again (-want +got):\n%s", diff)
	}
}

func TestExplainLines(t *testing.T) {
	sysctls := append(fixtureSysctls(), model.Sysctl{Name: "net.ipv4.conf.eth0.rp_filter", Value: "1"})
	find := func(key model.CounterKey, layer model.Layer, inst string) drops.FunnelCounter {
		e, ok := drops.Lookup(key)
		if !ok {
			t.Fatalf("no knowledge of %v", key)
		}
		c := model.Counter{RawCounter: model.RawCounter{Layer: layer, Source: key.Source, Group: key.Group, Instance: inst, Name: key.Name, Kind: model.KindCounter, Value: 9005},
			Delta: 5, Total: 5, Rate: 5, LastChange: t0.Add(time.Second)}
		return drops.FunnelCounter{Counter: c, Entry: &e}
	}
	tests := []struct {
		name      string
		fc        drops.FunnelCounter
		want, not []string
	}{
		{"RcvbufErrors: rmem with current values and the trap",
			find(model.CounterKey{Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors"}, model.LayerTransport, ""),
			[]string{"Udp RcvbufErrors: UDP datagrams dropped", "+5 last interval (5.00/s)  +5 since start",
				"Setting: net.core.rmem_default = 212992", "Setting: net.core.rmem_max = 212992", "Setting: setsockopt SO_RCVBUF",
				"What increments it: ", "Usual causes: ", "Trap: Also counted in InErrors."}, nil},
		{"ListenOverflows: somaxconn",
			find(model.CounterKey{Source: "/proc/net/netstat", Group: "TcpExt", Name: "ListenOverflows"}, model.LayerTransport, ""),
			[]string{"Setting: net.core.somaxconn = 4096", "Setting: net.ipv4.tcp_abort_on_overflow (not read)"}, nil},
		{"time_squeeze: budget, and usecs not in the snapshot",
			find(model.CounterKey{Source: "/proc/net/softnet_stat", Name: "time_squeeze"}, model.LayerSoftnet, "cpu1"),
			[]string{"time_squeeze (cpu1): ", "Setting: net.core.netdev_budget = 300", "Setting: net.core.netdev_budget_usecs (not read)"}, nil},
		{"rx_dropped: the plain trap",
			find(model.CounterKey{Source: "/sys/class/net", Group: "statistics", Name: "rx_dropped"}, model.LayerNIC, "eth0"),
			[]string{"rx_dropped (eth0): ", "Setting: net.ipv6.conf.all.disable_ipv6 = 0", "Trap: "}, []string{"statistics"}},
		{"rx_missed_errors: DEV is the interface",
			find(model.CounterKey{Source: "/sys/class/net", Group: "statistics", Name: "rx_missed_errors"}, model.LayerNIC, "eth0"),
			[]string{"Setting: ethtool -G eth0 rx N"}, []string{" DEV "}},
		{"IPReversePathFilter: the interface's own sysctl",
			find(model.CounterKey{Source: "/proc/net/netstat", Group: "TcpExt", Name: "IPReversePathFilter"}, model.LayerIP, ""),
			[]string{"Setting: net.ipv4.conf.all.rp_filter = 2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := explainLines(&tt.fc, sysctls, 200)
			text := strings.Join(lines, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("explanation lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(text, w) {
					t.Errorf("explanation has %q:\n%s", w, text)
				}
			}
			for _, l := range explainLines(&tt.fc, sysctls, 80) {
				if width(l) > 80 {
					t.Errorf("line wider than 80: %q", l)
				}
			}
		})
	}
}

// TestDropsExplainFollowsSelection checks that enter explains the
// selected counter, with the sysctls' values of the snapshot on screen.
func TestDropsExplainFollowsSelection(t *testing.T) {
	s := funnelStore()
	a := newTestApp(t, s, Options{}, 120, 40)
	send(a, "2", "end", "up", "enter")
	if scr := screen(a); !strings.Contains(scr, "net.core.rmem_max = 212992") {
		t.Fatalf("no rmem_max in the explanation:\n%s", scr)
	}
	sc := fixtureSysctls()
	for i := range sc {
		if sc[i].Name == "net.core.rmem_max" {
			sc[i].Value = "8388608"
		}
	}
	s.Publish(model.SysctlsUpdate{At: t0.Add(time.Minute), Sysctls: sc})
	a.apply()
	if scr := screen(a); !strings.Contains(scr, "net.core.rmem_max = 8388608") {
		t.Fatalf("the explanation does not follow the sysctl:\n%s", scr)
	}
	send(a, "up")
	if scr := screen(a); !strings.Contains(scr, "ListenOverflows: ") || !strings.Contains(scr, "net.core.somaxconn = 4096") {
		t.Fatalf("the explanation does not follow the selection:\n%s", scr)
	}
	send(a, "enter")
	if strings.Contains(screen(a), "somaxconn") {
		t.Fatalf("enter again did not close the explanation")
	}
}

func TestDropsViews(t *testing.T) {
	a := newTestApp(t, funnelStore(), Options{}, 80, 24)
	send(a, "2", "v")
	p := a.pages[1].(*dropsPage)
	if p.view != viewReasons || len(p.rs.idx) != 3 {
		t.Fatalf("reasons view: view %d, %d rows", p.view, len(p.rs.idx))
	}
	if got := p.rs.snap.DropMonitor.Drops[p.rs.idx[0]].Reason; got != "SOCKET_RCVBUFF" {
		t.Errorf("first reason by delta: %s", got)
	}
	// The filter is the tab's, in every view.
	send(a, "/", "n", "f", "_", "enter")
	if len(p.rs.idx) != 1 {
		t.Errorf("filtered reasons: %d rows", len(p.rs.idx))
	}
	send(a, "esc", "v")
	if p.view != viewDropSockets {
		t.Fatalf("v twice: view %d", p.view)
	}
	var got []uint64
	for _, i := range p.ss.idx {
		got = append(got, p.ss.top[i].Drops)
	}
	if diff := cmp.Diff([]uint64{1234, 77, 3}, got); diff != "" {
		t.Errorf("top sockets (-want +got):\n%s", diff)
	}
	send(a, "v")
	if p.view != viewFunnel || !strings.Contains(screen(a), "counters moved since start") {
		t.Fatalf("v thrice: view %d\n%s", p.view, screen(a))
	}
}

func TestDropsReasonsAbsent(t *testing.T) {
	a := newTestApp(t, noDropmonStore(), Options{Deps: Deps{Drops: []string{"counters", model.CollectorDropMon}}}, 80, 24)
	send(a, "2")
	scr := screen(a)
	if !strings.Contains(scr, "no drop reasons: kernel has no drop monitor") || strings.Contains(scr, "! dropmon") {
		t.Fatalf("funnel note:\n%s", scr)
	}
	send(a, "v")
	if scr := screen(a); !strings.Contains(scr, "[reasons] no drop reasons here: kernel has no drop monitor") {
		t.Fatalf("reasons view:\n%s", scr)
	}
}

// TestDropsReasonsClick selects a reason with the mouse under the
// netfilter section and the undercount warning.
func TestDropsReasonsClick(t *testing.T) {
	a := newTestApp(t, funnelStore(), Options{}, 80, 24)
	send(a, "2", "v")
	p := a.pages[1].(*dropsPage)
	_ = screen(a) // what the user clicks on
	// Page lines: 0-2 netfilter, 3 summary, 4 warning, 5 header, 6 the
	// first row; the page starts at screen line 3.
	a.Update(teaClick(10, 3+6+2))
	if c := p.rs.tbl.Cursor(); c != 2 {
		t.Fatalf("click on the third reason: cursor %d", c)
	}
}

// FuzzSparkline checks that any history draws exactly w cells of the
// levels, in both glyph sets, and that the largest sample is the top
// level.
func FuzzSparkline(f *testing.F) {
	f.Add([]byte{0, 1, 2, 255}, uint8(10))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, w8 uint8) {
		w := int(w8 % 100)
		var hist []uint64
		for i := 0; i+2 <= len(data); i += 2 {
			hist = append(hist, uint64(data[i])<<uint(data[i+1]%64))
		}
		for _, g := range []Glyphs{GlyphsASCII, GlyphsUnicode} {
			s := sparkString(hist, w, g)
			if n := len([]rune(s)); n != w || width(s) != w {
				t.Fatalf("%d runes, %d cells, want %d: %q", n, width(s), w, s)
			}
			shown := hist[max(len(hist)-w, 0):]
			var top uint64
			for _, v := range shown {
				top = max(top, v)
			}
			if top > 0 && w > 0 {
				last := sparkASCII[len(sparkASCII)-1]
				if g == GlyphsUnicode {
					last = sparkUnicode[len(sparkUnicode)-1]
				}
				if !strings.Contains(s, last) {
					t.Fatalf("no top level in %q for %v", s, shown)
				}
			}
		}
	})
}

func TestBlocksWidth(t *testing.T) {
	for _, s := range []string{"", "abc", "\u2581\u2588", "x \u2584y", "\u2580", "\u2589", "é", "\u2581\x1b", "\xe2\x96"} {
		n, ok := blocksWidth(s)
		if ok && n != ansi.StringWidth(s) {
			t.Errorf("blocksWidth(%q) = %d, ansi says %d", s, n, ansi.StringWidth(s))
		}
		want := !strings.ContainsFunc(s, func(r rune) bool { return (r < 0x20 || r >= 0x7f) && (r < 0x2581 || r > 0x2588) })
		if ok != want {
			t.Errorf("blocksWidth(%q) ok = %v, want %v", s, ok, want)
		}
	}
}
