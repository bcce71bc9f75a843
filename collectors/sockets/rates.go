package sockets

import (
	"time"

	"netlens/model"
)

// limitWindow is the shortest window the send-limit breakdown
// (model.SendLimits) covers once a socket has been watched that long.
const limitWindow = 10 * time.Second

// rateSample is what a collection saw of a socket's tcp_info counters,
// at a time on the tracker's monotonic clock.
type rateSample struct {
	at       time.Duration
	acked    uint64
	received uint64
	retrans  uint32
}

// chronoSample is a socket's busy and limited times at a time.
type chronoSample struct {
	at                 time.Duration
	busy, rwnd, sndbuf uint64
}

// rateState is what the tracker remembers of a socket between
// collections: the last sample, and two anchors of the chrono counters
// at least limitWindow apart, so that the limit breakdown spans between
// one and two windows of the socket's recent past.
type rateState struct {
	prev   rateSample
	a0, a1 chronoSample
	gen    uint32 // the update that last saw the socket
}

// rateTracker turns the cumulative tcp_info counters of successive
// collections into per-socket rates, keyed by socket cookie. A socket
// seen for the first time gets no rate: its counters since it opened
// are not a rate over the last refresh. Sockets gone from the table are
// forgotten at the next update. A rateTracker is not safe for concurrent
// use.
type rateTracker struct {
	state map[uint64]rateState
	gen   uint32
}

// update sets Rate on every TCP socket of socks, listeners aside, that
// has tcp_info byte counters and a cookie, from its counters now and at the previous
// update. now is a monotonic time (any origin; the same for every call).
func (r *rateTracker) update(socks []model.Socket, now time.Duration) {
	if r.state == nil {
		r.state = map[uint64]rateState{}
	}
	r.gen++
	seen := 0
	for i := range socks {
		s := &socks[i]
		if s.Cookie == 0 || s.Proto != model.ProtoTCP || s.State == model.StateListen || !s.TCP.HasBytes() {
			continue
		}
		cur := rateSample{at: now, acked: s.TCP.BytesAcked, received: s.TCP.BytesReceived, retrans: s.TCP.TotalRetrans}
		ch := chronoSample{at: now, busy: s.TCP.BusyTime, rwnd: s.TCP.RwndLimited, sndbuf: s.TCP.SndbufLimited}
		st, known := r.state[s.Cookie]
		p := st.prev
		if known && st.gen == r.gen-1 && now > p.at && cur.acked >= p.acked && cur.received >= p.received {
			dt := now - p.at
			sec := dt.Seconds()
			s.Rate = model.SocketRate{
				Known:    true,
				Interval: dt,
				RxBps:    float64(cur.received-p.received) / sec,
				TxBps:    float64(cur.acked-p.acked) / sec,
				// tcpi_total_retrans is a __u32: the difference is
				// right across a wrap.
				RetransPerSec: float64(cur.retrans-p.retrans) / sec,
			}
			if s.TCP.HasChrono() {
				if now-st.a1.at >= limitWindow {
					st.a0, st.a1 = st.a1, ch
				}
				a := st.a0
				if ch.busy >= a.busy && ch.rwnd >= a.rwnd && ch.sndbuf >= a.sndbuf {
					s.Rate.Limits = model.SendLimits{
						Window: now - a.at,
						Busy:   time.Duration(ch.busy-a.busy) * time.Microsecond,
						Rwnd:   time.Duration(ch.rwnd-a.rwnd) * time.Microsecond,
						Sndbuf: time.Duration(ch.sndbuf-a.sndbuf) * time.Microsecond,
					}
				}
			}
		} else {
			st = rateState{a0: ch, a1: ch}
		}
		st.prev, st.gen = cur, r.gen
		r.state[s.Cookie] = st
		seen++
	}
	// Forget the sockets that left (one map, not two swapped: it is the
	// tracker's memory, ~130 bytes a socket).
	if len(r.state) > seen {
		for k, st := range r.state {
			if st.gen != r.gen {
				delete(r.state, k)
			}
		}
	}
}
