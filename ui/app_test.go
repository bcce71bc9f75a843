package ui

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// newTestApp returns an App on store at w x h without colours, driven
// directly (no tea.Program).
func newTestApp(t testing.TB, store *model.Store, opts Options, w, h int) *App {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock
	}
	a := New(store, opts)
	t.Cleanup(a.Close)
	a.Update(tea.ColorProfileMsg{Profile: colorprofile.ASCII})
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return a
}

// send feeds key presses to a and returns the last command.
func send(a *App, ks ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range ks {
		_, cmd = a.Update(press(k))
	}
	return cmd
}

// screen is the current screen without escape sequences.
func screen(a *App) string { return stripANSI(a.View().Content) }

// rows returns the text of the table rows on screen (below the page's
// summary and header lines, above the status and help lines), trimmed.
func rows(a *App) []string {
	lines := strings.Split(screen(a), "\n")
	top := a.top() + 2
	if _, ok := a.pages[a.active].(*dropsPage); ok {
		top += healthLines // the netfilter section
	}
	var out []string
	for _, l := range lines[top : len(lines)-chromeBottom] {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func firstField(s string, n int) string {
	f := strings.Fields(s)
	if n < len(f) {
		return f[n]
	}
	return ""
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		tab    string
		filter string
		want   int
	}{
		{"connections all", "1", "", 17}, // 27 sockets, 17 rows on screen
		{"by process, any case", "1", "NGINX", 4},
		{"by state", "1", "estab", 4},
		{"by address prefix", "1", "203.0.113.1", 10},
		{"by process hidden behind +N", "1", "nginx/1404", 2},
		{"ipv6 with zone", "1", "fe80::1%eth0", 1},
		{"nothing matches", "1", "no-such-thing", 0},
		{"drops by group", "2", "tcpext", 2},
		{"drops by layer", "2", "softnet", 2},
		{"sysctl by name", "3", "rmem", 3},
		{"sysctl by value", "3", "fq_codel", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
			send(a, tt.tab)
			send(a, "/")
			for _, r := range tt.filter {
				send(a, string(r))
			}
			send(a, "enter")
			got := rows(a)
			n := len(got)
			switch p := a.pages[a.active].(type) {
			case *sysctlPage:
				n = len(p.idx) // the why pane is under the rows
			case *dropsPage:
				n = len(p.idx)
			}
			if len(got) == 1 && strings.HasPrefix(got[0], "no ") {
				n = 0
			}
			if n != tt.want {
				t.Errorf("filter %q: %d rows, want %d:\n%s", tt.filter, n, tt.want, strings.Join(got, "\n"))
			}
			if tt.filter != "" && !strings.Contains(screen(a), "filter: "+tt.filter) {
				t.Errorf("status line does not show the filter:\n%s", screen(a))
			}
		})
	}
}

func TestFilterEditAndClear(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	send(a, "/", "s", "s", "h", "d", "x", "backspace")
	if got := a.pages[0].Filter(); got != "sshd" {
		t.Fatalf("filter %q, want sshd", got)
	}
	if n := len(rows(a)); n != 3 {
		t.Errorf("%d rows for sshd, want 3", n)
	}
	// Keys typed into the filter are not commands.
	send(a, "q", "p")
	if a.feed.paused || a.pages[0].Filter() != "sshdqp" {
		t.Fatalf("keys leaked out of the filter input: paused=%v filter=%q", a.feed.paused, a.pages[0].Filter())
	}
	send(a, "esc")
	if a.mode == inputSearch || a.pages[0].Filter() != "" {
		t.Fatalf("esc did not clear: filtering=%v filter=%q", a.mode == inputSearch, a.pages[0].Filter())
	}
	// A filter belongs to its tab.
	send(a, "/", "x", "enter", "2")
	if a.pages[1].Filter() != "" || a.pages[0].Filter() != "x" {
		t.Fatalf("filters: conns %q drops %q", a.pages[0].Filter(), a.pages[1].Filter())
	}
	send(a, "1", "esc")
	if a.pages[0].Filter() != "" {
		t.Fatalf("esc outside the input did not clear the filter")
	}
}

func TestSort(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		field int
		want  []string
	}{
		{"local ascending by default", nil, 1, []string{"0.0.0.0:22", "0.0.0.0:80", "0.0.0.0:443"}},
		{"local reversed", []string{"O"}, 1, []string{"[fe80::1%eth0]:546", "~001:db8:10::5]:443", "[::]:58"}},
		{"remote", []string{"o"}, 2, []string{"0.0.0.0:*", "0.0.0.0:*", "0.0.0.0:*"}},
		{"state", []string{"o", "o"}, 3, []string{"CLOSE-WAIT", "ESTAB", "ESTAB"}},
		{"recv-q biggest first", []string{"o", "o", "o"}, 4, []string{"212992", "4096", "3"}},
		{"process", []string{"o", "o", "o", "o", "o"}, 6, []string{"NetworkManager/955", "app-server/3001", "app-server/3001"}},
		{"rx/s biggest first", []string{"o", "o", "o", "o", "o", "o", "o", "o", "o"}, 9, []string{"1.5M", "200k", "1.2k"}},
		{"tx/s biggest first", []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "o"}, 10, []string{"5.5M", "1.5M", "200k"}},
		{"retrans/s biggest first", []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o"}, 11, []string{"2.00", "0.50", "0"}},
		{"wraps around", []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o"}, 1, []string{"0.0.0.0:22", "0.0.0.0:80", "0.0.0.0:443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestApp(t, fixtureStore(), Options{}, 120, 40)
			send(a, tt.keys...)
			var got []string
			for _, r := range rows(a)[:3] {
				got = append(got, firstField(r, tt.field))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDropsShowsMovedThenAll(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 120, 40)
	send(a, "2")
	moved := rows(a)
	if len(moved) != 9 {
		t.Fatalf("%d moved counters, want 9:\n%s", len(moved), strings.Join(moved, "\n"))
	}
	send(a, "a")
	if n := len(rows(a)); n != 18 {
		t.Fatalf("%d counters with a, want 18", n)
	}
	// By rate, biggest first: time_squeeze moved 25 in one second.
	send(a, "o", "o", "o", "o")
	if got := rows(a)[0]; !strings.Contains(got, "time_squeeze") || !strings.Contains(got, " 25.0 ") {
		t.Fatalf("first row by rate: %q", got)
	}
}

func TestSysctlWatchedFirstAndWhy(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	send(a, "3")
	r := rows(a)
	if !strings.HasPrefix(r[0], "*  net.core.netdev_budget") {
		t.Fatalf("first row %q, want the first watched entry", r[0])
	}
	if !strings.Contains(screen(a), "softnet time_squeeze") {
		t.Fatalf("why pane missing:\n%s", screen(a))
	}
	send(a, "w")
	for _, l := range rows(a)[:12] {
		if !strings.HasPrefix(l, "*") {
			t.Fatalf("watched-only shows %q", l)
		}
	}
	send(a, "enter")
	if strings.Contains(screen(a), "softnet time_squeeze") {
		t.Fatalf("enter did not hide the why pane")
	}
}

func TestTabSwitching(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	steps := []struct {
		key  string
		want int
	}{
		{"tab", 1}, {"tab", 2}, {"tab", 3}, {"tab", 4}, {"tab", 5}, {"tab", 6}, {"tab", 0}, {"shift+tab", 6}, {"shift+tab", 5},
		{"1", 0}, {"3", 2}, {"9", 2}, {"2", 1},
	}
	for _, s := range steps {
		send(a, s.key)
		if a.active != s.want {
			t.Fatalf("after %s: tab %d, want %d", s.key, a.active, s.want)
		}
	}
	if !strings.Contains(strings.Split(screen(a), "\n")[3+healthLines], "counters moved since start") {
		t.Fatalf("Drops tab not shown:\n%s", screen(a))
	}
}

func TestPause(t *testing.T) {
	store := fixtureStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 80, 24)
	send(a, "p")
	if !strings.Contains(screen(a), "PAUSED") {
		t.Fatal("header does not say PAUSED")
	}
	before := a.snap.Seq
	store.Publish(model.SocketsUpdate{At: t0.Add(5 * time.Second), Sockets: fixtureSockets()[:1]})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	a.Update(refreshMsg{})
	if a.snap.Seq != before || !strings.Contains(screen(a), "27 sockets") {
		t.Fatalf("paused view changed: seq %d -> %d\n%s", before, a.snap.Seq, screen(a))
	}
	send(a, "p")
	if a.snap.Seq == before || !strings.Contains(screen(a), "1 socket:") || !strings.Contains(screen(a), "LIVE") {
		t.Fatalf("unpause did not show the latest snapshot:\n%s", screen(a))
	}
}

func TestRefreshCoalesces(t *testing.T) {
	store := fixtureStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now, Refresh: time.Second}, 80, 24)
	start := a.snap.Seq

	// 200ms after the last redraw: wait for the rest of the interval.
	clock.now = clock.now.Add(200 * time.Millisecond)
	store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()[:2]})
	_, cmd := a.Update(storeChangedMsg{})
	if a.snap.Seq != start || !a.feed.waiting || cmd == nil {
		t.Fatalf("applied at once within the interval (seq %d, tick %v)", a.snap.Seq, a.feed.waiting)
	}
	// More updates within the interval add no redraw and no timer, and
	// View returns the screen it drew (Bubble Tea calls it after every
	// message).
	a.View()
	before, renders := screen(a), a.renders
	for range 5 {
		store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()[:3]})
		a.Update(storeChangedMsg{})
		a.View()
	}
	if a.snap.Seq != start {
		t.Fatal("applied before the refresh tick")
	}
	if a.renders != renders || screen(a) != before {
		t.Fatalf("notifications within the interval drew the screen %d times", a.renders-renders)
	}
	clock.now = clock.now.Add(800 * time.Millisecond)
	a.Update(refreshMsg{})
	if a.snap.Seq != store.Snapshot().Seq || len(a.snap.Sockets) != 3 {
		t.Fatalf("tick applied seq %d, want the latest %d", a.snap.Seq, store.Snapshot().Seq)
	}
	// Long after the last redraw: applied at once.
	clock.now = clock.now.Add(5 * time.Second)
	store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()[:4]})
	a.Update(storeChangedMsg{})
	if len(a.snap.Sockets) != 4 || a.feed.waiting {
		t.Fatalf("not applied at once after a quiet period")
	}
}

// publishSockets advances clock by after, publishes the first n fixture
// sockets and tells a; it returns how many sockets a shows.
func publishSockets(a *App, store *model.Store, clock *fakeClock, after time.Duration, n int) int {
	clock.now = clock.now.Add(after)
	store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()[:n]})
	a.Update(storeChangedMsg{})
	return len(a.snap.Sockets)
}

// TestFirstRowsAtOnce: the first socket table is applied as soon as it
// arrives, not a refresh interval after the empty screen of the start;
// the tables after it wait for the interval again.
func TestFirstRowsAtOnce(t *testing.T) {
	store := model.NewStore("web-1", "6.12.48-netlens", t0)
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now, Refresh: time.Second}, 80, 24)
	a.Update(storeChangedMsg{}) // the start's empty snapshot
	clock.now = clock.now.Add(100 * time.Millisecond)
	store.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "counters", State: model.StateOK}})
	a.Update(storeChangedMsg{})
	if !a.feed.waiting {
		t.Fatal("a change without sockets was applied within the interval")
	}
	if publishSockets(a, store, clock, 100*time.Millisecond, 2) != 2 {
		t.Fatalf("the first sockets were not applied at once: %d on screen", len(a.snap.Sockets))
	}
	if publishSockets(a, store, clock, 100*time.Millisecond, 3) != 2 {
		t.Fatal("the second table was applied within the interval")
	}
	clock.now = clock.now.Add(time.Second)
	a.Update(refreshMsg{})
	if len(a.snap.Sockets) != 3 {
		t.Fatalf("the tick applied %d sockets, want 3", len(a.snap.Sockets))
	}
}

func TestWaitStoreCmd(t *testing.T) {
	store := fixtureStore()
	a := newTestApp(t, store, Options{}, 80, 24)
	got := make(chan tea.Msg, 1)
	go func() { got <- waitStoreCmd(a.sub, a.done)() }()
	store.Publish(model.SysctlsUpdate{})
	select {
	case m := <-got:
		if _, ok := m.(storeChangedMsg); !ok {
			t.Fatalf("got %T", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	// Close ends a waiting command.
	go func() { got <- waitStoreCmd(a.sub, a.done)() }()
	a.Close()
	select {
	case m := <-got:
		if m != nil {
			t.Fatalf("got %T after Close", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
}

func TestSnapshotKey(t *testing.T) {
	store := fixtureStore()
	var saved []model.Snapshot
	saveErr := error(nil)
	opts := Options{SaveSnapshot: func(s model.Snapshot) (string, error) {
		saved = append(saved, s)
		if saveErr != nil {
			return "", saveErr
		}
		return "/var/tmp/netlens-web-1.json", nil
	}}
	a := newTestApp(t, store, opts, 80, 24)
	run := func(cmd tea.Cmd) {
		t.Helper()
		if cmd == nil {
			t.Fatal("s returned no command")
		}
		a.Update(cmd())
	}
	cmd := send(a, "s")
	if !strings.Contains(screen(a), "saving snapshot") {
		t.Errorf("no progress message")
	}
	run(cmd)
	if len(saved) != 1 || saved[0].Seq != a.snap.Seq {
		t.Fatalf("saved %d snapshots (seq %v), want the one on screen (%d)", len(saved), saved, a.snap.Seq)
	}
	if !strings.Contains(screen(a), "snapshot saved: /var/tmp/netlens-web-1.json") {
		t.Fatalf("path not shown:\n%s", screen(a))
	}

	// Paused: the frozen snapshot is saved, not the Store's latest.
	send(a, "p")
	frozen := a.snap.Seq
	store.Publish(model.SocketsUpdate{Sockets: nil})
	run(send(a, "s"))
	if saved[1].Seq != frozen || len(saved[1].Sockets) != 27 {
		t.Fatalf("paused save took seq %d, want frozen %d", saved[1].Seq, frozen)
	}

	// An error is shown on one line.
	saveErr = errors.New("open /ro/netlens.json.tmp: read-only file system\nsecond line")
	run(send(a, "s"))
	want := "snapshot failed: open /ro/netlens.json.tmp: read-only file system second line"
	if !strings.Contains(screen(a), want) {
		t.Fatalf("error not shown as %q:\n%s", want, screen(a))
	}
	send(a, "esc")
	if strings.Contains(screen(a), "snapshot failed") {
		t.Fatal("esc did not clear the status")
	}

	// Without SaveSnapshot the key says so.
	b := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	if cmd := send(b, "s"); cmd != nil || !strings.Contains(screen(b), "snapshots are not available") {
		t.Fatalf("no SaveSnapshot: cmd %v\n%s", cmd, screen(b))
	}
}

func TestResizeAndTooSmall(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	sizes := []struct {
		w, h  int
		small bool
	}{{80, 24, false}, {79, 24, true}, {80, 23, true}, {20, 5, true}, {132, 50, false}, {200, 60, false}, {80, 24, false}}
	for _, s := range sizes {
		a.Update(tea.WindowSizeMsg{Width: s.w, Height: s.h})
		scr := screen(a)
		lines := strings.Split(scr, "\n")
		if len(lines) != s.h {
			t.Errorf("%dx%d: %d lines", s.w, s.h, len(lines))
		}
		for i, l := range lines {
			if width(l) > s.w {
				t.Errorf("%dx%d: line %d is %d wide", s.w, s.h, i, width(l))
			}
		}
		small := strings.Contains(scr, "too small")
		if small != s.small {
			t.Errorf("%dx%d: too small shown %v, want %v", s.w, s.h, small, s.small)
		}
		// Wrapped, not cut: the sizes and how to quit fit even in 20x5.
		words := strings.Join(strings.Fields(scr), " ")
		if s.small && (!strings.Contains(words, "have "+itoa(s.w)+"x"+itoa(s.h)) || !strings.Contains(words, "press q to quit")) {
			t.Errorf("%dx%d: size or how to quit not in message:\n%s", s.w, s.h, scr)
		}
		if !s.small && len(rows(a)) != min(27, s.h-chromeTop-chromeBottom-2) {
			t.Errorf("%dx%d: %d rows", s.w, s.h, len(rows(a)))
		}
	}
	// q still quits when too small.
	a.Update(tea.WindowSizeMsg{Width: 40, Height: 10})
	if cmd := send(a, "q"); cmd == nil {
		t.Fatal("q does nothing when the terminal is too small")
	}
}

func TestScrollKeepsCursorVisible(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	send(a, "end")
	r := rows(a)
	if got := r[len(r)-1]; !strings.Contains(got, "1%eth0]:546") {
		t.Fatalf("end: last row %q", got)
	}
	send(a, "home")
	if !strings.HasPrefix(rows(a)[0], "tcp   0.0.0.0:22") {
		t.Fatalf("home: first row %q", rows(a)[0])
	}
	send(a, "pgdown", "pgdown", "pgdown")
	if c := a.pages[0].(*connsPage).socks.tbl.Cursor(); c != 26 {
		t.Fatalf("cursor %d after 3 pages, want the last row 26", c)
	}
	a.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	a.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	p := a.pages[0].(*connsPage).socks
	if p.tbl.offset != 10-6 || p.tbl.Cursor() < p.tbl.offset || p.tbl.Cursor() >= p.tbl.offset+p.tbl.rows() {
		t.Fatalf("wheel: offset %d cursor %d", p.tbl.offset, p.tbl.Cursor())
	}
}

func TestSelectionFollowsRowAcrossUpdates(t *testing.T) {
	store := fixtureStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 80, 24)
	send(a, "down", "down", "down") // rsyslogd's udp socket
	p := a.pages[0].(*connsPage).socks
	if got := p.cell(p.selected(), connProc); got != "rsyslogd/701" {
		t.Fatalf("selected %q", got)
	}
	socks := fixtureSockets()
	// New sockets that sort before it, and the old order reversed.
	extra := []model.Socket{
		{Proto: model.ProtoTCP, Local: ap("0.0.0.0:1"), Remote: ap("0.0.0.0:0"), State: model.StateListen, Inode: 5},
		{Proto: model.ProtoTCP, Local: ap("0.0.0.0:2"), Remote: ap("0.0.0.0:0"), State: model.StateListen, Inode: 6},
	}
	for i, j := 0, len(socks)-1; i < j; i, j = i+1, j-1 {
		socks[i], socks[j] = socks[j], socks[i]
	}
	store.Publish(model.SocketsUpdate{Sockets: append(socks, extra...)})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if got := p.cell(p.selected(), connProc); got != "rsyslogd/701" {
		t.Fatalf("after update selected %q, want rsyslogd/701", got)
	}
	if c := p.tbl.Cursor(); c != 5 {
		t.Fatalf("cursor %d, want 5", c)
	}
}

func TestHelpToggles(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	send(a, "?")
	if !strings.Contains(screen(a), "reverse sort") {
		t.Fatalf("no full help:\n%s", screen(a))
	}
	send(a, "j") // ignored while help is up
	send(a, "esc")
	if strings.Contains(screen(a), "reverse sort") || a.pages[0].(*connsPage).socks.tbl.Cursor() != 0 {
		t.Fatal("esc did not close help, or a key went through")
	}
	send(a, "?", "?")
	if a.mode == inputHelp {
		t.Fatal("? did not close help")
	}
	// At 80x24 the help is longer than the screen: it scrolls to the
	// collectors, and opens at the top again.
	send(a, "?")
	if strings.Contains(screen(a), "sockets    ok") || !strings.Contains(screen(a), "-- more") {
		t.Fatalf("help fits at 80x24?\n%s", screen(a))
	}
	send(a, "pgdown")
	if !strings.Contains(screen(a), "sockets    ok") || !strings.Contains(screen(a), "-- end") {
		t.Fatalf("help did not scroll to the collectors:\n%s", screen(a))
	}
	send(a, "esc", "?")
	if a.helpTop != 0 || !strings.Contains(screen(a), " Keys") {
		t.Fatalf("help reopened scrolled:\n%s", screen(a))
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
		cmd := send(a, k)
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s does not quit", k)
		}
	}
	// ctrl+c quits from the filter input too.
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	if cmd := send(a, "/", "ctrl+c"); cmd == nil {
		t.Fatal("ctrl+c in filter input does not quit")
	}
}

func TestUnchangedRowsAreNotRecomputed(t *testing.T) {
	store := fixtureStore()
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now}, 80, 24)
	send(a, "/", "t", "c", "p", "enter")
	p := a.pages[0].(*connsPage).socks
	before := p.recomputes
	// Counters and statuses change; the socket table does not.
	store.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(2 * time.Second), Counters: fixtureCounters(2)})
	store.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "sockets", State: model.StateError, Reason: "boom"}})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if p.recomputes != before {
		t.Fatalf("connections recomputed %d times for an unchanged socket table", p.recomputes-before)
	}
	if !strings.Contains(screen(a), "! sockets: boom (data may be stale)") {
		t.Fatalf("status change not shown:\n%s", screen(a))
	}
	store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()})
	clock.now = clock.now.Add(time.Hour)
	a.Update(storeChangedMsg{})
	if p.recomputes != before+1 {
		t.Fatalf("new sockets: %d recomputes, want 1", p.recomputes-before)
	}
}

func TestMouse(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	click := func(x, y int) { a.Update(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}) }
	// The tab bar is line 2: " 1 Connections 2 Drops 3 Sysctl" (no
	// padding: seven tabs fit 80 columns only so).
	click(17, 2)
	if a.active != 1 {
		t.Fatalf("click on Drops: tab %d", a.active)
	}
	click(24, 2)
	if a.active != 2 {
		t.Fatalf("click on Sysctl: tab %d", a.active)
	}
	click(3, 2)
	if a.active != 0 {
		t.Fatalf("click on Connections: tab %d", a.active)
	}
	// Page lines: 3 summary, 4 header, 5 first row.
	click(10, 5+3)
	p := a.pages[0].(*connsPage).socks
	if c := p.tbl.Cursor(); c != 3 {
		t.Fatalf("click on the fourth row: cursor %d", c)
	}
	click(10, 4) // the header: no change
	click(10, 23)
	if c := p.tbl.Cursor(); c != 3 {
		t.Fatalf("clicks outside the rows moved the cursor to %d", c)
	}
	a.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if p.tbl.offset != 3 {
		t.Fatalf("wheel down: offset %d, want 3", p.tbl.offset)
	}
}

func TestPasteIntoFilter(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	a.Update(tea.PasteMsg{Content: "10.20.0.5:443\nsecond line"}) // not filtering: ignored
	if a.pages[0].Filter() != "" {
		t.Fatal("paste outside the filter input changed the filter")
	}
	send(a, "/")
	a.Update(tea.PasteMsg{Content: "10.20.0.5:443\r\nsecond line"})
	if got := a.pages[0].Filter(); got != "10.20.0.5:443" {
		t.Fatalf("filter %q after paste", got)
	}
	if n := len(a.pages[0].(*connsPage).socks.idx); n != 13 {
		t.Fatalf("%d sockets on 10.20.0.5:443, want 13", n)
	}
}

func TestFilterKeystrokeDoesNotSort(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 80, 24)
	p := a.pages[0].(*connsPage).socks
	before := p.sortRuns
	send(a, "/", "t", "c", "p", "backspace", "esc")
	if p.sortRuns != before {
		t.Fatalf("%d sorts while typing a filter, want 0", p.sortRuns-before)
	}
	send(a, "o")
	if p.sortRuns != before+1 {
		t.Fatalf("a new sort column: %d sorts, want 1", p.sortRuns-before)
	}
}

// TestSortSteadyRows: a snapshot holding the same rows in the same places
// with other queues (a steady table) keeps the last order of an address
// sort (keyOnly) and starts the others from the last order; the result
// is the order a fresh screen sorts from scratch, by every sort.
func TestSortSteadyRows(t *testing.T) {
	next := fixtureSockets()
	for i := range next {
		next[i].RecvQ = uint32((i * 7919) % 101)
		next[i].SendQ = uint32((i * 104729) % 37)
	}
	checkSortFromLast(t, next, true)
}

// checkSortFromLast publishes next over the fixture's sockets on a screen
// sorted by each sort in turn: the order must be the one a fresh screen
// of next gives. When same (next holds the fixture's rows in their
// places), a keyOnly sort must keep the last order and the others start
// from it; else every sort must sort from scratch.
func checkSortFromLast(t *testing.T, next []model.Socket, same bool) {
	t.Helper()
	for k := range 8 {
		keys := slices.Repeat([]string{"o"}, k)
		store := fixtureStore()
		a := newTestApp(t, store, Options{}, 120, 40)
		send(a, keys...)
		sv := a.pages[0].(*connsPage).socks
		reuses, keeps, runs := sv.reuses, sv.keeps, sv.sortRuns
		store.Publish(model.SocketsUpdate{Sockets: next})
		a.apply()
		fresh := fixtureStore()
		fresh.Publish(model.SocketsUpdate{Sockets: next})
		b := newTestApp(t, fresh, Options{}, 120, 40)
		send(b, keys...)
		keyOnly := sv.sorts[sv.sortIdx].keyOnly
		switch got := [3]int{sv.reuses - reuses, sv.keeps - keeps, sv.sortRuns - runs}; {
		case same && keyOnly && got != [3]int{0, 1, 0}:
			t.Errorf("sort %d (%s): %d reuses, %d keeps, %d sorts: want the last order kept", k, sv.sorts[sv.sortIdx].name, got[0], got[1], got[2])
		case same && !keyOnly && got != [3]int{1, 0, 1}:
			t.Errorf("sort %d (%s): %d reuses, %d keeps, %d sorts: want a sort from the last order", k, sv.sorts[sv.sortIdx].name, got[0], got[1], got[2])
		case !same && got != [3]int{0, 0, 1}:
			t.Errorf("sort %d (%s): %d reuses, %d keeps, %d sorts: want a sort from scratch", k, sv.sorts[sv.sortIdx].name, got[0], got[1], got[2])
		}
		got, want := sv.idx, b.pages[0].(*connsPage).socks.idx
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sort %d after the update (-fresh +updated):\n%s", k, diff)
		}
	}
}

// TestSortAddressesChanged: rows whose addresses changed under the same
// inodes and ports (UDP sockets connected again) are other rows: the
// keys' fingerprint tells them apart (keyHash hashes the addresses), so
// that an address sort does not keep the last order, and every sort
// gives the order a fresh screen gives.
func TestSortAddressesChanged(t *testing.T) {
	next := fixtureSockets()
	for i := range next {
		s := &next[i]
		if s.Local.Addr().Is4() {
			a := s.Local.Addr().As4()
			a[3] ^= byte(17 * (i + 1))
			s.Local = netip.AddrPortFrom(netip.AddrFrom4(a), s.Local.Port())
		}
	}
	checkSortFromLast(t, next, false)
}

// TestStatusErrorWraps: an error too long for one status line (a
// Warning at start: the --snapshot-dir that cannot be written) is shown
// whole on more lines, which the page gives up; the screen keeps its
// height and the key line.
func TestStatusErrorWraps(t *testing.T) {
	warn := "--snapshot-dir /var/tmp/incident-42/snapshots: no such directory: s and R cannot save there (create it or make it writable, or restart with another --snapshot-dir)"
	a := newTestApp(t, fixtureStore(), Options{Warning: warn}, 80, 24)
	lines := strings.Split(screen(a), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines, want 24:\n%s", len(lines), screen(a))
	}
	got := strings.Join(strings.Fields(strings.Join(lines[len(lines)-4:len(lines)-1], " ")), " ")
	if !strings.HasSuffix(got, warn) {
		t.Errorf("the status lines do not hold the whole warning:\n%s", strings.Join(lines[len(lines)-4:], "\n"))
	}
	if !strings.Contains(lines[len(lines)-1], "q quit") {
		t.Errorf("the key line is gone: %q", lines[len(lines)-1])
	}
	// esc clears it and the page has its lines back.
	send(a, "esc")
	if s := screen(a); strings.Contains(s, "snapshot-dir") || len(strings.Split(s, "\n")) != 24 {
		t.Errorf("after esc:\n%s", s)
	}
}

// TestHelpNumberKeys: the help names the number keys there are tabs for
// (it said 1-9 for seven tabs; 8 and 9 did nothing).
func TestHelpNumberKeys(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 120, 40)
	n := len(a.pages)
	send(a, "?")
	s := screen(a)
	if want := "1-" + strconv.Itoa(n) + "       go to tab"; !strings.Contains(s, want) || strings.Contains(s, "1-9") {
		t.Errorf("help does not say %q:\n%s", want, s)
	}
	send(a, "esc", strconv.Itoa(n))
	if a.active != n-1 {
		t.Errorf("%d shows tab %d", n, a.active+1)
	}
}

// TestProcSummaryOne: one process holding one connection is said so
// ("1 processes, 1 connections" before).
func TestProcSummaryOne(t *testing.T) {
	got := procSummary([]model.ProcessRate{{Comm: "socat", Conns: 1}})
	if want := "1 process, 1 connection: rx 0B/s tx 0B/s retrans 0/s"; got != want {
		t.Errorf("procSummary = %q, want %q", got, want)
	}
}

// TestEscClosesPanes: esc closes the detail pane enter opened, on every
// tab that has one, once it has cleared the filter (it only cleared the
// filter: the pane stayed until enter again, but on Interfaces).
func TestEscClosesPanes(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 120, 40)
	pane := func() bool { return strings.Contains(screen(a), strings.Repeat("-", 120)) }
	for _, tab := range []string{"1", "2", "3"} {
		send(a, tab)
		if pane() {
			send(a, "enter") // Sysctl opens with its pane
		}
		send(a, "enter")
		if !pane() {
			t.Fatalf("tab %s: enter opened no pane:\n%s", tab, screen(a))
		}
		send(a, "esc")
		if pane() {
			t.Errorf("tab %s: esc left the pane open:\n%s", tab, screen(a))
		}
	}
	// The filter first, then the pane.
	send(a, "1", "/", "t", "c", "p", "enter", "enter")
	send(a, "esc")
	if !pane() || a.pages[0].Filter() != "" {
		t.Errorf("first esc: pane %v, filter %q; want the filter cleared, the pane kept", pane(), a.pages[0].Filter())
	}
	send(a, "esc")
	if pane() {
		t.Error("second esc: the pane is open")
	}
	send(a, "?")
	if s := screen(a); !strings.Contains(s, "esc       back, clear filter, close") {
		t.Errorf("help does not say what esc does:\n%s", s)
	}
}

// TestFiltersSummaryOne: one rule is "1 rule" ("1 rules" before).
func TestFiltersSummaryOne(t *testing.T) {
	s := fixtureStore()
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "nft", At: t0, Rules: fixtureRules()[:1]}})
	a := newTestApp(t, s, Options{}, 120, 40)
	send(a, "4")
	if scr := screen(a); !strings.Contains(scr, " 1 rule, 1 on, in evaluation order") {
		t.Errorf("summary:\n%s", scr)
	}
}
