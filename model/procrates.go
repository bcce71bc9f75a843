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
	// PIDs are the processes of that name holding the sockets, ascending.
	PIDs []int `json:"pids,omitempty"`
	// Conns is the number of its TCP connections (sockets other than
	// listeners, TIME-WAIT and request sockets, which no process holds);
	// Rated of them had a rate this refresh.
	Conns int `json:"conns"`
	Rated int `json:"rated"`
	// Sockets counts every socket it holds (UDP, raw and listeners too).
	Sockets       int     `json:"sockets"`
	RxBps         float64 `json:"rx_bytes_per_sec"`
	TxBps         float64 `json:"tx_bytes_per_sec"`
	RetransPerSec float64 `json:"retrans_per_sec"`
}

// Total is RxBps + TxBps, what the process view sorts by.
func (p ProcessRate) Total() float64 { return p.RxBps + p.TxBps }

// ProcessRates groups socks by the name of the process holding them and
// sums their rates, busiest (RxBps+TxBps) first, then by name. A socket
// held by several processes counts once, for the first one in its Procs
// (its PIDs are all listed). Sockets without a known holder form the row
// with an empty Comm. It is a pure function, safe for concurrent use.
func ProcessRates(socks []Socket) []ProcessRate {
	idx := map[string]int{}
	var out []ProcessRate
	for i := range socks {
		s := &socks[i]
		comm := ""
		if len(s.Procs) > 0 {
			comm = s.Procs[0].Comm
		}
		j, ok := idx[comm]
		if !ok {
			j = len(out)
			idx[comm] = j
			out = append(out, ProcessRate{Comm: comm})
		}
		p := &out[j]
		p.Sockets++
		for _, pr := range s.Procs {
			if pr.Comm == comm {
				if k, found := slices.BinarySearch(p.PIDs, pr.PID); !found {
					p.PIDs = slices.Insert(p.PIDs, k, pr.PID)
				}
			}
		}
		if s.Proto != ProtoTCP || s.State == StateListen || s.State == StateTimeWait || s.State == StateNewSynRecv {
			continue
		}
		p.Conns++
		if s.Rate.Known {
			p.Rated++
			p.RxBps += s.Rate.RxBps
			p.TxBps += s.Rate.TxBps
			p.RetransPerSec += s.Rate.RetransPerSec
		}
	}
	slices.SortStableFunc(out, func(a, b ProcessRate) int {
		if c := cmp.Compare(b.Total(), a.Total()); c != 0 {
			return c
		}
		if c := cmp.Compare(b.RetransPerSec, a.RetransPerSec); c != 0 {
			return c
		}
		return cmp.Compare(a.Comm, b.Comm)
	})
	return out
}

// TopSockets returns the indexes of the n busiest sockets of socks with a
// known rate (n <= 0: all of them), by RxBps+TxBps then retransmits,
// busiest first.
func TopSockets(socks []Socket, n int) []int {
	var idx []int
	for i := range socks {
		if socks[i].Rate.Known {
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
