package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/sockets"
	"netlens/model"
)

// fakeSockets returns a fixed series of socket tables.
type fakeSockets struct {
	tables [][]model.Socket
	source string
	n      int
	// unreadable processes of 10 (owners unknown).
	unreadable int
}

func (f *fakeSockets) Sockets(context.Context) ([]model.Socket, sockets.Stats, error) {
	t := f.tables[min(f.n, len(f.tables)-1)]
	f.n++
	return t, sockets.Stats{Source: f.source, FallbackReason: "sock_diag denied", Owners: sockets.OwnerStats{Procs: 10, Unreadable: f.unreadable}}, nil
}

// TestTopUnreadableOwners: without CAP_SYS_PTRACE other users' sockets
// are "(unknown)"; top says why, once, on stderr (it did not).
func TestTopUnreadableOwners(t *testing.T) {
	table := []model.Socket{topSock("127.0.0.1:1", "127.0.0.1:2", "a", 1, model.SocketRate{Known: true, Interval: time.Second, TxBps: 5})}
	var out, errw bytes.Buffer
	src := &fakeSockets{tables: [][]model.Socket{table}, source: sockets.SourceSockDiag, unreadable: 4}
	if err := runTop(context.Background(), src, topOptions{by: "process", count: 2, interval: time.Millisecond}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if got, want := errw.String(), "netlens top: owners of 4 of 10 processes unreadable (needs root or CAP_SYS_PTRACE): their sockets are (unknown)\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func topSock(local, remote string, comm string, pid int, rate model.SocketRate) model.Socket {
	var r *model.SocketRate // nil: no rate yet
	if rate != (model.SocketRate{}) {
		r = &rate
	}
	return model.Socket{Proto: model.ProtoTCP, State: model.StateEstablished, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote),
		Procs: []model.Proc{{PID: pid, Comm: comm, FD: 3}}, Rate: r, TCP: &model.TCPInfo{Len: 232, RTT: 1500, SndCwnd: 10, TotalRetrans: 4, Congestion: "cubic"}}
}

func TestTopPrint(t *testing.T) {
	known := func(rx, tx, re float64) model.SocketRate {
		return model.SocketRate{Known: true, Interval: time.Second, RxBps: rx, TxBps: tx, RetransPerSec: re}
	}
	curl := topSock("10.0.0.1:5000", "10.0.0.7:22", "curl", 30, known(3e6, 100, 0))
	curl.Procs[0].Container = "3f4e5a6b7c8d"
	table := []model.Socket{
		topSock("10.0.0.1:443", "10.0.0.9:50000", "nginx", 12, known(1200, 5.5e6, 2)),
		topSock("10.0.0.1:443", "10.0.0.9:50001", "nginx", 11, known(800, 1e6, 0)),
		curl,
		topSock("10.0.0.1:5001", "10.0.0.7:22", "sleepy", 31, model.SocketRate{}),
		{Proto: model.ProtoUDP, State: model.StateClose, Local: netip.MustParseAddrPort("0.0.0.0:53"), Procs: []model.Proc{{PID: 40, Comm: "dnsmasq"}}},
	}
	tests := []struct {
		name string
		o    topOptions
		want []string // lines, times cut off
	}{
		{"by process", topOptions{by: "process", count: 1}, []string{
			"sock_diag",
			"PROCESS CONTAINER PIDS CONNS RX/s TX/s RETRANS/s",
			"nginx - 11,12 2 2.0 kB/s 6.5 MB/s 2.0",
			"curl 3f4e5a6b7c8d 30 1 3.0 MB/s 100 B/s 0.0",
			"sleepy - 31 1 - - -",
		}},
		{"by socket, limit 2", topOptions{by: "socket", count: 1, limit: 2}, []string{
			"sock_diag",
			"LOCAL         REMOTE          STATE  PROCESS   RX/s     TX/s     RETRANS/s  RTT     CWND",
			"10.0.0.1:443  10.0.0.9:50000  ESTAB  nginx/12  1.2 kB/s 5.5 MB/s 2.0        1.50ms  10",
			"10.0.0.1:5000 10.0.0.7:22     ESTAB  curl/30   3.0 MB/s 100 B/s  0.0        1.50ms  10",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			tt.o.interval = time.Millisecond
			src := &fakeSockets{tables: [][]model.Socket{nil, table}, source: sockets.SourceSockDiag}
			if err := runTop(context.Background(), src, tt.o, &out, &errw); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(squash(tt.want), squash(cutTimes(out.String()))); diff != "" {
				t.Errorf("top (-want +got)\n%s", diff)
			}
			if errw.Len() != 0 {
				t.Errorf("stderr: %q", errw.String())
			}
		})
	}
}

// squash collapses runs of spaces, so that tests do not depend on
// column widths.
func squash(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// cutTimes drops the time of day that starts each interval's first line.
func cutTimes(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if len(l) > 10 && l[2] == ':' && l[5] == ':' {
			l = l[10:]
		}
		out = append(out, l)
	}
	return out
}

func TestTopJSONAndCount(t *testing.T) {
	table := []model.Socket{topSock("127.0.0.1:1", "127.0.0.1:2", "a", 1, model.SocketRate{Known: true, Interval: time.Second, TxBps: 5})}
	table[0].Procs[0].Container = "3f4e5a6b7c8d"
	var out, errw bytes.Buffer
	src := &fakeSockets{tables: [][]model.Socket{table}, source: sockets.SourceProcNet}
	if err := runTop(context.Background(), src, topOptions{by: "process", count: 3, json: true, interval: time.Millisecond}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || src.n != 4 {
		t.Fatalf("%d lines from %d readings, want 3 from 4:\n%s", len(lines), src.n, out.String())
	}
	var iv topInterval
	if err := json.Unmarshal([]byte(lines[2]), &iv); err != nil {
		t.Fatal(err)
	}
	want := []model.ProcessRate{{Comm: "a", Container: "3f4e5a6b7c8d", PIDs: []int{1}, Conns: 1, Rated: 1, Sockets: 1, TxBps: 5}}
	if diff := cmp.Diff(want, iv.Processes); diff != "" {
		t.Errorf("processes (-want +got)\n%s", diff)
	}
	if !strings.Contains(lines[2], `"container":"3f4e5a6b7c8d"`) {
		t.Errorf("JSON line has no container: %s", lines[2])
	}
	if got := errw.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "/proc/net, which has no tcp_info") {
		t.Errorf("stderr %q, want one line saying why there are no rates", got)
	}
}

// TestTopJSONEmpty: an interval where nothing qualifies has its array,
// empty: the key was left out, and a script reading d["processes"]
// failed. The other --by's array, not computed, stays out.
func TestTopJSONEmpty(t *testing.T) {
	for _, tt := range []struct{ by, key, other string }{{"process", "processes", "sockets"}, {"socket", "sockets", "processes"}} {
		var out, errw bytes.Buffer
		src := &fakeSockets{tables: [][]model.Socket{nil}, source: sockets.SourceSockDiag}
		if err := runTop(context.Background(), src, topOptions{by: tt.by, count: 1, json: true, interval: time.Millisecond}, &out, &errw); err != nil {
			t.Fatal(err)
		}
		var iv map[string]json.RawMessage
		if err := json.Unmarshal(out.Bytes(), &iv); err != nil {
			t.Fatalf("--by %s: %v\n%s", tt.by, err, out.String())
		}
		if got, ok := iv[tt.key]; !ok || string(got) != "[]" {
			t.Errorf("--by %s: %q is %s (present %v), want []:\n%s", tt.by, tt.key, got, ok, out.String())
		}
		if _, ok := iv[tt.other]; ok {
			t.Errorf("--by %s: %q present:\n%s", tt.by, tt.other, out.String())
		}
	}
}
