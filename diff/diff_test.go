package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// scripted is the pair of snapshots around the change the issue
// scripts: a new listener, 30 datagrams to a closed port, a sysctl
// flipped and a rule added, 10 s apart.
func scripted() (a, b model.Snapshot) {
	a = snapshottest.Build(snapshottest.Options{})
	b = snapshottest.Build(snapshottest.Options{
		At:      10 * time.Second,
		NoPorts: 25 + 30,
		Sockets: []model.Socket{{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("0.0.0.0:8080"),
			Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: model.StateListen, Procs: []model.Proc{{PID: 99, Comm: "web", FD: 4}}}},
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
		Rules: []model.Rule{{ID: 2, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
			DstPorts: model.PortRange{Min: 9999, Max: 9999}, Action: model.ActionDrop, Label: "block 9999"}},
	})
	return a, b
}

func TestCompareScripted(t *testing.T) {
	a, b := scripted()
	r, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		HostA: "web-1", HostB: "web-1", TakenA: a.TakenAt, TakenB: b.TakenAt, Interval: 10 * time.Second,
		SocketsAppeared: []Socket{{Proto: model.ProtoTCP, Local: netip.MustParseAddrPort("0.0.0.0:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
			State: model.StateListen, Owners: []model.Proc{{PID: 99, Comm: "web", FD: 4}}}},
		Counters:   []Counter{{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", A: 25, B: 55, Delta: 30, Rate: 3}},
		Sysctls:    []Sysctl{{Name: "net.ipv4.ip_forward", A: "0", B: "1"}},
		RulesAdded: []Rule{{ID: 2, Summary: `drop input ipv4 udp dport 9999 "block 9999"`}},
	}
	if d := cmp.Diff(want, r, cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if r.Changes() != 4 || r.Equal() {
		t.Errorf("Changes() = %d, Equal() = %v; want 4, false", r.Changes(), r.Equal())
	}
	// In funnel order, InDatagrams (not drop-like) moved too but is not reported.
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/scripted.txt", text.Bytes())
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/scripted.json", js.Bytes())
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["changes"] != 4.0 {
		t.Errorf("JSON: %v, changes %v", err, back["changes"])
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

func TestCompareIdentical(t *testing.T) {
	a := snapshottest.Full()
	r, err := Compare(a, a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal() {
		t.Errorf("identical snapshots differ: %+v", r)
	}
	var text bytes.Buffer
	WriteText(&text, r)
	if !bytes.HasSuffix(text.Bytes(), []byte("no differences\n")) {
		t.Errorf("text: %q", text.String())
	}
}

func TestCompareOtherChanges(t *testing.T) {
	a := snapshottest.Full()
	b := snapshottest.Full()
	// Everything that can go away or change state, at once.
	b.Sockets = b.Sockets[1:]
	b.Flows = []model.Flow{}
	b.Sysctls = b.Sysctls[:1]
	rs := *b.Rules
	rs.Rules = []model.Rule{rs.Rules[0]}
	rs.Rules[0].Packets += 5
	rs.Rules[0].Bytes += 300
	rs.Rules[0].Priority = 7
	b.Rules = &rs
	b.Collectors = append([]model.CollectorStatus{}, b.Collectors...)
	b.Collectors[0].State, b.Collectors[0].Reason = model.StateError, "timed out after 2s"
	ars := *a.Rules // a rule that b no longer has
	ars.Rules = append(append([]model.Rule{}, ars.Rules...), model.Rule{ID: 99, Enabled: true, Action: model.ActionDrop, Label: "gone"})
	a.Rules = &ars
	r, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(r.SocketsGone), len(r.FlowsGone), len(r.Sysctls), len(r.RulesRemoved), len(r.RulesChanged), len(r.RuleCounters), len(r.Collectors)}
	if d := cmp.Diff([]int{1, 1, 1, 1, 1, 1, 1}, got); d != "" {
		t.Errorf("changes by kind (-want +got):\n%s\n%+v", d, r)
	}
	if r.RuleCounters[0].PacketsDelta != 5 || r.RuleCounters[0].BytesDelta != 300 {
		t.Errorf("rule counters: %+v", r.RuleCounters[0])
	}
	if r.Sysctls[0].B != "" {
		t.Errorf("a sysctl that went away: %+v", r.Sysctls[0])
	}
	if c := r.Collectors[0]; c.A != model.StateOK || c.B != model.StateError || c.ReasonB != "timed out after 2s" {
		t.Errorf("collector health change: %+v", c)
	}
	if x := r.RulesRemoved[0]; x.ID != 99 {
		t.Errorf("rule removed: %+v, want id 99", x)
	}
}

func TestCompareRefusesOtherHost(t *testing.T) {
	a := snapshottest.Full()
	b := snapshottest.Build(snapshottest.Options{Host: "db-2"})
	if _, err := Compare(a, b, Options{}); !errors.Is(err, ErrDifferentHosts) {
		t.Fatalf("err = %v, want ErrDifferentHosts", err)
	}
	r, err := Compare(a, b, Options{Force: true})
	if err != nil || r.HostB != "db-2" {
		t.Fatalf("forced: %v %q", err, r.HostB)
	}
}

// TestRateText: rates in the text report are short (a few significant
// digits), not every digit of a float64.
func TestRateText(t *testing.T) {
	for _, tt := range []struct {
		r    float64
		want string
	}{{0, "0"}, {3, "3"}, {30.1, "30.1"}, {2.0 / 3, "0.667"}, {0.007651174375908229, "0.00765"}, {1234.567, "1235"}, {0.00001, "<0.0001"}} {
		if got := rateText(tt.r); got != tt.want {
			t.Errorf("rateText(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

// TestCompareSysctlGauge: nf_conntrack_count counts flows, it sets
// nothing: a new value is no sysctl change (it was one in every diff of
// a busy host), while a setting beside it still is.
func TestCompareSysctlGauge(t *testing.T) {
	a, b := snapshottest.Full(), snapshottest.Full()
	a.Sysctls = []model.Sysctl{{Name: "net.netfilter.nf_conntrack_count", Value: "120"}, {Name: "net.core.somaxconn", Value: "4096"}}
	b.Sysctls = []model.Sysctl{{Name: "net.netfilter.nf_conntrack_count", Value: "5321"}, {Name: "net.core.somaxconn", Value: "128"}}
	r, err := Compare(a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Sysctl{{Name: "net.core.somaxconn", A: "4096", B: "128"}}, r.Sysctls); d != "" {
		t.Errorf("sysctls changed (-want +got):\n%s", d)
	}
}
