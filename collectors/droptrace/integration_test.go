package droptrace

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/internal/netnstest"
	"netlens/model"
	"netlens/model/drops"
)

// Each incident runs in namespaces of its own with a tracer that sees
// only the namespace where the drop happens; the tracer's count must
// equal the packets sent and the delta of the kernel's own counter for
// the same drop (read with nstat in the namespace).

const incidentPackets = 25

func TestIntegrationIncidentUDPClosedPort(t *testing.T) {
	ns := netnstest.New(t, "dt-udp")
	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	dst := netip.MustParseAddrPort("127.0.0.1:7001")
	sendUDP(t, ns, "127.0.0.1", dst, incidentPackets, 64)
	m := match{reason: "NO_SOCKET", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	incident(t, c, ns, base, m, "UdpNoPorts", "__udp4_lib_rcv", incidentPackets)
}

func TestIntegrationIncidentTCPSynClosedPort(t *testing.T) {
	ns := netnstest.New(t, "dt-tcp")
	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	dst := netip.MustParseAddrPort("127.0.0.1:7002")
	ns.Do(t, func() {
		for range incidentPackets {
			if conn, err := net.DialTimeout("tcp", dst.String(), time.Second); err == nil {
				conn.Close()
				t.Error("connected to a closed port")
			}
		}
	})
	m := match{reason: "NO_SOCKET", proto: "tcp", dst: dst.Addr(), dport: dst.Port()}
	// Each SYN is answered with a reset: Tcp OutRsts counts them.
	incident(t, c, ns, base, m, "TcpOutRsts", "tcp_v4_rcv", incidentPackets)
}

func TestIntegrationIncidentNftablesDrop(t *testing.T) {
	ns := netnstest.New(t, "dt-nft")
	ns.Run(t, "nft", "add table inet dt; add chain inet dt in { type filter hook input priority 0; }; add rule inet dt in udp dport 7003 counter drop")
	c := newNSCollector(t, ns, Options{})
	dst := netip.MustParseAddrPort("127.0.0.1:7003")
	sendUDP(t, ns, "127.0.0.1", dst, incidentPackets, 64)
	m := match{reason: "NETFILTER_DROP", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	tr, _ := waitTrace(t, c, ns, m, "", nil, incidentPackets)
	checkFlows(t, tr, m, "nft_do_chain nf_hook_slow", incidentPackets) // 6.x: nft_do_chain; older: nf_hook_slow
	// The rule's own counter is the oracle.
	if got := nftRuleCounter(t, ns); got != incidentPackets {
		t.Errorf("rule counter %d, want %d", got, incidentPackets)
	}
}

// nftRuleCounter returns the packets counted by the only counter in the
// namespace's ruleset (nft -j list ruleset).
func nftRuleCounter(t *testing.T, ns *netnstest.NS) uint64 {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Expr []map[string]json.RawMessage `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	must(t, json.Unmarshal([]byte(ns.Run(t, "nft", "-j", "list", "ruleset")), &doc))
	for _, o := range doc.Nftables {
		if o.Rule == nil {
			continue
		}
		for _, e := range o.Rule.Expr {
			if raw, ok := e["counter"]; ok {
				var cnt struct{ Packets uint64 }
				must(t, json.Unmarshal(raw, &cnt))
				return cnt.Packets
			}
		}
	}
	t.Fatal("no counter in the ruleset")
	return 0
}

func TestIntegrationIncidentRPFilter(t *testing.T) {
	a, b := netnstest.New(t, "dt-rpa"), netnstest.New(t, "dt-rpb")
	veth(t, a, b, "10.31.0.1", "10.31.0.2")
	// b routes 10.39.0.0/24 through another device (a veth pair of its
	// own; this kernel has no dummy driver): a packet from there arriving
	// on vt-b fails strict reverse-path filtering.
	b.Run(t, "ip", "link", "add", "vt-c", "type", "veth", "peer", "name", "vt-d")
	b.Run(t, "ip", "link", "set", "vt-c", "up")
	b.Run(t, "ip", "link", "set", "vt-d", "up")
	b.Run(t, "ip", "route", "add", "10.39.0.0/24", "dev", "vt-c")
	b.Run(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.vt-b.rp_filter=1")
	a.Run(t, "ip", "addr", "add", "10.39.0.9/32", "dev", "vt-a")
	c := newNSCollector(t, b, Options{})
	base := readNstat(t, b)
	dst := netip.MustParseAddrPort("10.31.0.2:7004")
	sendUDP(t, a, "10.39.0.9", dst, incidentPackets, 64)
	m := match{reason: "IP_RPFILTER", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	_, fs := incident(t, c, b, base, m, "TcpExtIPReversePathFilter", "ip_rcv_finish_core", incidentPackets)
	for _, f := range fs {
		if f.Src != mustAddr("10.39.0.9") || f.Ifindex == 0 {
			t.Errorf("flow %+v: want source 10.39.0.9 on vt-b", f)
		}
	}
}

func TestIntegrationIncidentNoRoute(t *testing.T) {
	a, b := netnstest.New(t, "dt-nra"), netnstest.New(t, "dt-nrb")
	veth(t, a, b, "10.32.0.1", "10.32.0.2")
	// b forwards but has no route to 10.99.0.0/16; a sends there via b.
	b.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	a.Run(t, "ip", "route", "add", "10.99.0.0/16", "via", "10.32.0.2")
	c := newNSCollector(t, b, Options{})
	base := readNstat(t, b)
	dst := netip.MustParseAddrPort("10.99.0.1:7005")
	sendUDP(t, a, "10.32.0.1", dst, incidentPackets, 64)
	m := match{reason: "IP_INNOROUTES", proto: "udp", dst: dst.Addr(), dport: dst.Port()}
	incident(t, c, b, base, m, "IpExtInNoRoutes", "ip_error", incidentPackets)
}

func TestIntegrationIncidentBadUDPChecksum(t *testing.T) {
	ns := netnstest.New(t, "dt-csum")
	c := newNSCollector(t, ns, Options{})
	base := readNstat(t, ns)
	const port = 7006
	ns.Do(t, func() {
		// A raw socket: the kernel writes the IP header, netlens the UDP
		// header, with a checksum that cannot be right.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		pkt := make([]byte, 8+16)
		binary.BigEndian.PutUint16(pkt[0:], 40000)
		binary.BigEndian.PutUint16(pkt[2:], port)
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)))
		binary.BigEndian.PutUint16(pkt[6:], 0xbad1) // the right one is 0x0b93 (payload of zeros)
		to := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		for range incidentPackets {
			if err := unix.Sendto(fd, pkt, 0, to); err != nil {
				t.Error(err)
				return
			}
		}
	})
	m := match{reason: "UDP_CSUM", proto: "udp", dst: mustAddr("127.0.0.1"), dport: port}
	incident(t, c, ns, base, m, "UdpInCsumErrors", "__udp4_lib_rcv", incidentPackets)
}

func TestIntegrationScopeOtherNetns(t *testing.T) {
	// A tracer scoped to one namespace sees none of another's drops.
	ns, other := netnstest.New(t, "dt-scope"), netnstest.New(t, "dt-other")
	c := newNSCollector(t, ns, Options{})
	sendUDP(t, other, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:7007"), incidentPackets, 64)
	time.Sleep(200 * time.Millisecond)
	tr, err := collect(c)
	must(t, err)
	if n, _ := packets(tr, match{reason: "NO_SOCKET", dport: 7007}); n != 0 || tr.Seen != 0 {
		t.Errorf("tracer of %s saw %d drops of %s (seen %d)", ns.Name, n, other.Name, tr.Seen)
	}
	if tr.OtherNetns < incidentPackets {
		t.Errorf("other_netns = %d, want at least %d", tr.OtherNetns, incidentPackets)
	}
	if !strings.HasPrefix(c.Source(), "eBPF ") {
		t.Errorf("source %q", c.Source())
	}
}

// TestIntegrationReasonCounters: the tracer's per-(reason, location)
// totals are counters of the funnel, whose first drops show as a delta
// (the Store takes a counter's first value as its baseline: the
// collector publishes a new one as 0 first).
func TestIntegrationReasonCounters(t *testing.T) {
	ns := netnstest.New(t, "dt-ctr")
	c := newNSCollector(t, ns, Options{})
	store := model.NewStore("h", "k", time.Now())
	must(t, c.Collect(context.Background(), store))
	sendUDP(t, ns, "127.0.0.1", netip.MustParseAddrPort("127.0.0.1:7009"), incidentPackets, 64)
	time.Sleep(200 * time.Millisecond)
	must(t, c.Collect(context.Background(), store))
	must(t, c.Collect(context.Background(), store))
	var got *drops.FunnelCounter
	fcs := drops.Funnel(store.Snapshot().Counters)
	for i, fc := range fcs {
		if fc.Source == drops.DropTraceSource && fc.Name == "NO_SOCKET" && strings.HasPrefix(fc.Instance, "__udp4_lib_rcv+") {
			got = &fcs[i]
		}
	}
	if got == nil || got.Value != incidentPackets || got.Total != incidentPackets || got.Delta != incidentPackets || got.Layer != model.LayerTransport {
		t.Errorf("funnel counter drop_trace reason NO_SOCKET: %+v, want value, total and delta %d", got, incidentPackets)
	}
}
