package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/google/go-cmp/cmp"
	"net/netip"
	"strings"
	"testing"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// growing publishes Udp RcvbufErrors growing by 5 per Collect.
type growing struct{ v uint64 }

func (g *growing) Name() string { return "counters" }

func (g *growing) Collect(_ context.Context, pub collectors.Publisher) error {
	g.v += 5
	pub.Publish(model.CountersUpdate{Collector: "counters", At: time.Now(), Counters: []model.RawCounter{
		{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: g.v},
	}})
	return nil
}

func TestWatchDrops(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	r := collectors.NewRunner(store, collectors.Spec{Collector: &growing{}, Interval: 10 * time.Millisecond})
	var b bytes.Buffer
	if err := watchDrops(context.Background(), &b, r, 10*time.Millisecond, 3, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d samples printed, want 3:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, `"name":"RcvbufErrors"`) || !strings.Contains(l, `"delta":5`) {
			t.Errorf("sample %s: want RcvbufErrors moved by 5", l)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Reset()
	if err := watchDrops(ctx, &b, r, time.Hour, 0, false); err != nil || b.Len() != 0 {
		t.Errorf("watchDrops with a done context: %v, printed %q; want a quiet normal end", err, b.String())
	}
}

func TestPrintMoved(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 5, 50, 0, 0, time.UTC)
	st := model.NewStore("h", "k", t0)
	var snaps []model.Snapshot
	for i, v := range []uint64{10, 13, 13} {
		at := t0.Add(time.Duration(i) * time.Second)
		st.Publish(model.CountersUpdate{Collector: "counters", At: at, Counters: []model.RawCounter{
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: v},
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "InDatagrams", Kind: model.KindCounter, Value: v * 10},
		}})
		st.Publish(model.SocketsUpdate{At: at, Sockets: []model.Socket{{Proto: model.ProtoUDP, Family: model.FamilyIPv4,
			Local: netip.MustParseAddrPort("127.0.0.1:5353"), Drops: v, HasDrops: true, Procs: []model.Proc{{PID: 7, Comm: "dnsd"}}}}})
		st.Publish(model.DropsUpdate{Monitor: model.DropMonitor{At: at, Reason: "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"}})
		snaps = append(snaps, st.Snapshot())
	}
	var b bytes.Buffer
	if err := printMoved(&b, snaps, false); err != nil {
		t.Fatal(err)
	}
	want := `# 2026-11-21T05:50:01Z  interval 1.00s
layer      counter                                      instance                    delta      rate/s        total
transport  /proc/net/snmp Udp RcvbufErrors                                              3         3.0            3
top sockets by drops:
  udp     127.0.0.1:5353               *                                    13 dnsd[7]
drop reasons: kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)

# 2026-11-21T05:50:02Z  interval 1.00s
no drop counter moved
top sockets by drops:
  udp     127.0.0.1:5353               *                                    13 dnsd[7]
drop reasons: kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)

`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got)\n%s", diff)
	}
	b.Reset()
	if err := printMoved(&b, snaps, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines, want 2", len(lines))
	}
	var s dropsSample
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Counters) != 1 || s.Counters[0].Name != "RcvbufErrors" || s.Counters[0].Delta != 3 || s.Interval != 1 || len(s.TopSockets) != 1 || s.DropMonitor == "" {
		t.Errorf("JSON sample: %+v", s)
	}
}

// TestDropsSampleTracerReasons: with the eBPF tracer as the drop source
// (--drop-source auto picks it where it may load), the reasons that moved
// are the tracer's, as they are the drop monitor's with NET_DM; a tracer
// that cannot run says why.
func TestDropsSampleTracerReasons(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 5, 50, 0, 0, time.UTC)
	snap := model.Snapshot{TakenAt: t0, DropTrace: model.DropTrace{At: t0, Supported: true, Reasons: []model.DropTraceReason{
		{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x4bc", Layer: model.LayerTransport, Packets: 25, Delta: 20},
		{Reason: "TCP_CSUM", Location: "tcp_v4_rcv+0x10", Layer: model.LayerTransport, Packets: 5},
	}}}
	s := newDropsSample(model.Snapshot{TakenAt: t0.Add(-time.Second)}, snap)
	want := []model.DropReason{{Reason: "NO_SOCKET", Layer: model.LayerTransport, Location: "__udp4_lib_rcv+0x4bc", Origin: "sw", Delta: 20, Total: 25}}
	if d := cmp.Diff(want, s.Reasons); d != "" {
		t.Errorf("reasons (-want +got):\n%s", d)
	}
	var b bytes.Buffer
	if err := printMoved(&b, []model.Snapshot{{TakenAt: t0.Add(-time.Second)}, snap}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "drop reason NO_SOCKET") {
		t.Errorf("text lacks the tracer's reason:\n%s", b.String())
	}
	off := model.Snapshot{TakenAt: t0, Collectors: []model.CollectorStatus{{Name: "droptrace", State: model.StateNoPermission, Reason: "needs CAP_BPF and CAP_PERFMON (or root)"}}}
	if s := newDropsSample(model.Snapshot{}, off); s.DropMonitor != "needs CAP_BPF and CAP_PERFMON (or root)" {
		t.Errorf("tracer not running: note %q, want its reason", s.DropMonitor)
	}
}

// TestDropsSampleReasonsOnce: the drop monitor's and the tracer's reasons
// are also counters in the snapshot (sources drop_monitor and
// drop_trace, for the funnel's histories); netlens drops lists each
// reason once, under Reasons with the interval's delta, not again as a
// counter (whose delta, for a reason the tracer first saw, is a refresh
// late: the whole total at once).
func TestDropsSampleReasonsOnce(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 5, 50, 0, 0, time.UTC)
	counter := func(source, group, name string, delta uint64) model.Counter {
		return model.Counter{RawCounter: model.RawCounter{Layer: model.LayerTransport, Source: source, Group: group, Name: name,
			Instance: "__udp4_lib_rcv+0x4bc", Kind: model.KindCounter, Value: delta}, Delta: delta, Total: delta}
	}
	snap := model.Snapshot{TakenAt: t0,
		Counters: []model.Counter{
			counter("/proc/net/snmp", "Udp", "NoPorts", 13),
			counter("drop_trace", "reason", "NO_SOCKET", 23),
			counter("drop_monitor", "reason", "NO_SOCKET", 13),
		},
		DropMonitor: model.DropMonitor{Supported: true, Drops: []model.DropReason{
			{Reason: "NO_SOCKET", Layer: model.LayerTransport, Location: "__udp4_lib_rcv+0x4bc", Origin: "sw", Delta: 13, Total: 23},
		}},
		DropTrace: model.DropTrace{At: t0, Supported: true, Reasons: []model.DropTraceReason{
			{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x4bc", Layer: model.LayerTransport, Packets: 23, Delta: 13},
		}},
	}
	s := newDropsSample(model.Snapshot{TakenAt: t0.Add(-time.Second)}, snap)
	var got []string
	for _, c := range s.Counters {
		got = append(got, c.Source+" "+c.Name)
	}
	if d := cmp.Diff([]string{"/proc/net/snmp NoPorts"}, got); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
	var b bytes.Buffer
	if err := printMoved(&b, []model.Snapshot{{TakenAt: t0.Add(-time.Second)}, snap}, false); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []string{"drop_trace reason", "drop_monitor reason"} {
		if strings.Contains(b.String(), dup) {
			t.Errorf("text lists %q besides the reasons:\n%s", dup, b.String())
		}
	}
}
