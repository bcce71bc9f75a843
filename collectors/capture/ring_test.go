package capture

import (
	"context"
	"net"
	"testing"
	"time"

	"netlens/internal/netnstest"
)

// TestIntegrationRingDropsCounted: with a 1 MiB ring and a reader that
// starts late, the kernel drops packets and netlens counts them: every
// packet sent is either captured or a ring drop.
func TestIntegrationRingDropsCounted(t *testing.T) {
	ns := netnstest.New(t, "capdrop")
	e, err := newEngine(Options{Interface: "lo", RingMiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	const sent = 5000
	var sink net.PacketConn
	ns.Do(t, func() {
		tp, _, err := e.openLive()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tp.Close)
		// A socket that never reads: the packets are delivered (and seen
		// by the tap) without ICMP errors.
		if sink, err = net.ListenPacket("udp4", "127.0.0.1:7777"); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("udp4", "127.0.0.1:7777")
		if err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 1400)
		for range sent {
			c.Write(payload)
		}
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		e.run(ctx, tp, tp, time.Time{})
	})
	sink.Close()
	cs := e.snapshot(time.Now())
	t.Logf("sent %d: captured %d, ring drops %d, freezes %d", sent, cs.Packets, cs.RingDrops, cs.RingFreezes)
	if cs.RingDrops == 0 {
		t.Error("no ring drops counted with a 1 MiB ring and 7 MB sent before reading")
	}
	if cs.Packets+cs.RingDrops != sent {
		t.Errorf("captured %d + dropped %d != sent %d", cs.Packets, cs.RingDrops, sent)
	}
}
