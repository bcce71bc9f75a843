package model

import (
	"testing"
	"time"
)

// TestListGenFree: a published socket or flow list is free once the
// Store has replaced it and every Lease on it (Hold's covers both lists)
// is released; never when it was handed out by Snapshot; at once when a
// ScopedPublisher drops it; when a namespace switch empties the Store;
// and an update of the other list keeps it.
func TestListGenFree(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, list := range []struct {
		name  string
		add   func(g *SocketsGen) Update // an update publishing one entry under g
		other Update                     // an update of the other list
		len   func(Snapshot) int
		seq   func(Snapshot) uint64
	}{
		{"sockets", func(g *SocketsGen) Update {
			return SocketsUpdate{At: now, Sockets: []Socket{{Proto: ProtoTCP}}, Gen: g.Ref()}
		},
			FlowsUpdate{At: now}, func(s Snapshot) int { return len(s.Sockets) }, func(s Snapshot) uint64 { return s.SocketsSeq }},
		{"flows", func(g *SocketsGen) Update { return FlowsUpdate{At: now, Flows: []Flow{{ID: 1}}, Gen: g.Ref()} },
			SocketsUpdate{At: now}, func(s Snapshot) int { return len(s.Flows) }, func(s Snapshot) uint64 { return s.FlowsSeq }},
	} {
		publish := func(s interface{ Publish(Update) }) *SocketsGen {
			g := new(SocketsGen)
			s.Publish(list.add(g))
			return g
		}
		t.Run(list.name+"/replaced and released", func(t *testing.T) {
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
			if list.len(snap) != 1 || list.seq(snap) == 0 {
				t.Errorf("snapshot %+v", snap)
			}
		})
		t.Run(list.name+"/pinned by Snapshot", func(t *testing.T) {
			s := NewStore("h", "k", now)
			g := publish(s)
			_ = s.Snapshot()
			publish(s)
			if g.Free() || !g.Pinned() {
				t.Fatalf("after Snapshot handed it out: free %v, pinned %v", g.Free(), g.Pinned())
			}
		})
		t.Run(list.name+"/held by an update not applied", func(t *testing.T) {
			s := NewStore("h", "k", now)
			p := s.Scoped()
			s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
			if g := publish(p); !g.Free() {
				t.Fatal("a dropped update still holds its list")
			}
		})
		t.Run(list.name+"/namespace switch", func(t *testing.T) {
			s := NewStore("h", "k", now)
			g := publish(s)
			old, l := s.Hold()
			l.Release()
			s.Publish(NetNSUpdate{NetNS: &NetNS{Name: "b"}, Switch: true})
			snap, l := s.Hold()
			defer l.Release()
			if list.len(snap) != 0 || list.seq(snap) == list.seq(old) || !g.Free() {
				t.Errorf("after the switch: %d entries, seq %d (was %d), old list free %v", list.len(snap), list.seq(snap), list.seq(old), g.Free())
			}
		})
		t.Run(list.name+"/an update of the other list keeps it", func(t *testing.T) {
			s := NewStore("h", "k", now)
			g := publish(s)
			a, la := s.Hold()
			s.Publish(list.other)
			b, lb := s.Hold()
			la.Release()
			lb.Release()
			if list.seq(a) != list.seq(b) || g.Free() {
				t.Errorf("the other list's update changed this one: seq %d -> %d, free %v", list.seq(a), list.seq(b), g.Free())
			}
		})
	}
}
