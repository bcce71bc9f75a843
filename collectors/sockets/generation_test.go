package sockets

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"
	"time"

	"netlens/internal/netnstest"
	"netlens/model"
)

// frozen is a deep copy of a socket list: the TCP and Rate its sockets
// point to copied too.
func frozen(socks []model.Socket) []model.Socket {
	out := make([]model.Socket, len(socks))
	for i, s := range socks {
		if s.TCP != nil {
			v := *s.TCP
			s.TCP = &v
		}
		if s.Rate != nil {
			v := *s.Rate
			s.Rate = &v
		}
		out[i] = s
	}
	return out
}

// diffSockets reports where got differs from want, deeply; "" if nowhere.
func diffSockets(want, got []model.Socket) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d sockets, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			return fmt.Sprintf("socket %d:\n got %+v tcp %+v rate %+v\nwant %+v tcp %+v rate %+v",
				i, got[i], got[i].TCP, got[i].Rate, want[i], want[i].TCP, want[i].Rate)
		}
	}
	return ""
}

// TestIntegrationRecycledListsNeverChange: the collector fills the lists
// (and the tcp_info and rates) of earlier collections again, and a list a
// reader holds, with Store.Hold until it releases it or with
// Store.Snapshot for good, never changes while the connections churn and
// carry traffic; the collector does fill free lists again (it takes no
// new memory once warm). Checked against deep copies taken when each
// list was handed out, as TestTableSnapshotsNeverChange does for
// conntrack.
func TestIntegrationRecycledListsNeverChange(t *testing.T) {
	ns := netnstest.New(t, "nlsk-recycle")
	var lis net.Listener
	ns.Do(t, func() {
		var err error
		if lis, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer lis.Close()
	go func() { // every accepted connection echoes what it reads
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	var conns []net.Conn
	dial := func() {
		t.Helper()
		var c net.Conn
		var err error
		ns.Do(t, func() { c, err = net.Dial("tcp4", lis.Addr().String()) })
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 40 {
		dial()
	}
	rng := rand.New(rand.NewPCG(19, 3))
	buf := make([]byte, 4096)
	// churn closes a few connections, opens as many, and sends some bytes
	// over a few (their counters and rates change).
	churn := func() {
		t.Helper()
		for range 3 {
			i := rng.IntN(len(conns))
			conns[i].Close()
			conns = append(conns[:i], conns[i+1:]...)
			dial()
		}
		for range 10 {
			c := conns[rng.IntN(len(conns))]
			n := 1 + rng.IntN(len(buf))
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(buf[:n]); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:n]); err != nil {
				t.Fatal(err)
			}
		}
	}

	store := model.NewStore("h", "k", time.Now())
	c := New(Options{NetNS: ns.FD(t)}) // owners on: the first run publishes twice
	defer c.Close()
	type held struct {
		snap  model.Snapshot
		want  []model.Socket
		lease *model.Lease
		until int // the round it is released in
	}
	var holds []held
	var pinned []held // taken with Snapshot: never released
	withRates := 0
	const rounds = 30
	for round := range rounds {
		if err := c.Collect(context.Background(), store); err != nil {
			t.Fatal(err)
		}
		snap, lease := store.Hold()
		// Like the screen: a list is given back after the next
		// collection, now and then (a paused screen) a few later.
		until := round + 1
		if round%7 == 3 {
			until += 2 + rng.IntN(3)
		}
		holds = append(holds, held{snap, frozen(snap.Sockets), lease, until})
		if round%10 == 5 {
			s := store.Snapshot()
			pinned = append(pinned, held{snap: s, want: frozen(s.Sockets)})
		}
		for _, s := range snap.Sockets {
			if s.Rate != nil && s.Rate.Known && s.Rate.RxBps > 0 {
				withRates++
			}
		}
		churn()
		for _, h := range append(holds, pinned...) {
			if d := diffSockets(h.want, h.snap.Sockets); d != "" {
				t.Fatalf("round %d: the list of seq %d changed while held: %s", round, h.snap.Seq, d)
			}
		}
		kept := holds[:0]
		for _, h := range holds {
			if h.until <= round {
				h.lease.Release()
				continue
			}
			kept = append(kept, h)
		}
		holds = kept
	}
	if withRates == 0 {
		t.Error("no socket had a known rate: the rates slab was not exercised")
	}
	// Warm, the collector fills free lists again: only the first
	// collections, and those after a list was pinned or held long, take
	// new memory.
	if c.gens.reused < rounds/2 {
		t.Errorf("%d of %d collections filled a free list again (%d took new memory)", c.gens.reused, rounds, c.gens.made)
	}
	t.Logf("%d collections: %d into new memory, %d into free lists", rounds, c.gens.made, c.gens.reused)
}

// TestTakeWaitsForAReader: with two generations kept and none free, take
// waits for a reader to give one back instead of taking new memory, up to
// its bound and while its context lasts.
func TestTakeWaitsForAReader(t *testing.T) {
	store, gs, publish := waitingGenerations()
	ctx := context.Background()
	g1 := gs.take(ctx, 10)
	publish(g1)
	_, screen := store.Hold() // the screen shows g1
	g2 := gs.take(ctx, 10)    // one kept: new memory, no wait
	publish(g2)               // the Store lets g1 go; the screen has not yet
	if gs.made != 2 || gs.waited != 0 {
		t.Fatalf("made %d, waited %d: want 2 new generations and no wait", gs.made, gs.waited)
	}

	go func() { time.Sleep(30 * time.Millisecond); screen.Release() }()
	start := time.Now()
	g3 := gs.take(ctx, 10)
	if g3 != g1 {
		t.Errorf("take gave new memory (%p), want g1 (%p) once the screen gave it back", g3, g1)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("take returned after %v, before the screen gave g1 back", d)
	}
	if gs.made != 2 || gs.reused != 1 || gs.waited != 1 || gs.late != 0 {
		t.Errorf("made %d reused %d waited %d late %d, want 2 1 1 0", gs.made, gs.reused, gs.waited, gs.late)
	}

	// The screen holds g2 past the bound: new memory after the wait.
	_, screen = store.Hold()
	defer screen.Release()
	publish(g3)
	gs.wait = 20 * time.Millisecond
	start = time.Now()
	if g := gs.take(ctx, 10); g == g2 || g == g3 {
		t.Error("take gave a generation a reader holds")
	}
	if d := time.Since(start); d < gs.wait {
		t.Errorf("take gave up after %v, before its bound %v", d, gs.wait)
	}
	if gs.made != 3 || gs.late != 1 {
		t.Errorf("made %d late %d, want 3 1", gs.made, gs.late)
	}

	// A context done ends the wait at once.
	gs.wait = time.Hour
	done, cancel := context.WithCancel(ctx)
	cancel()
	start = time.Now()
	if g := gs.take(done, 10); g == g2 || g == g3 {
		t.Error("take gave a generation a reader holds")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("take waited %v with its context done", d)
	}
}

// TestTakeDoesNotWaitForPinned: a list handed out for good (Store.Snapshot,
// as serve's scrapes and top's samples take it) is never given back, so
// take neither waits for it nor keeps it: with the other kept generation
// in the Store, it takes new memory at once.
func TestTakeDoesNotWaitForPinned(t *testing.T) {
	store, gs, publish := waitingGenerations()
	ctx := context.Background()
	g1 := gs.take(ctx, 10)
	publish(g1)
	_ = store.Snapshot() // a scrape: g1 is pinned
	g2 := gs.take(ctx, 10)
	publish(g2) // the Store lets g1 go; it stays pinned
	start := time.Now()
	g3 := gs.take(ctx, 10)
	if d := time.Since(start); d > time.Second {
		t.Errorf("take waited %v for a pinned generation", d)
	}
	if g3 == g1 || g3 == g2 {
		t.Error("take gave a generation that is pinned or in the Store")
	}
	if gs.waited != 0 || gs.made != 3 {
		t.Errorf("waited %d made %d, want 0 3", gs.waited, gs.made)
	}
	for _, g := range gs.kept {
		if g == g1 {
			t.Error("the pinned generation is still kept")
		}
	}
}

// waitingGenerations returns a Store, generations that wait 5 s for a
// reader, and publish, which publishes a generation's list to the Store
// and keeps it, as the collector does.
func waitingGenerations() (*model.Store, *generations, func(*generation)) {
	store := model.NewStore("h", "k", time.Now())
	gs := &generations{wait: 5 * time.Second}
	return store, gs, func(g *generation) {
		store.Publish(model.SocketsUpdate{At: time.Now(), Sockets: g.socks, Gen: g.life.Ref()})
		gs.put(g)
	}
}
