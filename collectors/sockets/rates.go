package sockets

import (
	"slices"
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

// tcpCounters are what the rate tracker needs of a socket's tcp_info,
// for a socket read without it (a counters-only TCP iterator,
// Options.TCPCountersOnly): the byte and retransmit counters and the
// chrono times, in microseconds. ok is false for a socket without them.
type tcpCounters struct {
	ok                 bool
	retrans            uint32
	acked, received    uint64
	busy, rwnd, sndbuf uint64
}

// rateState is what the tracker remembers of a socket between
// collections: the last sample, and two anchors of the chrono counters
// at least limitWindow apart, so that the limit breakdown spans between
// one and two windows of the socket's recent past.
type rateState struct {
	prev   rateSample
	a0, a1 chronoSample
	cookie uint64
	gen    uint32 // the update that last saw the socket; 0: a free slot
	pos    int32  // the socket's place in that update's order
}

// rateTracker turns the cumulative tcp_info counters of successive
// collections into per-socket rates, keyed by socket cookie. A socket
// seen for the first time gets no rate: its counters since it opened
// are not a rate over the last refresh. Sockets gone from the table are
// forgotten at the next update. A rateTracker is not safe for concurrent
// use.
//
// The states live in a slab of slots that the map from cookie to slot
// changes only as sockets come and go. The kernel dumps a steady table
// in the same order each time, so the tracker first tries the slot of
// the socket that followed the last one found in the previous update's
// order, and hashes the cookie only when that guess fails: a steady
// refresh of 10k sockets does no map work at all.
type rateTracker struct {
	slots       []rateState
	free        []int32
	index       map[uint64]int32 // cookie -> slot
	order, next []int32          // slots in the order of an update's sockets
	gen         uint32
	live        int
	// rates holds the rates of the update under way: its generation's
	// slab (Collector.sockets sets it for each); nil allocates each
	// alone.
	rates *slab[model.SocketRate]
}

// find returns the slot of cookie from the last update, trying the slot
// at *pos in its order first, and moves *pos past it; -1 if unknown.
func (r *rateTracker) find(cookie uint64, pos *int) int32 {
	if p := *pos; p < len(r.order) {
		if j := r.order[p]; r.slots[j].cookie == cookie && r.slots[j].gen != 0 {
			*pos = p + 1
			return j
		}
	}
	j, ok := r.index[cookie]
	if !ok {
		return -1
	}
	*pos = int(r.slots[j].pos) + 1
	return j
}

// size makes the slab and the map, until now never used, room for the
// sockets of socks from index from on that get a slot (TCP, not
// listening, with a cookie and counters), at the first socket given one:
// grown slot by slot, 100,000 sockets left 15 MB of the slab's old copies
// to the GC at once, at the TUI's start, when its heap peaks. An update
// without counters (the TUI's first collection, sock_diag without
// tcp_info; --no-tcp-info; TIME-WAIT sockets) never gets here.
func (r *rateTracker) size(socks []model.Socket, cnt []tcpCounters, from int) {
	n := 0
	for i := from; i < len(socks); i++ {
		s := &socks[i]
		if s.Cookie != 0 && s.Proto == model.ProtoTCP && s.State != model.StateListen &&
			(s.TCP.HasBytes() || i < len(cnt) && cnt[i].ok) {
			n++
		}
	}
	r.index = make(map[uint64]int32, n) // empty until now: no slot was ever given
	r.slots = make([]rateState, 0, n)
	r.order, r.next = slices.Grow(r.order, n), slices.Grow(r.next, n)
}

// alloc returns a free slot for cookie.
func (r *rateTracker) alloc(cookie uint64) int32 {
	var j int32
	if n := len(r.free); n > 0 {
		j, r.free = r.free[n-1], r.free[:n-1]
	} else {
		j = int32(len(r.slots))
		r.slots = append(r.slots, rateState{})
	}
	r.slots[j] = rateState{cookie: cookie}
	r.index[cookie] = j
	r.live++
	return j
}

// update sets Rate on every TCP socket of socks, listeners aside, that
// has tcp_info byte counters, or counters in cnt at its index, and a
// cookie, from its counters now and at the previous update. now is a
// monotonic time (any origin; the same for every call).
func (r *rateTracker) update(socks []model.Socket, cnt []tcpCounters, now time.Duration) {
	if r.index == nil {
		r.index = map[uint64]int32{}
	}
	r.gen++
	if r.gen == 0 {
		r.gen = 1 // 0 marks a free slot
	}
	r.next = r.next[:0]
	pos := 0
	var last *model.SocketRate // the last rate stored in this update
	for i := range socks {
		s := &socks[i]
		if s.Cookie == 0 || s.Proto != model.ProtoTCP || s.State == model.StateListen {
			continue
		}
		var cur rateSample
		var ch chronoSample
		hasChrono := true
		switch {
		case s.TCP.HasBytes():
			cur = rateSample{at: now, acked: s.TCP.BytesAcked, received: s.TCP.BytesReceived, retrans: s.TCP.TotalRetrans}
			ch = chronoSample{at: now, busy: s.TCP.BusyTime, rwnd: s.TCP.RwndLimited, sndbuf: s.TCP.SndbufLimited}
			hasChrono = s.TCP.HasChrono()
		case i < len(cnt) && cnt[i].ok:
			c := &cnt[i]
			cur = rateSample{at: now, acked: c.acked, received: c.received, retrans: c.retrans}
			ch = chronoSample{at: now, busy: c.busy, rwnd: c.rwnd, sndbuf: c.sndbuf}
		default:
			continue
		}
		j := r.find(s.Cookie, &pos)
		known := j >= 0
		if !known {
			if cap(r.slots) == 0 {
				r.size(socks, cnt, i)
			}
			j = r.alloc(s.Cookie)
		}
		st := &r.slots[j]
		p := st.prev
		if known && st.gen == r.gen-1 && now > p.at && cur.acked >= p.acked && cur.received >= p.received {
			dt := now - p.at
			sec := dt.Seconds()
			rate := model.SocketRate{
				Known:    true,
				Interval: dt,
				RxBps:    float64(cur.received-p.received) / sec,
				TxBps:    float64(cur.acked-p.acked) / sec,
				// tcpi_total_retrans is a __u32: the difference is
				// right across a wrap.
				RetransPerSec: float64(cur.retrans-p.retrans) / sec,
			}
			if hasChrono {
				if now-st.a1.at >= limitWindow {
					st.a0, st.a1 = st.a1, ch
				}
				a := st.a0
				if ch.busy >= a.busy && ch.rwnd >= a.rwnd && ch.sndbuf >= a.sndbuf {
					rate.Limits = model.SendLimits{
						Window: now - a.at,
						Busy:   time.Duration(ch.busy-a.busy) * time.Microsecond,
						Rwnd:   time.Duration(ch.rwnd-a.rwnd) * time.Microsecond,
						Sndbuf: time.Duration(ch.sndbuf-a.sndbuf) * time.Microsecond,
					}
				}
			}
			// Idle sockets seen at the same collections have the same
			// rate (zeros over the same interval and window): they
			// share one value, which never changes once published (a
			// run of them in the table's order; 14 MB of rates at
			// 100,000 mostly idle sockets otherwise).
			if last == nil || *last != rate {
				last = r.rates.put(&rate)
			}
			s.Rate = last
		} else {
			st.a0, st.a1 = ch, ch
		}
		st.prev, st.gen, st.pos = cur, r.gen, int32(len(r.next))
		r.next = append(r.next, j)
	}
	r.order, r.next = r.next, r.order
	// Forget the sockets that left: a pass over the slab, no hashing
	// unless some did.
	if r.live > len(r.order) {
		for j := range r.slots {
			st := &r.slots[j]
			if st.gen != 0 && st.gen != r.gen {
				delete(r.index, st.cookie)
				st.gen = 0
				r.free = append(r.free, int32(j))
				r.live--
			}
		}
	}
}
