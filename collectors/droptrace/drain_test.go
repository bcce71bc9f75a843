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
	// Attached and drained once before the flood: the first collect loads
	// the program and reads the kernel's BTF, which on a loaded machine
	// can take longer than the whole flood.
	tr, err := collect(c)
	must(t, err)
	base := readNstat(t, ns)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:4447"), n, 1)
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drains, during := 0, 0
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
			during++
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // anything late would show now
	tr, err = collect(c)
	must(t, err)
	for _, f := range tr.Flows {
		if m.ok(f) {
			total += f.Delta
		}
	}
	noPorts := readNstat(t, ns)["UdpNoPorts"] - base["UdpNoPorts"]
	t.Logf("%d drains (%d while the flood ran); UdpNoPorts %d, NO_SOCKET deltas %d, seen %d, attributed %d, unattributed %d", drains, during, noPorts, total, tr.Seen, tr.Attributed, tr.Unattributed)
	if total != noPorts || tr.Unattributed != 0 || tr.NotAggregated != 0 || tr.Seen != tr.Attributed {
		t.Errorf("after %d drains: NO_SOCKET %d, Udp NoPorts %d; seen %d attributed %d unattributed %d not aggregated %d",
			drains, total, noPorts, tr.Seen, tr.Attributed, tr.Unattributed, tr.NotAggregated)
	}
	// Drains must have swapped the hashes while drops arrived; how many
	// fit in the flood depends on the machine's load (10 or more when it
	// is quiet).
	if during < 3 {
		t.Errorf("only %d drains while the flood ran: the test did not drain under the flood", during)
	}
}
