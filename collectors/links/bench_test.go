package links

import (
	"context"
	"fmt"
	"testing"

	"netlens/internal/netnstest"
)

// BenchmarkSample is one Sample (links, addresses, qdiscs, classes,
// ethtool) of a namespace holding 50 veth pairs with addresses: what
// each refresh of the Interfaces tab costs, in-process.
func BenchmarkSample(b *testing.B) {
	ns := netnstest.New(b, "nl-links-bench")
	ns.VethPairs(b, 50)
	for i := range 50 {
		ns.Run(b, "ip", "addr", "add", fmt.Sprintf("10.80.%d.1/24", i), "dev", fmt.Sprintf("v%da", i))
	}
	c := New(Options{NetNS: ns.FD(b)})
	b.Cleanup(func() { c.Close() })
	if _, err := c.Sample(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ifs, err := c.Sample(context.Background())
		if err != nil || len(ifs) != 101 {
			b.Fatalf("%d interfaces, %v", len(ifs), err)
		}
	}
}
