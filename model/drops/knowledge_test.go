package drops

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/collectors/dropmon"
	"netlens/collectors/procnet"
	"netlens/collectors/qdisc"
	"netlens/model"
)

func TestDefaultParses(t *testing.T) {
	k := Default()
	if len(k.Counters) < 50 || len(k.Reasons) < 50 {
		t.Fatalf("%d counters, %d reasons", len(k.Counters), len(k.Reasons))
	}
}

func TestParseRejects(t *testing.T) {
	base := `{"about": "x", "sources": {"s": [{"source": "/proc/net/snmp", "group": "Udp"}]}, "counters": [%s], "reasons": [%s]}`
	ok := `{"layer": "transport", "in": "s", "name": "NoPorts", "title": "t", "increments": "i", "causes": [], "settings": [], "traps": [], "docs": []}`
	tests := []struct{ name, counters, reasons, want string }{
		{"unknown source set", strings.Replace(ok, `"in": "s"`, `"in": "nope"`, 1), "", "unknown source set"},
		{"unknown layer", strings.Replace(ok, `"transport"`, `"l9"`, 1), "", "unknown layer"},
		{"no title", strings.Replace(ok, `"title": "t"`, `"title": ""`, 1), "", "required"},
		{"duplicate", ok + "," + ok, "", "listed twice"},
		{"unknown field", strings.Replace(ok, `"docs"`, `"doc"`, 1), "", "unknown field"},
		{"duplicate reason", "", `{"name": "X", "layer": "ip", "meaning": "m"}, {"name": "X", "layer": "ip", "meaning": "m"}`, "listed twice"},
		{"reason without meaning", "", `{"name": "X", "layer": "ip", "meaning": ""}`, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(strings.Replace(base, "%s", tt.counters, 1), "%s", tt.reasons, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(knowledgeJSON)
	f.Add([]byte(`{"sources": {}, "counters": [{"in": "x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			return
		}
		for _, e := range k.Counters {
			for _, key := range e.Keys {
				if got, ok := k.Lookup(model.CounterKey{Source: key.Source, Group: key.Group, Name: e.Name}); !ok || got.Name != e.Name {
					t.Fatalf("%s not found by its own key", e.Name)
				}
			}
		}
		_ = k.Markdown()
	})
}

// TestDocsAreCurrent fails when docs/drops.md was not regenerated after
// knowledge.json changed.
func TestDocsAreCurrent(t *testing.T) {
	got, err := os.ReadFile("../../docs/drops.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Default().Markdown()) {
		t.Fatal("docs/drops.md is stale: run go generate ./model/drops")
	}
}

// seenKey is a counter as this kernel publishes it.
type seenKey struct{ source, group, name string }

type recorder struct{ cs []model.RawCounter }

func (r *recorder) Publish(u model.Update) {
	if cu, ok := u.(model.CountersUpdate); ok {
		r.cs = append(r.cs, cu.Counters...)
	}
}

// TestCounterNamesExistOnThisKernel checks every counter the knowledge
// names against what this machine's kernel really publishes, read by the
// collectors themselves: /proc/net/{snmp,snmp6,netstat,softnet_stat,dev,
// xfrm_stat}, /sys/class/net/*/statistics, rtnetlink link and qdisc
// statistics; conntrack's names are model.ConntrackCPU's fields. An entry
// may be missing from a source only if it says when (Absent), or if the
// kernel lacks the whole file.
func TestCounterNamesExistOnThisKernel(t *testing.T) {
	seen := map[seenKey]bool{}
	pn := procnet.New("/proc")
	pn.SysRoot = "/sys"
	var rec recorder
	if err := pn.Collect(context.Background(), &rec); err != nil {
		t.Fatalf("procnet: %v", err)
	}
	q := qdisc.New(qdisc.Options{Links: true})
	defer q.Close()
	if err := q.Collect(context.Background(), &rec); err != nil {
		t.Fatalf("qdisc: %v", err)
	}
	for _, c := range rec.cs {
		seen[seenKey{c.Source, c.Group, c.Name}] = true
	}
	ct := reflect.TypeFor[model.ConntrackCPU]()
	for i := range ct.NumField() {
		name, _, _ := strings.Cut(ct.Field(i).Tag.Get("json"), ",")
		seen[seenKey{"ctnetlink", "conntrack", name}] = true
	}
	// A whole file the kernel does not have (xfrm_stat without
	// CONFIG_XFRM_STATISTICS, snmp6 with IPv6 off) is an exception the
	// counters collector already reports.
	missing := map[string]bool{}
	for _, m := range pn.Missing() {
		missing[m] = true
		t.Logf("this kernel has no %s: its counters are not checked", m)
	}
	for _, e := range Default().Counters {
		for _, key := range e.Keys {
			if seen[seenKey{key.Source, key.Group, e.Name}] || missing[key.Source] {
				continue
			}
			if e.Absent != "" {
				t.Logf("%s %s %s absent here (documented: %s)", key.Source, key.Group, e.Name, e.Absent)
				continue
			}
			t.Errorf("knowledge names %s %s %s, which this kernel does not publish", key.Source, key.Group, e.Name)
		}
	}
}

// TestReasonLayersMatchDropmon keeps the drop monitor's layer mapping and
// the documented one equal.
func TestReasonLayersMatchDropmon(t *testing.T) {
	for _, r := range Default().Reasons {
		if got := dropmon.LayerOf(r.Name); got != r.Layer {
			t.Errorf("%s: knowledge says %s, dropmon.LayerOf says %s", r.Name, r.Layer, got)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		key       model.CounterKey
		wantTitle string
		wantLayer model.Layer
		sysctls   []string
	}{
		{model.CounterKey{Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors"}, "UDP datagrams dropped: socket receive buffer full", model.LayerTransport, []string{"net.core.rmem_default", "net.core.rmem_max"}},
		{model.CounterKey{Source: "/proc/net/snmp6", Group: "Udp6", Name: "RcvbufErrors"}, "UDP datagrams dropped: socket receive buffer full", model.LayerTransport, []string{"net.core.rmem_default", "net.core.rmem_max"}},
		{model.CounterKey{Source: "/proc/net/netstat", Group: "TcpExt", Name: "ListenOverflows"}, "Connections dropped: accept queue full", model.LayerTransport, []string{"net.core.somaxconn", "net.ipv4.tcp_abort_on_overflow"}},
		{model.CounterKey{Source: "/proc/net/softnet_stat", Instance: "cpu1", Name: "dropped"}, "Packets dropped: per-CPU backlog full", model.LayerSoftnet, []string{"net.core.netdev_max_backlog", "net.core.flow_limit_table_len", "net.core.flow_limit_cpu_bitmap"}},
		{model.CounterKey{Source: "/proc/net/softnet_stat", Instance: "cpu0", Name: "time_squeeze"}, "Receive softirq ran out of budget or time", model.LayerSoftnet, []string{"net.core.netdev_budget", "net.core.netdev_budget_usecs", "net.core.dev_weight"}},
		{model.CounterKey{Source: "rtnetlink", Group: "statistics", Instance: "eth0", Name: "rx_dropped"}, "Frames received but not processed", model.LayerNIC, []string{"net.ipv6.conf.all.disable_ipv6"}},
		{model.CounterKey{Source: "/sys/class/net", Group: "statistics", Instance: "eth0", Name: "rx_dropped"}, "Frames received but not processed", model.LayerNIC, []string{"net.ipv6.conf.all.disable_ipv6"}},
		{model.CounterKey{Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 1: root", Name: "drops"}, "Packets the queueing discipline dropped", model.LayerQdisc, []string{"net.core.default_qdisc"}},
		{model.CounterKey{Source: "drop_monitor", Group: "reason", Name: "NETFILTER_DROP"}, "Drop reason NETFILTER_DROP", model.LayerNetfilter, nil},
	}
	for _, tt := range tests {
		t.Run(tt.key.Source+" "+tt.key.Group+" "+tt.key.Name, func(t *testing.T) {
			e, ok := Lookup(tt.key)
			if !ok {
				t.Fatal("not found")
			}
			if diff := cmp.Diff([]any{tt.wantTitle, tt.wantLayer, tt.sysctls}, []any{e.Title, e.Layer, e.Sysctls()}); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, k := range []model.CounterKey{
		{Source: "/proc/net/snmp", Group: "Udp", Name: "InDatagrams"},
		{Source: "drop_monitor", Group: "reason", Name: "NO_SUCH_REASON"},
	} {
		if _, ok := Lookup(k); ok {
			t.Errorf("%v: found, want not", k)
		}
	}
}
