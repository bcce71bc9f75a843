package netnstest

import (
	"os"
	"strings"
	"testing"
)

func TestIntegrationNamespaceIsolated(t *testing.T) {
	ns := New(t, "nlnt")
	if out := ns.Run(t, "ip", "-o", "link"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "lo:") {
		t.Fatalf("namespace has more than loopback:\n%s", out)
	}
	own, _ := os.Readlink("/proc/self/ns/net")
	var inside string
	ns.Do(t, func() { inside, _ = os.Readlink("/proc/thread-self/ns/net") })
	if inside == "" || inside == own {
		t.Fatalf("Do ran in %q, own namespace %q", inside, own)
	}
	if after, _ := os.Readlink("/proc/thread-self/ns/net"); after != own {
		t.Fatalf("caller moved to %q", after)
	}
}
