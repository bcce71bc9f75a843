package drops

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"netlens/model"
)

// TestDropFieldsMatchSchema validates a snapshot carrying what this
// package's collectors add (counter histories, the drop monitor's
// aggregates and its unsupported form) against docs/snapshot.schema.json.
func TestDropFieldsMatchSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../../docs/snapshot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	full := model.DropMonitor{At: t0, Supported: true, Mode: "packet", Total: 9, Lost: 1, QueueDropped: 2, Evicted: 3, Drops: []model.DropReason{
		{Reason: "NETFILTER_DROP", Layer: model.LayerNetfilter, Location: "nf_hook_slow+0x9c", Origin: "sw", Delta: 4, Total: 9, LastSeen: t0},
		{Layer: model.LayerOther, Location: "0xffffffff81000010", Origin: "hw", Delta: 0, Total: 1},
	}}
	for name, mon := range map[string]model.DropMonitor{
		"running":       full,
		"not supported": {At: t0, Reason: "kernel has no drop monitor (CONFIG_NET_DROP_MONITOR)"},
	} {
		t.Run(name, func(t *testing.T) {
			s := model.NewStore("h", "k", t0)
			for i := range 3 {
				s.Publish(model.CountersUpdate{Collector: "qdisc", At: t0.Add(time.Duration(i) * time.Second), Counters: []model.RawCounter{
					{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 1: root", Name: "drops", Kind: model.KindCounter, Value: uint64(10 * i)},
					{Layer: model.LayerQdisc, Source: "rtnetlink", Group: "qdisc", Instance: "eth0 tbf 1: root", Name: "qlen", Kind: model.KindGauge, Value: uint64(i)},
				}})
			}
			s.Publish(model.DropsUpdate{Monitor: mon})
			b, err := json.Marshal(s.Snapshot())
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !bytes.Contains(b, []byte(`"history":[10,10]`)) || !bytes.Contains(b, []byte(`"drop_monitor":{`)) {
				t.Errorf("history or drop_monitor missing:\n%s", b)
			}
		})
	}
}
