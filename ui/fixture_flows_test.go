package ui

import (
	"net/netip"
	"time"

	"netlens/model"
)

// flow builds a conntrack flow from its tuples ("src", "dst" of each
// direction), as the collector would, with NAT derived.
func flow(id uint32, proto uint8, os, od, rs, rd string, tcp model.TCPState, status model.FlowStatus, timeout time.Duration) model.Flow {
	f := model.Flow{
		ID: id, Family: model.FamilyIPv4, Proto: model.FlowProto(proto), ProtoNum: proto,
		Orig:   model.FlowTuple{Src: ap(os), Dst: ap(od)},
		Reply:  model.FlowTuple{Src: ap(rs), Dst: ap(rd)},
		Status: status | model.StatusConfirmed, Timeout: timeout,
		FirstSeen: t0, Updated: t0.Add(time.Second),
	}
	if f.Orig.Src.Addr().Is6() {
		f.Family = model.FamilyIPv6
	}
	if proto == 6 {
		f.TCPState = tcp
	}
	f.SetNAT()
	return f
}

// fixtureFlows is a small conntrack table: flows of local sockets of
// fixtureSockets (so that the joined view joins them), forwarded and
// NATed flows, UDP, ICMP and ICMPv6.
func fixtureFlows() []model.Flow {
	const (
		assured = model.StatusSeenReply | model.StatusAssured
		replied = model.StatusSeenReply
	)
	day := 24 * time.Hour
	flows := []model.Flow{
		// sshd's connection from an admin (the socket answered: reply).
		flow(101, 6, "192.168.100.200:51234", "10.20.0.5:22", "10.20.0.5:22", "192.168.100.200:51234", model.TCPEstablished, assured, 5*day-time.Second),
		// postgres on loopback: both sockets share the flow.
		flow(102, 6, "127.0.0.1:40022", "127.0.0.1:5432", "127.0.0.1:5432", "127.0.0.1:40022", model.TCPEstablished, assured, 5*day-3*time.Second),
		// app-server's connect to redis, not answered.
		flow(103, 6, "10.20.0.5:38800", "10.20.0.9:6379", "10.20.0.9:6379", "10.20.0.5:38800", model.TCPSynSent, 0, 118*time.Second),
		// An HTTPS client over IPv6.
		flow(104, 6, "[2001:db8:ffff:1234:5678:9abc:def0:1]:60412", "[2001:db8:10::5]:443", "[2001:db8:10::5]:443", "[2001:db8:ffff:1234:5678:9abc:def0:1]:60412", model.TCPEstablished, assured, 4*day),
		// A port forward to a container: DNAT 10.20.0.5:8080 -> 172.17.0.3:80.
		flow(105, 6, "198.51.100.7:40000", "10.20.0.5:8080", "172.17.0.3:80", "198.51.100.7:40000", model.TCPEstablished, assured|model.StatusDstNAT, 5*day),
		// The container's masqueraded connection out: SNAT to the host.
		flow(106, 6, "172.17.0.3:45000", "93.184.216.34:443", "93.184.216.34:443", "10.20.0.5:45000", model.TCPTimeWait, assured|model.StatusSrcNAT, 90*time.Second),
		// Hairpin: DNAT and SNAT both.
		flow(107, 6, "172.17.0.2:51000", "10.20.0.5:8080", "172.17.0.3:80", "172.17.0.1:51000", model.TCPCloseWait, assured|model.StatusSrcNAT|model.StatusDstNAT, 59*time.Second),
		// A DNS query not answered yet.
		flow(108, 17, "10.20.0.5:53000", "10.20.0.53:53", "10.20.0.53:53", "10.20.0.5:53000", 0, 0, 29*time.Second),
		// NTP, answered.
		flow(109, 17, "10.20.0.5:123", "192.0.2.123:123", "192.0.2.123:123", "10.20.0.5:123", 0, replied, 119*time.Second),
		// A TIME-WAIT client of the fixture's TIME-WAIT sockets.
		flow(110, 6, "203.0.113.10:40000", "10.20.0.5:443", "10.20.0.5:443", "203.0.113.10:40000", model.TCPTimeWait, assured, 100*time.Second),
	}
	ping := flow(111, 1, "10.20.0.5:0", "10.20.0.1:0", "10.20.0.1:0", "10.20.0.5:0", 0, replied, 29*time.Second)
	ping.Orig.ICMP, ping.Reply.ICMP = &model.ICMPKey{Type: 8, Code: 0, ID: 7}, &model.ICMPKey{Type: 0, Code: 0, ID: 7}
	ping.SetNAT()
	ping6 := flow(112, 58, "[fe80::1]:0", "[fe80::2]:0", "[fe80::2]:0", "[fe80::1]:0", 0, 0, 29*time.Second)
	ping6.Orig.ICMP, ping6.Reply.ICMP = &model.ICMPKey{Type: 128, Code: 0, ID: 9}, &model.ICMPKey{Type: 129, Code: 0, ID: 9}
	ping6.SetNAT()
	flows = append(flows, ping, ping6)
	// Counts, marks, zones and start times, varied and fixed.
	for i := range flows {
		f := &flows[i]
		f.CountersKnown = true
		f.OrigPackets, f.ReplyPackets = uint64(10*(i+1)), uint64(7*(i+1))
		f.OrigBytes, f.ReplyBytes = uint64(1200*(i+1)*(i+1)), uint64(90000*(i+1)*(i+1)*(i%4))
		f.Start = t0.Add(-time.Duration(i*i*37) * time.Second)
	}
	flows[4].Mark, flows[4].Zone = 0x10, 1
	flows[6].Mark = 4242
	flows[0].OrigBytes, flows[0].ReplyBytes = 4_800_000, 912_000_000 // a long scp
	return flows
}

// fixtureCTStats are the statistics of a healthy conntrack table with
// accounting and timestamps on.
func fixtureCTStats(count, maxEntries uint64) model.ConntrackStats {
	return model.ConntrackStats{
		At: t0.Add(time.Second), Count: count, Max: maxEntries, Buckets: 65536,
		Accounting: true, Timestamps: true, Events: true,
		PerCPU:    []model.ConntrackCPU{},
		FlowsHeld: 12, FlowsLimit: 65536, Dumps: 1, Listening: true,
	}
}

// ctCounters are the statistics the conntrack collector publishes as
// counters, at sample step: drop and early_drop grow by drops a step.
func ctCounters(step int, drops uint64) []model.RawCounter {
	v := func(base, per uint64) uint64 { return base + per*uint64(step) }
	c := func(name string, val uint64) model.RawCounter {
		return model.RawCounter{Layer: model.LayerNetfilter, Source: ctCounterSource, Group: ctCounterGroup, Name: name, Kind: model.KindCounter, Value: val}
	}
	return []model.RawCounter{
		c("found", v(1000, 40)), c("invalid", v(12, 1)), c("insert", v(500, 10)),
		c("insert_failed", v(3, 0)), c("drop", v(0, drops)), c("early_drop", v(0, drops/2)),
	}
}

// ctStore returns fixtureStore with a working conntrack collector: the
// fixture flows, stats from mod, and two samples of its counters.
func ctStore(drops uint64, mod func(*model.ConntrackStats)) *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateOK, Interval: 2 * time.Second, Source: "ctnetlink"}})
	s.Publish(model.FlowsUpdate{At: t0.Add(time.Second), Flows: fixtureFlows()})
	st := fixtureCTStats(1234, 262144)
	if mod != nil {
		mod(&st)
	}
	s.Publish(model.ConntrackStatsUpdate{Stats: st})
	s.Publish(model.CountersUpdate{Collector: "conntrack", At: t0.Add(-time.Second), Counters: ctCounters(0, drops)})
	s.Publish(model.CountersUpdate{Collector: "conntrack", At: t0.Add(time.Second), Counters: ctCounters(1, drops)})
	return s
}

// flowStore is a healthy conntrack table.
func flowStore() *model.Store { return ctStore(0, nil) }

// tableFullStore is a full conntrack table dropping new flows.
func tableFullStore() *model.Store {
	return ctStore(240, func(st *model.ConntrackStats) { st.Count, st.Max = 262144, 262144 })
}

// acctOffStore is a conntrack table without accounting or timestamps
// (nf_conntrack_acct=0, nf_conntrack_timestamp=0), and with events lost.
func acctOffStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateOK, Interval: 2 * time.Second, Source: "ctnetlink"}})
	flows := fixtureFlows()
	for i := range flows {
		f := &flows[i]
		f.CountersKnown = false
		f.OrigPackets, f.ReplyPackets, f.OrigBytes, f.ReplyBytes = 0, 0, 0, 0
		f.Start = time.Time{}
	}
	s.Publish(model.FlowsUpdate{At: t0.Add(time.Second), Flows: flows})
	st := fixtureCTStats(1234, 262144)
	st.Accounting, st.Timestamps = false, false
	st.EventsLost, st.Overruns, st.ResyncPending = 5120, 3, true
	s.Publish(model.ConntrackStatsUpdate{Stats: st})
	s.Publish(model.CountersUpdate{Collector: "conntrack", At: t0, Counters: ctCounters(0, 0)})
	return s
}

// ctNotSupportedStore has no conntrack at all (the module is not loaded).
func ctNotSupportedStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateNotSupported,
		Reason: "nf_conntrack not loaded: not supported by this kernel"}})
	return s
}

// ctPermissionStore is fixtureStore with what /proc shows without
// CAP_NET_ADMIN: the count and max, and a collector that needs it.
func ctPermissionStore() *model.Store {
	s := fixtureStore()
	st := model.ConntrackStats{At: t0, Count: 250000, Max: 262144, PerCPU: []model.ConntrackCPU{}}
	s.Publish(model.ConntrackStatsUpdate{Stats: st})
	return s
}

// bigFlows returns n distinct flows for benchmarks: a third SNATed, a
// tenth DNATed, varied counts.
func bigFlows(n int) []model.Flow {
	out := make([]model.Flow, n)
	for i := range out {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), uint16(1024+i%60000))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%40000))
		rsrc, rdst := dst, src
		if i%3 == 0 {
			rdst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), uint16(30000+i%30000))
		}
		if i%10 == 0 {
			rsrc = netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 17, byte(i >> 8), byte(i)}), 80)
		}
		proto := uint8(6)
		if i%5 == 0 {
			proto = 17
		}
		f := model.Flow{
			ID: uint32(i + 1), Family: model.FamilyIPv4, Proto: model.FlowProto(proto), ProtoNum: proto,
			Orig: model.FlowTuple{Src: src, Dst: dst}, Reply: model.FlowTuple{Src: rsrc, Dst: rdst},
			TCPState: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed,
			Timeout: time.Duration(i%432000) * time.Second, CountersKnown: true,
			OrigPackets: uint64(i % 977), ReplyPackets: uint64(i % 613), OrigBytes: uint64(i%977) * 1400, ReplyBytes: uint64(i%613) * 900,
			Start: t0.Add(-time.Duration(i%86400) * time.Second), FirstSeen: t0, Updated: t0,
		}
		f.SetNAT()
		out[i] = f
	}
	return out
}
