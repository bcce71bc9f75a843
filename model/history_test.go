package model

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCounterHistory(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewStore("h", "k", t0)
	var snaps []Snapshot
	for i := range HistoryLen + 70 {
		s.Publish(CountersUpdate{Collector: "c", At: t0.Add(time.Duration(i) * time.Second), Counters: []RawCounter{
			{Name: "drops", Kind: KindCounter, Value: uint64(i * (i + 1) / 2)}, // delta i
			{Name: "qlen", Kind: KindGauge, Value: uint64(i)},
		}})
		snaps = append(snaps, s.Snapshot())
	}
	want := func(from, to int) []uint64 {
		var out []uint64
		for i := from; i <= to; i++ {
			out = append(out, uint64(i))
		}
		return out
	}
	tests := []struct {
		name  string
		snap  int
		drops []uint64
		qlen  []uint64
	}{
		{"first sample: no delta yet", 0, nil, []uint64{0}},
		{"second", 1, []uint64{1}, []uint64{0, 1}},
		{"just full", HistoryLen, want(1, HistoryLen), want(1, HistoryLen)},
		{"rolled", HistoryLen + 69, want(70, HistoryLen+69), want(70, HistoryLen+69)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := snaps[tt.snap].Counters
			got := map[string][]uint64{cs[0].Name: cs[0].History, cs[1].Name: cs[1].History}
			if diff := cmp.Diff(map[string][]uint64{"drops": tt.drops, "qlen": tt.qlen}, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	// Published histories never change afterwards.
	for i, sn := range snaps[1:] {
		h := sn.Counters[0].History
		if len(h) == 0 || h[len(h)-1] != uint64(i+1) {
			t.Fatalf("snapshot %d history changed: ends %v", i+1, h[max(0, len(h)-3):])
		}
	}
}

// TestCounterWrapAndReset covers the delta and rate arithmetic for values
// that go backwards and for objects that go away and come back.
func TestCounterWrapAndReset(t *testing.T) {
	t0 := time.Unix(0, 0)
	key := RawCounter{Layer: LayerNIC, Source: "/sys/class/net", Group: "statistics", Instance: "veth0", Name: "rx_dropped", Kind: KindCounter}
	other := RawCounter{Layer: LayerNIC, Source: "/sys/class/net", Group: "statistics", Instance: "lo", Name: "rx_dropped", Kind: KindCounter}
	type step struct {
		present bool
		v       uint64
		dt      time.Duration
	}
	global := RawCounter{Layer: LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: KindCounter}
	type res struct {
		Present bool
		Delta   uint64
		Total   uint64
		Rate    float64
		Reset   bool
		History []uint64
	}
	tests := []struct {
		name  string
		steps []step
		want  []res
	}{
		{
			name:  "64-bit wrap counts from zero and says so",
			steps: []step{{true, ^uint64(0) - 5, time.Second}, {true, ^uint64(0), time.Second}, {true, 3, 2 * time.Second}},
			want:  []res{{true, 0, 0, 0, false, nil}, {true, 5, 5, 5, false, []uint64{5}}, {true, 3, 8, 1.5, true, []uint64{5, 3}}},
		},
		{
			name:  "reset to zero",
			steps: []step{{true, 100, time.Second}, {true, 0, time.Second}, {true, 7, time.Second}},
			want:  []res{{true, 0, 0, 0, false, nil}, {true, 0, 0, 0, true, []uint64{0}}, {true, 7, 7, 7, false, []uint64{0, 7}}},
		},
		{
			name: "interface goes away and comes back with higher counters",
			// Without forgetting it, 500-100 = 400 would be counted as drops.
			steps: []step{{true, 90, time.Second}, {true, 100, time.Second}, {false, 0, time.Second}, {true, 500, time.Second}, {true, 502, 500 * time.Millisecond}},
			want: []res{{true, 0, 0, 0, false, nil}, {true, 10, 10, 10, false, []uint64{10}}, {false, 0, 0, 0, false, nil},
				{true, 0, 0, 0, false, nil}, {true, 2, 2, 4, false, []uint64{2}}},
		},
		{
			name:  "interface comes back with counters from zero",
			steps: []step{{true, 90, time.Second}, {false, 0, time.Second}, {true, 1, time.Second}, {true, 4, time.Second}},
			want:  []res{{true, 0, 0, 0, false, nil}, {false, 0, 0, 0, false, nil}, {true, 0, 0, 0, false, nil}, {true, 3, 3, 3, false, []uint64{3}}},
		},
		{
			name: "global counter missing from one update keeps its state",
			// procnet leaves out a file it could not parse; the next
			// delta covers both intervals.
			steps: []step{{true, 10, time.Second}, {false, 0, time.Second}, {true, 16, time.Second}},
			want:  []res{{true, 0, 0, 0, false, nil}, {false, 0, 0, 0, false, nil}, {true, 6, 6, 3, false, []uint64{6}}},
		},
		{
			name:  "same timestamp: delta but no rate",
			steps: []step{{true, 1, 0}, {true, 4, 0}},
			want:  []res{{true, 0, 0, 0, false, nil}, {true, 3, 3, 0, false, []uint64{3}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := key
			if strings.HasPrefix(tt.name, "global") {
				key = global
			}
			s := NewStore("h", "k", t0)
			at := t0
			var got []res
			for _, st := range tt.steps {
				at = at.Add(st.dt)
				cs := []RawCounter{other}
				if st.present {
					c := key
					c.Value = st.v
					cs = append(cs, c)
				}
				s.Publish(CountersUpdate{Collector: "counters", At: at, Counters: cs})
				r := res{}
				for _, c := range s.Snapshot().Counters {
					if c.Key() == key.Key() {
						r = res{true, c.Delta, c.Total, c.Rate, c.Reset, c.History}
					}
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestVanishedCountersAreForgotten(t *testing.T) {
	s := NewStore("h", "k", time.Unix(0, 0))
	for i := range 100 {
		s.Publish(CountersUpdate{Collector: "c", At: time.Unix(int64(i), 0), Counters: []RawCounter{
			{Instance: "veth" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Name: "rx_dropped", Value: 1},
		}})
	}
	s.Publish(CountersUpdate{Collector: "other", Counters: []RawCounter{{Name: "x"}}})
	if n := len(s.counters); n != 2 {
		t.Fatalf("store keeps %d counter states, want 2", n)
	}
}

func TestLayerRankFollowsLayers(t *testing.T) {
	for i, l := range Layers {
		if l.Rank() != i {
			t.Errorf("%s.Rank() = %d, want %d", l, l.Rank(), i)
		}
	}
	if Layer("nope").Rank() != len(Layers) {
		t.Error("unknown layer must rank last")
	}
}

func TestCountersMergedInOrder(t *testing.T) {
	s := NewStore("h", "k", time.Unix(0, 0))
	s.Publish(CountersUpdate{Collector: "b", Counters: []RawCounter{
		{Layer: LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts"},
		{Layer: LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: "eth1", Name: "rx_dropped"},
	}})
	s.Publish(CountersUpdate{Collector: "a", Counters: []RawCounter{
		{Layer: LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 1: root", Name: "drops"},
		{Layer: LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: "eth0", Name: "rx_dropped"},
		{Layer: LayerOther, Source: "x", Name: "y"},
	}})
	var got []string
	for _, c := range s.Snapshot().Counters {
		got = append(got, string(c.Layer)+" "+c.Instance+" "+c.Name)
	}
	want := []string{"nic eth0 rx_dropped", "nic eth1 rx_dropped", "qdisc eth0 tbf 1: root drops", "transport  NoPorts", "other  y"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestCounterOrderReusedAndRedone(t *testing.T) {
	s := NewStore("h", "k", time.Unix(0, 0))
	names := func() []string {
		var out []string
		for _, c := range s.Snapshot().Counters {
			out = append(out, c.Name)
		}
		return out
	}
	for _, tt := range []struct {
		in   []string
		want []string
	}{
		{[]string{"c", "a", "b"}, []string{"a", "b", "c"}},
		{[]string{"c", "a", "b"}, []string{"a", "b", "c"}}, // same order: permutation reused
		{[]string{"b", "c", "a"}, []string{"a", "b", "c"}}, // same keys, new order
		{[]string{"d", "a"}, []string{"a", "d"}},
	} {
		var cs []RawCounter
		for _, n := range tt.in {
			cs = append(cs, RawCounter{Name: n, Value: uint64(len(n))})
		}
		s.Publish(CountersUpdate{Collector: "x", Counters: cs})
		if diff := cmp.Diff(tt.want, names()); diff != "" {
			t.Errorf("%v: (-want +got)\n%s", tt.in, diff)
		}
	}
}
