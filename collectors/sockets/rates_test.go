package sockets

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func tcpSock(cookie uint64, acked, received uint64, retrans uint32, busy, rwnd, sndbuf uint64) model.Socket {
	return model.Socket{Proto: model.ProtoTCP, Cookie: cookie, State: model.StateEstablished, TCP: &model.TCPInfo{
		Len: 232, BytesAcked: acked, BytesReceived: received, TotalRetrans: retrans,
		BusyTime: busy, RwndLimited: rwnd, SndbufLimited: sndbuf,
	}}
}

func TestRateTracker(t *testing.T) {
	var r rateTracker
	s := time.Second
	steps := []struct {
		name  string
		at    time.Duration
		socks []model.Socket
		want  []model.SocketRate
	}{
		{"first sight: no rate, not a spike", 1 * s, []model.Socket{
			tcpSock(1, 5e9, 7e9, 100, 0, 0, 0),
			{Proto: model.ProtoUDP, Cookie: 2},
		}, []model.SocketRate{{}, {}}},
		{"a second later", 2 * s, []model.Socket{
			tcpSock(1, 5e9+2e6, 7e9+1e6, 103, 500e3, 100e3, 50e3),
			tcpSock(3, 10, 10, 0, 0, 0, 0),                                        // new
			{Proto: model.ProtoTCP, Cookie: 4},                                    // no tcp_info (TIME-WAIT)
			{Proto: model.ProtoTCP, TCP: &model.TCPInfo{Len: 232, BytesAcked: 9}}, // no cookie (/proc/net)
		}, []model.SocketRate{
			{Known: true, Interval: s, RxBps: 1e6, TxBps: 2e6, RetransPerSec: 3, Limits: model.SendLimits{Window: s, Busy: 500 * time.Millisecond, Rwnd: 100 * time.Millisecond, Sndbuf: 50 * time.Millisecond}},
			{}, {}, {},
		}},
		{"half a second later", 2500 * time.Millisecond, []model.Socket{
			tcpSock(3, 1010, 510, 0, 0, 0, 0),
			tcpSock(1, 5e9+3e6, 7e9+1e6, 103, 900e3, 100e3, 50e3),
		}, []model.SocketRate{
			{Known: true, Interval: s / 2, RxBps: 1000, TxBps: 2000, Limits: model.SendLimits{Window: s / 2}},
			{Known: true, Interval: s / 2, RxBps: 0, TxBps: 2e6, Limits: model.SendLimits{Window: 1500 * time.Millisecond, Busy: 900 * time.Millisecond, Rwnd: 100 * time.Millisecond, Sndbuf: 50 * time.Millisecond}},
		}},
		{"the window moves after 10 s", 11 * s, []model.Socket{
			tcpSock(1, 5e9+3e6, 7e9+1e6, 2, 10e6, 100e3, 50e3), // total_retrans wrapped
		}, []model.SocketRate{
			{Known: true, Interval: 8500 * time.Millisecond, RetransPerSec: float64(1<<32-101) / 8.5, Limits: model.SendLimits{Window: 10 * s, Busy: 10 * s, Rwnd: 100 * time.Millisecond, Sndbuf: 50 * time.Millisecond}},
		}},
		{"counters going back: another socket under a reused key", 12 * s, []model.Socket{
			tcpSock(1, 5, 5, 0, 0, 0, 0),
		}, []model.SocketRate{{}}},
		{"socket 3 left and came back: new again", 13 * s, []model.Socket{
			tcpSock(3, 2000, 600, 0, 0, 0, 0),
		}, []model.SocketRate{{}}},
	}
	for _, st := range steps {
		r.update(st.socks, nil, st.at)
		var got []model.SocketRate
		for _, s := range st.socks {
			var r model.SocketRate // nil: unknown
			if s.Rate != nil {
				r = *s.Rate
			}
			got = append(got, r)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: rates (-want +got)\n%s", st.name, diff)
		}
	}
}

// BenchmarkRateTracker is the tracker's pass over 10,000 TCP sockets, as
// at every refresh of the TUI's CPU benchmark.
func BenchmarkRateTracker(b *testing.B) {
	socks := make([]model.Socket, 10000)
	for i := range socks {
		socks[i] = tcpSock(uint64(i+1), uint64(i), uint64(i), 0, 0, 0, 0)
	}
	var r rateTracker
	var now time.Duration
	b.ReportAllocs()
	for b.Loop() {
		now += time.Second
		for i := range socks {
			socks[i].TCP.BytesAcked += 1000
		}
		r.update(socks, nil, now)
	}
}

// TestRateTrackerOrderChanges feeds the tracker tables whose order
// moves (sockets come, go, swap places, repeat) and checks every rate
// against the rule a map keyed by cookie gives: a socket has a rate when
// it was in the previous table and its counters did not go back.
func TestRateTrackerOrderChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var r rateTracker
	type seen struct{ acked uint64 }
	prev := map[uint64]seen{}
	acked := map[uint64]uint64{}
	for step := 1; step <= 200; step++ {
		var socks []model.Socket
		for c := uint64(1); c <= 300; c++ {
			if rng.IntN(10) == 0 {
				continue // not in this table
			}
			acked[c] += uint64(rng.IntN(5000))
			socks = append(socks, tcpSock(c, acked[c], 0, 0, 0, 0, 0))
		}
		// Move some sockets to other places, and list one twice.
		for range rng.IntN(20) {
			i, j := rng.IntN(len(socks)), rng.IntN(len(socks))
			socks[i], socks[j] = socks[j], socks[i]
		}
		if step%7 == 0 {
			socks = append(socks, socks[0])
		}
		r.update(socks, nil, time.Duration(step)*time.Second)
		cur := map[uint64]seen{}
		dup := map[uint64]bool{}
		for _, s := range socks {
			p, ok := prev[s.Cookie]
			want := ok && !dup[s.Cookie]
			if (s.Rate != nil) != want || want && s.Rate.TxBps != float64(s.TCP.BytesAcked-p.acked) {
				t.Fatalf("step %d: cookie %d rate %+v, want known %v (acked %d -> %d)", step, s.Cookie, s.Rate, want, p.acked, s.TCP.BytesAcked)
			}
			dup[s.Cookie] = true
			cur[s.Cookie] = seen{s.TCP.BytesAcked}
		}
		prev = cur
		if r.live != len(cur) || len(r.index) != len(cur) {
			t.Fatalf("step %d: %d live slots, %d indexed, want %d", step, r.live, len(r.index), len(cur))
		}
	}
}

// TestRateTrackerCountersOnly: sockets read counters only (no tcp_info,
// their counters in cnt by index) get the rates sockets with tcp_info
// get; idle sockets of one update share one rate value, a busy one has
// its own, and none is shared across updates.
func TestRateTrackerCountersOnly(t *testing.T) {
	const n = 6
	socks, cnt := connections(n, tcpCounters{ok: true, acked: 1000, received: 500})
	cnt[4].ok = false // no counters: no rate
	var r rateTracker
	r.update(socks, cnt, time.Second)
	for i := range socks {
		if socks[i].Rate != nil {
			t.Fatalf("socket %d: a rate on first sight", i)
		}
	}
	cnt[2].acked += 4000 // socket 2 sent 4000 bytes in 2 s
	cnt[2].busy = 1500000
	r.update(socks, cnt[:5], 3*time.Second) // socket 5 beyond cnt: none
	prev := socks[0].Rate
	for i, s := range socks {
		switch i {
		case 4, 5:
			if s.Rate != nil {
				t.Errorf("socket %d without counters: rate %+v", i, s.Rate)
			}
		case 2:
			if s.Rate == nil || s.Rate.TxBps != 2000 || s.Rate.Limits.Busy != 1500*time.Millisecond || s.Rate == socks[0].Rate {
				t.Errorf("busy socket: rate %+v", s.Rate)
			}
		default:
			if s.Rate == nil || *s.Rate != (model.SocketRate{Known: true, Interval: 2 * time.Second, Limits: model.SendLimits{Window: 2 * time.Second}}) {
				t.Errorf("idle socket %d: rate %+v", i, s.Rate)
			}
			if s.Rate != socks[0].Rate && i != 3 {
				t.Errorf("idle socket %d: its own rate value, not the run's", i)
			}
		}
	}
	// Socket 3 follows the busy one: a new value, equal to the idle ones'.
	if *socks[3].Rate != *socks[0].Rate {
		t.Errorf("idle sockets 0 and 3 differ: %+v %+v", socks[0].Rate, socks[3].Rate)
	}
	r.update(socks, cnt, 4*time.Second)
	if socks[0].Rate == prev {
		t.Error("an update reused the previous update's rate value")
	}
}

// TestRateTrackerSizedAtFirstUpdate: the first update allocates the slab
// once, for its TCP sockets that may get a rate (not listeners, not UDP,
// not those without a cookie), instead of growing it socket by socket.
func TestRateTrackerSizedAtFirstUpdate(t *testing.T) {
	const n = 1000
	socks, cnt := connections(n, tcpCounters{ok: true})
	socks = append(socks, model.Socket{Proto: model.ProtoTCP, State: model.StateListen, Cookie: 5000},
		model.Socket{Proto: model.ProtoUDP, Cookie: 5001}, model.Socket{Proto: model.ProtoTCP, State: model.StateEstablished})
	cnt = append(cnt, tcpCounters{ok: true}, tcpCounters{ok: true}, tcpCounters{ok: true})
	var r rateTracker
	r.update(socks, cnt, time.Second)
	if len(r.slots) != n || cap(r.slots) != n {
		t.Errorf("slab of %d slots, capacity %d, want %d and %d", len(r.slots), cap(r.slots), n, n)
	}
	r.update(socks, cnt, 2*time.Second)
	if socks[0].Rate == nil || socks[n].Rate != nil || socks[n+1].Rate != nil || socks[n+2].Rate != nil {
		t.Errorf("rates: %v for a connection, %v %v %v for a listener, UDP and no cookie",
			socks[0].Rate, socks[n].Rate, socks[n+1].Rate, socks[n+2].Rate)
	}
}

// TestRateTrackerNothingToRate: without counters (--no-tcp-info, or
// TIME-WAIT sockets) the first update allocates no slots.
func TestRateTrackerNothingToRate(t *testing.T) {
	socks, _ := connections(1000, tcpCounters{})
	var r rateTracker
	r.update(socks, nil, time.Second)
	if cap(r.slots) != 0 {
		t.Errorf("slab of capacity %d for sockets without counters", cap(r.slots))
	}
}

// TestRateTrackerSizedWhenCountersCome: the TUI's first collection has no
// counters (sock_diag without tcp_info); the slab is sized at the first
// update that has them.
func TestRateTrackerSizedWhenCountersCome(t *testing.T) {
	const n = 500
	socks, cnt := connections(n, tcpCounters{})
	var r rateTracker
	r.update(socks, nil, time.Second)
	for i := range cnt {
		cnt[i] = tcpCounters{ok: true}
	}
	r.update(socks, cnt, 2*time.Second)
	if len(r.slots) != n || cap(r.slots) != n {
		t.Errorf("slab of %d slots, capacity %d, want %d and %d", len(r.slots), cap(r.slots), n, n)
	}
	r.update(socks, cnt, 3*time.Second)
	if socks[0].Rate == nil || !socks[0].Rate.Known {
		t.Errorf("no rate at the third update: %v", socks[0].Rate)
	}
}

// connections returns n established TCP sockets with cookies 1..n and
// their counters, each c.
func connections(n int, c tcpCounters) ([]model.Socket, []tcpCounters) {
	socks := make([]model.Socket, n)
	cnt := make([]tcpCounters, n)
	for i := range socks {
		socks[i] = model.Socket{Proto: model.ProtoTCP, State: model.StateEstablished, Cookie: uint64(i + 1)}
		cnt[i] = c
	}
	return socks, cnt
}
