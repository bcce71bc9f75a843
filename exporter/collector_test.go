package exporter

import (
	"bytes"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type fixed model.Snapshot

func (f fixed) Snapshot() model.Snapshot { return model.Snapshot(f) }

// TestCollectGolden: the metrics of the fixture snapshot, every family.
func TestCollectGolden(t *testing.T) {
	c := New(fixed(snapshottest.Full()), Options{Version: "test"})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	got := gather(t, reg)
	const golden = "testdata/full.prom"
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("exposition (-want +got):\n%s", d)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// series returns the values of the family name, by instance label.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			var key []string
			for _, l := range m.Label {
				key = append(key, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(key, ",")] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// TestInstanceCap: past MaxInstances, the instances of a counter are
// summed into instance="other" (the first ones in natural order are
// kept); global counters are never capped.
func TestInstanceCap(t *testing.T) {
	s := model.NewStore("h", "k", snapshottest.T0)
	var raw []model.RawCounter
	for i := range 40 {
		raw = append(raw, model.RawCounter{Layer: model.LayerNIC, Source: "rtnetlink", Group: "statistics", Instance: fmt.Sprintf("veth%d", i), Name: "rx_dropped", Kind: model.KindCounter, Value: uint64(i)})
	}
	raw = append(raw, model.RawCounter{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: 7})
	s.Publish(model.CountersUpdate{Collector: "c", At: snapshottest.T0, Counters: raw})
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(s, Options{MaxInstances: 32}))
	got := series(t, reg, "netlens_drops_total")
	if len(got) != 34 {
		t.Errorf("%d series, want 34 (32 kept, other, NoPorts)", len(got))
	}
	const nic = "group=statistics,instance=%s,layer=nic,name=rx_dropped,source=rtnetlink"
	for key, want := range map[string]float64{
		fmt.Sprintf(nic, "other"):  32 + 33 + 34 + 35 + 36 + 37 + 38 + 39,
		fmt.Sprintf(nic, "veth9"):  9,
		fmt.Sprintf(nic, "veth31"): 31,
		"group=Udp,instance=,layer=transport,name=NoPorts,source=/proc/net/snmp": 7,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if _, ok := got[fmt.Sprintf(nic, "veth32")]; ok {
		t.Errorf("veth32 exported past the cap")
	}
}

// TestPromtoolCheckMetrics runs Prometheus's own linter over the
// exposition /metrics serves.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install the Debian package prometheus (make test-deps)")
	}
	srv := httptest.NewServer(Handler(fixed(snapshottest.Full()), Options{Version: "test"}))
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", nil)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestSocketStates: every state, unknown ones merged, other protocols
// by name; the counts add up.
func TestSocketStates(t *testing.T) {
	snap := bigSnapshot(1000, 0)
	snap.Sockets = append(snap.Sockets, model.Socket{Proto: model.ProtoTCP, State: 200}, model.Socket{Proto: model.ProtoSCTP, State: model.StateListen})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixed(snap), Options{}))
	got := series(t, reg, "netlens_sockets")
	total := 0.0
	for _, v := range got {
		total += v
	}
	if total != float64(len(snap.Sockets)) || got["proto=tcp,state=UNKNOWN"] != 1 || got["proto=sctp,state=LISTEN"] != 1 {
		t.Errorf("sum %v of %d sockets; %v", total, len(snap.Sockets), got)
	}
}

// TestSocketCountsFollowTheList: the counts of a Store's socket list are
// kept between scrapes (SocketsSeq) and follow every new list, the same
// memory filled again included; a snapshot without a SocketsSeq is
// counted afresh at each scrape.
func TestSocketCountsFollowTheList(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(store, Options{}))
	list := make([]model.Socket, 3)
	publish := func(state model.SockState) {
		for i := range list {
			list[i] = model.Socket{Proto: model.ProtoTCP, State: state}
		}
		store.Publish(model.SocketsUpdate{At: time.Now(), Sockets: list})
	}
	publish(model.StateListen)
	for range 2 {
		if got := series(t, reg, "netlens_sockets"); got["proto=tcp,state=LISTEN"] != 3 || len(got) != 1 {
			t.Fatalf("after the first list: %v", got)
		}
	}
	publish(model.StateEstablished) // the same memory, filled again
	if got := series(t, reg, "netlens_sockets"); got["proto=tcp,state=ESTAB"] != 3 || len(got) != 1 {
		t.Fatalf("after the second list: %v", got)
	}

	src := &model.Snapshot{Sockets: []model.Socket{{Proto: model.ProtoUDP, State: model.StateClose}}}
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(New(sourceFunc(func() model.Snapshot { return *src }), Options{}))
	if got := series(t, reg, "netlens_sockets"); got["proto=udp,state=UNCONN"] != 1 {
		t.Fatalf("a snapshot without SocketsSeq: %v", got)
	}
	src.Sockets = append(src.Sockets, model.Socket{Proto: model.ProtoUDP, State: model.StateClose})
	if got := series(t, reg, "netlens_sockets"); got["proto=udp,state=UNCONN"] != 2 {
		t.Fatalf("a changed snapshot without SocketsSeq: %v", got)
	}
}

type sourceFunc func() model.Snapshot

func (f sourceFunc) Snapshot() model.Snapshot { return f() }

// TestDropTraceReasons: the eBPF tracer's reasons are summed over code
// locations into netlens_drop_reason_total{source="ebpf"} (never per
// flow, never in the funnel), with its accounting beside them.
func TestDropTraceReasons(t *testing.T) {
	snap := snapshottest.Full()
	snap.DropMonitor = model.DropMonitor{}
	snap.DropTrace = model.DropTrace{At: snapshottest.T0, Supported: true, Seen: 12, Attributed: 10, Unattributed: 2, NotAggregated: 1, OtherNetns: 5,
		Reasons: []model.DropTraceReason{
			{Reason: "NO_SOCKET", Location: "__udp4_lib_rcv+0x5a", Layer: model.LayerTransport, Packets: 6},
			{Reason: "NO_SOCKET", Location: "__udp6_lib_rcv+0x60", Layer: model.LayerTransport, Packets: 3},
			{Reason: "NETFILTER_DROP", Location: "nf_hook_slow+0x90", Layer: model.LayerNetfilter, Packets: 1},
		},
		Flows: []model.DropTraceFlow{{Reason: "NO_SOCKET", Layer: model.LayerTransport, Packets: 6, DstPort: 9}},
	}
	snap.Counters = append(snap.Counters, model.Counter{RawCounter: model.RawCounter{Layer: model.LayerTransport, Source: "drop_trace", Group: "reason", Instance: "__udp4_lib_rcv+0x5a", Name: "NO_SOCKET", Kind: model.KindCounter, Value: 6}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixed(snap), Options{}))
	got := series(t, reg, "netlens_drop_reason_total")
	want := map[string]float64{
		"layer=transport,reason=NO_SOCKET,source=ebpf":      9,
		"layer=netfilter,reason=NETFILTER_DROP,source=ebpf": 1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("netlens_drop_reason_total (-want +got):\n%s", d)
	}
	for name, want := range map[string]float64{
		"netlens_drop_trace_seen_total":           12,
		"netlens_drop_trace_unattributed_total":   2,
		"netlens_drop_trace_not_aggregated_total": 1,
		"netlens_drop_trace_other_netns_total":    5,
	} {
		if got := series(t, reg, name)[""]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for key := range series(t, reg, "netlens_drops_total") {
		if strings.Contains(key, "drop_trace") {
			t.Errorf("a tracer reason in the funnel family: %s", key)
		}
	}
}
