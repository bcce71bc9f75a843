package model

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCounterDeltas(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	pub := func(at time.Time, v uint64) Counter {
		s.Publish(CountersUpdate{Collector: "c", At: at, Counters: []RawCounter{{Layer: LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "InErrors", Kind: KindCounter, Value: v}}})
		return s.Snapshot().Counters[0]
	}
	tests := []struct {
		name  string
		at    time.Time
		v     uint64
		delta uint64
		total uint64
		rate  float64
		reset bool
	}{
		{"first sample has no delta", t0, 100, 0, 0, 0, false},
		{"grows", t0.Add(2 * time.Second), 110, 10, 10, 5, false},
		{"unchanged", t0.Add(3 * time.Second), 110, 0, 10, 0, false},
		{"reset counts from zero", t0.Add(4 * time.Second), 4, 4, 14, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pub(tt.at, tt.v)
			got := [4]any{c.Delta, c.Total, c.Rate, c.Reset}
			want := [4]any{tt.delta, tt.total, tt.rate, tt.reset}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestGaugeHasNoDelta(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := NewStore("h", "k", t0)
	for i, v := range []uint64{5, 9} {
		s.Publish(CountersUpdate{Collector: "c", At: t0.Add(time.Duration(i) * time.Second), Counters: []RawCounter{{Name: "inuse", Kind: KindGauge, Value: v}}})
	}
	c := s.Snapshot().Counters[0]
	if c.Delta != 0 || c.Value != 9 || c.LastChange.IsZero() {
		t.Fatalf("gauge: %+v", c)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	s := NewStore("h", "k", time.Now())
	s.Publish(SocketsUpdate{Sockets: []Socket{{Proto: ProtoTCP}}})
	old := s.Snapshot()
	s.Publish(SocketsUpdate{Sockets: []Socket{{Proto: ProtoUDP}, {Proto: ProtoRAW}}})
	if len(old.Sockets) != 1 || old.Sockets[0].Proto != ProtoTCP {
		t.Fatalf("old snapshot changed: %+v", old.Sockets)
	}
	if n := len(s.Snapshot().Sockets); n != 2 {
		t.Fatalf("new snapshot has %d sockets", n)
	}
}

func TestCountersFromSeveralCollectorsAreKeptAndOrdered(t *testing.T) {
	s := NewStore("h", "k", time.Now())
	s.Publish(CountersUpdate{Collector: "b", Counters: []RawCounter{{Layer: LayerTransport, Name: "x"}}})
	s.Publish(CountersUpdate{Collector: "a", Counters: []RawCounter{{Layer: LayerNIC, Name: "y"}}})
	s.Publish(CountersUpdate{Collector: "b", Counters: []RawCounter{{Layer: LayerTransport, Name: "z"}}})
	var got []string
	for _, c := range s.Snapshot().Counters {
		got = append(got, c.Name)
	}
	if diff := cmp.Diff([]string{"y", "z"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestStatusReplacesByName(t *testing.T) {
	s := NewStore("h", "k", time.Now())
	s.Publish(StatusUpdate{CollectorStatus{Name: "sockets", State: StatePending}})
	s.Publish(StatusUpdate{CollectorStatus{Name: "counters", State: StateOK}})
	s.Publish(StatusUpdate{CollectorStatus{Name: "sockets", State: StateNoPermission, Reason: "needs CAP_NET_ADMIN"}})
	snap := s.Snapshot()
	if len(snap.Collectors) != 2 || snap.Collectors[0].Name != "counters" {
		t.Fatalf("collectors: %+v", snap.Collectors)
	}
	st, _ := snap.Status("sockets")
	if st.State != StateNoPermission {
		t.Fatalf("sockets: %+v", st)
	}
}

func TestSubscribeCoalescesAndIsRaceFree(t *testing.T) {
	s := NewStore("h", "k", time.Now())
	ch, cancel := s.Subscribe()
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				s.Publish(CountersUpdate{Collector: "c", At: time.Unix(int64(j), 0), Counters: []RawCounter{{Name: "n", Value: uint64(i * j)}}})
				_ = s.Snapshot()
			}
		}()
	}
	wg.Wait()
	select {
	case <-ch:
	default:
		t.Fatal("no notification")
	}
	select {
	case <-ch:
		t.Fatal("notifications did not coalesce")
	default:
	}
	if seq := s.Snapshot().Seq; seq != 800 {
		t.Fatalf("seq %d, want 800", seq)
	}
}
