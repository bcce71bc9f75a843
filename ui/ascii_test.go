package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"netlens/model"
)

// assertASCII fails t for every rune of screen at or above 0x80.
func assertASCII(t *testing.T, what, screen string) {
	t.Helper()
	for i, l := range strings.Split(screen, "\n") {
		for _, r := range l {
			if r >= 0x80 {
				t.Errorf("%s: line %d has non-ASCII %q: %q", what, i, r, l)
				break
			}
		}
	}
}

// TestASCIIViews: with the ASCII glyphs (--ascii), the full help (a
// collector's sub-millisecond duration among its collectors), the
// namespace picker and the packet log draw ASCII only.
func TestASCIIViews(t *testing.T) {
	t.Run("Help", func(t *testing.T) {
		store := fixtureStore()
		store.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "sockets", State: model.StateOK, Interval: time.Second,
			Source: "sock_diag", LastDuration: 363 * time.Microsecond}})
		a := newTestApp(t, store, Options{Glyphs: GlyphsASCII}, 120, 200)
		for i, tab := range []string{"1", "2", "3", "4", "5"} {
			send(a, "esc", tab, "?")
			s := screen(a)
			if i == 0 && !strings.Contains(s, "took 363us") {
				t.Errorf("the help does not say the sockets collector took 363us:\n%s", s)
			}
			assertASCII(t, "help of tab "+tab, s)
		}
	})
	t.Run("NetNSPicker", func(t *testing.T) {
		store := fixtureStore()
		ctl := &fakeNetNS{store: store, choices: []NetNSChoice{
			{Inode: 4026531840, Own: true, Host: true, Enterable: true, PID: 1, Command: "/sbin/init", Procs: 120, Sockets: 30},
			{Inode: 4026532300, Name: "blue", Enterable: true, Sockets: 2},
		}}
		for _, w := range []int{80, 160} {
			a := newTestApp(t, store, Options{Glyphs: GlyphsASCII, Controls: Controls{NetNS: ctl}}, w, 24)
			cmd := send(a, "N")
			if cmd == nil {
				t.Fatal("N: no command")
			}
			a.Update(cmd())
			s := screen(a)
			if !strings.Contains(s, "Network namespaces") {
				t.Fatalf("no picker at %d columns:\n%s", w, s)
			}
			assertASCII(t, "picker at "+itoa(w)+" columns", s)
		}
	})
	t.Run("PacketLog", func(t *testing.T) {
		store := rulesStore()
		store.Publish(model.RulesUpdate{State: model.RulesState{Backend: "kmod", At: t0.Add(9 * time.Second), Rules: fixtureRules()}})
		lh := netip.MustParseAddr("127.0.0.1")
		fl := &fakePacketLog{ids: make(chan uint32, 1), pkts: []model.LoggedPacket{{At: t0, RuleID: 1, Hook: model.HookInput,
			Verdict: model.ActionDrop, Family: model.FamilyIPv4, Proto: "udp", Src: lh, Dst: lh, SrcPort: 40000, DstPort: 53, Len: 60, InIface: "lo"}}}
		a := newTestApp(t, store, Options{Glyphs: GlyphsASCII, Controls: Controls{Filters: &fakeFilters{}, PacketLog: fl}}, 160, 40)
		runKeys(t, a, "4", "enter")
		<-fl.ids
		s := screen(a)
		if !strings.Contains(s, "packet log of rule 1") || !strings.Contains(s, "esc back") {
			t.Fatalf("no packet log:\n%s", s)
		}
		assertASCII(t, "packet log", s)
	})
}
