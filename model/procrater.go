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
// A table that does not match (sockets opened or closed, owners changed)
// is grouped in full again, the first holders of most sockets taken
// from the last grouping rather than from their Procs (see rateMemo).
//
// The zero value is ready for use. Not safe for concurrent use.
type ProcessRater struct {
	// socks are the sockets of the table the grouping came from, by
	// index, and rows its rows in the order of their first sockets
	// (ProcessRates' order before its sort) with only the parts that
	// depend on the Procs: Comm, Container, PIDs and Sockets.
	socks []rateSock
	rows  []ProcessRate
	// pids are, by socket, the PID of its first holder (0 for none): a
	// new grouping takes it from there instead of from a Procs unchanged
	// (see rateMemo).
	pids []int
	// spare and sparePIDs are the arrays of the grouping before, for the
	// next one (their Procs pointers cleared).
	spare     []rateSock
	sparePIDs []int
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
		*r = ProcessRater{}
		return ProcessRates(socks, sampled)
	}
	// The new grouping goes to the spare arrays (those of the grouping
	// before), the last one's being read meanwhile (see rateMemo).
	m := rateMemo{socks: r.spare, pids: r.sparePIDs, old: r.socks, oldPIDs: r.pids, oldRows: r.rows, budget: 2 * n}
	if cap(m.socks) < n {
		m.socks, m.pids = make([]rateSock, n), make([]int, n)
	}
	m.socks, m.pids = m.socks[:n], m.pids[:n]
	out := groupRates(socks, sampled, &m)
	// The spare arrays would keep the Procs of sockets gone alive.
	clear(m.socks[n:cap(m.socks)])
	clear(r.socks[:cap(r.socks)])
	r.spare, r.sparePIDs = r.socks[:0], r.pids[:0]
	r.socks, r.pids = m.socks, m.pids
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

// rateMemo is what groupRates records a new grouping in (socks and pids,
// by socket), and the last grouping (old, oldPIDs and oldRows: a
// ProcessRater's socks, pids and rows), of which it uses this: a socket
// whose Procs start where those of a socket there did (same data
// pointer, both not empty: the ProcessRater keeps those alive) has that
// socket's first holder, whose name and container are those of its
// row. It then need not read its first holder (scattered in memory, and
// for most sockets the only one): a table that changed since the last
// grouping (on a busy host, connections opened and closed every
// refresh) keeps a good part of the saving. The socket looked at is the
// one at the same index, shifted by delta, the shift of the last one
// found; else the nearby ones (window), which finds the shift again
// after sockets inserted or removed, for as long as budget lasts (a
// new table: most sockets are found nowhere).
type rateMemo struct {
	socks   []rateSock
	pids    []int
	old     []rateSock
	oldPIDs []int
	oldRows []ProcessRate
	delta   int
	budget  int
}

// window is how far from the last shift rateMemo.sameHolder looks for a
// socket's Procs.
const window = 16

// sameHolder returns the row and the PID of the first holder, in the
// last grouping, of the socket at index i with Procs ps (not empty), if
// a socket's Procs started there; ok is false if not (or m is nil).
func (m *rateMemo) sameHolder(i int, ps []Proc) (row *ProcessRate, pid int, ok bool) {
	if m == nil {
		return nil, 0, false
	}
	p := unsafe.SliceData(ps)
	if j := i + m.delta; uint(j) < uint(len(m.old)) && m.old[j].procs == p && m.old[j].n > 0 {
		return &m.oldRows[m.old[j].row], m.oldPIDs[j], true
	}
	return m.search(i, p)
}

// search is sameHolder looking around the last shift.
func (m *rateMemo) search(i int, p *Proc) (row *ProcessRate, pid int, ok bool) {
	if m.budget <= 0 {
		return nil, 0, false
	}
	m.budget -= 2 * window
	at := i + m.delta
	for j := max(0, at-window); j <= at+window && j < len(m.old); j++ {
		if o := &m.old[j]; o.procs == p && o.n > 0 {
			m.delta = j - i
			return &m.oldRows[o.row], m.oldPIDs[j], true
		}
	}
	return nil, 0, false
}
