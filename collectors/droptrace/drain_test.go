package droptrace

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// TestIntegrationDrainUnderFlood drains the kernel's flows every few
// milliseconds while 100,000 datagrams go to a closed port: a drain swaps
// the hash in use under the program's feet, and still every drop is read
// exactly once (the NO_SOCKET flows add up to Udp NoPorts, nothing is
// unattributed).
func TestIntegrationDrainUnderFlood(t *testing.T) {
	const n = 100000
	ns := netnstest.New(t, "dt-drain")
	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4447"), n, 1)
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drains := 0
	var total uint64
	m := match{reason: "NO_SOCKET", proto: "udp", dport: 4447}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); drains++ {
		tr, err := collect(c)
		must(t, err)
		for _, f := range tr.Flows {
			if m.ok(f) {
				total += f.Delta
			}
		}
		select {
		case <-done:
			deadline = time.Time{}
		default:
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // anything late would show now
	tr, err := collect(c)
	must(t, err)
	for _, f := range tr.Flows {
		if m.ok(f) {
			total += f.Delta
		}
	}
	noPorts := readNstat(t, ns)["UdpNoPorts"] - base["UdpNoPorts"]
	t.Logf("%d drains; UdpNoPorts %d, NO_SOCKET deltas %d, seen %d, attributed %d, unattributed %d", drains, noPorts, total, tr.Seen, tr.Attributed, tr.Unattributed)
	if total != noPorts || tr.Unattributed != 0 || tr.NotAggregated != 0 || tr.Seen != tr.Attributed || drains < 10 {
		t.Errorf("after %d drains: NO_SOCKET %d, Udp NoPorts %d; seen %d attributed %d unattributed %d not aggregated %d",
			drains, total, noPorts, tr.Seen, tr.Attributed, tr.Unattributed, tr.NotAggregated)
	}
}
