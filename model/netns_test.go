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
