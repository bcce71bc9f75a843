package ui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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
	cmd := p.TickCmd()
	if cmd == nil {
		return false
	}
	a.Update(cmd())
	return true
}

// TestDetailAsksForTCPInfo: with the socket table read counters only,
// the detail pane of a TCP socket says it is asking, then shows the
// tcp_info the control gave; it asks once per socket table and again
// when the selection moves; a socket gone says so; no lookup for a
// listener or with the pane closed.
func TestDetailAsksForTCPInfo(t *testing.T) {
	store := fixtureStore()
	store.Publish(model.SocketsUpdate{At: t0.Add(2 * time.Second), Sockets: countersOnly()})
	var est model.Socket
	for _, s := range countersOnly() {
		if s.Inode == 1006 { // sshd's connection, 10.20.0.5:22
			est = s
		}
	}
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
