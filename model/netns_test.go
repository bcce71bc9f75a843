package model

import (
	"testing"
	"time"
)

// TestNetNSSwitch: a switch empties what was read in the old namespace
// and restarts counter deltas, but keeps the host-wide drop monitor's.
func TestNetNSSwitch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	s.Publish(SocketsUpdate{At: t0, Sockets: []Socket{{Proto: ProtoTCP}}})
	s.Publish(FlowsUpdate{At: t0, Flows: []Flow{{ID: 1}}})
	s.Publish(SysctlsUpdate{At: t0, Sysctls: []Sysctl{{Name: "net.x"}}})
	s.Publish(CountersUpdate{Collector: "counters", At: t0, Counters: []RawCounter{{Source: "/proc/net/snmp", Group: "Ip", Name: "InReceives", Value: 100}}})
	s.Publish(CountersUpdate{Collector: "dropmon", At: t0, Counters: []RawCounter{{Source: dropMonitorSource, Name: "x", Value: 5}}})
	s.Publish(NetNSUpdate{NetNS: &NetNS{Inode: 7, Path: "/run/netns/a"}, Switch: true})
	snap := s.Snapshot()
	if len(snap.Sockets)+len(snap.Flows)+len(snap.Sysctls) != 0 || snap.NetNS == nil || snap.NetNS.Inode != 7 {
		t.Fatalf("after switch: %d sockets %d flows %d sysctls, netns %+v", len(snap.Sockets), len(snap.Flows), len(snap.Sysctls), snap.NetNS)
	}
	if len(snap.Counters) != 1 || snap.Counters[0].Source != dropMonitorSource {
		t.Fatalf("counters after switch: %+v", snap.Counters)
	}
	// The new namespace's first sample has no delta against the old one's.
	s.Publish(CountersUpdate{Collector: "counters", At: t0.Add(time.Second), Counters: []RawCounter{{Source: "/proc/net/snmp", Group: "Ip", Name: "InReceives", Value: 3}}})
	for _, c := range s.Snapshot().Counters {
		if c.Name == "InReceives" && (c.Delta != 0 || c.Reset) {
			t.Errorf("first sample after switch: delta %d reset %v", c.Delta, c.Reset)
		}
	}
	s.Publish(NetNSUpdate{NetNS: &NetNS{Inode: 7, Path: "/run/netns/a", Gone: true}})
	if snap := s.Snapshot(); !snap.NetNS.Gone || len(snap.Counters) != 2 {
		t.Errorf("gone: %+v, %d counters (no switch: kept)", snap.NetNS, len(snap.Counters))
	}
}

// TestScopedPublisher: a publisher made before a switch publishes
// nothing after it (not applied, no Seq, no subscriber woken); one made
// after it does.
func TestScopedPublisher(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	old := s.Scoped()
	old.Publish(SocketsUpdate{At: t0, Sockets: []Socket{{Proto: ProtoTCP, Inode: 1}}})
	if n := len(s.Snapshot().Sockets); n != 1 || old.Stale() {
		t.Fatalf("before the switch: %d sockets, stale %v", n, old.Stale())
	}
	s.Publish(NetNSUpdate{NetNS: &NetNS{Inode: 7}, Switch: true})
	cur := s.Scoped()
	sub, unsub := s.Subscribe()
	defer unsub()
	seq := s.Snapshot().Seq
	old.Publish(SocketsUpdate{At: t0, Sockets: []Socket{{Proto: ProtoTCP, Inode: 2}}})
	old.Publish(StatusUpdate{Status: CollectorStatus{Name: "sockets", State: StateOK}})
	snap := s.Snapshot()
	if len(snap.Sockets) != 0 || len(snap.Collectors) != 0 || snap.Seq != seq || !old.Stale() {
		t.Fatalf("stale publisher after the switch: %d sockets, %d statuses, seq %d -> %d, stale %v", len(snap.Sockets), len(snap.Collectors), seq, snap.Seq, old.Stale())
	}
	select {
	case <-sub:
		t.Fatal("a dropped update woke a subscriber")
	default:
	}
	cur.Publish(SocketsUpdate{At: t0, Sockets: []Socket{{Proto: ProtoTCP, Inode: 3}}})
	if got := s.Snapshot().Sockets; len(got) != 1 || got[0].Inode != 3 || cur.Stale() {
		t.Fatalf("current publisher: %+v", got)
	}
	// A NetNSUpdate without Switch (the namespace gone) keeps the generation.
	s.Publish(NetNSUpdate{NetNS: &NetNS{Inode: 7, Gone: true}})
	if cur.Stale() {
		t.Error("Gone started a new generation")
	}
}
