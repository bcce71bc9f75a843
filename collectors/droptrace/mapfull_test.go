package droptrace

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// TestIntegrationMapFull sends one packet on each of 50,000 distinct
// flows into a map of 16,384 keys between two reads: every drop is
// counted (Seen = sent = Udp NoPorts), the 16,384 the map holds are
// attributed, and the excess, exactly 50,000 - 16,384, is unattributed
// (the map refused it), in the DropTrace and in its JSON. The read
// drains the map: the next drops are attributed again.
func TestIntegrationMapFull(t *testing.T) {
	const flows, mapSize = 50000, 16384
	ns := netnstest.New(t, "dt-full")
	c := newNSCollector(t, ns, Options{MaxFlows: mapSize})
	base := readNstat(t, ns)
	send := func(from, n int) {
		ns.Do(t, func() {
			// From port 9999: no destination port is the sender's own.
			conn, err := net.ListenPacket("udp", "127.0.0.1:9999")
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			b := []byte("x")
			for i := from; i < from+n; i++ {
				if i%500 == 0 {
					// Paced a little: a burst can overflow the loopback
					// backlog (netdev_max_backlog) on a loaded machine,
					// a drop that is not Udp NoPorts.
					time.Sleep(time.Millisecond)
				}
				if _, err := conn.WriteTo(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000 + i}); err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
			}
		})
	}
	send(0, flows)
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
	case traced != tr.Attributed || uint64(tr.MapEntries) != tr.Attributed || tr.Attributed != mapSize:
		// One packet per flow: what is attributed is what the map holds.
		t.Errorf("flows hold %d packets, map %d entries, attributed %d, want %d", traced, tr.MapEntries, tr.Attributed, mapSize)
	case tr.Unattributed != flows-mapSize || tr.NotAggregated != flows-mapSize:
		t.Errorf("unattributed %d, not aggregated %d, want the excess %d", tr.Unattributed, tr.NotAggregated, flows-mapSize)
	}
	// The JSON says the same.
	b, err := json.Marshal(tr)
	must(t, err)
	type counts struct {
		Seen          uint64 `json:"seen"`
		Attributed    uint64 `json:"attributed"`
		Unattributed  uint64 `json:"unattributed"`
		NotAggregated uint64 `json:"not_aggregated"`
	}
	var j counts
	must(t, json.Unmarshal(b, &j))
	if want := (counts{flows, mapSize, flows - mapSize, flows - mapSize}); j != want {
		t.Errorf("JSON %+v, want %+v", j, want)
	}

	// The read emptied the map: 1,000 more flows are all attributed.
	const more = 1000
	send(flows, more)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if tr, err = collect(c); err != nil || tr.Seen >= flows+more {
			break
		}
	}
	time.Sleep(100 * time.Millisecond) // anything late would show now
	tr, err = collect(c)
	must(t, err)
	if tr.Seen != flows+more || tr.Attributed != mapSize+more || tr.Unattributed != flows-mapSize {
		t.Errorf("after %d more: seen %d attributed %d unattributed %d, want %d %d %d",
			more, tr.Seen, tr.Attributed, tr.Unattributed, flows+more, mapSize+more, flows-mapSize)
	}
}
