package model

import (
	"cmp"
	"slices"
)

// ProcessRate is the traffic of one process (all its PIDs of one name)
// summed over its sockets: a row of the nethogs view.
type ProcessRate struct {
	// Comm is the process name; empty for sockets no process was found
	// holding (owners turned off, unreadable, or a socket in TIME-WAIT).
	Comm string `json:"comm"`
	// Container is the container the processes run in (Proc.Container),
	// "" on the host or when unknown: one name in two containers is two
	// rows.
	Container string `json:"container,omitempty"`
	// PIDs are the processes of that name holding the sockets, ascending.
	PIDs []int `json:"pids,omitempty"`
	// Conns is the number of its TCP connections (sockets other than
	// listeners, TIME-WAIT and request sockets, which no process holds);
	// Rated of them had a rate this refresh.
	Conns int `json:"conns"`
	Rated int `json:"rated"`
	// Sampled is how many of its UDP sockets have a rate from a running
	// capture (SampledUDPRates), included in the rates, which are then
	// partly sampled.
	Sampled int `json:"sampled,omitempty"`
	// Sockets counts every socket it holds (UDP, raw and listeners too).
	Sockets       int     `json:"sockets"`
	RxBps         float64 `json:"rx_bytes_per_sec"`
	TxBps         float64 `json:"tx_bytes_per_sec"`
	RetransPerSec float64 `json:"retrans_per_sec"`
}

// HasRate reports whether any of its sockets has a rate: a TCP
// connection's from tcp_info or a UDP socket's sampled by a capture.
func (p ProcessRate) HasRate() bool { return p.Rated > 0 || p.Sampled > 0 }

// Total is RxBps + TxBps, what the process view sorts by.
func (p ProcessRate) Total() float64 { return p.RxBps + p.TxBps }

// ProcessRates groups socks by the name and container of the process
// holding them and sums their rates, busiest (RxBps+TxBps) first, then
// by name. A socket held by several processes counts once, for the
// first one in its Procs (its PIDs are all listed). Sockets without a
// known holder form the row with an empty Comm. sampled (may be nil) are
// the UDP sockets' rates from a capture (SampledUDPRates), by index into
// socks. It is a pure function, safe for concurrent use.
func ProcessRates(socks []Socket, sampled map[int]SocketRate) []ProcessRate {
	out := groupRates(socks, sampled, nil)
	sortProcessRates(out)
	return out
}

// groupRates is ProcessRates without the sort: the rows in the order of
// their first sockets. If m is not nil, it records there each socket's
// row, Procs and first holder's PID, and takes a socket's first holder
// from the last grouping that m has when it can (see rateMemo).
func groupRates(socks []Socket, sampled map[int]SocketRate, m *rateMemo) []ProcessRate {
	type procKey struct{ comm, container string }
	idx := map[procKey]int{}
	var out []ProcessRate
	// A process's sockets tend to come in runs in a dump: the previous
	// socket's group is reused without hashing its key again.
	lastJ := -1
	var lastKey procKey
	// known remembers, by PID modulo its size, a PID and the group (plus
	// one, 0 for none) whose PIDs hold it already, which spares most
	// sockets the binary search of their group's PIDs.
	var known [64]struct{ pid, j int }
	// The sockets go by batches: first the first holder of each socket
	// of a batch, in a loop of independent loads (every socket's Procs is
	// an allocation of its own, scattered in memory: the CPU fetches
	// many at once there, but one at a time in the loop that uses them:
	// a quarter to a third less time in BenchmarkProcessRates100k).
	const batch = 128
	type holder struct {
		procKey
		pid int
	}
	var heads [batch]holder
	for base := 0; base < len(socks); base += batch {
		part := socks[base:min(base+batch, len(socks))]
		for k := range part {
			var h holder
			if ps := part[k].Procs; len(ps) > 0 {
				hinted := false
				if m != nil {
					var row *ProcessRate
					var pid int
					if row, pid, hinted = m.sameHolder(base+k, ps); hinted {
						h = holder{procKey{row.Comm, row.Container}, pid}
					}
				}
				if !hinted {
					h = holder{procKey{ps[0].Comm, ps[0].Container}, ps[0].PID}
				}
			}
			heads[k] = h
		}
		for k := range part {
			s, h := &part[k], &heads[k]
			j := lastJ
			if j < 0 || h.procKey != lastKey {
				var ok bool
				if j, ok = idx[h.procKey]; !ok {
					j = len(out)
					idx[h.procKey] = j
					out = append(out, ProcessRate{Comm: h.comm, Container: h.container})
				}
				lastJ, lastKey = j, h.procKey
			}
			p := &out[j]
			p.Sockets++
			if m != nil {
				m.socks[base+k], m.pids[base+k] = newRateSock(s, j), h.pid
			}
			for n := range s.Procs {
				pid := h.pid
				if n > 0 {
					pr := &s.Procs[n]
					if pr.Comm != h.comm || pr.Container != h.container {
						continue
					}
					pid = pr.PID
				}
				if c := &known[uint(pid)%uint(len(known))]; c.pid != pid || c.j != j+1 {
					p.PIDs = insertPID(p.PIDs, pid)
					c.pid, c.j = pid, j+1
				}
			}
			if len(sampled) > 0 {
				if r, ok := sampled[base+k]; ok && r.Sampled {
					p.addSampled(&r)
					continue
				}
			}
			p.addConn(s)
		}
	}
	return out
}

// addSampled adds to p a UDP socket's rate r from a capture.
func (p *ProcessRate) addSampled(r *SocketRate) {
	p.Sampled++
	p.RxBps += r.RxBps
	p.TxBps += r.TxBps
}

// addConn adds s to p's connections, and its rate, if it is one (see
// isConn).
func (p *ProcessRate) addConn(s *Socket) {
	if !isConn(s) {
		return
	}
	p.Conns++
	if s.Rate != nil {
		p.Rated++
		p.RxBps += s.Rate.RxBps
		p.TxBps += s.Rate.TxBps
		p.RetransPerSec += s.Rate.RetransPerSec
	}
}

// isConn says s counts in a row's Conns: a TCP socket other than a
// listener, a TIME-WAIT or a request socket.
func isConn(s *Socket) bool {
	return s.Proto == ProtoTCP && s.State != StateListen && s.State != StateTimeWait && s.State != StateNewSynRecv
}

// sortProcessRates sorts rows the way ProcessRates returns them:
// busiest first, then by retransmits, name and container (stable).
func sortProcessRates(out []ProcessRate) {
	slices.SortStableFunc(out, func(a, b ProcessRate) int {
		if c := cmp.Compare(b.Total(), a.Total()); c != 0 {
			return c
		}
		if c := cmp.Compare(b.RetransPerSec, a.RetransPerSec); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Comm, b.Comm), cmp.Compare(a.Container, b.Container))
	})
}

// insertPID inserts pid into the ascending pids, unless it is there.
func insertPID(pids []int, pid int) []int {
	if at, found := slices.BinarySearch(pids, pid); !found {
		return slices.Insert(pids, at, pid)
	}
	return pids
}

// TopSockets returns the indexes of the n busiest sockets of socks with a
// known rate (n <= 0: all of them), by RxBps+TxBps then retransmits,
// busiest first.
func TopSockets(socks []Socket, n int) []int {
	var idx []int
	for i := range socks {
		if socks[i].Rate != nil {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := socks[a].Rate, socks[b].Rate
		if c := cmp.Compare(rb.RxBps+rb.TxBps, ra.RxBps+ra.TxBps); c != 0 {
			return c
		}
		return cmp.Compare(rb.RetransPerSec, ra.RetransPerSec)
	})
	if n > 0 && len(idx) > n {
		idx = idx[:n]
	}
	return idx
}
