package droptrace

import (
	"net"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// TestIntegrationMapFull sends one packet on each of 50,000 distinct
// flows into a map of 16,384 keys: every drop is counted (Seen = sent =
// Udp NoPorts), the flows the map holds are attributed, and what the LRU
// evicted before the read is the unattributed remainder.
func TestIntegrationMapFull(t *testing.T) {
	const flows, mapSize = 50000, 16384
	ns := netnstest.New(t, "dt-full")
	c := newNSCollector(t, ns, Options{MaxFlows: mapSize})
	base := readNstat(t, ns)
	ns.Do(t, func() {
		// From port 9999: no destination port is the sender's own.
		conn, err := net.ListenPacket("udp", "127.0.0.1:9999")
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		b := []byte("x")
		for i := range flows {
			if _, err := conn.WriteTo(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000 + i}); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for readNstat(t, ns)["UdpNoPorts"]-base["UdpNoPorts"] < flows && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	tr, err := collect(c)
	must(t, err)
	noPorts := readNstat(t, ns)["UdpNoPorts"] - base["UdpNoPorts"]
	traced, _ := packets(tr, match{reason: "NO_SOCKET", proto: "udp"})
	t.Logf("sent %d, UdpNoPorts %d, seen %d, attributed %d (in %d flows, map %d/%d), unattributed %d (%.1f%%), not aggregated %d",
		flows, noPorts, tr.Seen, tr.Attributed, len(tr.Flows), tr.MapEntries, tr.MapMax, tr.Unattributed, 100*tr.UnattributedShare(), tr.NotAggregated)
	switch {
	case noPorts != flows:
		t.Errorf("UdpNoPorts moved by %d, want %d", noPorts, flows)
	case tr.Seen != flows:
		t.Errorf("seen %d, want %d sent", tr.Seen, flows)
	case tr.Attributed+tr.Unattributed != tr.Seen:
		t.Errorf("attributed %d + unattributed %d != seen %d", tr.Attributed, tr.Unattributed, tr.Seen)
	case tr.MapEntries > mapSize || tr.MapMax != mapSize:
		t.Errorf("map holds %d of %d", tr.MapEntries, tr.MapMax)
	case traced != tr.Attributed || uint64(tr.MapEntries) != tr.Attributed:
		// One packet per flow: what is attributed is what the map holds.
		t.Errorf("flows hold %d packets, map %d entries, attributed %d", traced, tr.MapEntries, tr.Attributed)
	case tr.Unattributed < flows-mapSize:
		t.Errorf("unattributed %d, want at least the excess %d", tr.Unattributed, flows-mapSize)
	}
}
