package model

import (
	"testing"
	"time"
)

// TestSocketsGenFree: a published list is free once the Store has
// replaced it and every Lease on it is released; never when it was
// handed out by Snapshot; at once when a ScopedPublisher drops it; and
// when a namespace switch empties the Store.
func TestSocketsGenFree(t *testing.T) {
	now := time.Unix(1700000000, 0)
	publish := func(s *Store) *SocketsGen {
		g := new(SocketsGen)
		s.Publish(SocketsUpdate{At: now, Sockets: []Socket{{Proto: ProtoTCP}}, Gen: g.Ref()})
		return g
	}
	t.Run("replaced and released", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		snap, l1 := s.Hold()
		l2 := l1.Retain()
		if g.Free() {
			t.Fatal("free while the Store shows it")
		}
		publish(s)
		l1.Release()
		l1.Release() // twice: nothing more
		if g.Free() {
			t.Fatal("free while a retained lease holds it")
		}
		l2.Release()
		if !g.Free() {
			t.Fatal("not free once replaced and released")
		}
		if len(snap.Sockets) != 1 || snap.SocketsSeq == 0 {
			t.Errorf("snapshot %+v", snap)
		}
	})
	t.Run("pinned by Snapshot", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		_ = s.Snapshot()
		publish(s)
		if g.Free() {
			t.Fatal("free after Snapshot handed it out")
		}
	})
	t.Run("held by an update not applied", func(t *testing.T) {
		s := NewStore("h", "k", now)
		p := s.Scoped()
		s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
		g := new(SocketsGen)
		p.Publish(SocketsUpdate{At: now, Gen: g.Ref()})
		if !g.Free() {
			t.Fatal("a dropped update still holds its list")
		}
	})
	t.Run("namespace switch", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		old, l := s.Hold()
		l.Release()
		s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
		snap, l := s.Hold()
		defer l.Release()
		if len(snap.Sockets) != 0 || snap.SocketsSeq == old.SocketsSeq || !g.Free() {
			t.Errorf("after the switch: %d sockets, SocketsSeq %d (was %d), old list free %v", len(snap.Sockets), snap.SocketsSeq, old.SocketsSeq, g.Free())
		}
	})
	t.Run("other updates keep the list", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		a, la := s.Hold()
		s.Publish(FlowsUpdate{At: now})
		b, lb := s.Hold()
		la.Release()
		lb.Release()
		if a.SocketsSeq != b.SocketsSeq || g.Free() {
			t.Errorf("a flows update changed the socket list: SocketsSeq %d -> %d, free %v", a.SocketsSeq, b.SocketsSeq, g.Free())
		}
	})
}

// TestFlowsGenFree is TestSocketsGenFree for the flow list: Hold's Lease
// holds it too, Snapshot pins it, a dropped update and a namespace
// switch let it go, and a socket update keeps it.
func TestFlowsGenFree(t *testing.T) {
	now := time.Unix(1700000000, 0)
	publish := func(s interface{ Publish(Update) }) *SocketsGen {
		g := new(SocketsGen)
		s.Publish(FlowsUpdate{At: now, Flows: []Flow{{ID: 1}}, Gen: g.Ref()})
		return g
	}
	t.Run("replaced and released", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		snap, l1 := s.Hold()
		l2 := l1.Retain()
		publish(s)
		l1.Release()
		if g.Free() {
			t.Fatal("free while a retained lease holds it")
		}
		l2.Release()
		if !g.Free() {
			t.Fatal("not free once replaced and released")
		}
		if len(snap.Flows) != 1 || snap.FlowsSeq == 0 {
			t.Errorf("snapshot %+v", snap)
		}
	})
	t.Run("pinned by Snapshot", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		_ = s.Snapshot()
		publish(s)
		if g.Free() {
			t.Fatal("free after Snapshot handed it out")
		}
	})
	t.Run("held by an update not applied", func(t *testing.T) {
		s := NewStore("h", "k", now)
		p := s.Scoped()
		s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
		if g := publish(p); !g.Free() {
			t.Fatal("a dropped update still holds its list")
		}
	})
	t.Run("namespace switch", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		old, l := s.Hold()
		l.Release()
		s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
		snap, l := s.Hold()
		defer l.Release()
		if len(snap.Flows) != 0 || snap.FlowsSeq == old.FlowsSeq || !g.Free() {
			t.Errorf("after the switch: %d flows, FlowsSeq %d (was %d), old list free %v", len(snap.Flows), snap.FlowsSeq, old.FlowsSeq, g.Free())
		}
	})
	t.Run("a socket update keeps the list", func(t *testing.T) {
		s := NewStore("h", "k", now)
		g := publish(s)
		a, la := s.Hold()
		s.Publish(SocketsUpdate{At: now})
		b, lb := s.Hold()
		la.Release()
		lb.Release()
		if a.FlowsSeq != b.FlowsSeq || g.Free() {
			t.Errorf("a sockets update changed the flow list: FlowsSeq %d -> %d, free %v", a.FlowsSeq, b.FlowsSeq, g.Free())
		}
	})
}
