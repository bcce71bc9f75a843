package model

import (
	"testing"

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
