package ui

import (
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// TestGoldenRates is the Connections tab with tcp_info rates: the rate
// columns sorted, a TCP socket's details, and the process view (P).
func TestGoldenRates(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{"SortTx_80x24", 80, 24, []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "o"}},
		{"SortRetrans_120x40", 120, 40, []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "o", "o"}},
		{"TCPDetails_80x24", 80, 24, []string{"down", "down", "down", "down", "enter"}},
		{"TCPDetails_120x40", 120, 40, []string{"down", "down", "down", "down", "enter"}},
		{"NewSocketDetails_120x40", 120, 40, []string{"/", "S", "Y", "N", "-", "S", "E", "N", "T", "enter", "enter"}},
		{"TimeWaitDetails_120x40", 120, 40, []string{"o", "o", "end", "up", "up", "up", "up", "enter"}},
		{"UDPDetails_120x40", 120, 40, []string{"down", "down", "down", "enter"}},
		{"Processes_80x24", 80, 24, []string{"P"}},
		{"Processes_120x40", 120, 40, []string{"P"}},
		{"ProcessesDetails_120x40", 120, 40, []string{"P", "enter"}},
		{"ProcessesBack_80x24", 80, 24, []string{"P", "P"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGolden(t, fixtureStore(), tt.w, tt.h, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestGoldenSampledUDP is the Connections tab while a live capture runs:
// the UDP sockets it saw traffic of have rates marked ~ (sampled), in
// the sockets view, its details, and the process view.
func TestGoldenSampledUDP(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{"SortRx_120x40", 120, 40, []string{"o", "o", "o", "o", "o", "o", "o", "o", "o"}},
		{"Details_120x40", 120, 40, []string{"o", "o", "o", "o", "o", "o", "o", "o", "o", "home", "enter"}},
		{"Processes_80x24", 80, 24, []string{"P"}},
		{"Processes_120x40", 120, 40, []string{"P"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fixtureStore()
			s.Publish(model.CaptureUpdate{Stats: model.CaptureStats{At: t0.Add(time.Second), Source: "live", Interface: "eth0", Running: true,
				UDPFlows: []model.CaptureFlow{{
					Key:               model.CaptureFlowKey{Proto: model.ProtoUDP, A: ap("10.20.0.5:514"), B: ap("10.20.0.31:40514")},
					PayloadPerSecAToB: 0, PayloadPerSecBToA: 2.5e6,
				}}}})
			runGolden(t, s, tt.w, tt.h, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestProcViewHistory feeds the process view successive socket tables:
// each process's sparkline history follows its total rate, a process
// that leaves is forgotten, and the history is bounded.
func TestProcViewHistory(t *testing.T) {
	c := Common{Styles: NewStyles(colorprofile.ASCII), Keys: DefaultKeyMap()}
	p := newProcView(c, []string{"sockets"}, GlyphsASCII)
	p.SetSize(120, 30)
	sock := func(comm string, pid int, rx, tx float64) model.Socket {
		return model.Socket{Proto: model.ProtoTCP, State: model.StateEstablished, Procs: []model.Proc{{PID: pid, Comm: comm}},
			Rate: &model.SocketRate{Known: true, Interval: time.Second, RxBps: rx, TxBps: tx}}
	}
	for i := range procHistLen + 5 {
		socks := []model.Socket{sock("curl", 10, float64(i), 0)}
		if i < 3 {
			socks = append(socks, sock("wget", 11, 0, 100))
		}
		p.SetSnapshot(model.Snapshot{Seq: uint64(i + 1), Sockets: socks})
		p.Sync()
	}
	h := p.hist["curl"]
	if len(h) != procHistLen || h[0] != 5 || h[len(h)-1] != procHistLen+4 {
		t.Errorf("curl history: %d samples, %d .. %d; want %d, 5 .. %d", len(h), h[0], h[len(h)-1], procHistLen, procHistLen+4)
	}
	if _, ok := p.hist["wget"]; ok {
		t.Error("wget left and is still remembered")
	}
	got := []string{p.cell(p.idx[0], procName), p.cell(p.idx[0], procTx), p.cell(p.idx[0], procRx)}
	if diff := cmp.Diff([]string{"curl", "0", "64.0"}, got); diff != "" {
		t.Errorf("row (-want +got)\n%s", diff)
	}
}
