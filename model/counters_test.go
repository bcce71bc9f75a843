package model

import (
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// deepCounters is a copy of cs sharing no memory with it.
func deepCounters(cs []Counter) []Counter {
	out := slices.Clone(cs)
	for i := range out {
		out[i].History = slices.Clone(out[i].History)
	}
	return out
}

// TestPublishedCountersNeverChange takes snapshots between the updates of
// the steady state, after a collector's keys change and after a
// namespace switch, keeps a deep copy of each one's Counters, and after
// every update has been applied compares them: a list (or a History) the
// Store wrote into after handing it out shows here. Each snapshot is
// also checked to have the counters last published, sorted, not those
// of an earlier update.
func TestPublishedCountersNeverChange(t *testing.T) {
	sets := counterSets()
	full := slices.Clone(sets["qdisc"])
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	latest := map[string][]RawCounter{} // what each collector last published
	type kept struct {
		seq       uint64
		got, want []Counter
	}
	var keep []kept
	take := func(hold bool) {
		t.Helper()
		var snap Snapshot
		if hold {
			var l *Lease
			snap, l = s.Hold()
			l.Release()
		} else {
			snap = s.Snapshot()
		}
		var want []RawCounter
		for _, cs := range latest {
			want = append(want, cs...)
		}
		slices.SortFunc(want, func(a, b RawCounter) int { return compareRaw(&a, &b) })
		got := make([]RawCounter, len(snap.Counters))
		for i, c := range snap.Counters {
			got[i] = c.RawCounter
		}
		if !slices.Equal(want, got) {
			t.Fatalf("seq %d: not the counters last published (-want +got)\n%s", snap.Seq, cmp.Diff(want, got))
		}
		keep = append(keep, kept{snap.Seq, snap.Counters, deepCounters(snap.Counters)})
	}
	for r := range 2*HistoryLen + 10 {
		at := t0.Add(time.Duration(r) * time.Second)
		switch r {
		case 70: // two qdiscs go away
			sets["qdisc"] = full[:len(full)-36]
		case 80: // and come back
			sets["qdisc"] = full
		case 90: // the collectors move to another namespace
			s.Publish(NetNSUpdate{NetNS: &NetNS{Inode: 7}, Switch: true})
			for name := range latest {
				if name != "dropmon" {
					delete(latest, name)
				}
			}
			take(false)
		}
		for j, name := range benchNames {
			countersRound(s, []string{name}, sets, at, r)
			latest[name] = slices.Clone(sets[name])
			// Every update for a while, then a few a round: the
			// histories fill and wrap with snapshots held throughout.
			if r < 12 || (r+j)%5 == 0 {
				take(j%2 == 0)
			}
		}
	}
	take(true)
	for _, k := range keep {
		if !reflect.DeepEqual(k.want, k.got) {
			t.Fatalf("the counters of the snapshot of seq %d changed after it was taken (-then +now)\n%s", k.seq, cmp.Diff(k.want, k.got))
		}
	}
}

// TestSteadyCountersUpdateAllocates bounds what the Store allocates for
// a steady refresh (every collector publishes the keys it published
// before, in the same order) with one reader: at most the reader's
// merged list, what the histories' arrays take on average (one new
// array of 2*HistoryLen values, 1 KB, every HistoryLen+1 samples: 17
// bytes a counter and update; 24 allowed) and 8 KB more (the merge's
// small lists, the Lease, the snapshot the test keeps). Each update used to allocate its
// collector's list and a merged list of every counter: 760 KB a refresh
// here, against 161 KB now.
func TestSteadyCountersUpdateAllocates(t *testing.T) {
	sets := counterSets()
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	r := 0
	round := func() {
		countersRound(s, benchNames, sets, t0.Add(time.Duration(r)*time.Second), r)
		snap, l := s.Hold()
		l.Release()
		if len(snap.Counters) != 758 {
			t.Fatalf("%d counters", len(snap.Counters))
		}
		r++
	}
	for range 2 * HistoryLen {
		round()
	}
	const rounds = 3 * HistoryLen
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		round()
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / rounds
	limit := uint64(758*int(sizeofCounter) + 758*24 + 8192)
	t.Logf("%d bytes a refresh (limit %d)", per, limit)
	if per > limit {
		t.Fatalf("a steady refresh allocates %d bytes, more than %d", per, limit)
	}
}

const sizeofCounter = unsafe.Sizeof(Counter{})

// TestPublishedStatusesNeverChange is TestPublishedCountersNeverChange
// for the collectors' statuses, which the Store writes in place and
// copies into a snapshot when one is taken; a status update with
// nobody reading allocates nothing.
func TestPublishedStatusesNeverChange(t *testing.T) {
	s := NewStore("h", "k", time.Unix(0, 0))
	names := []string{"sockets", "counters", "qdisc", "conntrack", "links"}
	type kept struct{ got, want []CollectorStatus }
	var keep []kept
	for r := range 50 {
		for i, name := range names[:min(len(names), 1+r/3)] { // one more collector every third round
			s.Publish(StatusUpdate{CollectorStatus{Name: name, State: StateOK, Errors: uint64(r), LastRun: time.Unix(int64(r), 0)}})
			if (r+i)%3 == 0 {
				snap := s.Snapshot()
				if !slices.IsSortedFunc(snap.Collectors, func(a, b CollectorStatus) int { return strings.Compare(a.Name, b.Name) }) {
					t.Fatalf("round %d: not sorted: %+v", r, snap.Collectors)
				}
				if st, ok := snap.Status(name); !ok || st.Errors != uint64(r) {
					t.Fatalf("round %d: %s: %+v, %v", r, name, st, ok)
				}
				keep = append(keep, kept{snap.Collectors, slices.Clone(snap.Collectors)})
			}
		}
	}
	for i, k := range keep {
		if !slices.Equal(k.want, k.got) {
			t.Fatalf("snapshot %d: the statuses changed after it was taken (-then +now)\n%s", i, cmp.Diff(k.want, k.got))
		}
	}
	if st, ok := s.Status("links"); !ok || st.Errors != 49 {
		t.Fatalf("Status(links): %+v, %v", st, ok)
	}
	// Boxed once: what the publisher's conversion to an Update allocates
	// is not the Store's.
	var u Update = StatusUpdate{CollectorStatus{Name: "qdisc", State: StateError, Reason: "x"}}
	if n := testing.AllocsPerRun(100, func() { s.Publish(u) }); n != 0 {
		t.Fatalf("a status update allocates %v times", n)
	}
}

// TestCountersUpdateListNotKept scribbles over a CountersUpdate's list
// once it is published (what a collectors.CountersCopier's collector
// does when it fills it again): the snapshot, and the deltas of the
// next update, are those of what was published.
func TestCountersUpdateListNotKept(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	list := []RawCounter{{Layer: LayerIP, Source: "/proc/net/snmp", Group: "Ip", Name: "InReceives", Kind: KindCounter, Value: 10}}
	s.Publish(CountersUpdate{Collector: "c", At: t0, Counters: list})
	snap := s.Snapshot()
	list[0] = RawCounter{Layer: LayerNIC, Source: "x", Name: "y", Kind: KindGauge, Value: 999}
	if c := snap.Counters[0]; c.Name != "InReceives" || c.Value != 10 {
		t.Fatalf("snapshot: %+v", c)
	}
	list[0] = RawCounter{Layer: LayerIP, Source: "/proc/net/snmp", Group: "Ip", Name: "InReceives", Kind: KindCounter, Value: 15}
	s.Publish(CountersUpdate{Collector: "c", At: t0.Add(time.Second), Counters: list})
	if c := s.Snapshot().Counters[0]; c.Delta != 5 || c.Value != 15 {
		t.Fatalf("next update: %+v", c)
	}
}
