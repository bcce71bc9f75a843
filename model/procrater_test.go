package model

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestProcessRaterMatchesProcessRates feeds a ProcessRater a sequence of
// random tables, each the last one changed the ways a refresh changes
// it (in a list of its own, as the sockets collector publishes them):
// new rates only (the common case, which must reuse the grouping),
// a socket's Procs replaced (by a copy, another process, a shorter or
// longer view of the same array, an empty slice), states and protocols changed (to
// and from connections, or between two connection states: the grouping
// must be reused too), sockets inserted, removed and swapped, other
// sampled UDP rates, an empty table and a new one; and compares each
// result with ProcessRates' and processRatesRef's. It also checks that rows it returned earlier are
// left as they were.
func TestProcessRaterMatchesProcessRates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var r ProcessRater
	var socks []Socket
	var sampled map[int]SocketRate
	var prev, prevCopy []ProcessRate
	var hidden []Proc
	npid := 100
	resumsWanted := 0
	const steps = 5000
	for step := range steps {
		next := slices.Clone(socks)
		same := false // only the rates change: the grouping must be reused
		what := rng.IntN(16)
		if hidden != nil && rng.IntN(4) == 0 {
			// The holders of a socket that had none in a view of
			// their array come back: the grouping before had its
			// Procs' data pointer, but not its holders.
			for i := range next {
				if len(next[i].Procs) == 0 && unsafe.SliceData(next[i].Procs) == unsafe.SliceData(hidden) {
					next[i].Procs = hidden
					what = -1 // not the same table
				}
			}
			hidden = nil
		}
		switch {
		case what < 0:
		case what < 6 || len(next) == 0 && what < 12:
			same = len(next) > 0 || what < 2
			for i := range next {
				switch rng.IntN(4) {
				case 0:
					next[i].Rate = nil
				case 1, 2:
					next[i].Rate = randomRate(rng)
				}
			}
			if rng.IntN(3) == 0 {
				sampled = randomSampled(next, rng)
				if rng.IntN(4) == 0 { // indexes past the table, and of TCP sockets
					sampled[len(next)+rng.IntN(3)] = SocketRate{Known: true, Sampled: true, RxBps: 1}
					sampled[-1] = SocketRate{Known: true, Sampled: true, RxBps: 2}
					if len(next) > 0 {
						sampled[rng.IntN(len(next))] = SocketRate{Known: true, Sampled: true, RxBps: 0.1, TxBps: 0.3}
					}
				}
			} else if rng.IntN(3) == 0 {
				sampled = nil
			}
		case what == 6:
			i := rng.IntN(len(next))
			s := &next[i]
			switch rng.IntN(5) {
			case 0:
				s.Procs = slices.Clone(s.Procs) // same holders, another slice
			case 1:
				if len(s.Procs) > 0 && rng.IntN(2) == 0 {
					hidden, s.Procs = s.Procs, s.Procs[:0] // for a later step
				} else {
					s.Procs = s.Procs[:rng.IntN(cap(s.Procs)+1)] // same array, other holders at the end (or none)
				}
			case 2:
				s.Procs = []Proc{}
			case 3:
				s.Procs = nil
			default:
				var n Socket
				randomSocket(&n, next[:i], npid, rng)
				s.Procs = n.Procs
			}
		case what == 7:
			same = true
			s := &next[rng.IntN(len(next))]
			s.State = randomStates[rng.IntN(len(randomStates))]
			if rng.IntN(3) == 0 {
				s.Proto = []Proto{ProtoTCP, ProtoUDP, ProtoRAW}[rng.IntN(3)]
			}
		case what == 8:
			i := rng.IntN(len(next) + 1)
			var n Socket
			randomSocket(&n, next[:i], npid, rng)
			next = slices.Insert(next, i, n)
		case what == 9:
			i := rng.IntN(len(next))
			next = slices.Delete(next, i, min(len(next), i+1+rng.IntN(3)))
		case what == 10:
			i, j := rng.IntN(len(next)), rng.IntN(len(next))
			next[i], next[j] = next[j], next[i]
		case what == 11:
			sampled = randomSampled(next, rng)
		case what == 12:
			next, sampled = nil, nil
		default:
			npid = 1 + rng.IntN(200)
			next = make([]Socket, rng.IntN([]int{5, 300, 1000}[rng.IntN(3)]))
			for i := range next {
				randomSocket(&next[i], next[:i], npid, rng)
			}
			sampled = nil
			if rng.IntN(2) == 0 {
				sampled = randomSampled(next, rng)
			}
		}
		socks = next
		resums := r.resums
		got := r.Rates(socks, sampled)
		if same {
			resumsWanted++
			if r.resums != resums+1 {
				t.Fatalf("step %d (change %d): new rates or states of the same %d sockets: the grouping was not reused", step, what, len(socks))
			}
		}
		if diff := cmp.Diff(ProcessRates(socks, sampled), got); diff != "" {
			t.Fatalf("step %d (change %d), %d sockets (-ProcessRates +ProcessRater):\n%s", step, what, len(socks), diff)
		}
		if diff := cmp.Diff(processRatesRef(socks, sampled), got); diff != "" {
			t.Fatalf("step %d (change %d), %d sockets (-reference +ProcessRater):\n%s", step, what, len(socks), diff)
		}
		if diff := cmp.Diff(prevCopy, prev); diff != "" {
			t.Fatalf("step %d: the rows of the step before changed (-then +now):\n%s", step, diff)
		}
		if len(got) > 0 && len(prev) > 0 && &got[0] == &prev[0] {
			t.Fatalf("step %d: the rows of the step before were reused", step)
		}
		prev, prevCopy = got, cloneRates(got)
	}
	t.Logf("%d steps, grouping reused %d times (%d of them required: new rates or states only)", steps, r.resums, resumsWanted)
	if r.resums < steps/4 {
		t.Errorf("the grouping was reused %d times in %d steps (%d at least)", r.resums, steps, resumsWanted)
	}
}

// cloneRates is a deep copy of rows.
func cloneRates(rows []ProcessRate) []ProcessRate {
	rows = slices.Clone(rows)
	for i := range rows {
		rows[i].PIDs = slices.Clone(rows[i].PIDs)
	}
	return rows
}

// TestProcessRaterFirstCalls: the first call, of an empty table or not,
// and a table whose sockets have no holders.
func TestProcessRaterFirstCalls(t *testing.T) {
	var r ProcessRater
	if got := r.Rates(nil, nil); got != nil {
		t.Errorf("Rates(nil) = %v, want nil", got)
	}
	if got := r.Rates([]Socket{}, nil); got != nil {
		t.Errorf("Rates(empty) = %v, want nil", got)
	}
	socks := []Socket{rated("", nil, 1, 2, 3), {Proto: ProtoUDP}}
	for range 2 {
		if diff := cmp.Diff(ProcessRates(socks, nil), r.Rates(slices.Clone(socks), nil)); diff != "" {
			t.Errorf("(-ProcessRates +ProcessRater):\n%s", diff)
		}
	}
	if r.resums != 3 { // the two empty tables and the second of socks
		t.Errorf("resums = %d, want 3", r.resums)
	}
}
