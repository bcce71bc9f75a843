package drops

import (
	"bytes"
	"context"
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

func TestWatch(t *testing.T) {
	store := model.NewStore("h", "k", time.Now())
	r := collectors.NewRunner(store, collectors.Spec{Collector: &growing{}, Interval: 10 * time.Millisecond})
	var b bytes.Buffer
	if err := Watch(context.Background(), &b, r, store, 10*time.Millisecond, 3, true); err != nil {
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
	if err := Watch(ctx, &b, r, store, time.Hour, 0, false); err != nil || b.Len() != 0 {
		t.Errorf("Watch with a done context: %v, printed %q; want a quiet normal end", err, b.String())
	}
}
