package model

import (
	"math"
	"slices"
	"unsafe"
)

// ProcessRater is ProcessRates for a caller that groups one socket table
// after another, like the TUI once a refresh: consecutive tables of an
// unchanged set of sockets have the same sockets in the same order with
// the same Procs slices (the owners collector hands an unchanged
// socket's slice on), and only their rates differ. It keeps the grouping
// of the last table it computed in full and, while a table matches it
// socket for socket, only sums the rates again, in one pass that reads
// no Procs (every socket's is an allocation of its own, scattered in
// memory: most of ProcessRates' time at 100,000 sockets).
//
// Its results are ProcessRates', exactly. It relies on what a published
// Socket points to never changing (see Socket): a socket whose Procs
// slice has the data pointer and length the socket at its index had in
// the table the grouping came from (whose Procs the ProcessRater keeps
// alive, so that the address is not reused) has the same holders.
//
// The zero value is ready for use. Not safe for concurrent use.
type ProcessRater struct {
	// socks are the sockets of the table the grouping came from, by
	// index, and rows its rows in the order of their first sockets
	// (ProcessRates' order before its sort) with only the parts that
	// depend on the Procs: Comm, Container, PIDs and Sockets.
	socks []rateSock
	rows  []ProcessRate
	// sampled is scratch: the indexes of the sockets with a sampled
	// rate, ascending.
	sampled []int
	// resums counts the calls that reused the grouping (for tests).
	resums int
}

// rateSock is what a ProcessRater remembers of a socket: its Procs
// (pointer and length) and its row. Its protocol and state need not be
// remembered: they decide only whether it counts as a connection, which
// the sums go by, and those are computed again from every table.
type rateSock struct {
	procs *Proc
	n     int32
	row   int32
}

func newRateSock(s *Socket, row int) rateSock {
	m := rateSock{procs: unsafe.SliceData(s.Procs), n: -1, row: int32(row)}
	if len(s.Procs) <= math.MaxInt32 {
		m.n = int32(len(s.Procs))
	}
	return m
}

// Rates returns ProcessRates(socks, sampled). The rows are a new slice
// every call; their PIDs may be shared with rows returned earlier and
// later, and must not be modified.
func (r *ProcessRater) Rates(socks []Socket, sampled map[int]SocketRate) []ProcessRate {
	if out, ok := r.resum(socks, sampled); ok {
		return out
	}
	n := len(socks)
	if n > math.MaxInt32 { // more rows than a rateSock holds
		r.socks, r.rows = nil, nil
		return ProcessRates(socks, sampled)
	}
	if cap(r.socks) < n {
		r.socks = make([]rateSock, n)
	} else {
		// The tail would keep the Procs of sockets gone alive.
		clear(r.socks[n:cap(r.socks)])
		r.socks = r.socks[:n]
	}
	out := groupRates(socks, sampled, r.socks)
	r.rows = slices.Grow(r.rows[:0], len(out))[:len(out)]
	for i := range out {
		p := &out[i]
		p.PIDs = slices.Clip(p.PIDs)
		r.rows[i] = ProcessRate{Comm: p.Comm, Container: p.Container, PIDs: p.PIDs, Sockets: p.Sockets}
	}
	clear(r.rows[len(out):cap(r.rows)])
	sortProcessRates(out)
	return out
}

// resum sums the rates of socks into the rows of the last grouping, if
// socks is the table it came from socket for socket (same length, same
// Procs); ok is false if not.
func (r *ProcessRater) resum(socks []Socket, sampled map[int]SocketRate) (out []ProcessRate, ok bool) {
	memo := r.socks
	if len(socks) != len(memo) {
		return nil, false
	}
	if len(socks) == 0 {
		r.resums++
		return nil, true // ProcessRates' rows of no sockets
	}
	// The sampled sockets' rates are added in the order of the sockets,
	// as ProcessRates adds them (floating-point sums depend on it).
	r.sampled = r.sampled[:0]
	for i, sr := range sampled {
		if sr.Sampled && i >= 0 && i < len(socks) {
			r.sampled = append(r.sampled, i)
		}
	}
	slices.Sort(r.sampled)
	r.sampled = append(r.sampled, len(socks))
	next, ns := r.sampled[0], 0
	out = make([]ProcessRate, len(r.rows))
	copy(out, r.rows)
	for i := range socks {
		s, m := &socks[i], memo[i]
		if int(m.n) != len(s.Procs) || m.n != 0 && m.procs != unsafe.SliceData(s.Procs) {
			return nil, false
		}
		p := &out[m.row]
		if i == next {
			sr := sampled[i]
			p.addSampled(&sr)
			ns++
			next = r.sampled[ns]
			continue
		}
		p.addConn(s)
	}
	sortProcessRates(out)
	r.resums++
	return out, true
}
