package ruleset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkRead reads a kube-proxy-sized ruleset (iptables mode writes a
// chain per service and its endpoints), in a namespace of its own (root):
// a base chain of 1,000 counted rules jumping to 1,000 regular chains of
// 10 counted DNAT rules each, 11,000 rules in all. The collector reads it
// every refresh; docs/performance.md has the figures beside
// nft -j list ruleset.
func BenchmarkRead(b *testing.B) {
	ns, fd := testNS(b)
	var sb strings.Builder
	sb.WriteString("table ip kube {\n")
	for c := range 1000 {
		fmt.Fprintf(&sb, "\tchain ep%d {\n", c)
		for r := range 10 {
			fmt.Fprintf(&sb, "\t\tip saddr 10.%d.%d.0/24 tcp dport 80 counter dnat to 10.200.%d.%d:8080\n", r, c%250, c/250, r+1)
		}
		sb.WriteString("\t}\n")
	}
	sb.WriteString("\tchain svc {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	for c := range 1000 {
		fmt.Fprintf(&sb, "\t\tip daddr 10.96.%d.%d tcp dport 80 counter jump ep%d\n", c/250, c%250+1, c)
	}
	sb.WriteString("\t}\n}\n")
	file := filepath.Join(b.TempDir(), "kube.nft")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	nsRun(b, ns, "nft", "-f", file)
	c := New(Options{NetNS: fd})
	b.ReportAllocs()
	var rules int
	for b.Loop() {
		t, err := c.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		rules = 0
		for _, ch := range t.Chains {
			rules += len(ch.Rules)
		}
	}
	if rules != 11000 {
		b.Fatalf("%d rules read, want 11000", rules)
	}
	b.ReportMetric(float64(rules), "rules")
}
