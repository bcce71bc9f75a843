package ruleset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	benchRead(b, ns, fd, sb.String(), 11000)
}

// BenchmarkReadSets reads 2,000 rules each matching an anonymous set of
// its own (firewalld writes these: tcp dport { 22, 80, 443 }), whose
// elements the collector fetches one set at a time on its first read
// (first-read-ms) and keeps while the ruleset's generation stands (each
// op after it).
func BenchmarkReadSets(b *testing.B) {
	ns, fd := testNS(b)
	var sb strings.Builder
	sb.WriteString("table inet fw {\n\tchain in {\n\t\ttype filter hook input priority 0; policy accept;\n")
	for r := range 2000 {
		fmt.Fprintf(&sb, "\t\tip saddr { 10.%d.%d.0/24, 192.0.2.1 } tcp dport { 22, %d } counter accept\n", r/250, r%250, 1000+r)
	}
	sb.WriteString("\t}\n}\n")
	benchRead(b, ns, fd, sb.String(), 2000)
}

// benchRead loads ruleset into namespace ns (open as fd) and reads it with
// the collector each round, checking it reads want rules. The collector's
// first read is timed apart (first-read-ms): what it fetches once and
// keeps is not in the rounds.
func benchRead(b *testing.B, ns string, fd int, ruleset string, want int) {
	file := filepath.Join(b.TempDir(), "ruleset.nft")
	if err := os.WriteFile(file, []byte(ruleset), 0o644); err != nil {
		b.Fatal(err)
	}
	nsRun(b, ns, "nft", "-f", file)
	c := New(Options{NetNS: fd})
	start := time.Now()
	if _, err := c.Read(context.Background()); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)
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
	if rules != want {
		b.Fatalf("%d rules read, want %d", rules, want)
	}
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(first.Microseconds())/1000, "first-read-ms")
}
