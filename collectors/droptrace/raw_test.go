package droptrace

import (
	"net/netip"
	"testing"

	"netlens/internal/netnstest"
)

// TestIntegrationRawTracepoint runs the raw tracepoint program (the
// fallback) through one incident: the same reason, function, tuple and
// count as the tp_btf program.
func TestIntegrationRawTracepoint(t *testing.T) {
	ns := netnstest.New(t, "dt-raw")
	c := newNSCollector(t, ns, Options{Attach: AttachRaw})
	if c.Source() != "eBPF "+AttachRaw {
		t.Fatalf("source %q", c.Source())
	}
	base := readNstat(t, ns)
	dst := netip.MustParseAddrPort("127.0.0.1:7012")
	sendUDP(t, ns, "127.0.0.1", dst, incidentPackets, 64)
	m := match{reason: "NO_SOCKET", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	tr, delta := waitTrace(t, c, ns, m, "UdpNoPorts", base, incidentPackets)
	checkFlows(t, tr, m, "__udp4_lib_rcv", incidentPackets)
	if delta != incidentPackets || tr.Attach != AttachRaw {
		t.Errorf("UdpNoPorts moved by %d, want %d; attach %s", delta, incidentPackets, tr.Attach)
	}
}
