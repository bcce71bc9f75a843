package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// fakeTCPInfo is a TCPInfoControl that answers from a map by cookie and
// counts its calls.
type fakeTCPInfo struct {
	mu    sync.Mutex
	info  map[uint64]*model.TCPInfo
	calls []uint64
}

func (f *fakeTCPInfo) TCPInfo(_ context.Context, s model.Socket) (*model.TCPInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s.Cookie)
	if ti, ok := f.info[s.Cookie]; ok {
		return ti, nil
	}
	return nil, errors.New("socket gone")
}

// countersOnly is the fixture's socket table as the TUI reads it: full
// TCP sockets without tcp_info (their drops known), rates kept.
func countersOnly() []model.Socket {
	socks := fixtureSockets()
	for i := range socks {
		if socks[i].Proto == model.ProtoTCP {
			socks[i].TCP, socks[i].HasDrops = nil, true
		}
	}
	return socks
}

// lookup runs the Connections tab's tcp_info lookup, if it has one to
// make, and hands the App its answer; it reports whether there was one.
// The App made the command already when the key or the table came (its
// Update asks every page's TickCmd), and send drops commands: that one
// is forgotten here and made again.
func lookup(a *App) bool {
	p := a.pages[0].(*connsPage)
	p.socks.look.busy = false
	cmd := p.TickCmd(a.shown(0))
	if cmd == nil {
		return false
	}
	a.Update(cmd())
	return true
}

// madeLookup hands msg to a and reports whether its Update made a
// tcp_info lookup (the sockets view is busy with one after it); if it
// did, it answers it as lookup does.
func madeLookup(t *testing.T, a *App, msg tea.Msg) bool {
	t.Helper()
	p := a.pages[0].(*connsPage)
	if p.socks.look.busy {
		t.Fatal("a lookup left unanswered")
	}
	a.Update(msg)
	if !p.socks.look.busy {
		return false
	}
	if !lookup(a) {
		t.Fatal("the lookup made is not made again")
	}
	return true
}

// countersOnlyStore returns the fixture store with its socket table read
// counters only, and sshd's established connection (10.20.0.5:22) in it.
func countersOnlyStore() (*model.Store, model.Socket) {
	store := fixtureStore()
	store.Publish(model.SocketsUpdate{At: t0.Add(2 * time.Second), Sockets: countersOnly()})
	var est model.Socket
	for _, s := range countersOnly() {
		if s.Inode == 1006 {
			est = s
		}
	}
	return store, est
}

// TestDetailAsksForTCPInfo: with the socket table read counters only,
// the detail pane of a TCP socket says it is asking, then shows the
// tcp_info the control gave; it asks once per socket table and again
// when the selection moves; a socket gone says so; no lookup for a
// listener or with the pane closed.
func TestDetailAsksForTCPInfo(t *testing.T) {
	store, est := countersOnlyStore()
	ctl := &fakeTCPInfo{info: map[uint64]*model.TCPInfo{est.Cookie: {Len: 232, RTT: 31500, RTTVar: 2000, SndCwnd: 42, SndMSS: 1448, SndSsthresh: 0x7fffffff, Congestion: "bbr", BytesAcked: 3 << 20}}}
	a := newTestApp(t, store, Options{Controls: Controls{TCPInfo: ctl}}, 120, 40)
	if lookup(a) {
		t.Fatal("a lookup with the detail pane closed")
	}
	send(a, "/")
	for _, r := range "10.20.0.5:22 " {
		send(a, string(r))
	}
	send(a, "enter", "enter") // the filter, then the pane
	if !strings.Contains(screen(a), "asking the kernel") {
		t.Fatalf("the pane does not say it asks:\n%s", screen(a))
	}
	if !lookup(a) {
		t.Fatal("no lookup with the pane open on an established socket")
	}
	scr := screen(a)
	for _, want := range []string{"bbr  rtt 31.5/2 ms", "cwnd 42", "acked 3146kB"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the pane lacks %q:\n%s", want, scr)
		}
	}
	if lookup(a) {
		t.Error("a second lookup for the same socket table")
	}
	// A new socket table: asked again.
	store.Publish(model.SocketsUpdate{At: t0.Add(3 * time.Second), Sockets: countersOnly()})
	a.apply()
	if !lookup(a) {
		t.Error("no lookup for a new socket table")
	}
	if len(ctl.calls) != 2 || ctl.calls[0] != est.Cookie {
		t.Errorf("calls %v, want two for cookie %d", ctl.calls, est.Cookie)
	}

	// A socket that is gone by the time it is asked about.
	delete(ctl.info, est.Cookie)
	store.Publish(model.SocketsUpdate{At: t0.Add(4 * time.Second), Sockets: countersOnly()})
	a.apply()
	lookup(a)
	if !strings.Contains(screen(a), "no tcp_info: socket gone") {
		t.Errorf("a gone socket:\n%s", screen(a))
	}

	// A listener: no lookup, its own line.
	send(a, "esc", "esc") // the pane, the filter
	send(a, "/")
	for _, r := range "0.0.0.0:22 " {
		send(a, string(r))
	}
	send(a, "enter", "enter")
	if lookup(a) {
		t.Error("a lookup for a listener")
	}
	if !strings.Contains(screen(a), "listener: it moves no data itself") {
		t.Errorf("the listener's pane:\n%s", screen(a))
	}
}

// TestTCPInfoOnlyOnScreen: with the detail pane open, the Connections
// tab asks for tcp_info once per socket table while it is on screen,
// never while another tab (or the full help) is, and once on coming back
// when the socket table changed since its last answer.
func TestTCPInfoOnlyOnScreen(t *testing.T) {
	store, est := countersOnlyStore()
	ctl := &fakeTCPInfo{info: map[uint64]*model.TCPInfo{est.Cookie: {Len: 232, RTT: 31500, SndCwnd: 42, Congestion: "bbr"}}}
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now, Refresh: time.Second, Controls: Controls{TCPInfo: ctl}}, 120, 40)
	send(a, "/")
	for _, r := range "10.20.0.5:22 " {
		send(a, string(r))
	}
	send(a, "enter", "enter") // the filter, then the pane
	if !lookup(a) {
		t.Fatal("no lookup with the pane open on an established socket")
	}
	// refresh publishes a new socket table an interval later: the App
	// applies it at once.
	refresh := func() tea.Msg {
		clock.now = clock.now.Add(time.Second)
		store.Publish(model.SocketsUpdate{At: clock.now, Sockets: countersOnly()})
		return storeChangedMsg{}
	}
	steps := []struct {
		name string
		msg  func() tea.Msg
		want bool
	}{
		{"refresh on screen", refresh, true},
		{"another refresh on screen", refresh, true},
		{"a message, no new table", func() tea.Msg { return refreshMsg{} }, false},
		{"to the Drops tab", func() tea.Msg { return press("2") }, false},
		{"refresh on Drops", refresh, false},
		{"another refresh on Drops", refresh, false},
		{"back to Connections", func() tea.Msg { return press("1") }, true},
		{"a message after coming back", func() tea.Msg { return refreshMsg{} }, false},
		{"away and back, no new table", func() tea.Msg { send(a, "2"); return press("1") }, false},
		{"refresh after coming back", refresh, true},
		{"the full help", func() tea.Msg { return press("?") }, false},
		{"refresh under the help", refresh, false},
		{"the help closed", func() tea.Msg { return press("?") }, true},
	}
	calls := len(ctl.calls)
	for _, st := range steps {
		if got := madeLookup(t, a, st.msg()); got != st.want {
			t.Errorf("%s: lookup made %v, want %v", st.name, got, st.want)
		}
		if st.want {
			calls++
		}
		if len(ctl.calls) != calls {
			t.Fatalf("%s: %d calls, want %d", st.name, len(ctl.calls), calls)
		}
	}
	if a.active != 0 || !strings.Contains(screen(a), "bbr  rtt 31.5") {
		t.Errorf("the pane after coming back:\n%s", screen(a))
	}
}
