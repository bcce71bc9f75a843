package ui

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"netlens/model"
)

func benchStore(n int) *model.Store {
	s := fixtureStore()
	s.Publish(model.SocketsUpdate{At: t0, Sockets: shuffled(n)})
	return s
}

// shuffled returns bigSockets(n) in a fixed pseudo-random order, as a
// kernel dump (hash order) would give them.
func shuffled(n int) []model.Socket { return shuffle(bigSockets(n), 1) }

// shuffle puts xs in a fixed pseudo-random order (one per seed).
func shuffle[T any](xs []T, seed uint64) []T {
	r := rand.New(rand.NewPCG(seed, seed+1))
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	return xs
}

// BenchmarkView renders the Connections tab at 120x40 with 50,000 sockets:
// the cost of one redraw (only the visible rows are formatted).
func BenchmarkView(b *testing.B) {
	a := newTestApp(b, benchStore(50000), Options{}, 120, 40)
	b.ReportAllocs()
	for b.Loop() {
		_ = a.View()
	}
}

// BenchmarkViewScrolled is BenchmarkView deep in the table, sorted by
// process, with colours.
func BenchmarkViewScrolled(b *testing.B) {
	a := newTestApp(b, benchStore(50000), Options{}, 120, 40)
	a.styles = *NewStyles(colorprofile.ANSI256)
	send(a, "o", "o", "o", "o", "o")
	for range 500 {
		send(a, "pgdown")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.View()
	}
}

// BenchmarkSnapshotUpdate applies a new snapshot of 50,000 sockets (sort
// by local address, state summary) and renders it.
func BenchmarkSnapshotUpdate(b *testing.B) {
	store := benchStore(50000)
	clock := &fakeClock{now: t0}
	a := newTestApp(b, store, Options{Now: clock.Now}, 120, 40)
	benchUpdates(b, a, store, clock)
}

// BenchmarkSnapshotUpdateFiltered is BenchmarkSnapshotUpdate with a filter
// set: every row's text is built once per snapshot and matched.
func BenchmarkSnapshotUpdateFiltered(b *testing.B) {
	store := benchStore(50000)
	clock := &fakeClock{now: t0}
	a := newTestApp(b, store, Options{Now: clock.Now}, 120, 40)
	send(a, "/", "w", "o", "r", "k", "e", "r", "-", "4", "2", "enter")
	benchUpdates(b, a, store, clock)
}

// BenchmarkFilterKeystroke is one key typed into the filter with 50,000
// sockets: the haystacks are cached, only the match and sort run.
func BenchmarkFilterKeystroke(b *testing.B) {
	a := newTestApp(b, benchStore(50000), Options{}, 120, 40)
	send(a, "/", "1", "0", ".")
	b.ReportAllocs()
	for b.Loop() {
		send(a, "1")
		_ = a.View()
		send(a, "backspace")
		_ = a.View()
	}
}

// benchUpdates publishes a new 50,000-socket table per iteration and lets
// a apply and render it.
func benchUpdates(b *testing.B, a *App, store *model.Store, clock *fakeClock) {
	// Two tables with the same rows in different arrays, alternately: the
	// page cannot tell them from a new dump and sorts and filters again.
	benchLoop(b, a, store, clock, [2]model.Update{
		model.SocketsUpdate{Sockets: shuffled(50000)}, model.SocketsUpdate{Sockets: shuffled(50000)}})
}

// benchLoop publishes the two updates alternately, one per iteration,
// and lets a apply and render each.
func benchLoop(b *testing.B, a *App, store *model.Store, clock *fakeClock, ups [2]model.Update) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		store.Publish(ups[n%2])
		clock.now = clock.now.Add(time.Hour)
		a.Update(storeChangedMsg{})
		_ = a.View()
	}
}

// BenchmarkSnapshotUpdateSameRows is a Store update that leaves the socket
// table alone (counters, statuses): no filter or sort runs.
func BenchmarkSnapshotUpdateSameRows(b *testing.B) {
	store := benchStore(50000)
	clock := &fakeClock{now: t0}
	a := newTestApp(b, store, Options{Now: clock.Now}, 120, 40)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		store.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(i) * time.Second), Counters: fixtureCounters(i)})
		clock.now = clock.now.Add(time.Hour)
		a.Update(storeChangedMsg{})
		_ = a.View()
	}
}

// flowBenchStore is benchStore(n) with n flows: flow i has socket i's
// addresses as its original tuple, so the joined view joins the TCP four
// fifths of them to their sockets (the UDP fifth joins none); a third are
// SNATed, a tenth DNATed.
func flowBenchStore(n int) *model.Store {
	s := benchStore(n)
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateOK}})
	s.Publish(model.FlowsUpdate{At: t0, Flows: shuffledFlows(n)})
	st := fixtureCTStats(uint64(n), 262144)
	s.Publish(model.ConntrackStatsUpdate{Stats: st})
	return s
}

// shuffledFlows returns bigFlows(n) in a fixed pseudo-random order, as a
// dump (hash order) gives them.
func shuffledFlows(n int) []model.Flow { return shuffle(bigFlows(n), 3) }

// BenchmarkFlowsView renders the flows view at 120x40 with 50,000 flows:
// one redraw (only the visible rows are formatted).
func BenchmarkFlowsView(b *testing.B) {
	a := newTestApp(b, flowBenchStore(50000), Options{}, 120, 40)
	send(a, "v")
	b.ReportAllocs()
	for b.Loop() {
		_ = a.View()
	}
}

// BenchmarkJoinedView renders the joined view at 120x40 with 50,000
// sockets and 50,000 flows.
func BenchmarkJoinedView(b *testing.B) {
	a := newTestApp(b, flowBenchStore(50000), Options{}, 120, 40)
	send(a, "v", "v")
	b.ReportAllocs()
	for b.Loop() {
		_ = a.View()
	}
}

// BenchmarkFlowsSnapshotUpdate applies a new table of 50,000 flows (sort
// by bytes, summary) in the flows view and renders it.
func BenchmarkFlowsSnapshotUpdate(b *testing.B) {
	benchFlowUpdates(b, "v")
}

// BenchmarkFlowsSnapshotUpdateFiltered is BenchmarkFlowsSnapshotUpdate
// with a filter of words and terms: every row's text is built and
// matched.
func BenchmarkFlowsSnapshotUpdateFiltered(b *testing.B) {
	benchFlowUpdates(b, append([]string{"v", "/"}, strings.Split("tcp nat:snat port:443", "")...)...)
}

// BenchmarkJoinedSnapshotUpdate applies a new table of 50,000 flows in
// the joined view: the join on the 5-tuple with 50,000 sockets, the sort
// and the render.
func BenchmarkJoinedSnapshotUpdate(b *testing.B) {
	benchFlowUpdates(b, "v", "v")
}

// benchFlowUpdates publishes a new 50,000-flow table per iteration, with
// keys pressed first, and lets the App apply and render it.
func benchFlowUpdates(b *testing.B, ks ...string) {
	store := flowBenchStore(50000)
	clock := &fakeClock{now: t0}
	a := newTestApp(b, store, Options{Now: clock.Now}, 120, 40)
	send(a, ks...)
	benchLoop(b, a, store, clock, [2]model.Update{
		model.FlowsUpdate{Flows: shuffledFlows(50000)}, model.FlowsUpdate{Flows: shuffledFlows(50000)}})
}

// BenchmarkFlowsFilterKeystroke is one key typed into the filter with
// 50,000 flows.
func BenchmarkFlowsFilterKeystroke(b *testing.B) {
	a := newTestApp(b, flowBenchStore(50000), Options{}, 120, 40)
	send(a, "v", "/", "1", "0", ".")
	b.ReportAllocs()
	for b.Loop() {
		send(a, "1")
		_ = a.View()
		send(a, "backspace")
		_ = a.View()
	}
}

// BenchmarkFirstFrame100k is the TUI's first frame of 100,000 sockets:
// a new App applies the table (the first sort, from scratch) and
// renders it at 120x40.
func BenchmarkFirstFrame100k(b *testing.B) {
	store := benchStore(100000)
	b.ReportAllocs()
	for b.Loop() {
		a := New(store, Options{Now: fixedClock})
		a.Update(tea.ColorProfileMsg{Profile: colorprofile.ASCII})
		a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		a.Update(storeChangedMsg{})
		_ = a.View()
		a.Close()
	}
}

// BenchmarkSortSameRows100k is the sockets view's sort of a new table
// of 100,000 sockets that holds the rows of the last one in the same
// places (a steady table: a new array each refresh, 500 queues moving),
// by local address (the default sort, of the keys only: the last order
// is kept) and by Recv-Q (of values that move: a sort from the last
// order). It times sortOrder alone: the keys' fingerprint, the prep
// and the sort, not the rest of a refresh.
func BenchmarkSortSameRows100k(b *testing.B) {
	for _, sort := range []string{"local", "recv-q"} {
		b.Run(sort, func(b *testing.B) {
			p := newSockView(Common{Width: 120, Height: 40}, nil)
			p.sortIdx = slices.IndexFunc(p.sorts, func(s sortSpec) bool { return s.name == sort })
			p.desc = p.sorts[p.sortIdx].desc
			tables := [2][]model.Socket{shuffled(100000), shuffled(100000)}
			for k := range 500 {
				tables[1][k*199].RecvQ += 1 + uint32(k%5) // 500 queues move
			}
			set := func(k int) {
				p.snap = model.Snapshot{Seq: uint64(k), Sockets: tables[k%2], SocketsSeq: uint64(k)}
				p.invalidate()
				p.sortOrder(p)
			}
			set(1)
			b.ReportAllocs()
			for k := 2; b.Loop(); k++ {
				set(k)
			}
		})
	}
}
