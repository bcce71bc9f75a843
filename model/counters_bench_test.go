package model

import (
	"fmt"
	"testing"
	"time"
)

// counterSets are counter updates shaped like a host's steady state: the
// /proc/net counters (snmp, netstat, snmp6: some 400), the qdisc
// collector's (9 values for each of 16 qdiscs and 16 links), the
// conntrack statistics and the drop monitor's reasons. Each collector
// publishes its counters in the same order every time, as the real ones
// do, and not sorted.
func counterSets() map[string][]RawCounter {
	sets := map[string][]RawCounter{}
	var pn []RawCounter
	for i := range 420 {
		grp := [...]string{"Tcp", "TcpExt", "Udp", "Ip", "IpExt", "Icmp"}[i%6]
		src := "/proc/net/snmp"
		if i%3 == 0 {
			src = "/proc/net/netstat"
		}
		kind := KindCounter
		if i%40 == 0 {
			kind = KindGauge
		}
		pn = append(pn, RawCounter{Layer: LayerTransport, Source: src, Group: grp, Name: fmt.Sprintf("Name%03d", 419-i), Kind: kind})
	}
	sets[CollectorCounters] = pn
	var qd []RawCounter
	for dev := range 16 {
		for v := range 9 {
			qd = append(qd, RawCounter{Layer: LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: fmt.Sprintf("veth%02d 1:", dev), Name: fmt.Sprintf("stat%d", v), Kind: KindCounter})
			qd = append(qd, RawCounter{Layer: LayerNIC, Source: "rtnetlink", Group: "link", Instance: fmt.Sprintf("veth%02d", dev), Name: fmt.Sprintf("stat%d", v), Kind: KindCounter})
		}
	}
	sets["qdisc"] = qd
	var ct []RawCounter
	for i := range 20 {
		ct = append(ct, RawCounter{Layer: LayerNetfilter, Source: "ctnetlink", Name: fmt.Sprintf("ct%02d", i), Kind: KindCounter})
	}
	sets[CollectorConntrack] = ct
	var dm []RawCounter
	for i := range 30 {
		dm = append(dm, RawCounter{Layer: LayerOther, Source: dropMonitorSource, Name: fmt.Sprintf("reason%02d", i), Kind: KindCounter})
	}
	sets["dropmon"] = dm
	return sets
}

// countersRound publishes one update of every collector of sets at at,
// each value grown by round, as the collectors do every refresh. It
// writes the values into sets' lists, and publishes them again: the
// Store keeps nothing of an update's list (it copies the counters out),
// and what the collectors allocate is theirs to count, not the Store's.
func countersRound(s *Store, names []string, sets map[string][]RawCounter, at time.Time, round int) {
	for _, name := range names {
		cs := sets[name]
		for i := range cs {
			cs[i].Value = uint64(round * (i%7 + 1))
		}
		s.Publish(CountersUpdate{Collector: name, At: at, Counters: cs})
	}
}

var benchNames = []string{CollectorCounters, "qdisc", CollectorConntrack, "dropmon"}

// BenchmarkCountersRefresh is one refresh of the steady state: the four
// collectors each publish their counters once, and one reader (the TUI)
// takes the snapshot.
func BenchmarkCountersRefresh(b *testing.B) {
	benchCounters(b, false)
}

// BenchmarkCountersEveryUpdate is BenchmarkCountersRefresh with a reader
// taking the snapshot after every update (a reader woken by each).
func BenchmarkCountersEveryUpdate(b *testing.B) {
	benchCounters(b, true)
}

func benchCounters(b *testing.B, readEach bool) {
	sets := counterSets()
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	for r := range 3 * HistoryLen { // histories full, as in the steady state
		countersRound(s, benchNames, sets, t0.Add(time.Duration(r)*time.Second), r)
	}
	var sink []Counter
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := 3*HistoryLen + i
		at := t0.Add(time.Duration(r) * time.Second)
		if readEach {
			for _, name := range benchNames {
				countersRound(s, []string{name}, sets, at, r)
				sink = s.Snapshot().Counters
			}
		} else {
			countersRound(s, benchNames, sets, at, r)
			snap, lease := s.Hold()
			sink = snap.Counters
			lease.Release()
		}
	}
	if len(sink) != 758 {
		b.Fatalf("%d counters", len(sink))
	}
}
