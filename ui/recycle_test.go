package ui

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// TestAppHoldsTheSocketsOnScreen: the screen holds the socket list it
// shows (a Lease) and gives it back once it shows the next one, so
// that the sockets collector can fill it again; until then it is not.
func TestAppHoldsTheSocketsOnScreen(t *testing.T) {
	store := model.NewStore("web-1", "6.12.48-netlens", t0)
	a := newTestApp(t, store, Options{}, 80, 24)
	publish := func() *model.SocketsGen {
		g := new(model.SocketsGen)
		store.Publish(model.SocketsUpdate{At: t0, Sockets: fixtureSockets(), Gen: g.Ref()})
		return g
	}
	g1 := publish()
	a.apply()
	g2 := publish()
	if g1.Free() {
		t.Fatal("the list on screen was given back")
	}
	a.apply()
	if !g1.Free() {
		t.Fatal("the list the screen left was not given back")
	}
	g3 := publish()
	if g2.Free() {
		t.Fatal("the list on screen was given back when the Store moved on")
	}
	a.Close()
	if !g2.Free() || g3.Free() {
		t.Errorf("after Close: the screen's list free %v (want true), the Store's %v (want false)", g2.Free(), g3.Free())
	}
}

// TestSocketCachesFollowSocketsSeq: what the pages compute from a socket
// list (sort keys, the join with conntrack) is computed again for a new
// list in the memory of an old one (the sockets collector fills a list
// nobody holds again), told apart by SocketsSeq.
func TestSocketCachesFollowSocketsSeq(t *testing.T) {
	buf := fixtureSockets()
	a := model.Snapshot{Sockets: buf, SocketsSeq: 1}
	var o sockOrder
	o.build(&a)
	slices.Reverse(buf) // the same memory, other sockets
	b := model.Snapshot{Sockets: buf, SocketsSeq: 2}
	if sameSockets(&a, &b) {
		t.Fatal("two updates' lists in the same memory taken for the same")
	}
	o.build(&b)
	var want sockOrder
	want.build(&model.Snapshot{Sockets: slices.Clone(buf), SocketsSeq: 3})
	if diff := cmp.Diff(want.ord, o.ord, cmp.AllowUnexported(sockOrd{}, addrOrd{})); diff != "" {
		t.Errorf("sort keys of the refilled list (-want +got):\n%s", diff)
	}
}

// TestSocketTablesAtOnce: a new socket table is shown as it arrives once
// half an interval has passed since the last one (the screen then gives
// the one it leaves back before the next collection); other changes, and
// socket tables closer together, wait for the interval.
func TestSocketTablesAtOnce(t *testing.T) {
	store := model.NewStore("web-1", "6.12.48-netlens", t0)
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now, Refresh: time.Second}, 80, 24)
	store.Publish(model.SocketsUpdate{Sockets: fixtureSockets()[:2]})
	a.Update(storeChangedMsg{}) // the first rows: at once
	clock.now = clock.now.Add(600 * time.Millisecond)
	store.Publish(model.SysctlsUpdate{Sysctls: []model.Sysctl{{Name: "net.core.somaxconn", Value: "4096"}}})
	a.Update(storeChangedMsg{})
	if len(a.snap.Sysctls) != 0 || !a.feed.waiting {
		t.Fatal("a change without a socket table was applied within the interval")
	}
	if publishSockets(a, store, clock, 100*time.Millisecond, 3) != 3 || len(a.snap.Sysctls) != 1 {
		t.Fatalf("a socket table 0.7 s after the last was not applied at once: %d sockets, %d sysctls on screen", len(a.snap.Sockets), len(a.snap.Sysctls))
	}
	if publishSockets(a, store, clock, 300*time.Millisecond, 4) != 3 {
		t.Fatal("a socket table 0.3 s after the last was applied at once")
	}
	clock.now = clock.now.Add(time.Second)
	a.Update(refreshMsg{})
	if len(a.snap.Sockets) != 4 {
		t.Fatalf("the tick applied %d sockets, want 4", len(a.snap.Sockets))
	}
}

// TestJoinFollowsRefilledList: the joined view joins a list filled
// again in the same memory (other sockets, same length, same flows)
// afresh rather than keeping the join of the list that was there.
func TestJoinFollowsRefilledList(t *testing.T) {
	store := flowStore()
	snap, lease := store.Hold()
	buf := slices.Clone(snap.Sockets)
	lease.Release()
	store.Publish(model.SocketsUpdate{Sockets: buf})
	a := newTestApp(t, store, Options{}, 120, 40)
	send(a, "v", "v") // the joined view
	p := conns(a).joined
	check := func(when string) {
		t.Helper()
		a.apply()
		a.View()
		want := model.JoinSocketsFlows(p.snap.Sockets, p.snap.Flows, flowsNetNS(p.snap.NetNS))[:len(p.snap.Sockets)]
		if diff := cmp.Diff(want, p.join); diff != "" {
			t.Fatalf("%s: join (-want +got):\n%s", when, diff)
		}
	}
	check("first list")
	slices.Reverse(buf) // the collector fills the same memory again
	store.Publish(model.SocketsUpdate{Sockets: buf})
	check("the list filled again")
}

// TestViewsFollowRefilledFlows: the flows view's order and the joined
// view's join are computed again for a flow list filled again in the
// same memory (the conntrack collector fills a list nobody holds again),
// told apart by FlowsSeq: they are what a fresh copy of the list gives.
func TestViewsFollowRefilledFlows(t *testing.T) {
	store := flowStore()
	snap, lease := store.Hold()
	buf := slices.Clone(snap.Flows)
	lease.Release()
	store.Publish(model.FlowsUpdate{Flows: buf})
	a := newTestApp(t, store, Options{}, 120, 40)
	show := func(a *App, keys ...string) (flows []model.Flow, join []model.SocketFlow) {
		send(a, keys...)
		a.apply()
		a.View()
		p := conns(a)
		for _, i := range p.flows.order {
			flows = append(flows, p.flows.snap.Flows[i])
		}
		return flows, p.joined.join
	}
	show(a, "v")      // the flows view
	show(a, "v", "v") // the joined view, and back to the sockets view
	// The same memory, other flows: bytes moved between them so that the
	// order by bytes changes, and the list reversed.
	for i := range buf {
		buf[i].OrigBytes = uint64(1000 * (i + 1))
	}
	slices.Reverse(buf)
	store.Publish(model.FlowsUpdate{Flows: buf})

	fresh := flowStore()
	fresh.Publish(model.FlowsUpdate{Flows: slices.Clone(buf)})
	b := newTestApp(t, fresh, Options{}, 120, 40)
	gotFlows, _ := show(a, "v") // the flows view
	wantFlows, _ := show(b, "v")
	if diff := cmp.Diff(wantFlows, gotFlows, cmp.Comparer(func(x, y model.Flow) bool { return x == y })); diff != "" {
		t.Errorf("flows in the flows view's order (-fresh copy +refilled):\n%s", diff)
	}
	_, gotJoin := show(a, "v") // the joined view
	_, wantJoin := show(b, "v")
	if diff := cmp.Diff(wantJoin, gotJoin); diff != "" {
		t.Errorf("the joined view's join (-fresh copy +refilled):\n%s", diff)
	}
}

// TestOldListsNotKept: a socket or flow list the screen has moved past
// is not kept alive by what the views remember of it (their sort keys,
// the state counts, the traced drops' owners), even when the next list
// has the same rows, so that the sort keys are kept rather than built
// again. The sockets view's sort keys held the start's first socket
// list (a copy published before the owners) for the TUI's whole run:
// 19 MB at 100,000 sockets.
func TestOldListsNotKept(t *testing.T) {
	store := model.NewStore("web-1", "6.12.48-netlens", t0)
	clock := &fakeClock{now: t0}
	a := newTestApp(t, store, Options{Now: clock.Now, Refresh: time.Second}, 120, 30)
	store.Publish(model.DropTraceUpdate{Trace: model.DropTrace{Supported: true}}) // the Drops column counts traced drops
	freed := make(chan string, 2)
	publish := func(socks []model.Socket, flows []model.Flow, track bool) {
		if track {
			runtime.AddCleanup(&socks[0], func(string) { freed <- "sockets" }, "")
			runtime.AddCleanup(&flows[0], func(string) { freed <- "flows" }, "")
		}
		clock.now = clock.now.Add(2 * time.Second)
		store.Publish(model.SocketsUpdate{Sockets: socks})
		store.Publish(model.FlowsUpdate{Flows: flows})
		a.Update(storeChangedMsg{})
		a.View()
		send(a, "v") // the flows view, then the joined, the processes and the sockets view again
		a.View()
	}
	// The first lists, drawn in every view; then copies of them (the same
	// rows: every view keeps its order), drawn in every view too.
	publish(slices.Clone(fixtureSockets()), slices.Clone(fixtureFlows()), true)
	for range 4 {
		publish(slices.Clone(fixtureSockets()), slices.Clone(fixtureFlows()), false)
	}
	got := map[string]bool{}
	for deadline := time.Now().Add(5 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		runtime.GC()
		select {
		case what := <-freed:
			got[what] = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, what := range []string{"sockets", "flows"} {
		if !got[what] {
			t.Errorf("the first %s list is still alive after four newer ones", what)
		}
	}
	if len(a.snap.Sockets) != len(fixtureSockets()) {
		t.Fatalf("%d sockets shown, want %d", len(a.snap.Sockets), len(fixtureSockets()))
	}
}
