package model

import (
	stdcmp "cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rated(comm string, pids []int, rx, tx, re float64) Socket {
	s := Socket{Proto: ProtoTCP, State: StateEstablished, Rate: &SocketRate{Known: true, RxBps: rx, TxBps: tx, RetransPerSec: re}}
	for _, p := range pids {
		s.Procs = append(s.Procs, Proc{PID: p, Comm: comm})
	}
	return s
}

func TestProcessRates(t *testing.T) {
	socks := []Socket{
		rated("curl", []int{30}, 5e6, 1e3, 0),
		rated("nginx", []int{12}, 1e3, 2e6, 1),
		rated("nginx", []int{11, 12}, 1e3, 1e6, 0), // shared by two workers: counted once
		{Proto: ProtoTCP, State: StateListen, Procs: []Proc{{PID: 11, Comm: "nginx"}}},
		{Proto: ProtoUDP, State: StateClose, Procs: []Proc{{PID: 40, Comm: "dnsmasq"}}},
		{Proto: ProtoTCP, State: StateEstablished, Procs: []Proc{{PID: 30, Comm: "curl"}}}, // first sight: no rate
		rated("", nil, 0, 0, 0),
		{Proto: ProtoTCP, State: StateTimeWait},
	}
	want := []ProcessRate{
		{Comm: "curl", PIDs: []int{30}, Conns: 2, Rated: 1, Sockets: 2, RxBps: 5e6, TxBps: 1e3},
		{Comm: "nginx", PIDs: []int{11, 12}, Conns: 2, Rated: 2, Sockets: 3, RxBps: 2e3, TxBps: 3e6, RetransPerSec: 1},
		{Comm: "", Conns: 1, Rated: 1, Sockets: 2},
		{Comm: "dnsmasq", PIDs: []int{40}, Sockets: 1},
	}
	if diff := cmp.Diff(want, ProcessRates(socks, nil)); diff != "" {
		t.Errorf("ProcessRates (-want +got)\n%s", diff)
	}
	if got := TopSockets(socks, 2); !cmp.Equal(got, []int{0, 1}) {
		t.Errorf("TopSockets(2) = %v, want [0 1]", got)
	}
	if got := TopSockets(socks, 0); len(got) != 4 {
		t.Errorf("TopSockets(0) = %v, want the 4 rated sockets", got)
	}
}

// BenchmarkProcessRates groups 10,000 sockets of 200 processes (the TUI
// does it once a refresh, for the process view's sparklines).
func BenchmarkProcessRates(b *testing.B) {
	socks := make([]Socket, 10000)
	for i := range socks {
		comm := "proc" + string(rune('a'+i%26)) + string(rune('a'+(i/26)%8))
		socks[i] = rated(comm, []int{1000 + i%200}, float64(i), float64(2*i), 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ProcessRates(socks, nil)
	}
}

func TestProcessRatesContainersAndSampled(t *testing.T) {
	const ctr = "3f4e5a6b7c8d"
	web := rated("nginx", []int{50}, 1e3, 2e3, 0)
	web.Procs[0].Container = ctr
	socks := []Socket{
		rated("nginx", []int{12}, 1e3, 1e3, 0),
		web,
		{Proto: ProtoUDP, State: StateClose, Procs: []Proc{{PID: 40, Comm: "iperf", Container: ctr}}},
		{Proto: ProtoUDP, State: StateClose, Procs: []Proc{{PID: 41, Comm: "dnsmasq"}}},
	}
	sampled := map[int]SocketRate{2: {Known: true, Sampled: true, RxBps: 10, TxBps: 5e6}}
	want := []ProcessRate{
		{Comm: "iperf", Container: ctr, PIDs: []int{40}, Sampled: 1, Sockets: 1, RxBps: 10, TxBps: 5e6},
		{Comm: "nginx", Container: ctr, PIDs: []int{50}, Conns: 1, Rated: 1, Sockets: 1, RxBps: 1e3, TxBps: 2e3},
		{Comm: "nginx", PIDs: []int{12}, Conns: 1, Rated: 1, Sockets: 1, RxBps: 1e3, TxBps: 1e3},
		{Comm: "dnsmasq", PIDs: []int{41}, Sockets: 1},
	}
	if diff := cmp.Diff(want, ProcessRates(socks, sampled)); diff != "" {
		t.Errorf("ProcessRates (-want +got)\n%s", diff)
	}
}

// procRatesTable is a socket table like the TUI's at 100,000 sockets
// (BenchmarkTUI100k): n-ish loopback TCP sockets of ten python3
// processes (each its own Comm string, as the owners collector reads
// one per process), each socket with its own one-Proc slice, allocated
// in another order than the table's (the collector allocates in
// descriptor order, the kernel dumps in hash order), one listener per
// process, an sshd listener, a resolver's UDP sockets, a container's
// connections and some TIME-WAIT sockets without a holder. Idle
// sockets share one Rate (as the sockets collector stores them);
// active of them have their own.
func procRatesTable(n, active int, rng *rand.Rand) []Socket {
	type owner struct {
		pid             int
		comm, container string
	}
	var py []owner
	for i := range 10 {
		py = append(py, owner{pid: 2000 + i, comm: strings.Clone("python3")})
	}
	sshd := owner{pid: 800, comm: "sshd"}
	resolved := owner{pid: 500, comm: "systemd-resolve"}
	web := owner{pid: 3100, comm: "nginx", container: "3f4e5a6b7c8d"}
	socks := make([]Socket, n)
	owners := make([]*owner, n)
	idle := &SocketRate{Known: true, Interval: time.Second}
	for i := range socks {
		s := &socks[i]
		s.Proto, s.State, s.Rate = ProtoTCP, StateEstablished, idle
		switch r := rng.IntN(1000); {
		case r == 0:
			s.State, s.Rate = StateTimeWait, nil
		case r == 1:
			s.Proto, s.State, s.Rate = ProtoUDP, StateClose, nil
			owners[i] = &resolved
		case r < 4:
			owners[i] = &web
		default:
			owners[i] = &py[rng.IntN(len(py))]
		}
	}
	for _, o := range append(py, sshd) {
		j := rng.IntN(n)
		socks[j] = Socket{Proto: ProtoTCP, State: StateListen}
		owners[j] = &o
	}
	for range active {
		i := rng.IntN(n)
		if socks[i].State == StateEstablished {
			socks[i].Rate = &SocketRate{Known: true, Interval: time.Second, RxBps: float64(rng.IntN(1e6)), TxBps: float64(rng.IntN(1e6))}
		}
	}
	for _, i := range rng.Perm(n) {
		if o := owners[i]; o != nil {
			socks[i].Procs = []Proc{{PID: o.pid, Comm: o.comm, FD: 3 + i, Container: o.container}}
		}
	}
	return socks
}

// BenchmarkProcessRates100k groups a socket table like the TUI's at
// 100,000 sockets (procRatesTable), which the process view does for
// every new table, shown or not.
func BenchmarkProcessRates100k(b *testing.B) {
	socks := procRatesTable(100000, 500, rand.New(rand.NewPCG(1, 2)))
	b.ReportAllocs()
	for b.Loop() {
		_ = ProcessRates(socks, nil)
	}
}

// processRatesRef is ProcessRates written plainly: the sockets of each
// row listed in the order of the rows' first sockets, then each row
// summed from its list, its PIDs a set, and the same sort.
func processRatesRef(socks []Socket, sampled map[int]SocketRate) []ProcessRate {
	type key struct{ comm, container string }
	var order []key
	members := map[key][]int{}
	for i, s := range socks {
		var k key
		if len(s.Procs) > 0 {
			k = key{s.Procs[0].Comm, s.Procs[0].Container}
		}
		if _, ok := members[k]; !ok {
			order = append(order, k)
		}
		members[k] = append(members[k], i)
	}
	var out []ProcessRate
	for _, k := range order {
		r := ProcessRate{Comm: k.comm, Container: k.container}
		pids := map[int]bool{}
		for _, i := range members[k] {
			s := &socks[i]
			r.Sockets++
			for _, pr := range s.Procs {
				if pr.Comm == k.comm && pr.Container == k.container {
					pids[pr.PID] = true
				}
			}
			sr, ok := sampled[i]
			conn := s.Proto == ProtoTCP && !slices.Contains([]SockState{StateListen, StateTimeWait, StateNewSynRecv}, s.State)
			switch {
			case ok && sr.Sampled:
				r.Sampled++
				r.RxBps, r.TxBps = r.RxBps+sr.RxBps, r.TxBps+sr.TxBps
			case conn && s.Rate != nil:
				r.Conns, r.Rated = r.Conns+1, r.Rated+1
				r.RxBps, r.TxBps, r.RetransPerSec = r.RxBps+s.Rate.RxBps, r.TxBps+s.Rate.TxBps, r.RetransPerSec+s.Rate.RetransPerSec
			case conn:
				r.Conns++
			}
		}
		for pid := range pids {
			r.PIDs = append(r.PIDs, pid)
		}
		slices.Sort(r.PIDs)
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b ProcessRate) int {
		return stdcmp.Or(stdcmp.Compare(b.Total(), a.Total()), stdcmp.Compare(b.RetransPerSec, a.RetransPerSec),
			stdcmp.Compare(a.Comm, b.Comm), stdcmp.Compare(a.Container, b.Container))
	})
	return out
}

// TestProcessRatesMatchesReference compares ProcessRates with
// processRatesRef on random tables: sockets held by several processes
// (of one name or several), by none, in containers, UDP sockets with a
// sampled rate, runs of one process and interleaved ones, more PIDs than
// ProcessRates remembers, and tables of fewer and more sockets than a
// batch.
func TestProcessRatesMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 300 {
		n := rng.IntN(700)
		npid := 1 + rng.IntN(200) // over 64: two PIDs share a slot of known
		socks := make([]Socket, n)
		for i := range socks {
			randomSocket(&socks[i], socks[:i], npid, rng)
		}
		var sampled map[int]SocketRate
		if round%3 == 0 {
			sampled = randomSampled(socks, rng)
		}
		want, got := processRatesRef(socks, sampled), ProcessRates(socks, sampled)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d, %d sockets (-reference +ProcessRates):\n%s", round, n, diff)
		}
	}
}

var (
	randomStates = []SockState{StateEstablished, StateListen, StateTimeWait, StateNewSynRecv, StateClose, StateCloseWait, StateSynSent}
	randomComms  = []string{"", "nginx", "curl", "python3", "sshd"}
	randomCtrs   = []string{"", "", "3f4e5a6b7c8d", "ns/pod"}
)

// randomSocket sets *s to a random socket after the sockets before (of
// PIDs below npid): TCP or UDP, in one of randomStates, with a rate or
// none, held by none to three processes of randomComms, often several
// of one name, or by the previous socket's holders (a run, in a slice
// of its own).
func randomSocket(s *Socket, before []Socket, npid int, rng *rand.Rand) {
	*s = Socket{Proto: []Proto{ProtoTCP, ProtoTCP, ProtoUDP}[rng.IntN(3)], State: randomStates[rng.IntN(len(randomStates))]}
	if rng.IntN(3) > 0 {
		s.Rate = randomRate(rng)
	}
	if len(before) > 0 && rng.IntN(4) == 0 {
		s.Procs = slices.Clone(before[len(before)-1].Procs)
		return
	}
	for range rng.IntN(4) {
		comm := randomComms[rng.IntN(len(randomComms))]
		if rng.IntN(2) == 0 && len(s.Procs) > 0 {
			comm = s.Procs[0].Comm // more PIDs of one name
		}
		s.Procs = append(s.Procs, Proc{PID: rng.IntN(npid) - 1, Comm: strings.Clone(comm), FD: rng.IntN(100), Container: randomCtrs[rng.IntN(len(randomCtrs))]})
	}
}

// randomRate is a rate of whole numbers or, as often, of fractions
// (whose sums depend on the order they are added in).
func randomRate(rng *rand.Rand) *SocketRate {
	if rng.IntN(2) == 0 {
		return &SocketRate{Known: true, RxBps: float64(rng.IntN(1000)), TxBps: float64(rng.IntN(1000)), RetransPerSec: float64(rng.IntN(3))}
	}
	return &SocketRate{Known: true, RxBps: rng.Float64() * 1e6, TxBps: rng.Float64() * 1e3, RetransPerSec: rng.Float64()}
}

// randomSampled gives about half the UDP sockets of socks a rate from a
// capture, most of them sampled.
func randomSampled(socks []Socket, rng *rand.Rand) map[int]SocketRate {
	sampled := map[int]SocketRate{}
	for i := range socks {
		if socks[i].Proto == ProtoUDP && rng.IntN(2) == 0 {
			sampled[i] = SocketRate{Known: true, Sampled: rng.IntN(4) > 0, RxBps: float64(rng.IntN(1e4)), TxBps: float64(rng.IntN(1e4))}
		}
	}
	return sampled
}

// sameTableRates returns k copies of socks, each a list of its own with
// the same Procs slices (as the owners collector gives a table whose
// sockets did not change) and new Rates: the sockets collector's next
// refreshes of an unchanged table.
func sameTableRates(socks []Socket, k int, rng *rand.Rand) [][]Socket {
	tables := make([][]Socket, k)
	for t := range tables {
		next := slices.Clone(socks)
		idle := &SocketRate{Known: true, Interval: time.Second}
		for i := range next {
			if next[i].Rate == nil {
				continue
			}
			next[i].Rate = idle
			if rng.IntN(200) == 0 {
				next[i].Rate = &SocketRate{Known: true, Interval: time.Second, RxBps: float64(rng.IntN(1e6)), TxBps: float64(rng.IntN(1e6)), RetransPerSec: float64(rng.IntN(3))}
			}
		}
		tables[t] = next
	}
	return tables
}

// BenchmarkProcessRatesSameTable100k groups the same table of 100,000
// sockets (procRatesTable) with new rates each call, the TUI's common
// case: ProcessRates from scratch, and a ProcessRater, which reuses the
// grouping of the last call (see benchGroupings).
func BenchmarkProcessRatesSameTable100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	benchGroupings(b, sameTableRates(procRatesTable(100000, 500, rng), 4, rng), true)
}

// BenchmarkProcessRatesChurn100k groups, in turn, two tables of 100,000
// sockets (procRatesTable) one of which is the other with 100 sockets
// closed and 100 opened at random places: ProcessRates, and a
// ProcessRater, which cannot reuse its last grouping but takes the
// first holders of the sockets it had from it (see benchGroupings).
func BenchmarkProcessRatesChurn100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := procRatesTable(100000, 500, rng)
	opened := procRatesTable(100, 0, rng)
	c := slices.Clone(a)
	for i := range opened {
		j := rng.IntN(len(c))
		c = slices.Delete(c, j, j+1)
		j = rng.IntN(len(c) + 1)
		c = slices.Insert(c, j, opened[i])
	}
	benchGroupings(b, [][]Socket{a, c}, false)
}

// benchGroupings groups tables in turn with ProcessRates and with a
// ProcessRater (which reuses its grouping every call after the first,
// or never: reuse), with the CPU caches warm from the last call or, in
// the cold runs, emptied before each (by writing 128 MiB, untimed), as
// in the TUI, where a second of other work separates two tables.
func benchGroupings(b *testing.B, tables [][]Socket, reuse bool) {
	var evict []byte
	for _, cold := range []bool{false, true} {
		name := ""
		if cold {
			name, evict = "/cold", make([]byte, 128<<20)
		}
		loop := func(b *testing.B, rates func([]Socket) []ProcessRate) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if cold {
					b.StopTimer()
					for i := 0; i < len(evict); i += 64 {
						evict[i]++
					}
					b.StartTimer()
				}
				_ = rates(tables[n%len(tables)])
				n++
			}
		}
		b.Run("ProcessRates"+name, func(b *testing.B) {
			loop(b, func(socks []Socket) []ProcessRate { return ProcessRates(socks, nil) })
		})
		b.Run("ProcessRater"+name, func(b *testing.B) {
			var r ProcessRater
			r.Rates(tables[len(tables)-1], nil)
			loop(b, func(socks []Socket) []ProcessRate { return r.Rates(socks, nil) })
			if want := map[bool]int{true: b.N}[reuse]; r.resums != want {
				b.Fatalf("the grouping was reused %d times in %d calls after the first, want %d", r.resums, b.N, want)
			}
		})
	}
}
