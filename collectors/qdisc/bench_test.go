package qdisc

import (
	"context"
	"testing"

	"netlens/internal/netnstest"
	"netlens/model"
)

// BenchmarkSample is one Sample (link statistics and qdiscs) of a
// namespace of 50 veth pairs, up, each with its default qdisc: what the
// qdisc collector costs every refresh, in-process.
func BenchmarkSample(b *testing.B) {
	ns := netnstest.New(b, "nl-qdisc-bench")
	ns.VethPairs(b, 50)
	c := New(Options{NetNS: ns.FD(b), Links: true})
	b.Cleanup(func() { c.Close() })
	out, err := c.Sample(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	n := len(out)
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Sample(context.Background(), make([]model.RawCounter, 0, n))
		if err != nil || len(out) != n {
			b.Fatalf("%d counters, want %d: %v", len(out), n, err)
		}
	}
}
